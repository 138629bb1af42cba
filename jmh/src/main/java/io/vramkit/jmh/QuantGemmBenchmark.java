package io.vramkit.jmh;

import io.vramkit.quant.QuantFormat;
import io.vramkit.quant.QuantizedMatmul;
import io.vramkit.quant.QuantizedTensor;
import io.vramkit.quant.Quantizer;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Large-batch GEMM {@code y[M, N] = x[M, K] · Wᵀ} through {@link QuantizedMatmul#matmul} (the packed,
 * register-blocked path) on MiniLM-sized linear layers, against {@link #dotPerOutput}: one FP32 dot product per
 * output over the already dequantized weights ({@link QuantizedMatmul#dense}, the loop the GEMM path used before),
 * measured in the same run. The figure of merit is the {@code flops} rate ({@code 2·M·N·K} per call, GFLOP/s after
 * dividing by 10⁹) and the ratio {@code gemm / dotPerOutput}. No timed assertions: the figures go to
 * docs/benchmarks.md.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class QuantGemmBenchmark {

    /** Weight format. */
    @Param({"FP32", "INT8", "INT4"})
    public String format;

    /** {@code M x K x N}: activation rows, inner dimension, output features. */
    @Param({"512x384x1536", "512x1536x384"})
    public String shape;

    private QuantizedTensor weight;
    private float[] dequantized;
    private float[] x;
    private float[] y;
    private int m;
    private int k;
    private int n;

    /** Floating-point operations done, reported as a rate (flops per second). */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Counters {
        /** Flops in this iteration ({@code 2·M·N·K} per call). */
        public long flops;

        /** Resets per iteration. */
        @Setup(Level.Iteration)
        public void reset() {
            flops = 0;
        }
    }

    /** Quantizes random weights and draws random activations once. */
    @Setup(Level.Trial)
    public void setup() {
        String[] mkn = shape.split("x");
        m = Integer.parseInt(mkn[0]);
        k = Integer.parseInt(mkn[1]);
        n = Integer.parseInt(mkn[2]);
        Random rnd = new Random(1);
        float[] w = new float[n * k];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) (rnd.nextGaussian() * 0.02);
        }
        x = new float[m * k];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        y = new float[m * n];
        QuantFormat f = "INT4".equals(format) ? QuantFormat.INT4_G128 : QuantFormat.parse(format);
        weight = Quantizer.quantize("w", w, n, k, f);
        dequantized = weight.dequantize();
    }

    /** Frees the weights. */
    @TearDown(Level.Trial)
    public void tearDown() {
        weight.close();
    }

    /** The packed, register-blocked GEMM path (dequantizes its weight tiles on every call). */
    @Benchmark
    public float[] gemm(Counters c) {
        QuantizedMatmul.matmul(x, m, weight, y);
        c.flops += 2L * m * n * k;
        return y;
    }

    /** The baseline: one vectorized dot product per output on dequantized FP32 weights, parallel over rows. */
    @Benchmark
    public float[] dotPerOutput(Counters c) {
        QuantizedMatmul.dense(x, m, dequantized, n, k, y);
        c.flops += 2L * m * n * k;
        return y;
    }
}
