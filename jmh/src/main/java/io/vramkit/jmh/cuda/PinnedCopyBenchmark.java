package io.vramkit.jmh.cuda;

import io.vramkit.core.memory.Buffer;
import io.vramkit.core.memory.HostMemoryResource;
import io.vramkit.cuda.CudaMallocResource;
import io.vramkit.cuda.CudaStream;
import io.vramkit.cuda.PinnedHostResource;
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
 * Host-device copy bandwidth: pinned ({@link PinnedHostResource}) against pageable host memory, H2D and D2H, each
 * copy followed by a stream synchronize. Bandwidth is {@code bytes / time}; {@link GpuBenchmarks} prints it in GB/s.
 * Needs a GPU.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class PinnedCopyBenchmark {

    /** Copy size in bytes: issue 8's range, 1 MiB to 1 GiB. */
    @Param({"1048576", "33554432", "1073741824"})
    public long bytes;

    private CudaStream stream;
    private CudaMallocResource deviceResource;
    private PinnedHostResource pinnedResource;
    private HostMemoryResource pageableResource;
    private Buffer device;
    private Buffer pinned;
    private Buffer pageable;

    /** Allocates the three buffers and touches the host ones. */
    @Setup(Level.Trial)
    public void setup() {
        GpuState.requireGpu();
        stream = CudaStream.create(0);
        deviceResource = new CudaMallocResource(0);
        pinnedResource = new PinnedHostResource();
        pageableResource = new HostMemoryResource();
        device = Buffer.allocate(deviceResource, bytes, 256, stream);
        pinned = Buffer.allocate(pinnedResource, bytes, 4096, stream);
        pageable = Buffer.allocate(pageableResource, bytes, 4096, stream);
        pinned.segment().fill((byte) 1);
        pageable.segment().fill((byte) 2);
    }

    /** Frees the buffers. */
    @TearDown(Level.Trial)
    public void tearDown() {
        stream.synchronize();
        device.close();
        pinned.close();
        pageable.close();
        pinnedResource.close();
        deviceResource.close();
        stream.close();
    }

    /** H2D from pinned memory. */
    @Benchmark
    public void h2dPinned() {
        stream.copyAsync(pinned, 0, device, 0, bytes);
        stream.synchronize();
    }

    /** Baseline: H2D from pageable memory (staged by the driver). */
    @Benchmark
    public void h2dPageable() {
        stream.copyAsync(pageable, 0, device, 0, bytes);
        stream.synchronize();
    }

    /** D2H into pinned memory. */
    @Benchmark
    public void d2hPinned() {
        stream.copyAsync(device, 0, pinned, 0, bytes);
        stream.synchronize();
    }

    /** Baseline: D2H into pageable memory. */
    @Benchmark
    public void d2hPageable() {
        stream.copyAsync(device, 0, pageable, 0, bytes);
        stream.synchronize();
    }
}
