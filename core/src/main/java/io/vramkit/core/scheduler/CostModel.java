package io.vramkit.core.scheduler;

/**
 * What preemption costs, for choosing between swap and recompute per request.
 *
 * <p>Recomputing {@code t} tokens costs {@code t × flopsPerToken + t² × attentionFlopsPerTokenSquared} FLOPs at
 * {@code computeFlopsPerSecond}; swapping costs twice the sequence's KV bytes over the copy bandwidth (the cache's
 * measured bandwidth once it has swapped, else {@code defaultCopyBytesPerSecond}). For a dense transformer,
 * {@code flopsPerToken ≈ 2 × parameters} and {@code attentionFlopsPerTokenSquared ≈ 2 × layers × hidden}.
 *
 * @param flopsPerToken                 FLOPs per recomputed token, {@code >= 0}
 * @param attentionFlopsPerTokenSquared FLOPs per token squared for attention, {@code >= 0}
 * @param computeFlopsPerSecond         sustained FLOP/s, {@code > 0}
 * @param defaultCopyBytesPerSecond     host-device bytes/s before any swap is measured, {@code > 0}
 */
public record CostModel(double flopsPerToken, double attentionFlopsPerTokenSquared, double computeFlopsPerSecond,
                        double defaultCopyBytesPerSecond) {

    /**
     * Validates the model.
     *
     * @throws IllegalArgumentException naming the bad component
     */
    public CostModel {
        if (!(flopsPerToken >= 0)) {
            throw new IllegalArgumentException("flopsPerToken must be >= 0, got " + flopsPerToken);
        }
        if (!(attentionFlopsPerTokenSquared >= 0)) {
            throw new IllegalArgumentException("attentionFlopsPerTokenSquared must be >= 0, got "
                    + attentionFlopsPerTokenSquared);
        }
        if (!(computeFlopsPerSecond > 0)) {
            throw new IllegalArgumentException("computeFlopsPerSecond must be positive, got " + computeFlopsPerSecond);
        }
        if (!(defaultCopyBytesPerSecond > 0)) {
            throw new IllegalArgumentException("defaultCopyBytesPerSecond must be positive, got "
                    + defaultCopyBytesPerSecond);
        }
    }

    /** Seconds to recompute {@code tokens} tokens. */
    public double recomputeSeconds(long tokens) {
        return (tokens * flopsPerToken + (double) tokens * tokens * attentionFlopsPerTokenSquared)
                / computeFlopsPerSecond;
    }

    /** Seconds to swap {@code bytes} out and back in at {@code bandwidth} bytes/s (the default when 0). */
    public double swapSeconds(long bytes, double bandwidth) {
        return 2.0 * bytes / (bandwidth > 0 ? bandwidth : defaultCopyBytesPerSecond);
    }

    /** A 7B-class model on one H100-class GPU over PCIe 4: 14 GFLOP/token, 400 TFLOP/s, 25 GB/s. */
    public static CostModel defaultModel() {
        return new CostModel(14e9, 2 * 32 * 4096, 400e12, 25e9);
    }
}
