package io.vramkit.jmh.cuda;

import io.vramkit.core.DType;
import io.vramkit.core.memory.Buffer;
import io.vramkit.core.memory.CachingPool;
import io.vramkit.cuda.Cublas;
import io.vramkit.cuda.CudaMallocResource;
import io.vramkit.cuda.CudaStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * cuBLAS GEMM through vramkit's FFM bindings: {@code n x n x n} at issue 8's shapes (4096 and 8192) in FP16 and
 * BF16 (GemmEx: FP32 accumulation, output in the input dtype, as torch.matmul gives it); {@code -p dtype=FP32} runs
 * SGEMM instead. Ten GEMMs queued then one synchronize per invocation. {@link GpuBenchmarks} prints TFLOP/s
 * ({@code 2 n^3 / time}); {@code scripts/gpu-check-torch.py} times torch.matmul on the same shapes and dtypes for the
 * comparison. Needs a GPU and libcublas.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class GemmBenchmark {

    private static final int BATCH = 10;

    /** Matrix size (square). */
    @Param({"4096", "8192"})
    public int n;

    /** Input dtype: FP16 or BF16 (GemmEx, FP32 accumulation, output in the same dtype), or FP32 (SGEMM). */
    @Param({"FP16", "BF16"})
    public String dtype;

    private CudaStream stream;
    private CachingPool pool;
    private Cublas blas;
    private Buffer a;
    private Buffer b;
    private Buffer c;
    private DType type;

    /** Allocates random operands and a cuBLAS handle with a 32 MiB pooled workspace. */
    @Setup(Level.Trial)
    public void setup() {
        GpuState.requireGpu();
        type = DType.valueOf(dtype);
        stream = CudaStream.create(0);
        pool = new CachingPool(new CudaMallocResource(0));
        blas = Cublas.create(stream, pool, 32L << 20);
        long elements = (long) n * n;
        a = Buffer.allocate(pool, elements * type.byteSize(), 256, stream);
        b = Buffer.allocate(pool, elements * type.byteSize(), 256, stream);
        c = Buffer.allocate(pool, elements * type.byteSize(), 256, stream);
        // Random operands, uniform in [-1, 1) as gpu-check-torch.py's: tensor-core power draw, and so the clock,
        // depends on the data, and zeros would flatter both sides.
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocate(elements * type.byteSize(), 64);
            SplittableRandom random = new SplittableRandom(7);
            for (long i = 0; i < elements; i++) {
                float v = (float) (random.nextDouble() * 2 - 1);
                switch (type) {
                    case FP32 -> host.setAtIndex(ValueLayout.JAVA_FLOAT, i, v);
                    case FP16 -> host.setAtIndex(ValueLayout.JAVA_SHORT, i, Float.floatToFloat16(v));
                    default -> host.setAtIndex(ValueLayout.JAVA_SHORT, i, (short) (Float.floatToRawIntBits(v) >>> 16));
                }
            }
            stream.copyToDeviceAsync(host, a, 0);
            stream.copyToDeviceAsync(host, b, 0);
            stream.synchronize();
        }
    }

    /** Frees everything. */
    @TearDown(Level.Trial)
    public void tearDown() {
        stream.synchronize();
        a.close();
        b.close();
        c.close();
        blas.close();
        stream.synchronize();
        pool.close();
        stream.close();
    }

    /** Ten GEMMs, then a synchronize; the score is per GEMM. */
    @Benchmark
    @OperationsPerInvocation(BATCH)
    public void gemm() {
        for (int i = 0; i < BATCH; i++) {
            if (type == DType.FP32) {
                blas.sgemm(Cublas.Transpose.N, Cublas.Transpose.N, n, n, n, 1f, a, n, b, n, 0f, c, n);
            } else {
                blas.gemmEx(Cublas.Transpose.N, Cublas.Transpose.N, n, n, n, 1f, a, type, n, b, type, n, 0f, c, type,
                        n);
            }
        }
        stream.synchronize();
    }
}
