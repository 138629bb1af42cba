package io.vramkit.core.memory;

/**
 * Charges every allocation through it to a {@link MemoryBudget}, and refuses those the budget cannot take before the
 * upstream is asked. Thread-safe.
 *
 * {@snippet :
 * MemoryBudget tenant = root.child("tenant-a", 1L << 30, 4L << 30);
 * MemoryResource tenantMemory = new BudgetedResource(pool, tenant);
 * }
 */
public final class BudgetedResource implements MemoryResource {

    private final MemoryResource upstream;
    private final MemoryBudget budget;

    /**
     * Charges allocations through {@code upstream} to {@code budget}.
     *
     * @param upstream where memory comes from; not owned
     * @param budget   what allocations are charged to; not owned
     * @throws IllegalArgumentException if either is null
     */
    public BudgetedResource(MemoryResource upstream, MemoryBudget budget) {
        if (upstream == null) {
            throw new IllegalArgumentException("upstream must not be null");
        }
        if (budget == null) {
            throw new IllegalArgumentException("budget must not be null");
        }
        this.upstream = upstream;
        this.budget = budget;
    }

    /**
     * @throws OutOfMemoryException if the budget cannot take {@code bytes} (the message names the budget that refused)
     *                              or the upstream fails; nothing stays charged
     */
    @Override
    public long allocate(long bytes, long alignment, Stream stream) {
        MemoryResource.checkAllocateArgs(bytes, alignment, stream);
        budget.reserve(bytes);
        try {
            return upstream.allocate(bytes, alignment, stream);
        } catch (RuntimeException e) {
            budget.release(bytes);
            throw e;
        }
    }

    /** Frees through the upstream, whose misuse checks run before the budget is credited. */
    @Override
    public void deallocate(long address, long bytes, long alignment, Stream stream) {
        upstream.deallocate(address, bytes, alignment, stream);
        budget.release(bytes);
    }

    @Override
    public MemoryKind kind() {
        return upstream.kind();
    }

    /** The smaller of the upstream's capacity and the budget's limit. */
    @Override
    public long capacityBytes() {
        return Math.min(upstream.capacityBytes(), budget.limitBytes());
    }

    /** The budget charged. */
    public MemoryBudget budget() {
        return budget;
    }

    @Override
    public String toString() {
        return "BudgetedResource[" + budget + "]";
    }
}
