package io.vramkit.core.scheduler;

import java.util.Arrays;

/**
 * Predicts how many tokens a request will generate, learned from the requests that completed: a chosen quantile of
 * the last {@code window} observed output lengths (predictive memory management). Before any observation it predicts
 * the request's {@code maxNewTokens}. Not thread-safe.
 */
public final class OutputLengthPredictor {

    private final int[] ring;
    private final double quantile;
    private int count;
    private int next;

    /**
     * @param window   observations remembered, {@code >= 1}
     * @param quantile the quantile predicted, in (0, 1]; higher reserves more and preempts less
     * @throws IllegalArgumentException naming the bad argument
     */
    public OutputLengthPredictor(int window, double quantile) {
        if (window <= 0) {
            throw new IllegalArgumentException("window must be positive, got " + window);
        }
        if (!(quantile > 0 && quantile <= 1)) {
            throw new IllegalArgumentException("quantile must be in (0, 1], got " + quantile);
        }
        this.ring = new int[window];
        this.quantile = quantile;
    }

    /** Records the output length of a completed request. @throws IllegalArgumentException if negative */
    public void observe(int outputTokens) {
        if (outputTokens < 0) {
            throw new IllegalArgumentException("outputTokens must be >= 0, got " + outputTokens);
        }
        ring[next] = outputTokens;
        next = (next + 1) % ring.length;
        count = Math.min(count + 1, ring.length);
    }

    /** Observations held. */
    public int observations() {
        return count;
    }

    /** The predicted output tokens for a request, at most its {@code maxNewTokens}. */
    public int predict(Request r) {
        if (count == 0) {
            return r.maxNewTokens();
        }
        int[] sorted = Arrays.copyOf(ring, count);
        Arrays.sort(sorted);
        int idx = (int) Math.ceil(quantile * count) - 1;
        return Math.min(r.maxNewTokens(), sorted[Math.max(0, idx)]);
    }
}
