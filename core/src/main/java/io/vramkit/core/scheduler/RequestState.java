package io.vramkit.core.scheduler;

/** Where a {@link Request} is in its life. */
public enum RequestState {
    /** Queued, holding no KV blocks (new, or preempted by recompute). */
    WAITING,
    /** Admitted: holds KV blocks and is scheduled every step until it finishes. */
    RUNNING,
    /** Preempted by swap: its KV blocks are in the host swap space. */
    SWAPPED,
    /** Done: it produced its last token and its blocks are freed. */
    FINISHED,
    /** Rejected: it can never fit in the KV cache under the admission policy; {@link Request#failure()} says why. */
    FAILED
}
