package io.vramkit.core.memory;

import io.vramkit.core.memory.internal.HugePages;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Pageable host memory from libc's {@code posix_memalign} and {@code free}, reached through FFM.
 *
 * <p>This is the upstream of the CPU backend; wrap it in a caching pool for speed. It remembers every live
 * allocation, so freeing a foreign or already-freed address raises {@link IllegalArgumentException} instead of
 * corrupting the C heap. Memory is not zeroed. Thread-safe.
 *
 * <p>On Linux, allocations of 4 MiB and more are aligned to 2 MiB and advised to use transparent huge pages
 * ({@code madvise(MADV_HUGEPAGE)}), so their first touch faults 2 MiB at a time instead of 4 KiB: where the kernel
 * leaves huge pages to {@code madvise} (a common default), that makes touching fresh 64 MiB several times faster.
 * Elsewhere, or if the advice fails, nothing changes.
 */
public final class HostMemoryResource implements MemoryResource, LiveAllocations {

    private static final MethodHandle POSIX_MEMALIGN;
    private static final MethodHandle FREE;

    static {
        Linker linker = Linker.nativeLinker();
        var libc = linker.defaultLookup();
        POSIX_MEMALIGN = linker.downcallHandle(
                libc.find("posix_memalign").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG,
                        ValueLayout.JAVA_LONG));
        FREE = linker.downcallHandle(libc.find("free").orElseThrow(),
                FunctionDescriptor.ofVoid(ValueLayout.ADDRESS));
    }

    private final ConcurrentHashMap<Long, Long> live = new ConcurrentHashMap<>();
    private final long capacityBytes;
    private final java.util.concurrent.atomic.AtomicLong usedBytes = new java.util.concurrent.atomic.AtomicLong();

    /** A host resource bounded only by the machine. */
    public HostMemoryResource() {
        this(Long.MAX_VALUE);
    }

    /**
     * A host resource that refuses to hold more than {@code capacityBytes} at once, which simulates a device of that
     * size on the host.
     *
     * @throws IllegalArgumentException if {@code capacityBytes} is not positive
     */
    public HostMemoryResource(long capacityBytes) {
        if (capacityBytes <= 0) {
            throw new IllegalArgumentException("capacityBytes must be positive, got " + capacityBytes);
        }
        this.capacityBytes = capacityBytes;
    }

    @Override
    public long allocate(long bytes, long alignment, Stream stream) {
        MemoryResource.checkAllocateArgs(bytes, alignment, stream);
        long used = usedBytes.addAndGet(bytes);
        if (used < 0 || used > capacityBytes) {
            usedBytes.addAndGet(-bytes);
            throw new OutOfMemoryException(String.format(
                    "host resource cannot allocate %d bytes: %d of %d bytes capacity in use", bytes, used - bytes,
                    capacityBytes), bytes);
        }
        long address;
        try (var arena = java.lang.foreign.Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            boolean huge = bytes >= HugePages.THRESHOLD_BYTES && HugePages.available();
            long align = Math.max(huge ? Math.max(alignment, HugePages.HUGE_PAGE_BYTES) : alignment, 16L);
            int rc = (int) POSIX_MEMALIGN.invokeExact(out, align, bytes);
            if (rc != 0) {
                usedBytes.addAndGet(-bytes);
                throw new OutOfMemoryException("posix_memalign(" + bytes + ", alignment " + alignment
                        + ") failed with errno " + rc, bytes);
            }
            address = out.get(ValueLayout.ADDRESS, 0).address();
            if (huge) {
                HugePages.advise(address, bytes);
            }
        } catch (OutOfMemoryException e) {
            throw e;
        } catch (Throwable t) {
            usedBytes.addAndGet(-bytes);
            throw new IllegalStateException("posix_memalign failed", t);
        }
        live.put(address, bytes);
        return address;
    }

    @Override
    public void deallocate(long address, long bytes, long alignment, Stream stream) {
        Long size = live.get(address);
        if (size == null) {
            throw new IllegalArgumentException(String.format(
                    "address 0x%x was not allocated by this host resource, or was already freed", address));
        }
        if (size != bytes) {
            throw new IllegalArgumentException(String.format(
                    "bytes %d does not match the %d bytes allocated at 0x%x", bytes, size, address));
        }
        if (!live.remove(address, size)) {
            throw new IllegalArgumentException(String.format("address 0x%x was already freed", address));
        }
        usedBytes.addAndGet(-bytes);
        try {
            FREE.invokeExact(MemorySegment.ofAddress(address));
        } catch (Throwable t) {
            throw new IllegalStateException("free failed", t);
        }
    }

    @Override
    public MemoryKind kind() {
        return MemoryKind.HOST;
    }

    @Override
    public long capacityBytes() {
        return capacityBytes;
    }

    /** Bytes currently allocated from libc through this resource. */
    public long usedBytes() {
        return usedBytes.get();
    }

    /** Number of live allocations. */
    public int liveAllocations() {
        return live.size();
    }

    @Override
    public long liveAllocationCount() {
        return live.size();
    }

    @Override
    public long liveAllocationBytes() {
        return usedBytes.get();
    }

    @Override
    public java.util.List<String> describeLiveAllocations(int max) {
        if (max < 0) {
            throw new IllegalArgumentException("max must not be negative, got " + max);
        }
        return live.entrySet().stream()
                .sorted(java.util.Map.Entry.comparingByKey())
                .limit(max)
                .map(e -> String.format("0x%x: %d bytes", e.getKey(), e.getValue()))
                .toList();
    }

    @Override
    public String toString() {
        return "HostMemoryResource[used=" + usedBytes.get() + ", live=" + live.size() + "]";
    }
}
