package io.vramkit.core.scheduler;

/**
 * A snapshot of the scheduler after a step. Immutable.
 *
 * @param step                  steps planned so far
 * @param waiting               requests queued
 * @param running               requests holding KV blocks
 * @param swapped               requests swapped out
 * @param finished              requests completed
 * @param failed                requests rejected
 * @param preemptionsBySwap     preemptions that swapped
 * @param preemptionsByRecompute preemptions that recompute
 * @param kvUtilization         referenced blocks over all blocks
 * @param kvReservedUtilization referenced plus reserved-but-unused blocks over all blocks
 * @param kvWasteFraction       allocated slots holding no token over allocated slots
 * @param compressedBlocks      blocks compressed under pressure so far
 */
public record SchedulerMetrics(long step, int waiting, int running, int swapped, long finished, long failed,
                               long preemptionsBySwap, long preemptionsByRecompute, double kvUtilization,
                               double kvReservedUtilization, double kvWasteFraction, long compressedBlocks) {

    /** All preemptions. */
    public long preemptions() {
        return preemptionsBySwap + preemptionsByRecompute;
    }
}
