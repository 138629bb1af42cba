package io.vramkit.jmh.cuda;

import io.vramkit.core.memory.CachingPool;
import io.vramkit.cuda.CudaAsyncResource;
import io.vramkit.cuda.CudaMallocResource;
import io.vramkit.cuda.CudaStream;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Device allocation plus free: core's caching pool over cudaMalloc, against cudaMalloc + cudaFree and against
 * cudaMallocAsync + cudaFreeAsync (release threshold: keep everything), measured in the same run. Needs a GPU; without
 * one, setup fails with the reason and JMH moves on. Run through {@link GpuBenchmarks} to skip cleanly.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class CudaAllocBenchmark {

    /** Request size in bytes: issue 8's range, 512 B to 64 MiB. */
    @Param({"512", "65536", "2097152", "67108864"})
    public long bytes;

    private CudaMallocResource malloc;
    private CudaAsyncResource async;
    private CachingPool pool;
    private CachingPool asyncPool;
    private CudaStream stream;

    /** Creates the resources on device 0. */
    @Setup(Level.Trial)
    public void setup() {
        GpuState.requireGpu();
        stream = CudaStream.create(0);
        malloc = new CudaMallocResource(0);
        async = new CudaAsyncResource(0);
        pool = new CachingPool(new CudaMallocResource(0));
        asyncPool = new CachingPool(async);
        // Warm the caches so the first measured call is not the one that grows them.
        pool.deallocate(pool.allocate(bytes, 256, stream), bytes, 256, stream);
        async.deallocate(async.allocate(bytes, 256, stream), bytes, 256, stream);
        stream.synchronize();
    }

    /** Releases everything. */
    @TearDown(Level.Trial)
    public void tearDown() {
        stream.synchronize();
        pool.close();
        asyncPool.close();
        async.close();
        malloc.close();
        stream.close();
    }

    /** vramkit's caching pool over cudaMalloc. */
    @Benchmark
    public long cachingPool() {
        long p = pool.allocate(bytes, 256, stream);
        pool.deallocate(p, bytes, 256, stream);
        return p;
    }

    /** vramkit's caching pool over cudaMallocAsync. */
    @Benchmark
    public long cachingPoolOverAsync() {
        long p = asyncPool.allocate(bytes, 256, stream);
        asyncPool.deallocate(p, bytes, 256, stream);
        return p;
    }

    /** Baseline: cudaMalloc + cudaFree (synchronizes the device). */
    @Benchmark
    public long cudaMallocFree() {
        long p = malloc.allocate(bytes, 256, stream);
        malloc.deallocate(p, bytes, 256, stream);
        return p;
    }

    /** Baseline: cudaMallocAsync + cudaFreeAsync on the stream. */
    @Benchmark
    public long cudaMallocAsyncFree() {
        long p = async.allocate(bytes, 256, stream);
        async.deallocate(p, bytes, 256, stream);
        return p;
    }
}
