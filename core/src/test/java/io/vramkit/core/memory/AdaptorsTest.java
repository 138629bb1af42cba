package io.vramkit.core.memory;

import static io.vramkit.core.memory.ByteSizes.MiB;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vramkit.core.testing.NoLeaksExtension;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class AdaptorsTest {

    @RegisterExtension
    final NoLeaksExtension leaks = new NoLeaksExtension();

    @Test
    void adaptorsComposeAndStatisticsMatchAFloatingReference() {
        SimulatedResource device = leaks.track(new SimulatedResource(1L << 30));
        CachingPool pool = leaks.track(new CachingPool(device));
        StatisticsResource stats = new StatisticsResource(new LimitingResource(pool, 256 * MiB));
        TrackingResource tracked = leaks.track(new TrackingResource(stats));
        SplittableRandom rnd = new SplittableRandom(3);
        List<long[]> live = new ArrayList<>();
        long cur = 0;
        long peak = 0;
        long total = 0;
        long count = 0;
        for (int i = 0; i < 500; i++) {
            if (rnd.nextBoolean() || live.isEmpty()) {
                long bytes = 1 + rnd.nextInt(1 << 22);
                live.add(new long[] {tracked.allocate(bytes, 128, Stream.HOST), bytes});
                cur += bytes;
                total += bytes;
                count++;
                peak = Math.max(peak, cur);
            } else {
                long[] l = live.remove(rnd.nextInt(live.size()));
                tracked.deallocate(l[0], l[1], 128, Stream.HOST);
                cur -= l[1];
            }
            StatisticsResource.Statistics s = stats.statistics();
            assertEquals(cur, s.bytes().current());
            assertEquals(peak, s.bytes().peak());
            assertEquals(total, s.bytes().total());
            assertEquals(count, s.allocations().total());
            assertEquals(live.size(), s.allocations().current());
            assertEquals(live.size(), tracked.liveAllocationCount());
            assertEquals(cur, tracked.liveAllocationBytes());
        }
        stats.resetPeaks();
        assertEquals(cur, stats.statistics().bytes().peak());
        for (long[] l : live) {
            tracked.deallocate(l[0], l[1], 128, Stream.HOST);
        }
        assertEquals(MemoryKind.DEVICE, tracked.kind());
        assertEquals(256 * MiB, tracked.capacityBytes());
    }

    @Test
    void statisticsCountFailures() {
        StatisticsResource stats = new StatisticsResource(new LimitingResource(new SimulatedResource(MiB), MiB));
        assertThrows(OutOfMemoryException.class, () -> stats.allocate(2 * MiB, 1, Stream.HOST));
        assertEquals(1, stats.statistics().failedAllocations());
        assertEquals(MemoryStat.ZERO, stats.statistics().bytes());
    }

    @Test
    void simulatedDeviceNeverHandsOutHostAccessibleMemory() {
        SimulatedResource device = leaks.track(new SimulatedResource(10 * MiB));
        try (Buffer b = Buffer.allocate(device, 4096, 256, Stream.HOST)) {
            assertThrows(UnsupportedOperationException.class, b::segment);
            assertEquals(0, b.address() % 256);
        }
        long a = device.allocate(MiB, 1, Stream.HOST);
        long c = device.allocate(MiB, 1, Stream.HOST);
        assertTrue(c >= a + MiB, "fake addresses never overlap");
        assertEquals(2 * MiB, device.peakBytes(), "the 4 KiB buffer was freed before");
        device.deallocate(a, MiB, 1, Stream.HOST);
        device.deallocate(c, MiB, 1, Stream.HOST);
        assertEquals(3, device.allocationCount());
    }

    @Test
    void byteSizesSpellOutTheUnit() {
        assertEquals("512 bytes", ByteSizes.human(512));
        assertEquals("1 byte", ByteSizes.human(1));
        assertEquals("1.50 KiB", ByteSizes.human(1536));
        assertEquals("2.00 MiB (2097152 bytes)", ByteSizes.exact(2 * MiB));
        assertEquals("1.50 GiB (1610612736 bytes)", ByteSizes.exact(3L << 29));
        assertEquals("unlimited", ByteSizes.exact(Long.MAX_VALUE));
    }
}
