package io.vramkit.cuda;

import io.vramkit.core.memory.MemoryKind;
import io.vramkit.core.memory.MemoryResource;
import io.vramkit.core.memory.OutOfMemoryException;
import io.vramkit.core.memory.Stream;
import io.vramkit.cuda.internal.panama.cudart_h;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Page-locked host memory straight from {@code cudaHostAlloc(cudaHostAllocPortable)} and {@code cudaFreeHost}; the
 * upstream of {@link PinnedHostResource}. Both calls are slow (they pin pages and synchronize), hence the pool.
 * Thread-safe. Verified on an NVIDIA H200 by the {@code gpu}-tagged tests (2026-11-26).
 */
final class CudaHostAllocResource implements MemoryResource {

    /** Pinned allocations are page-aligned. */
    static final long PAGE = 4096;

    private final ConcurrentHashMap<Long, Long> live = new ConcurrentHashMap<>();

    @Override
    public long allocate(long bytes, long alignment, Stream stream) {
        MemoryResource.checkAllocateArgs(bytes, alignment, stream);
        if (alignment > PAGE) {
            throw new IllegalArgumentException("alignment must be <= " + PAGE + " for pinned memory, got " + alignment);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            int rc = cudart_h.cudaHostAlloc(out, bytes, cudart_h.cudaHostAllocPortable);
            if (rc != cudart_h.cudaSuccess) {
                CudaException error = CudaNative.runtimeError("cudaHostAlloc", rc);
                if (rc == cudart_h.cudaErrorMemoryAllocation) {
                    throw new OutOfMemoryException("cudaHostAlloc of " + bytes + " bytes failed: the OS would not "
                            + "pin that much memory (check ulimit -l and free RAM)", bytes, error);
                }
                throw error;
            }
            long address = out.get(ValueLayout.ADDRESS, 0).address();
            live.put(address, bytes);
            return address;
        }
    }

    @Override
    public void deallocate(long address, long bytes, long alignment, Stream stream) {
        Long size = live.get(address);
        if (size == null || size != bytes || !live.remove(address, size)) {
            throw new IllegalArgumentException(String.format(
                    "address 0x%x with %d bytes was not allocated here, or was already freed", address, bytes));
        }
        CudaNative.check("cudaFreeHost", cudart_h.cudaFreeHost(MemorySegment.ofAddress(address)));
    }

    @Override
    public MemoryKind kind() {
        return MemoryKind.PINNED_HOST;
    }
}
