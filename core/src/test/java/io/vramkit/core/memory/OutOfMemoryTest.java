package io.vramkit.core.memory;

import static io.vramkit.core.memory.ByteSizes.MiB;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vramkit.core.testing.NoLeaksExtension;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class OutOfMemoryTest {

    @RegisterExtension
    final NoLeaksExtension leaks = new NoLeaksExtension();

    private static void assertContains(String message, String... parts) {
        for (String p : parts) {
            assertTrue(message.contains(p), "message should contain '" + p + "':\n" + message);
        }
    }

    @Test
    void exhaustedUpstreamReleasesCachedSegmentsAndRetries() {
        SimulatedResource device = leaks.track(new SimulatedResource(64 * MiB));
        CachingPool pool = leaks.track(new CachingPool(device));
        long a = pool.allocate(40 * MiB, 256, Stream.HOST);
        pool.deallocate(a, 40 * MiB, 256, Stream.HOST);
        // 40 MiB sit cached; 50 MiB only fit once the pool gives them back.
        long b = pool.allocate(50 * MiB, 256, Stream.HOST);
        PoolStatistics s = pool.statistics();
        assertEquals(1, s.retries());
        assertEquals(0, s.ooms());
        assertEquals(1, s.upstreamFrees());
        assertEquals(50 * MiB, device.usedBytes());
        pool.deallocate(b, 50 * MiB, 256, Stream.HOST);
    }

    @Test
    void failureHandlerIsAskedAndMayFreeMemoryForARetry() {
        SimulatedResource device = leaks.track(new SimulatedResource(64 * MiB));
        List<Long> victims = new ArrayList<>();
        AtomicInteger calls = new AtomicInteger();
        CachingPool[] holder = new CachingPool[1];
        CachingPool pool = leaks.track(new CachingPool(device, PoolSettings.defaults(), (bytes, attempt) -> {
            calls.incrementAndGet();
            if (victims.isEmpty()) {
                return false;
            }
            holder[0].deallocate(victims.removeFirst(), 30 * MiB, 256, Stream.HOST);
            return true;
        }));
        holder[0] = pool;
        victims.add(pool.allocate(30 * MiB, 256, Stream.HOST));
        long b = pool.allocate(30 * MiB, 256, Stream.HOST);
        long c = pool.allocate(30 * MiB, 256, Stream.HOST);
        assertEquals(1, calls.get(), "the handler freed a victim and the retry succeeded");
        assertEquals(2, pool.statistics().retries());
        PoolOutOfMemoryException e = assertThrows(PoolOutOfMemoryException.class,
                () -> pool.allocate(30 * MiB, 256, Stream.HOST));
        assertEquals(2, calls.get());
        assertContains(e.getMessage(), "failure handler declined");
        pool.deallocate(b, 30 * MiB, 256, Stream.HOST);
        pool.deallocate(c, 30 * MiB, 256, Stream.HOST);
    }

    @Test
    void messageIsADiagnosisWithAFragmentationSuggestion() {
        SimulatedResource device = leaks.track(new SimulatedResource(100 * MiB));
        CachingPool pool = leaks.track(new CachingPool(device,
                PoolSettings.builder().name("frag").largeSegmentBytes(20 * MiB).build()));
        // Fill five 20 MiB segments with 4 MiB blocks, then free every other one: 40 MiB free in 4 MiB holes.
        List<Long> blocks = new ArrayList<>();
        for (int i = 0; i < 25; i++) {
            blocks.add(pool.allocate(4 * MiB, 256, Stream.HOST));
        }
        for (int i = 0; i < 25; i += 2) {
            pool.deallocate(blocks.get(i), 4 * MiB, 256, Stream.HOST);
        }
        PoolStatistics before = pool.statistics();
        PoolOutOfMemoryException e = assertThrows(PoolOutOfMemoryException.class,
                () -> pool.allocate(12 * MiB, 256, Stream.HOST));
        String m = e.getMessage();
        assertContains(m, "pool 'frag' cannot allocate 12.00 MiB (12582912 bytes)", "capacity: 100.00 MiB",
                "limit: none", "allocated: 48.00 MiB", "reserved but free: 52.00 MiB", "largest free block: 4.00 MiB",
                "fragmentation: 92.3%", "settings: minBlockBytes=512 bytes", "maxSplitBytes=unlimited",
                "Suggestion: ", "set maxSplitBytes to 8.00 MiB");
        assertEquals(12 * MiB, e.requestedBytes());
        assertEquals(100 * MiB, e.capacityBytes());
        assertEquals(52 * MiB, e.reservedFreeBytes());
        assertEquals(4 * MiB, e.largestFreeBytes());
        assertEquals(1 - 4.0 / 52, e.fragmentation(), 1e-12);
        PoolStatistics after = pool.statistics();
        assertEquals(before.allocatedBytes(), after.allocatedBytes(), "a failed allocation changes no block");
        assertEquals(before.reservedBytes().current(), after.reservedBytes().current());
        assertEquals(1, after.ooms());
        for (int i = 1; i < 25; i += 2) {
            pool.deallocate(blocks.get(i), 4 * MiB, 256, Stream.HOST);
        }
    }

    @Test
    void suggestionChangesOnceMaxSplitIsInEffect() {
        SimulatedResource device = leaks.track(new SimulatedResource(100 * MiB));
        CachingPool pool = leaks.track(new CachingPool(device,
                PoolSettings.builder().maxSplitBytes(40 * MiB).build()));
        List<Long> blocks = new ArrayList<>();
        for (int i = 0; i < 25; i++) {
            blocks.add(pool.allocate(4 * MiB, 256, Stream.HOST));
        }
        for (int i = 0; i < 25; i += 2) {
            pool.deallocate(blocks.get(i), 4 * MiB, 256, Stream.HOST);
        }
        PoolOutOfMemoryException e = assertThrows(PoolOutOfMemoryException.class,
                () -> pool.allocate(12 * MiB, 256, Stream.HOST));
        assertTrue(!e.suggestion().contains("set maxSplitBytes"), e.suggestion());
        assertContains(e.suggestion(), "allocate the large, long-lived buffers first");
        for (int i = 1; i < 25; i += 2) {
            pool.deallocate(blocks.get(i), 4 * MiB, 256, Stream.HOST);
        }
    }

    @Test
    void reservedLimitSuggestsRaisingIt() {
        SimulatedResource device = leaks.track(new SimulatedResource(1L << 30));
        CachingPool pool = leaks.track(new CachingPool(device,
                PoolSettings.builder().reservedLimitBytes(32 * MiB).build()));
        long a = pool.allocate(20 * MiB, 256, Stream.HOST);
        PoolOutOfMemoryException e = assertThrows(PoolOutOfMemoryException.class,
                () -> pool.allocate(20 * MiB, 256, Stream.HOST));
        assertContains(e.getMessage(), "limit: 32.00 MiB (33554432 bytes)", "refused by reservedLimitBytes",
                "raise reservedLimitBytes from 32.00 MiB (33554432 bytes) to at least 40.00 MiB");
        assertEquals(32 * MiB, e.limitBytes());
        assertEquals(20 * MiB, pool.statistics().reservedBytes().current());
        pool.deallocate(a, 20 * MiB, 256, Stream.HOST);
    }

    @Test
    void fullUpstreamSuggestsFreeingLiveMemory() {
        SimulatedResource device = leaks.track(new SimulatedResource(64 * MiB));
        CachingPool pool = leaks.track(new CachingPool(device));
        long a = pool.allocate(60 * MiB, 256, Stream.HOST);
        PoolOutOfMemoryException e = assertThrows(PoolOutOfMemoryException.class,
                () -> pool.allocate(10 * MiB, 256, Stream.HOST));
        assertContains(e.getMessage(), "upstream said: simulated device", "refused by the upstream",
                "the upstream is full: free at least", "Suggestion");
        assertTrue(e.getCause() instanceof OutOfMemoryException);
        pool.deallocate(a, 60 * MiB, 256, Stream.HOST);
    }

    @Test
    void limitingResourceRefusesPastItsLimit() {
        SimulatedResource device = leaks.track(new SimulatedResource(1L << 30));
        LimitingResource limit = new LimitingResource(device, 10 * MiB);
        long a = limit.allocate(6 * MiB, 256, Stream.HOST);
        OutOfMemoryException e = assertThrows(OutOfMemoryException.class,
                () -> limit.allocate(5 * MiB, 256, Stream.HOST));
        assertContains(e.getMessage(), "limit of 10.00 MiB", "5.00 MiB", "6.00 MiB");
        assertEquals(6 * MiB, limit.usedBytes());
        assertEquals(6 * MiB, device.usedBytes());
        assertEquals(10 * MiB, limit.capacityBytes());
        limit.deallocate(a, 6 * MiB, 256, Stream.HOST);
        assertEquals(0, limit.usedBytes());
    }
}
