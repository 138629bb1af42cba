/**
 * The memory-aware continuous-batching {@link io.vramkit.core.scheduler.Scheduler}: admission policies (optimistic,
 * reserve-by-predicted-length, no-evict), priorities with aging, preemption by swap or recompute chosen by cost,
 * chunked prefill under a token budget, and metrics.
 */
package io.vramkit.core.scheduler;
