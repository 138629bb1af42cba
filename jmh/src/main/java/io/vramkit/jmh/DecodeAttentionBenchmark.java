package io.vramkit.jmh;

import io.vramkit.attention.HeadTensor;
import io.vramkit.attention.KvCacheView;
import io.vramkit.attention.PagedDecodeAttention;
import io.vramkit.core.DType;
import io.vramkit.jmh.baseline.MemoryBandwidth;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.profile.GCProfiler;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.OptionsBuilder;

/**
 * Decode attention of one sequence over a paged KV cache: 32 query heads, 8 KV heads, head dimension 128, block
 * size 16, blocks scattered at random. The {@code bytes} counter is the K and V bytes read (codes plus scales), so
 * its rate is the KV read bandwidth; {@link MemoryBandwidth} in the same run gives the machine's streaming DRAM
 * read bandwidth. Like that baseline, calls rotate over copies of the cache that together cover at least
 * {@value MemoryBandwidth#MIN_FOOTPRINT_MIB} MiB, so a small cache is read from DRAM, not from the last-level cache.
 * Run {@link #main} for the GB/s table with the ratios. The kernels are large vector methods that
 * C2 compiles late on a loaded machine (a few seconds of interpreted, boxed vector code first), so warm-up is long:
 * short {@code -wi}/{@code -w} overrides measure the JIT, not the kernel.
 *
 * <p>{@code -p residency=cache,dram} adds the same decode on a single copy of the cache, which stays in the
 * last-level cache when it fits (4096 tokens: K and V together are 32 MiB in FP32, 16 MiB in BF16 and 8 MiB in
 * INT8): then it gives the kernel's compute-bound rate, so that the DRAM rate can be read as a fraction of what
 * the kernel could do with memory fully hidden. {@link #main} prints both.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 4, time = 3)
@Measurement(iterations = 3, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class DecodeAttentionBenchmark {

    private static final int HEADS = 32;
    private static final int KV_HEADS = 8;
    private static final int HEAD_DIM = 128;
    private static final int BLOCK = 16;

    /** Cached tokens. */
    @Param({"4096", "32768"})
    public int context;

    /** KV element type: FP32, BF16 or INT8. */
    @Param({"FP32", "BF16", "INT8"})
    public String kvType;

    /**
     * {@code dram} (default): calls rotate over copies covering {@value MemoryBandwidth#MIN_FOOTPRINT_MIB} MiB;
     * {@code cache}: one copy, read again on every call.
     */
    @Param({"dram"})
    public String residency;

    private Arena arena;
    private KvCacheView[] caches;
    private int next;
    private int[][] tables;
    private int[] ctx;
    private HeadTensor q;
    private HeadTensor out;
    private PagedDecodeAttention decode;
    private long bytesPerCall;

    /** KV bytes read, as a rate. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Counters {
        /** Bytes of K and V read. */
        public long bytes;

        /** Resets the counter before each iteration. */
        @Setup(Level.Iteration)
        public void reset() {
            bytes = 0;
        }
    }

    /** Fills a cache with random data and a shuffled block table, and copies it to cover the footprint. */
    @Setup
    public void setup() {
        DType type = DType.valueOf(kvType);
        int blocks = context / BLOCK;
        long elems = (long) blocks * BLOCK * KV_HEADS * HEAD_DIM;
        arena = Arena.ofShared();
        MemorySegment k = arena.allocate(elems * type.byteSize(), 64);
        MemorySegment v = arena.allocate(elems * type.byteSize(), 64);
        Random rnd = new Random(1);
        for (long i = 0; i < k.byteSize(); i++) {
            byte b = (byte) (rnd.nextInt(64) - 32);
            k.set(ValueLayout.JAVA_BYTE, i, type == DType.INT8 ? b : (byte) (i % type.byteSize() == 0 ? 0 : 0x3C));
            v.set(ValueLayout.JAVA_BYTE, i, type == DType.INT8 ? (byte) -b
                    : (byte) (i % type.byteSize() == 0 ? 0 : 0x3D));
        }
        MemorySegment ks = null;
        MemorySegment vs = null;
        if (type == DType.INT8) {
            ks = arena.allocate((long) blocks * KV_HEADS * 4, 64);
            vs = arena.allocate((long) blocks * KV_HEADS * 4, 64);
            for (int i = 0; i < blocks * KV_HEADS; i++) {
                ks.setAtIndex(ValueLayout.JAVA_FLOAT, i, 0.01f);
                vs.setAtIndex(ValueLayout.JAVA_FLOAT, i, 0.02f);
            }
        }
        long cacheBytes = 2 * k.byteSize();
        if (!residency.equals("dram") && !residency.equals("cache")) {
            throw new IllegalArgumentException("residency must be dram or cache, got " + residency);
        }
        int copies = residency.equals("cache") ? 1
                : (int) Math.max(1, ((long) MemoryBandwidth.MIN_FOOTPRINT_MIB << 20) / cacheBytes + 1);
        caches = new KvCacheView[copies];
        caches[0] = new KvCacheView(k, v, type, blocks, BLOCK, KV_HEADS, HEAD_DIM, ks, vs);
        for (int c = 1; c < copies; c++) {
            MemorySegment kc = arena.allocate(k.byteSize(), 64).copyFrom(k);
            MemorySegment vc = arena.allocate(v.byteSize(), 64).copyFrom(v);
            caches[c] = new KvCacheView(kc, vc, type, blocks, BLOCK, KV_HEADS, HEAD_DIM,
                    ks == null ? null : arena.allocate(ks.byteSize(), 64).copyFrom(ks),
                    vs == null ? null : arena.allocate(vs.byteSize(), 64).copyFrom(vs));
        }
        KvCacheView cache = caches[0];
        List<Integer> ids = new ArrayList<>();
        for (int i = 0; i < blocks; i++) {
            ids.add(i);
        }
        Collections.shuffle(ids, rnd);
        tables = new int[][] {ids.stream().mapToInt(Integer::intValue).toArray()};
        ctx = new int[] {context};
        float[] qd = new float[HEADS * HEAD_DIM];
        for (int i = 0; i < qd.length; i++) {
            qd[i] = (float) rnd.nextGaussian();
        }
        q = HeadTensor.of(qd, 1, HEADS, HEAD_DIM);
        out = HeadTensor.of(new float[HEADS * HEAD_DIM], 1, HEADS, HEAD_DIM);
        decode = new PagedDecodeAttention();
        bytesPerCall = 2 * cache.cacheBytes() + (ks == null ? 0 : 2L * blocks * KV_HEADS * 4);
    }

    /** Frees the caches. */
    @TearDown
    public void tearDown() {
        arena.close();
    }

    /** One decode step. */
    @Benchmark
    public HeadTensor decode(Counters counters) {
        KvCacheView cache = caches[next];
        next = next + 1 == caches.length ? 0 : next + 1;
        decode.decode(q, cache, tables, ctx, null, out);
        counters.bytes += bytesPerCall;
        return out;
    }

    /**
     * Runs this benchmark and {@link MemoryBandwidth} in one JMH run, with JMH's GC profiler, and prints GB/s of KV
     * read, the fraction of the measured DRAM read bandwidth (the best of MemoryBandwidth's sizes), and the heap
     * bytes allocated per decode call. The kernels allocate a few small arrays per work item, a few KiB per call; a
     * figure in the hundreds of KiB means C2 left a vector-returning helper out of line and boxes its vectors (the
     * sixth and seventh sessions each found one such call). Accepts JMH command-line options.
     */
    public static void main(String[] args) throws Exception {
        CommandLineOptions cli = new CommandLineOptions(args);
        Collection<RunResult> results = new Runner(new OptionsBuilder().parent(cli)
                .include(DecodeAttentionBenchmark.class.getSimpleName() + ".decode")
                .include(MemoryBandwidth.class.getSimpleName() + ".read")
                .addProfiler(GCProfiler.class).build()).run();
        double bandwidth = 0;
        java.util.Map<String, double[]> rate = new java.util.TreeMap<>();
        for (RunResult r : results) {
            var bytes = r.getSecondaryResults().get("bytes");
            if (bytes == null) {
                continue;
            }
            if (r.getParams().getBenchmark().endsWith("MemoryBandwidth.read")) {
                bandwidth = Math.max(bandwidth, bytes.getScore());
            } else {
                var alloc = r.getSecondaryResults().get("gc.alloc.rate.norm");
                rate.put(r.getParams().getParam("context") + " " + r.getParams().getParam("kvType") + " "
                        + r.getParams().getParam("residency"),
                        new double[] {bytes.getScore(), alloc == null ? Double.NaN : alloc.getScore()});
            }
        }
        System.out.printf("streaming read bandwidth: %.2f GB/s%n", bandwidth / 1e9);
        for (var e : rate.entrySet()) {
            String[] key = e.getKey().split(" ");
            double gbs = e.getValue()[0];
            System.out.printf("context %6s %-4s %-5s %7.2f GB/s  %5.1f%% of read bandwidth  %8.0f B/call allocated%n",
                    key[0], key[1], key[2], gbs / 1e9, 100 * gbs / bandwidth, e.getValue()[1]);
        }
    }
}
