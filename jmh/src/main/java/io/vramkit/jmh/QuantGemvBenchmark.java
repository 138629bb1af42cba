package io.vramkit.jmh;

import io.vramkit.jmh.baseline.MemoryBandwidth;
import io.vramkit.quant.QuantFormat;
import io.vramkit.quant.QuantizedMatmul;
import io.vramkit.quant.QuantizedTensor;
import io.vramkit.quant.Quantizer;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
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
 * Batch-1 GEMV {@code y = W·x} with weights in each format, on Llama-7B shapes, against a streaming read of the
 * same number of bytes measured in the same run ({@link #streamRead}). Decode is bound by reading the weights, so
 * the figure of merit is the {@code weightBytes} rate (bytes of packed weights, scales included, per second) and
 * its ratio to {@code streamRead}'s {@code weightBytes} rate for the same {@code format} and {@code shape}.
 *
 * <p>{@code INT4_W4A8} is the INT4 weights of {@code INT4} through {@link QuantizedMatmul#w4a8} (activations
 * quantized to INT8 per group inside each call, which the timing includes) instead of {@link QuantizedMatmul#matmul}.
 *
 * <p>Weights rotate over copies covering {@value MemoryBandwidth#MIN_FOOTPRINT_MIB} MiB so they come from DRAM.
 * No timed assertions: the figures go to docs/benchmarks.md.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class QuantGemvBenchmark {

    /** Weight format. */
    @Param({"FP32", "BF16", "INT8", "INT4", "INT4_W4A8", "NF4"})
    public String format;

    /** {@code rows x cols} of W. */
    @Param({"4096x4096", "11008x4096"})
    public String shape;

    private Arena arena;
    private QuantizedTensor[] weights;
    private MemorySegment[] baseline;
    private float[] x;
    private float[] y;
    private int next;
    private int nextRead;
    private boolean w4a8;

    /** Bytes of weights read, reported as a rate (bytes per second). */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Counters {
        /** Weight bytes read in this iteration. */
        public long weightBytes;

        /** Resets per iteration. */
        @Setup(Level.Iteration)
        public void reset() {
            weightBytes = 0;
        }
    }

    /** Maps the benchmark's format names to formats. */
    static QuantFormat format(String name) {
        return switch (name) {
            case "INT4", "INT4_W4A8" -> QuantFormat.INT4_G128;
            case "NF4" -> QuantFormat.NF4_B64;
            default -> QuantFormat.parse(name);
        };
    }

    /** Quantizes random weights once and copies them into the rotating set. */
    @Setup(Level.Trial)
    public void setup() {
        w4a8 = format.equals("INT4_W4A8");
        String[] rc = shape.split("x");
        int rows = Integer.parseInt(rc[0]);
        int cols = Integer.parseInt(rc[1]);
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
        arena = Arena.ofShared();
        try (QuantizedTensor q = Quantizer.quantize("w", w, rows, cols, format(format))) {
            int n = (int) Math.max(2, ((long) MemoryBandwidth.MIN_FOOTPRINT_MIB << 20) / q.byteSize() + 1);
            weights = new QuantizedTensor[n];
            for (int i = 0; i < n; i++) {
                weights[i] = QuantizedTensor.wrap("w" + i, q.format(), rows, cols, copy(q.codes()),
                        copy(q.scales()), copy(q.zeros()), copy(q.secondLevelScales()), q.doubleQuantOffset());
            }
            baseline = MemoryBandwidth.rotatingBuffers(arena, (q.byteSize() + 63) & ~63L);
        }
    }

    private MemorySegment copy(MemorySegment s) {
        if (s.byteSize() == 0) {
            return MemorySegment.NULL;
        }
        MemorySegment c = arena.allocate(s.byteSize(), 64);
        c.copyFrom(s);
        return c;
    }

    /** Frees everything. */
    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
    }

    /** The fused dequantize-GEMV. */
    @Benchmark
    public float[] gemv(Counters c) {
        QuantizedTensor w = weights[next];
        next = (next + 1) % weights.length;
        if (w4a8) {
            QuantizedMatmul.w4a8(x, 1, w, y);
        } else {
            QuantizedMatmul.matmul(x, 1, w, y);
        }
        c.weightBytes += w.byteSize();
        return y;
    }

    /** The baseline: a streaming read of as many bytes as one GEMV's weights. */
    @Benchmark
    public double streamRead(Counters c) {
        MemorySegment s = baseline[nextRead];
        nextRead = (nextRead + 1) % baseline.length;
        c.weightBytes += s.byteSize();
        return MemoryBandwidth.read(s);
    }
}
