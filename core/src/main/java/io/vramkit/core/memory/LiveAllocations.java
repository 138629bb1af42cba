package io.vramkit.core.memory;

import java.util.List;

/**
 * A resource that knows its live allocations, so leak checks can ask whether it is empty and list what is not.
 * Implementations are thread-safe; the answers are a consistent moment's view.
 */
public interface LiveAllocations {

    /** Number of allocations handed out and not yet returned. */
    long liveAllocationCount();

    /** Bytes of those allocations, as requested. */
    long liveAllocationBytes();

    /**
     * Up to {@code max} lines, one per live allocation: address, size, stream and allocation site when captured.
     *
     * @throws IllegalArgumentException if {@code max} is negative
     */
    List<String> describeLiveAllocations(int max);
}
