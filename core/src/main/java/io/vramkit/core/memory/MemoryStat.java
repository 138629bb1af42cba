package io.vramkit.core.memory;

/**
 * One statistic as PyTorch's caching allocator keeps it: the current value, the highest it reached since the last
 * peak reset, and the running total of every increase.
 *
 * @param current the value now
 * @param peak    the highest value since creation or the last {@code resetPeaks()}; never below {@code current}
 * @param total   the sum of every increase since creation (allocations ever made, bytes ever allocated)
 */
public record MemoryStat(long current, long peak, long total) {

    /** A statistic that never moved. */
    public static final MemoryStat ZERO = new MemoryStat(0, 0, 0);

    /**
     * Checks the values.
     *
     * @throws IllegalArgumentException if a value is negative or {@code peak < current}
     */
    public MemoryStat {
        if (current < 0 || peak < current || total < 0) {
            throw new IllegalArgumentException(
                    "bad statistic: current=" + current + ", peak=" + peak + ", total=" + total);
        }
    }
}
