package io.vramkit.core.scheduler;

import java.util.List;

/**
 * What one scheduler step runs, and whom it preempted to make room. Immutable.
 *
 * @param step        the step number, from 0
 * @param chunks      the work, decode chunks first
 * @param preemptions preemptions made while planning this step
 * @param swappedIn   requests brought back from swap this step
 * @param compressed  KV blocks compressed this step to avoid preemption
 */
public record StepPlan(long step, List<ScheduledChunk> chunks, List<PreemptionEvent> preemptions,
                       List<Request> swappedIn, int compressed) {

    /** Tokens computed in this step. */
    public int totalTokens() {
        int n = 0;
        for (ScheduledChunk c : chunks) {
            n += c.count();
        }
        return n;
    }

    /** Tokens of prefill chunks. */
    public int prefillTokens() {
        int n = 0;
        for (ScheduledChunk c : chunks) {
            if (c.prefill()) {
                n += c.count();
            }
        }
        return n;
    }

    /** Whether nothing runs this step. */
    public boolean isEmpty() {
        return chunks.isEmpty();
    }
}
