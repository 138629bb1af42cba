package io.vramkit.core.scheduler;

/**
 * Decides how many KV tokens a request reserves when it is admitted. The scheduler admits a request only when the
 * free blocks, minus the blocks other running requests have reserved but not yet used, cover its reservation (and
 * at least its first chunk). Implementations must be side-effect free.
 */
@FunctionalInterface
public interface AdmissionPolicy {

    /**
     * Total tokens (prompt plus expected output) to reserve for {@code request}, or 0 for no reservation beyond the
     * blocks it takes as it goes.
     *
     * @param request   the request being admitted
     * @param predictor output lengths learned from completed requests
     * @return tokens to reserve
     */
    int reservedTokens(Request request, OutputLengthPredictor predictor);

    /** Allocate now, preempt on failure: no reservation. */
    static AdmissionPolicy optimistic() {
        return named("optimistic", (r, p) -> 0);
    }

    /** Reserve the prompt plus the predicted output length learned from completed requests. */
    static AdmissionPolicy reservePredicted() {
        return named("reserve-predicted", (r, p) -> r.promptLength() + p.predict(r));
    }

    /**
     * Guaranteed no eviction: reserve the prompt plus {@code maxNewTokens}, so a running request never needs a block
     * it was not promised.
     */
    static AdmissionPolicy noEvict() {
        return named("no-evict", (r, p) -> r.promptLength() + r.maxNewTokens());
    }

    /** Whether the policy guarantees no preemption (so requests too big for the whole cache fail up front). */
    default boolean guaranteesNoEviction() {
        return toString().equals("no-evict");
    }

    private static AdmissionPolicy named(String name, AdmissionPolicy p) {
        return new AdmissionPolicy() {
            @Override
            public int reservedTokens(Request request, OutputLengthPredictor predictor) {
                return p.reservedTokens(request, predictor);
            }

            @Override
            public String toString() {
                return name;
            }
        };
    }
}
