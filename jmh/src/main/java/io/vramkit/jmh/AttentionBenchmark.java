package io.vramkit.jmh;

import io.vramkit.attention.AttentionParams;
import io.vramkit.attention.FlashAttention;
import io.vramkit.attention.HeadTensor;
import io.vramkit.attention.NaiveAttention;
import io.vramkit.jmh.baseline.FmaPeak;
import java.util.Collection;
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
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.OptionsBuilder;

/**
 * Causal prefill attention, FP32, 32 query heads, 8 KV heads, head dimension 128: {@link FlashAttention} against
 * the materializing {@link NaiveAttention}. The {@code flops} counter is the useful work ({@code 4·d} flops per
 * visible query/key pair), so flash and naive rates compare directly; {@link FmaPeak} in the same run gives the
 * machine's FP32 FMA peak. Run {@link #main} to get the GFLOP/s table with the ratios to the peak and to naive.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 1, time = 2)
@Measurement(iterations = 3, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
        "-Xmx8g"})
public class AttentionBenchmark {

    private static final int HEADS = 32;
    private static final int KV_HEADS = 8;
    private static final int HEAD_DIM = 128;

    /** {@code flash} or {@code naive}. */
    @Param({"flash", "naive"})
    public String impl;

    /** Tokens (queries = keys). */
    @Param({"512", "2048", "8192"})
    public int seqLen;

    private HeadTensor q;
    private HeadTensor k;
    private HeadTensor v;
    private HeadTensor out;
    private int[] cu;
    private AttentionParams params;
    private FlashAttention flash;
    private NaiveAttention naive;
    private long flopsPerCall;

    /** Useful flops, as a rate. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Counters {
        /** Floating-point operations of the attention math. */
        public long flops;

        /** Resets the counter before each iteration. */
        @Setup(Level.Iteration)
        public void reset() {
            flops = 0;
        }
    }

    /** Random inputs. */
    @Setup
    public void setup() {
        Random rnd = new Random(1);
        q = HeadTensor.of(random(rnd, seqLen * HEADS * HEAD_DIM), seqLen, HEADS, HEAD_DIM);
        k = HeadTensor.of(random(rnd, seqLen * KV_HEADS * HEAD_DIM), seqLen, KV_HEADS, HEAD_DIM);
        v = HeadTensor.of(random(rnd, seqLen * KV_HEADS * HEAD_DIM), seqLen, KV_HEADS, HEAD_DIM);
        out = HeadTensor.of(new float[seqLen * HEADS * HEAD_DIM], seqLen, HEADS, HEAD_DIM);
        cu = new int[] {0, seqLen};
        params = AttentionParams.builder().causal(true).build();
        flash = new FlashAttention();
        naive = new NaiveAttention();
        long pairs = (long) seqLen * (seqLen + 1) / 2;
        flopsPerCall = 4L * HEAD_DIM * pairs * HEADS;
    }

    private static float[] random(Random rnd, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) rnd.nextGaussian();
        }
        return a;
    }

    /** One causal prefill of all heads. */
    @Benchmark
    public HeadTensor attention(Counters counters) {
        if (impl.equals("flash")) {
            flash.forward(q, k, v, cu, cu, params, out);
        } else {
            naive.forward(q, k, v, cu, cu, params, out);
        }
        counters.flops += flopsPerCall;
        return out;
    }

    /**
     * Runs this benchmark and {@link FmaPeak} in one JMH run and prints GFLOP/s, the fraction of the FMA peak and
     * the speedup over naive. Accepts JMH command-line options (e.g. {@code -p seqLen=512,2048 -f 1 -i 2}).
     */
    public static void main(String[] args) throws Exception {
        CommandLineOptions cli = new CommandLineOptions(args);
        Collection<RunResult> results = new Runner(new OptionsBuilder().parent(cli)
                .include(AttentionBenchmark.class.getSimpleName() + ".attention")
                .include(FmaPeak.class.getSimpleName() + ".fma").build()).run();
        double peak = Double.NaN;
        java.util.Map<String, Double> rate = new java.util.TreeMap<>();
        for (RunResult r : results) {
            var flops = r.getSecondaryResults().get("flops");
            if (flops == null) {
                continue;
            }
            String label = r.getParams().getBenchmark();
            if (label.endsWith("FmaPeak.fma")) {
                peak = flops.getScore();
            } else {
                rate.put(r.getParams().getParam("seqLen") + " " + r.getParams().getParam("impl"), flops.getScore());
            }
        }
        System.out.printf("FP32 FMA peak: %.1f GFLOP/s%n", peak / 1e9);
        for (var e : rate.entrySet()) {
            String[] key = e.getKey().split(" ");
            Double naiveRate = rate.get(key[0] + " naive");
            System.out.printf("seqLen %5s %-5s %8.2f GFLOP/s  %5.1f%% of peak%s%n", key[0], key[1],
                    e.getValue() / 1e9, 100 * e.getValue() / peak, key[1].equals("flash") && naiveRate != null
                            ? String.format("  %.1fx naive", e.getValue() / naiveRate) : "");
        }
    }
}
