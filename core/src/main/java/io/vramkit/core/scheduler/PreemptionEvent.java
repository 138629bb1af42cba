package io.vramkit.core.scheduler;

/**
 * One preemption, with what it cost and why, so a user can be told why their request was preempted.
 *
 * @param step             the scheduler step
 * @param requestId        the preempted request
 * @param mode             SWAP or RECOMPUTE, as chosen
 * @param reason           a sentence naming the cause
 * @param recomputeSeconds the estimated time to recompute its tokens
 * @param swapSeconds      the estimated time to swap it out and in
 */
public record PreemptionEvent(long step, long requestId, PreemptionMode mode, String reason, double recomputeSeconds,
                              double swapSeconds) {
}
