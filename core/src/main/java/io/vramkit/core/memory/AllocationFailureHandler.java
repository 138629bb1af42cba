package io.vramkit.core.memory;

/**
 * Called by a {@link CachingPool} when an allocation still fails after the pool released its cached segments and
 * retried, as RMM's {@code failure_callback_resource_adaptor}: the handler may free memory elsewhere (evict a KV
 * cache, drop a model) and ask for another try.
 *
 * <p>It runs on the allocating thread without the pool's lock held, so it may free buffers of the same pool.
 */
@FunctionalInterface
public interface AllocationFailureHandler {

    /**
     * Decides whether the pool tries the allocation again, after freeing memory elsewhere if it can.
     *
     * @param requestedBytes the size that could not be allocated
     * @param attempt        how many handler calls came before this one for the same allocation (0 the first time)
     * @return true to retry the allocation, false to let the pool throw its {@link PoolOutOfMemoryException}
     */
    boolean onFailure(long requestedBytes, int attempt);
}
