package io.vramkit.jmh;

import io.vramkit.core.memory.CachingPool;
import io.vramkit.core.memory.HostMemoryResource;
import io.vramkit.quant.QuantFormat;
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
 * Quantization throughput: FP32 input bytes consumed per second ({@code inputBytes} rate) for each format, on a
 * 4096×4096 matrix (64 MiB). Target: at least 1 GB/s for every format. The dense {@code FP32} copy is the baseline
 * measured in the same run. {@link #quantize} takes fresh storage every call (libc memory, huge-page advised on
 * Linux, so its first touch is part of the figure); {@link #quantizePooled} takes it from a {@link CachingPool},
 * the way a planner re-quantizing tensors or a model reload would. No timed assertions.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class QuantizeBenchmark {

    /** Target format. */
    @Param({"FP32", "BF16", "INT8", "INT8_G128", "INT4_G128", "INT4_ASYM_G128", "NF4_B64", "NF4_B64_DQ",
        "FP8_E4M3"})
    public String format;

    private static final int ROWS = 4096;
    private static final int COLS = 4096;
    private float[] w;
    private QuantFormat f;
    private CachingPool pool;

    /** FP32 input bytes, reported as a rate. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Counters {
        /** Input bytes quantized in this iteration. */
        public long inputBytes;

        /** Resets per iteration. */
        @Setup(Level.Iteration)
        public void reset() {
            inputBytes = 0;
        }
    }

    /** Random Gaussian weights. */
    @Setup(Level.Trial)
    public void setup() {
        f = QuantFormat.parse(format);
        Random rnd = new Random(2);
        w = new float[ROWS * COLS];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) (rnd.nextGaussian() * 0.02);
        }
        pool = new CachingPool(new HostMemoryResource());
    }

    /** Frees the pooled storage. */
    @TearDown(Level.Trial)
    public void tearDown() {
        pool.close();
    }

    /** Quantize the whole matrix, then free it. */
    @Benchmark
    public long quantize(Counters c) {
        try (QuantizedTensor q = Quantizer.quantize("w", w, ROWS, COLS, f)) {
            c.inputBytes += 4L * w.length;
            return q.byteSize();
        }
    }

    /** Quantize the whole matrix into storage from a caching pool, then return it to the pool. */
    @Benchmark
    public long quantizePooled(Counters c) {
        try (QuantizedTensor q = Quantizer.quantize("w", w, ROWS, COLS, f, pool)) {
            c.inputBytes += 4L * w.length;
            return q.byteSize();
        }
    }
}
