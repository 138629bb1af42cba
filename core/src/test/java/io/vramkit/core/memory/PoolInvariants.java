package io.vramkit.core.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;

/** Checks a caching pool's structural and statistical invariants from its snapshot and statistics. */
final class PoolInvariants {

    private PoolStatistics previous;

    /**
     * Checks: blocks tile each segment exactly; no two free, settled neighbours (coalescing); no two live blocks
     * overlap; statistics agree with the snapshot; allocated + free = reserved; peaks never decrease and bound the
     * current values.
     */
    PoolStatistics check(CachingPool pool) {
        PoolSnapshot snap = pool.snapshot();
        PoolStatistics s = pool.statistics();
        long allocated = 0;
        long free = 0;
        long allocatedCount = 0;
        long splitFree = 0;
        long splitFreeCount = 0;
        long pending = 0;
        long pendingCount = 0;
        long largest = 0;
        List<long[]> liveRanges = new ArrayList<>();
        for (PoolSnapshot.Segment seg : snap.segments()) {
            long offset = 0;
            PoolSnapshot.Block prev = null;
            for (PoolSnapshot.Block b : seg.blocks()) {
                assertEquals(offset, b.offset(), "blocks must tile segment 0x" + Long.toHexString(seg.address()));
                assertTrue(b.bytes() > 0);
                offset += b.bytes();
                if (b.state() == PoolSnapshot.State.ALLOCATED) {
                    allocated += b.bytes();
                    allocatedCount++;
                    assertTrue(b.requestedBytes() <= b.bytes());
                    liveRanges.add(new long[] {seg.address() + b.offset(), seg.address() + b.offset() + b.bytes()});
                } else {
                    free += b.bytes();
                    largest = Math.max(largest, b.bytes());
                    if (seg.blocks().size() > 1) {
                        splitFree += b.bytes();
                        splitFreeCount++;
                    }
                    if (b.state() == PoolSnapshot.State.PENDING_FREE) {
                        pending += b.bytes();
                        pendingCount++;
                    }
                    if (prev != null && b.state() == PoolSnapshot.State.FREE) {
                        assertFalse(prev.state() == PoolSnapshot.State.FREE,
                                "two free neighbours were not merged in segment 0x" + Long.toHexString(seg.address()));
                    }
                    if (prev != null && b.state() == PoolSnapshot.State.PENDING_FREE) {
                        assertFalse(prev.state() == PoolSnapshot.State.PENDING_FREE && prev.stream() == b.stream(),
                                "two pending neighbours of one stream were not merged");
                    }
                }
                prev = b;
            }
            assertEquals(seg.bytes(), offset, "blocks must sum to the segment size");
        }
        liveRanges.sort((a, b) -> Long.compare(a[0], b[0]));
        for (int i = 1; i < liveRanges.size(); i++) {
            assertTrue(liveRanges.get(i - 1)[1] <= liveRanges.get(i)[0], "live blocks overlap");
        }
        assertEquals(allocated, s.allocatedBytes().current(), "allocated bytes");
        assertEquals(allocatedCount, s.allocatedCount().current(), "allocated count");
        assertEquals(snap.reservedBytes(), s.reservedBytes().current(), "reserved bytes");
        assertEquals(snap.segments().size(), s.reservedCount().current(), "segment count");
        assertEquals(free, s.freeBytes(), "free bytes");
        assertEquals(s.reservedBytes().current(), s.allocatedBytes().current() + s.freeBytes(),
                "allocated + free = reserved");
        assertEquals(splitFree, s.inactiveSplitBytes().current(), "inactive split bytes");
        assertEquals(splitFreeCount, s.inactiveSplitCount().current(), "inactive split count");
        assertEquals(allocated + pending, s.activeBytes().current(), "active bytes");
        assertEquals(allocatedCount + pendingCount, s.activeCount().current(), "active count");
        assertEquals(largest, s.largestFreeBytes(), "largest free block");
        assertEquals(pool.liveAllocationCount(), allocatedCount);
        for (MemoryStat m : stats(s)) {
            assertTrue(m.peak() >= m.current());
        }
        if (previous != null) {
            MemoryStat[] before = stats(previous);
            MemoryStat[] now = stats(s);
            for (int i = 0; i < now.length; i++) {
                assertTrue(now[i].peak() >= before[i].peak(), "peaks never decrease");
                assertTrue(now[i].total() >= before[i].total(), "totals never decrease");
            }
        }
        previous = s;
        return s;
    }

    /** Forgets the previous statistics (after a peak reset). */
    void reset() {
        previous = null;
    }

    private static MemoryStat[] stats(PoolStatistics s) {
        return new MemoryStat[] {s.allocatedBytes(), s.allocatedCount(), s.requestedBytes(), s.reservedBytes(),
            s.reservedCount(), s.activeBytes(), s.activeCount(), s.inactiveSplitBytes(), s.inactiveSplitCount()};
    }
}
