package io.vramkit.core.memory;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A pure-accounting upstream that simulates a device of fixed capacity: it hands out fake, never-reused addresses
 * and never touches memory, so a trace of many GiB replays on any machine. Its memory kind is
 * {@link MemoryKind#DEVICE}, so {@link Buffer#segment()} refuses it and nothing can write through a fake address.
 *
 * <p>It checks frees exactly as a real upstream does (foreign, double, wrong size) and counts used and peak bytes.
 * Thread-safe.
 */
public final class SimulatedResource implements MemoryResource, LiveAllocations {

    private static final long BASE = 0x7f00_0000_0000L;

    private final long capacityBytes;
    private final Map<Long, Long> live = new java.util.HashMap<>();
    private long next = BASE;
    private long used;
    private long peak;
    private long allocations;

    /**
     * A simulated device of {@code capacityBytes}.
     *
     * @param capacityBytes the simulated device size, positive
     * @throws IllegalArgumentException if capacityBytes is not positive
     */
    public SimulatedResource(long capacityBytes) {
        if (capacityBytes <= 0) {
            throw new IllegalArgumentException("capacityBytes must be positive, got " + capacityBytes);
        }
        this.capacityBytes = capacityBytes;
    }

    /**
     * @throws OutOfMemoryException if the simulated device would pass its capacity; nothing changes
     */
    @Override
    public synchronized long allocate(long bytes, long alignment, Stream stream) {
        MemoryResource.checkAllocateArgs(bytes, alignment, stream);
        if (bytes > capacityBytes - used) {
            throw new OutOfMemoryException(String.format(Locale.ROOT,
                    "simulated device of %s cannot allocate %s: %s in use", ByteSizes.exact(capacityBytes),
                    ByteSizes.exact(bytes), ByteSizes.exact(used)), bytes);
        }
        long address = (next + alignment - 1) & -alignment;
        next = address + bytes;
        live.put(address, bytes);
        used += bytes;
        peak = Math.max(peak, used);
        allocations++;
        return address;
    }

    @Override
    public synchronized void deallocate(long address, long bytes, long alignment, Stream stream) {
        Long size = live.get(address);
        if (size == null) {
            throw new IllegalArgumentException(String.format(
                    "address 0x%x was not allocated by this simulated device, or was already freed", address));
        }
        if (size != bytes) {
            throw new IllegalArgumentException(String.format(
                    "bytes %d does not match the %d bytes allocated at 0x%x", bytes, size, address));
        }
        live.remove(address);
        used -= bytes;
    }

    /** Bytes allocated now. */
    public synchronized long usedBytes() {
        return used;
    }

    /** The most bytes allocated at once so far. */
    public synchronized long peakBytes() {
        return peak;
    }

    /** Allocations ever made. */
    public synchronized long allocationCount() {
        return allocations;
    }

    @Override
    public MemoryKind kind() {
        return MemoryKind.DEVICE;
    }

    @Override
    public long capacityBytes() {
        return capacityBytes;
    }

    @Override
    public synchronized long liveAllocationCount() {
        return live.size();
    }

    @Override
    public synchronized long liveAllocationBytes() {
        return used;
    }

    @Override
    public synchronized List<String> describeLiveAllocations(int max) {
        if (max < 0) {
            throw new IllegalArgumentException("max must not be negative, got " + max);
        }
        List<Map.Entry<Long, Long>> entries = new ArrayList<>(live.entrySet());
        entries.sort(Comparator.comparingLong(Map.Entry::getKey));
        List<String> out = new ArrayList<>();
        for (Map.Entry<Long, Long> e : entries) {
            if (out.size() == max) {
                break;
            }
            out.add(String.format(Locale.ROOT, "0x%x: %d bytes", e.getKey(), e.getValue()));
        }
        return out;
    }

    @Override
    public synchronized String toString() {
        return "SimulatedResource[" + ByteSizes.human(used) + " of " + ByteSizes.human(capacityBytes) + ", peak "
                + ByteSizes.human(peak) + "]";
    }
}
