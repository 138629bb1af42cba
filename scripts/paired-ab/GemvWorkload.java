import io.vramkit.quant.QuantFormat;
import io.vramkit.quant.QuantizedMatmul;
import io.vramkit.quant.QuantizedTensor;
import io.vramkit.quant.Quantizer;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import java.util.function.LongUnaryOperator;

/**
 * Batch-1 fused GEMV as in QuantGemvBenchmark. Args: format (INT4 = INT4_G128, NF4 = NF4_B64, or a format name),
 * rows, cols, footprint in MiB to rotate over (0: one copy). Rate: packed weight bytes read, scales included.
 */
public class GemvWorkload implements LongUnaryOperator {
    private final QuantizedTensor[] weights;
    private final float[] x;
    private final float[] y;
    private int next;

    public GemvWorkload(String[] a) {
        QuantFormat format = switch (a[0]) {
            case "INT4" -> QuantFormat.INT4_G128;
            case "NF4" -> QuantFormat.NF4_B64;
            default -> QuantFormat.parse(a[0]);
        };
        int rows = Integer.parseInt(a[1]);
        int cols = Integer.parseInt(a[2]);
        int footprint = Integer.parseInt(a[3]);
        Random rnd = new Random(1);
        float[] w = new float[rows * cols];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) (rnd.nextGaussian() * 0.02);
        }
        x = new float[cols];
        for (int i = 0; i < cols; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        y = new float[rows];
        Arena arena = Arena.ofAuto();
        try (QuantizedTensor q = Quantizer.quantize("w", w, rows, cols, format)) {
            int n = footprint == 0 ? 1 : (int) Math.max(2, ((long) footprint << 20) / q.byteSize() + 1);
            weights = new QuantizedTensor[n];
            for (int i = 0; i < n; i++) {
                weights[i] = QuantizedTensor.wrap("w" + i, q.format(), rows, cols, copy(arena, q.codes()),
                        copy(arena, q.scales()), copy(arena, q.zeros()), copy(arena, q.secondLevelScales()),
                        q.doubleQuantOffset());
            }
        }
    }

    private static MemorySegment copy(Arena arena, MemorySegment s) {
        if (s.byteSize() == 0) {
            return MemorySegment.NULL;
        }
        return arena.allocate(s.byteSize(), 64).copyFrom(s);
    }

    @Override
    public long applyAsLong(long nanos) {
        long t0 = System.nanoTime();
        long bytes = 0;
        while (System.nanoTime() - t0 < nanos) {
            QuantizedMatmul.matmul(x, 1, weights[next], y);
            bytes += weights[next].byteSize();
            next = (next + 1) % weights.length;
        }
        return bytes;
    }
}
