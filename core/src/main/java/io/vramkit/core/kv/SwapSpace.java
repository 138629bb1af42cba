package io.vramkit.core.kv;

import io.vramkit.core.memory.MemoryResource;

/**
 * The host-side ("pinned") pool that {@link PagedKvCache#swapOut} copies a preempted sequence's blocks into. On the
 * GPU it wraps a pinned-host resource; on the CPU any {@link MemoryResource} serves. With a null resource it only
 * accounts bytes, for a cache in accounting-only mode.
 *
 * <p>Not thread-safe; owned by the cache's thread. The resource is borrowed, not closed.
 */
public final class SwapSpace {

    private final MemoryResource resource;
    private long bytesInUse;
    private int sequences;
    private long bytesSwappedOut;
    private long bytesSwappedIn;

    /**
     * @param resource where swapped blocks are copied, or null to account bytes only
     */
    public SwapSpace(MemoryResource resource) {
        this.resource = resource;
    }

    /** The resource swapped blocks live in, or null in accounting-only mode. */
    public MemoryResource resource() {
        return resource;
    }

    /** Bytes currently held for swapped-out sequences. */
    public long bytesInUse() {
        return bytesInUse;
    }

    /** Sequences currently swapped out here. */
    public int sequences() {
        return sequences;
    }

    /** Total bytes copied out so far. */
    public long bytesSwappedOut() {
        return bytesSwappedOut;
    }

    /** Total bytes copied back in so far. */
    public long bytesSwappedIn() {
        return bytesSwappedIn;
    }

    void onSwapOut(long bytes) {
        bytesInUse += bytes;
        bytesSwappedOut += bytes;
        sequences++;
    }

    void onSwapIn(long bytes) {
        bytesInUse -= bytes;
        bytesSwappedIn += bytes;
        sequences--;
    }

    void onDiscard(long bytes) {
        bytesInUse -= bytes;
        sequences--;
    }
}
