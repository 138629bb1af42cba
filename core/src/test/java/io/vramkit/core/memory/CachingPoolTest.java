package io.vramkit.core.memory;

import static io.vramkit.core.memory.ByteSizes.MiB;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vramkit.core.testing.ManualStream;
import io.vramkit.core.testing.NoLeaksExtension;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class CachingPoolTest {

    @RegisterExtension
    final NoLeaksExtension leaks = new NoLeaksExtension();

    private final PoolInvariants invariants = new PoolInvariants();

    private CachingPool simulatedPool(PoolSettings settings) {
        SimulatedResource device = leaks.track(new SimulatedResource(64L << 30));
        return leaks.track(new CachingPool(device, settings));
    }

    @Test
    void roundsToMinBlockAndServesSmallFromTwoMiBSegments() {
        CachingPool pool = simulatedPool(PoolSettings.defaults());
        long a = pool.allocate(1, 1, Stream.HOST);
        PoolStatistics s = invariants.check(pool);
        assertEquals(512, s.allocatedBytes().current());
        assertEquals(1, s.requestedBytes().current());
        assertEquals(2 * MiB, s.reservedBytes().current());
        long b = pool.allocate(513, 8, Stream.HOST);
        s = invariants.check(pool);
        assertEquals(512 + 1024, s.allocatedBytes().current());
        assertEquals(1, s.reservedCount().current(), "second small block comes from the same segment");
        assertEquals(a + 512, b, "best fit takes the split remainder, adjacent");
        pool.deallocate(a, 1, 1, Stream.HOST);
        pool.deallocate(b, 513, 8, Stream.HOST);
        s = invariants.check(pool);
        assertEquals(0, s.allocatedBytes().current());
        assertEquals(0, s.inactiveSplitCount().current(), "everything merged back into one segment block");
        assertEquals(2 * MiB, s.largestFreeBytes());
    }

    @Test
    void largeRequestsUseTheirOwnPoolAndSegmentSizes() {
        CachingPool pool = simulatedPool(PoolSettings.defaults());
        long small = pool.allocate(MiB, 256, Stream.HOST);
        long mid = pool.allocate(MiB + 1, 256, Stream.HOST);
        long big = pool.allocate(33 * MiB, 256, Stream.HOST);
        PoolSnapshot snap = pool.snapshot();
        assertEquals(3, snap.segments().size());
        long smallSeg = snap.segments().stream().filter(PoolSnapshot.Segment::small).count();
        assertEquals(1, smallSeg);
        assertTrue(snap.segments().stream().anyMatch(g -> !g.small() && g.bytes() == 20 * MiB),
                "a large request under 10 MiB gets a 20 MiB segment");
        assertTrue(snap.segments().stream().anyMatch(g -> !g.small() && g.bytes() == 34 * MiB),
                "a request of at least 10 MiB gets its size rounded to 2 MiB");
        invariants.check(pool);
        pool.deallocate(small, MiB, 256, Stream.HOST);
        pool.deallocate(mid, MiB + 1, 256, Stream.HOST);
        pool.deallocate(big, 33 * MiB, 256, Stream.HOST);
        invariants.check(pool);
    }

    @Test
    void bestFitPicksTheSmallestFreeBlockThatFits() {
        CachingPool pool = simulatedPool(PoolSettings.defaults());
        // Carve a segment into holes of 8 KiB, 4 KiB and 16 KiB, separated by live blocks.
        long[] sizes = {8192, 512, 4096, 512, 16384, 512};
        long[] addr = new long[sizes.length];
        for (int i = 0; i < sizes.length; i++) {
            addr[i] = pool.allocate(sizes[i], 1, Stream.HOST);
        }
        pool.deallocate(addr[0], sizes[0], 1, Stream.HOST);
        pool.deallocate(addr[2], sizes[2], 1, Stream.HOST);
        pool.deallocate(addr[4], sizes[4], 1, Stream.HOST);
        invariants.check(pool);
        long x = pool.allocate(3000, 1, Stream.HOST);
        assertEquals(addr[2], x, "3000 bytes fit best in the 4 KiB hole");
        long y = pool.allocate(6000, 1, Stream.HOST);
        assertEquals(addr[0], y, "6000 bytes fit best in the 8 KiB hole");
        invariants.check(pool);
        for (long a : new long[] {x, y}) {
            pool.deallocate(a, a == x ? 3000 : 6000, 1, Stream.HOST);
        }
        for (int i : new int[] {1, 3, 5}) {
            pool.deallocate(addr[i], sizes[i], 1, Stream.HOST);
        }
        PoolStatistics s = invariants.check(pool);
        assertEquals(0, s.inactiveSplitCount().current());
    }

    @Test
    void maxSplitKeepsBigBlocksWhole() {
        CachingPool pool = simulatedPool(PoolSettings.builder().maxSplitBytes(8 * MiB).build());
        long big = pool.allocate(12 * MiB, 256, Stream.HOST);
        pool.deallocate(big, 12 * MiB, 256, Stream.HOST);
        // A 3 MiB request must not split the free 12 MiB block: it gets a fresh 20 MiB segment.
        long small = pool.allocate(3 * MiB, 256, Stream.HOST);
        PoolSnapshot snap = pool.snapshot();
        assertEquals(2, snap.segments().size());
        assertTrue(snap.segments().stream().anyMatch(g -> g.bytes() == 12 * MiB
                && g.blocks().size() == 1 && g.blocks().getFirst().state() == PoolSnapshot.State.FREE));
        // A 9 MiB request (above maxSplit) takes the whole 12 MiB block without splitting it.
        long nine = pool.allocate(9 * MiB, 256, Stream.HOST);
        PoolStatistics s = invariants.check(pool);
        assertEquals(12 * MiB + 3 * MiB, s.allocatedBytes().current());
        pool.deallocate(nine, 9 * MiB, 256, Stream.HOST);
        pool.deallocate(small, 3 * MiB, 256, Stream.HOST);
        invariants.check(pool);
    }

    @ParameterizedTest
    @ValueSource(longs = {1024, 4096, 65536, 2 * 1024 * 1024})
    void largeAlignmentsAreHonoured(long alignment) {
        CachingPool pool = simulatedPool(PoolSettings.defaults());
        long[] a = new long[5];
        for (int i = 0; i < a.length; i++) {
            a[i] = pool.allocate(100 + i * 1000L, alignment, Stream.HOST);
            assertEquals(0, a[i] % alignment, "address 0x" + Long.toHexString(a[i]));
        }
        invariants.check(pool);
        for (int i = 0; i < a.length; i++) {
            pool.deallocate(a[i], 100 + i * 1000L, alignment, Stream.HOST);
        }
        invariants.check(pool);
    }

    @Test
    void trimReturnsOnlyFullyFreeSegments() {
        CachingPool pool = simulatedPool(PoolSettings.defaults());
        SimulatedResource device = (SimulatedResource) pool.upstream();
        long keep = pool.allocate(1000, 1, Stream.HOST);
        long gone = pool.allocate(30 * MiB, 256, Stream.HOST);
        pool.deallocate(gone, 30 * MiB, 256, Stream.HOST);
        assertEquals(2 * MiB + 30 * MiB, device.usedBytes());
        long released = pool.trim();
        assertEquals(30 * MiB, released);
        assertEquals(2 * MiB, device.usedBytes());
        PoolStatistics s = invariants.check(pool);
        assertEquals(1, s.upstreamFrees());
        pool.deallocate(keep, 1000, 1, Stream.HOST);
        assertEquals(2 * MiB, pool.trim());
        assertEquals(0, device.usedBytes());
    }

    @Test
    void releaseThresholdReturnsWholeFreeSegmentsAtFreeTime() {
        CachingPool pool = simulatedPool(PoolSettings.builder().releaseThresholdBytes(40 * MiB).build());
        SimulatedResource device = (SimulatedResource) pool.upstream();
        long a = pool.allocate(30 * MiB, 256, Stream.HOST);
        long b = pool.allocate(30 * MiB, 256, Stream.HOST);
        long c = pool.allocate(30 * MiB, 256, Stream.HOST);
        pool.deallocate(a, 30 * MiB, 256, Stream.HOST);
        assertEquals(90 * MiB, device.usedBytes(), "30 MiB cached is under the 40 MiB threshold");
        pool.deallocate(b, 30 * MiB, 256, Stream.HOST);
        assertEquals(60 * MiB, device.usedBytes(), "60 MiB cached is over it: the whole free segment goes back");
        PoolStatistics s = invariants.check(pool);
        assertEquals(1, s.upstreamFrees());
        assertEquals(30 * MiB, s.freeBytes());
        pool.deallocate(c, 30 * MiB, 256, Stream.HOST);
        assertEquals(30 * MiB, device.usedBytes(), "again over the threshold: c's segment goes back too");
        assertEquals(0, assertThrows(IllegalArgumentException.class, () -> PoolSettings.builder()
                .releaseThresholdBytes(-1).build()).getMessage().indexOf("releaseThresholdBytes"));
    }

    @Test
    void sameStreamReusesAtOnceOtherStreamsWaitForAFenceEvent() {
        // Requests up to 2 MiB are small: a and filler fill one 2 MiB segment.
        CachingPool pool = simulatedPool(PoolSettings.builder().smallSizeBytes(2 * MiB).build());
        ManualStream s1 = new ManualStream();
        ManualStream s2 = new ManualStream();
        long a = pool.allocate(4096, 256, s1);
        long filler = pool.allocate(2 * MiB - 4096, 256, s1);
        pool.deallocate(a, 4096, 256, s1);
        assertEquals(0, s1.recordedEvents(), "a free records no event");
        PoolStatistics st = invariants.check(pool);
        assertEquals(4096, st.activeBytes().current() - st.allocatedBytes().current(), "unfenced block is active");

        long onS2 = pool.allocate(4096, 256, s2);
        assertNotEquals(a, onS2, "another stream must not reuse a block whose free has not completed");
        assertEquals(1, s1.recordedEvents(), "s2 found no block it may use, so the pool fenced s1");
        assertEquals(2, pool.statistics().reservedCount().current());
        long onS1 = pool.allocate(4096, 256, s1);
        assertEquals(a, onS1, "the freeing stream reuses the block at once");
        pool.deallocate(onS1, 4096, 256, s1);
        long fill2 = pool.allocate(2 * MiB - 4096, 256, s2);

        s1.complete();
        long notYet = pool.allocate(4096, 256, s2);
        assertNotEquals(a, notYet, "the free after the completed fence is not covered by it");
        assertEquals(2, s1.recordedEvents(), "a second fence covers the second free");
        s1.complete();
        long again = pool.allocate(4096, 256, s2);
        assertEquals(a, again, "after the fence completes any stream may reuse it");
        invariants.check(pool);
        for (long x : new long[] {again, notYet, onS2}) {
            pool.deallocate(x, 4096, 256, s2);
        }
        pool.deallocate(fill2, 2 * MiB - 4096, 256, s2);
        pool.deallocate(filler, 2 * MiB - 4096, 256, s1);
        pool.trim();
        assertEquals(0, pool.statistics().reservedBytes().current(), "trim fences and waits for wholly free segments");
    }

    @Test
    void pendingBlocksOfDifferentStreamsDoNotMergeUntilComplete() {
        CachingPool pool = simulatedPool(PoolSettings.defaults());
        ManualStream s1 = new ManualStream();
        ManualStream s2 = new ManualStream();
        long a = pool.allocate(4096, 1, s1);
        long b = pool.allocate(4096, 1, s1);
        long c = pool.allocate(4096, 1, s1);
        pool.deallocate(a, 4096, 1, s1);
        pool.deallocate(b, 4096, 1, s2);
        invariants.check(pool);
        assertEquals(4, pool.snapshot().segments().getFirst().blocks().size(),
                "a (pending on s1), b (pending on s2), c (live), the free rest: a and b stay apart");
        pool.deallocate(c, 4096, 1, s1);
        s1.complete();
        s2.complete();
        pool.trim();
        PoolStatistics st = invariants.check(pool);
        assertEquals(0, st.reservedBytes().current(), "everything merged and was trimmed");
    }

    @Test
    void closeWithPendingEventsWaitsForThem() {
        SimulatedResource device = new SimulatedResource(1L << 30);
        CachingPool pool = new CachingPool(device);
        ManualStream s = new ManualStream();
        long a = pool.allocate(4096, 1, s);
        pool.deallocate(a, 4096, 1, s);
        pool.close();
        assertTrue(pool.isClosed());
        assertEquals(0, device.usedBytes());
        assertThrows(IllegalStateException.class, () -> pool.allocate(1, 1, Stream.HOST));
        pool.close();
    }

    @Test
    void hostMemoryKeepsEveryByteWrittenThroughBuffers() {
        HostMemoryResource host = leaks.track(new HostMemoryResource());
        CachingPool pool = leaks.track(new CachingPool(host));
        try (Buffer a = Buffer.allocate(pool, 3000); Buffer b = Buffer.allocate(pool, 5000, 128, Stream.HOST)) {
            a.segment().fill((byte) 0x5a);
            b.segment().fill((byte) 0x3c);
            for (long i = 0; i < 3000; i++) {
                assertEquals((byte) 0x5a, a.segment().get(ValueLayout.JAVA_BYTE, i));
            }
            for (long i = 0; i < 5000; i++) {
                assertEquals((byte) 0x3c, b.segment().get(ValueLayout.JAVA_BYTE, i));
            }
            assertEquals(0, b.address() % 128);
            assertEquals(MemoryKind.HOST, pool.kind());
        }
        invariants.check(pool);
    }

    @Test
    void resetPeaksSetsPeaksToCurrent() {
        CachingPool pool = simulatedPool(PoolSettings.defaults());
        long a = pool.allocate(5 * MiB, 256, Stream.HOST);
        pool.deallocate(a, 5 * MiB, 256, Stream.HOST);
        PoolStatistics before = pool.statistics();
        assertEquals(5 * MiB, before.allocatedBytes().peak());
        pool.resetPeaks();
        PoolStatistics after = pool.statistics();
        assertEquals(0, after.allocatedBytes().peak());
        assertEquals(before.allocatedBytes().total(), after.allocatedBytes().total(), "totals survive the reset");
        assertEquals(after.reservedBytes().current(), after.reservedBytes().peak());
    }
}
