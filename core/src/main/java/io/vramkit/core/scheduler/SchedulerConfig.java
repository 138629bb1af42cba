package io.vramkit.core.scheduler;

/**
 * Settings of a {@link Scheduler}. Immutable and thread-safe.
 *
 * @param maxBatchTokens       token budget per step (decode tokens plus prefill chunks), {@code >= 1}
 * @param maxRunning           requests holding KV at once, {@code >= 1}
 * @param policy               admission policy
 * @param preemptionMode       swap, recompute, or chosen by cost
 * @param agingPerSecond       priority added per second of waiting, {@code >= 0}; positive values prevent starvation
 * @param costModel            preemption costs
 * @param compressionWatermark fraction of blocks; when free plus evictable blocks fall below it, cold blocks are
 *                             compressed before anyone is preempted (needs a cache with compression); 0 = never
 */
public record SchedulerConfig(int maxBatchTokens, int maxRunning, AdmissionPolicy policy,
                              PreemptionMode preemptionMode, double agingPerSecond, CostModel costModel,
                              double compressionWatermark) {

    /**
     * Validates the settings.
     *
     * @throws IllegalArgumentException naming the bad component
     */
    public SchedulerConfig {
        if (maxBatchTokens <= 0) {
            throw new IllegalArgumentException("maxBatchTokens must be positive, got " + maxBatchTokens);
        }
        if (maxRunning <= 0) {
            throw new IllegalArgumentException("maxRunning must be positive, got " + maxRunning);
        }
        if (policy == null) {
            throw new IllegalArgumentException("policy must not be null");
        }
        if (preemptionMode == null) {
            throw new IllegalArgumentException("preemptionMode must not be null");
        }
        if (!(agingPerSecond >= 0)) {
            throw new IllegalArgumentException("agingPerSecond must be >= 0, got " + agingPerSecond);
        }
        if (costModel == null) {
            throw new IllegalArgumentException("costModel must not be null");
        }
        if (!(compressionWatermark >= 0 && compressionWatermark < 1)) {
            throw new IllegalArgumentException("compressionWatermark must be in [0, 1), got " + compressionWatermark);
        }
    }

    /** 2048-token steps, 256 running, the given policy, cost-based preemption, aging 1/s, no compression. */
    public static SchedulerConfig defaults(AdmissionPolicy policy) {
        return new SchedulerConfig(2048, 256, policy, PreemptionMode.AUTO, 1.0, CostModel.defaultModel(), 0);
    }

    /** A copy with another token budget. */
    public SchedulerConfig withMaxBatchTokens(int v) {
        return new SchedulerConfig(v, maxRunning, policy, preemptionMode, agingPerSecond, costModel,
                compressionWatermark);
    }

    /** A copy with another preemption mode. */
    public SchedulerConfig withPreemptionMode(PreemptionMode v) {
        return new SchedulerConfig(maxBatchTokens, maxRunning, policy, v, agingPerSecond, costModel,
                compressionWatermark);
    }

    /** A copy with another aging rate. */
    public SchedulerConfig withAgingPerSecond(double v) {
        return new SchedulerConfig(maxBatchTokens, maxRunning, policy, preemptionMode, v, costModel,
                compressionWatermark);
    }

    /** A copy with another compression watermark. */
    public SchedulerConfig withCompressionWatermark(double v) {
        return new SchedulerConfig(maxBatchTokens, maxRunning, policy, preemptionMode, agingPerSecond, costModel, v);
    }

    /** A copy with another running limit. */
    public SchedulerConfig withMaxRunning(int v) {
        return new SchedulerConfig(maxBatchTokens, v, policy, preemptionMode, agingPerSecond, costModel,
                compressionWatermark);
    }
}
