package io.vramkit.core.memory;

import io.vramkit.core.json.Json;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A consistent moment's statistics of a {@link CachingPool}, with PyTorch's names.
 *
 * <ul>
 *   <li><b>allocated</b>: blocks handed to callers, at their rounded block size;</li>
 *   <li><b>requested</b>: the same allocations at the size callers asked for;</li>
 *   <li><b>reserved</b>: segments held from the upstream (the count is the number of segments);</li>
 *   <li><b>active</b>: allocated blocks plus freed blocks that other streams may not reuse yet;</li>
 *   <li><b>inactiveSplit</b>: free blocks that are only part of a segment, the raw material of fragmentation.</li>
 * </ul>
 * Every byte figure is in bytes. {@code allocated.current + freeBytes == reserved.current} always holds.
 *
 * @param allocatedBytes      bytes of allocated blocks
 * @param allocatedCount      number of allocated blocks
 * @param requestedBytes      bytes callers asked for
 * @param reservedBytes       bytes of segments held from the upstream
 * @param reservedCount       number of segments
 * @param activeBytes         bytes of active blocks
 * @param activeCount         number of active blocks
 * @param inactiveSplitBytes  bytes of free blocks in split segments
 * @param inactiveSplitCount  number of free blocks in split segments
 * @param upstreamAllocations segments ever allocated from the upstream
 * @param upstreamFrees       segments ever returned to the upstream
 * @param retries             allocations retried after releasing cached segments or asking the failure handler
 * @param ooms                allocations that failed with {@link PoolOutOfMemoryException}
 * @param freeBytes           reserved bytes not allocated (free or waiting for a stream)
 * @param largestFreeBytes    the largest free block, in bytes
 */
public record PoolStatistics(MemoryStat allocatedBytes, MemoryStat allocatedCount, MemoryStat requestedBytes,
                             MemoryStat reservedBytes, MemoryStat reservedCount, MemoryStat activeBytes,
                             MemoryStat activeCount, MemoryStat inactiveSplitBytes, MemoryStat inactiveSplitCount,
                             long upstreamAllocations, long upstreamFrees, long retries, long ooms, long freeBytes,
                             long largestFreeBytes) {

    /**
     * External fragmentation, {@code 1 - largestFree / totalFree}: 0 when all free memory is one block (or there is
     * none), close to 1 when it is scattered in small pieces.
     */
    public double fragmentation() {
        return freeBytes == 0 ? 0.0 : 1.0 - (double) largestFreeBytes / freeBytes;
    }

    /** The statistics as one JSON object, with the field names of this record plus {@code fragmentation}. */
    public String toJson() {
        return Json.write(toMap());
    }

    Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        stat(m, "allocatedBytes", allocatedBytes);
        stat(m, "allocatedCount", allocatedCount);
        stat(m, "requestedBytes", requestedBytes);
        stat(m, "reservedBytes", reservedBytes);
        stat(m, "reservedCount", reservedCount);
        stat(m, "activeBytes", activeBytes);
        stat(m, "activeCount", activeCount);
        stat(m, "inactiveSplitBytes", inactiveSplitBytes);
        stat(m, "inactiveSplitCount", inactiveSplitCount);
        m.put("upstreamAllocations", upstreamAllocations);
        m.put("upstreamFrees", upstreamFrees);
        m.put("retries", retries);
        m.put("ooms", ooms);
        m.put("freeBytes", freeBytes);
        m.put("largestFreeBytes", largestFreeBytes);
        m.put("fragmentation", fragmentation());
        return m;
    }

    private static void stat(Map<String, Object> m, String name, MemoryStat s) {
        Map<String, Object> v = new LinkedHashMap<>();
        v.put("current", s.current());
        v.put("peak", s.peak());
        v.put("total", s.total());
        m.put(name, v);
    }

    @Override
    public String toString() {
        return String.format("allocated %s in %d blocks (peak %s), reserved %s in %d segments (peak %s), free %s, "
                        + "largest free %s, fragmentation %.1f%%, upstream allocations %d, retries %d, OOMs %d",
                ByteSizes.human(allocatedBytes.current()), allocatedCount.current(),
                ByteSizes.human(allocatedBytes.peak()), ByteSizes.human(reservedBytes.current()),
                reservedCount.current(), ByteSizes.human(reservedBytes.peak()), ByteSizes.human(freeBytes),
                ByteSizes.human(largestFreeBytes), 100 * fragmentation(), upstreamAllocations, retries, ooms);
    }
}
