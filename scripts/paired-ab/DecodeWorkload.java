import io.vramkit.attention.HeadTensor;
import io.vramkit.attention.KvCacheView;
import io.vramkit.attention.PagedDecodeAttention;
import io.vramkit.core.DType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.function.LongUnaryOperator;

/**
 * Paged decode as in DecodeAttentionBenchmark (32 query heads, 8 KV heads, d = 128, block 16, shuffled blocks).
 * Args: KV type (FP32, BF16, INT8), context, footprint in MiB to rotate over (0: one copy, read from cache).
 * Rate: K and V bytes read.
 */
public class DecodeWorkload implements LongUnaryOperator {
    private final KvCacheView[] caches;
    private final int[][] tables;
    private final int[] ctx;
    private final HeadTensor q;
    private final HeadTensor out;
    private final PagedDecodeAttention decode = new PagedDecodeAttention();
    private final long bytesPerCall;
    private int next;

    public DecodeWorkload(String[] a) {
        DType type = DType.valueOf(a[0]);
        int context = Integer.parseInt(a[1]);
        int footprint = Integer.parseInt(a[2]);
        int heads = 32;
        int kvHeads = 8;
        int dim = 128;
        int bs = 16;
        int blocks = (context + bs - 1) / bs;
        long elems = (long) blocks * bs * kvHeads * dim;
        Arena arena = Arena.ofAuto();
        Random rnd = new Random(1);
        long cacheBytes = 2 * elems * type.byteSize();
        int copies = footprint == 0 ? 1 : (int) Math.max(1, ((long) footprint << 20) / cacheBytes + 1);
        caches = new KvCacheView[copies];
        for (int c = 0; c < copies; c++) {
            MemorySegment k = arena.allocate(elems * type.byteSize(), 64);
            MemorySegment v = arena.allocate(elems * type.byteSize(), 64);
            for (long i = 0; i < k.byteSize(); i++) {
                byte b = (byte) (rnd.nextInt(64) - 32);
                boolean lowHalf = i % type.byteSize() == 0;
                k.set(ValueLayout.JAVA_BYTE, i, type == DType.INT8 ? b : (byte) (lowHalf ? 0 : 0x3C));
                v.set(ValueLayout.JAVA_BYTE, i, type == DType.INT8 ? (byte) -b : (byte) (lowHalf ? 0 : 0x3D));
            }
            MemorySegment ks = null;
            MemorySegment vs = null;
            if (type == DType.INT8) {
                ks = arena.allocate((long) blocks * kvHeads * 4, 64);
                vs = arena.allocate((long) blocks * kvHeads * 4, 64);
                for (int i = 0; i < blocks * kvHeads; i++) {
                    ks.setAtIndex(ValueLayout.JAVA_FLOAT, i, 0.01f);
                    vs.setAtIndex(ValueLayout.JAVA_FLOAT, i, 0.02f);
                }
            }
            caches[c] = new KvCacheView(k, v, type, blocks, bs, kvHeads, dim, ks, vs);
        }
        List<Integer> ids = new ArrayList<>();
        for (int i = 0; i < blocks; i++) {
            ids.add(i);
        }
        Collections.shuffle(ids, rnd);
        tables = new int[][] {ids.stream().mapToInt(Integer::intValue).toArray()};
        ctx = new int[] {context};
        float[] qd = new float[heads * dim];
        for (int i = 0; i < qd.length; i++) {
            qd[i] = (float) rnd.nextGaussian();
        }
        q = HeadTensor.of(qd, 1, heads, dim);
        out = HeadTensor.of(new float[heads * dim], 1, heads, dim);
        bytesPerCall = (long) context * kvHeads * dim * type.byteSize() * 2
                + (type == DType.INT8 ? 2L * blocks * kvHeads * 4 : 0);
    }

    @Override
    public long applyAsLong(long nanos) {
        long t0 = System.nanoTime();
        long bytes = 0;
        while (System.nanoTime() - t0 < nanos) {
            decode.decode(q, caches[next], tables, ctx, null, out);
            bytes += bytesPerCall;
            next = (next + 1) % caches.length;
        }
        return bytes;
    }
}
