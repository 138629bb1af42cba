package io.vramkit.core.memory;

/**
 * A {@link CachingPool} could not allocate, even after releasing its cached segments, retrying and asking its
 * {@link AllocationFailureHandler}. The message is a diagnosis: the request, the capacity and limit, what is allocated,
 * what is reserved but free, the largest free block, the fragmentation, the settings in force, and one suggestion that
 * is not already in effect. The pool is left unchanged apart from its failure counters.
 */
public final class PoolOutOfMemoryException extends OutOfMemoryException {

    private static final long serialVersionUID = 1L;

    private final long capacityBytes;
    private final long limitBytes;
    private final long allocatedBytes;
    private final long reservedFreeBytes;
    private final long largestFreeBytes;
    private final double fragmentation;
    private final transient PoolSettings settings;
    private final String suggestion;

    PoolOutOfMemoryException(String message, long requestedBytes, long capacityBytes, long limitBytes,
                             long allocatedBytes, long reservedFreeBytes, long largestFreeBytes, double fragmentation,
                             PoolSettings settings, String suggestion, Throwable cause) {
        super(message, requestedBytes, cause);
        this.capacityBytes = capacityBytes;
        this.limitBytes = limitBytes;
        this.allocatedBytes = allocatedBytes;
        this.reservedFreeBytes = reservedFreeBytes;
        this.largestFreeBytes = largestFreeBytes;
        this.fragmentation = fragmentation;
        this.settings = settings;
        this.suggestion = suggestion;
    }

    /** The upstream's capacity in bytes, {@link Long#MAX_VALUE} when it knows none. */
    public long capacityBytes() {
        return capacityBytes;
    }

    /** The pool's reserved limit in bytes, {@link Long#MAX_VALUE} when none is set. */
    public long limitBytes() {
        return limitBytes;
    }

    /** Bytes allocated to callers when the allocation failed. */
    public long allocatedBytes() {
        return allocatedBytes;
    }

    /** Bytes the pool held from its upstream but had not handed out. */
    public long reservedFreeBytes() {
        return reservedFreeBytes;
    }

    /** The largest free block in the pool, in bytes. */
    public long largestFreeBytes() {
        return largestFreeBytes;
    }

    /** {@code 1 - largestFree / reservedFree}, between 0 and 1. */
    public double fragmentation() {
        return fragmentation;
    }

    /** The pool settings in force. */
    public PoolSettings settings() {
        return settings;
    }

    /** The one suggestion the message ends with. */
    public String suggestion() {
        return suggestion;
    }
}
