package io.vramkit.core.memory;

import java.util.concurrent.atomic.AtomicLong;

/**
 * A hard limit on the bytes live through an upstream at once, as RMM's {@code limiting_resource_adaptor}. An
 * allocation that would pass the limit throws {@link OutOfMemoryException} before the upstream is asked. Thread-safe
 * and lock-free.
 *
 * {@snippet :
 * MemoryResource eightGiB = new LimitingResource(new HostMemoryResource(), 8L << 30);
 * }
 */
public final class LimitingResource implements MemoryResource {

    private final MemoryResource upstream;
    private final long limitBytes;
    private final AtomicLong used = new AtomicLong();

    /**
     * Limits {@code upstream} to {@code limitBytes} live at once.
     *
     * @param upstream   the resource to limit; not owned (closing this does not close it)
     * @param limitBytes the most bytes live at once, positive
     * @throws IllegalArgumentException if upstream is null or limitBytes is not positive
     */
    public LimitingResource(MemoryResource upstream, long limitBytes) {
        if (upstream == null) {
            throw new IllegalArgumentException("upstream must not be null");
        }
        if (limitBytes <= 0) {
            throw new IllegalArgumentException("limitBytes must be positive, got " + limitBytes);
        }
        this.upstream = upstream;
        this.limitBytes = limitBytes;
    }

    /**
     * @throws OutOfMemoryException if the allocation would pass the limit, or the upstream fails; nothing changes
     */
    @Override
    public long allocate(long bytes, long alignment, Stream stream) {
        MemoryResource.checkAllocateArgs(bytes, alignment, stream);
        while (true) {
            long u = used.get();
            if (bytes > limitBytes - u) {
                throw new OutOfMemoryException("limit of " + ByteSizes.exact(limitBytes) + " reached: cannot add "
                        + ByteSizes.exact(bytes) + " to the " + ByteSizes.exact(u) + " in use", bytes);
            }
            if (used.compareAndSet(u, u + bytes)) {
                break;
            }
        }
        try {
            return upstream.allocate(bytes, alignment, stream);
        } catch (RuntimeException e) {
            used.addAndGet(-bytes);
            throw e;
        }
    }

    /** Frees through the upstream; the upstream's checks (foreign or double free) run before the count changes. */
    @Override
    public void deallocate(long address, long bytes, long alignment, Stream stream) {
        upstream.deallocate(address, bytes, alignment, stream);
        used.addAndGet(-bytes);
    }

    @Override
    public MemoryKind kind() {
        return upstream.kind();
    }

    /** The smaller of the limit and the upstream's capacity. */
    @Override
    public long capacityBytes() {
        return Math.min(limitBytes, upstream.capacityBytes());
    }

    /** The limit in bytes. */
    public long limitBytes() {
        return limitBytes;
    }

    /** Bytes live through this adaptor now. */
    public long usedBytes() {
        return used.get();
    }

    @Override
    public String toString() {
        return "LimitingResource[" + ByteSizes.human(used.get()) + " of " + ByteSizes.human(limitBytes) + "]";
    }
}
