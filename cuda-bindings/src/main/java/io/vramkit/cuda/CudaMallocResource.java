package io.vramkit.cuda;

import io.vramkit.core.memory.Stream;
import io.vramkit.cuda.internal.panama.cudart_h;
import java.lang.foreign.MemorySegment;

/**
 * Device memory from {@code cudaMalloc} and {@code cudaFree}: the plain upstream for core's pools.
 *
 * {@snippet :
 * try (CachingPool pool = new CachingPool(new CudaMallocResource(0))) {
 *     // allocations come from the pool; cudaMalloc only when it must grow
 * }
 * }
 *
 * <p>{@code cudaMalloc} is synchronous and {@code cudaFree} synchronizes the device, so put a caching pool in front.
 * The stream argument only checks the device. An allocation failure raises core's
 * {@link io.vramkit.core.memory.OutOfMemoryException} with the device's free and total memory. {@link #capacityBytes()}
 * is the device's total memory, which feeds the pools' OOM diagnosis and budgets. Thread-safe.
 * Verified on an NVIDIA H200 by the {@code gpu}-tagged tests (2026-11-26).
 */
public final class CudaMallocResource extends DeviceResourceBase {

    /**
     * @param deviceOrdinal the device to allocate on
     * @throws IllegalArgumentException if the ordinal names no device
     * @throws CudaException            if CUDA is not usable
     */
    public CudaMallocResource(int deviceOrdinal) {
        super(deviceOrdinal);
    }

    @Override
    public long allocate(long bytes, long alignment, Stream stream) {
        return allocateWith("cudaMalloc", bytes, alignment, stream, (out, raw) -> cudart_h.cudaMalloc(out, raw));
    }

    @Override
    public void deallocate(long address, long bytes, long alignment, Stream stream) {
        long raw = checkAndForget(address, bytes);
        CudaNative.setDevice(device);
        CudaNative.check("cudaFree", cudart_h.cudaFree(MemorySegment.ofAddress(raw)));
    }

    @Override
    public String toString() {
        return "CudaMallocResource[cuda:" + device + ", used=" + mib(usedBytes()) + "]";
    }
}
