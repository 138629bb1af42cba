package io.vramkit.core.memory;

/**
 * Counts what passes through it, as RMM's {@code statistics_resource_adaptor}: bytes and allocations, each current,
 * peak and total, plus failed allocations. Peaks can be reset. Thread-safe; the counters are updated under one small
 * lock so a {@link #statistics()} call sees a consistent moment.
 */
public final class StatisticsResource implements MemoryResource {

    /**
     * The counters at one moment.
     *
     * @param bytes              bytes live through the adaptor, as requested
     * @param allocations        allocations live through the adaptor
     * @param failedAllocations  allocations the upstream refused
     */
    public record Statistics(MemoryStat bytes, MemoryStat allocations, long failedAllocations) {
    }

    private final MemoryResource upstream;
    private final StatCounter bytes = new StatCounter();
    private final StatCounter count = new StatCounter();
    private long failed;

    /**
     * Counts what passes to {@code upstream}.
     *
     * @param upstream the resource to observe; not owned
     * @throws IllegalArgumentException if upstream is null
     */
    public StatisticsResource(MemoryResource upstream) {
        if (upstream == null) {
            throw new IllegalArgumentException("upstream must not be null");
        }
        this.upstream = upstream;
    }

    @Override
    public long allocate(long bytes, long alignment, Stream stream) {
        MemoryResource.checkAllocateArgs(bytes, alignment, stream);
        long address;
        try {
            address = upstream.allocate(bytes, alignment, stream);
        } catch (OutOfMemoryException e) {
            synchronized (this) {
                failed++;
            }
            throw e;
        }
        synchronized (this) {
            this.bytes.add(bytes);
            count.add(1);
        }
        return address;
    }

    @Override
    public void deallocate(long address, long bytes, long alignment, Stream stream) {
        upstream.deallocate(address, bytes, alignment, stream);
        synchronized (this) {
            this.bytes.add(-bytes);
            count.add(-1);
        }
    }

    /** The counters now. */
    public synchronized Statistics statistics() {
        return new Statistics(bytes.snapshot(), count.snapshot(), failed);
    }

    /** Sets the peaks to the current values. */
    public synchronized void resetPeaks() {
        bytes.resetPeak();
        count.resetPeak();
    }

    @Override
    public MemoryKind kind() {
        return upstream.kind();
    }

    @Override
    public long capacityBytes() {
        return upstream.capacityBytes();
    }

    @Override
    public synchronized String toString() {
        return "StatisticsResource[" + ByteSizes.human(bytes.current) + " in " + count.current + " allocations, peak "
                + ByteSizes.human(bytes.peak) + "]";
    }
}
