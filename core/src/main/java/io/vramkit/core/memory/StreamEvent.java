package io.vramkit.core.memory;

/**
 * A point in a {@link Stream}'s queue of work, as {@code cudaEvent_t} is on the GPU.
 *
 * <p>The event completes once every piece of work enqueued on its stream before it was recorded has finished.
 * Implementations are thread-safe.
 */
public interface StreamEvent {

    /** Whether all work before this event has finished. Never blocks. */
    boolean isComplete();

    /** Blocks the calling thread until {@link #isComplete()} is true. */
    void synchronize();
}
