package io.vramkit.core.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

class LeakDetectionTest {

    @Test
    void defaultLevelIsSimpleWithoutSiteCapture() {
        assertEquals(LeakDetection.Level.SIMPLE, LeakDetection.LEVEL, "tests run with the default level");
        assertNull(LeakDetection.captureSite(LeakDetection.Level.SIMPLE));
        assertNull(LeakDetection.captureSite(LeakDetection.Level.DISABLED));
        assertNotNull(LeakDetection.captureSite(LeakDetection.Level.PARANOID));
        int captured = 0;
        for (int i = 0; i < LeakDetection.SAMPLING_INTERVAL * 4; i++) {
            if (LeakDetection.captureSite(LeakDetection.Level.SAMPLED) != null) {
                captured++;
            }
        }
        assertEquals(4, captured, "sampled captures one site per interval");
        assertEquals(LeakDetection.Level.PARANOID, LeakDetection.Level.parse(" Paranoid "));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> LeakDetection.Level.parse("loud"));
        assertTrue(e.getMessage().contains("vramkit.leakDetection") && e.getMessage().contains("loud"));
    }

    @Test
    void unclosedBufferIsReportedAndItsMemoryIsNotFreed() throws InterruptedException {
        List<String> reports = new CopyOnWriteArrayList<>();
        Consumer<String> listener = reports::add;
        LeakDetection.addListener(listener);
        HostMemoryResource host = new HostMemoryResource();
        CachingPool pool = new CachingPool(host);
        try {
            leakOne(pool);
            for (int i = 0; i < 200 && reports.stream().noneMatch(r -> r.contains("12345 bytes")); i++) {
                System.gc();
                Thread.sleep(10);
            }
            String report = reports.stream().filter(r -> r.contains("12345 bytes")).findFirst().orElseThrow(
                    () -> new AssertionError("no leak report arrived: " + reports));
            assertTrue(report.startsWith("LEAK: a buffer of 12.06 KiB (12345 bytes)"), report);
            assertTrue(report.contains("was never closed") && report.contains("stays allocated"), report);
            assertTrue(report.contains("-Dvramkit.leakDetection=paranoid"), report);
            assertEquals(1, pool.liveAllocationCount(), "a leak report never frees the memory");
            IllegalStateException e = assertThrows(IllegalStateException.class, pool::close);
            assertTrue(e.getMessage().contains("1 allocations") && e.getMessage().contains("12345 bytes"),
                    e.getMessage());
            assertTrue(!pool.isClosed(), "a refused close leaves the pool open");
        } finally {
            LeakDetection.removeListener(listener);
        }
        // The pool and its host memory are deliberately abandoned with the leaked block; 2 MiB for the test JVM.
    }

    private static void leakOne(CachingPool pool) {
        Buffer.allocate(pool, 12345).segment().fill((byte) 1);
    }

    @Test
    void closedBufferIsNeverReported() throws InterruptedException {
        List<String> reports = new CopyOnWriteArrayList<>();
        Consumer<String> listener = reports::add;
        LeakDetection.addListener(listener);
        try (CachingPool pool = new CachingPool(new SimulatedResource(1L << 30))) {
            for (int i = 0; i < 100; i++) {
                try (Buffer b = Buffer.allocate(pool, 777 + i, 64, Stream.HOST)) {
                    assertTrue(b.isOpen());
                }
            }
            for (int i = 0; i < 5; i++) {
                System.gc();
                Thread.sleep(10);
            }
            assertTrue(reports.stream().noneMatch(r -> r.contains("SimulatedResource")), reports.toString());
        } finally {
            LeakDetection.removeListener(listener);
        }
    }

    @Test
    void paranoidPoolRecordsAllocationSitesInSnapshotsAndCloseErrors() {
        CachingPool pool = new CachingPool(new SimulatedResource(1L << 30),
                PoolSettings.builder().name("paranoid").leakDetection(LeakDetection.Level.PARANOID).build());
        long a = pool.allocate(1000, 64, Stream.HOST);
        PoolSnapshot.Block block = pool.snapshot().segments().getFirst().blocks().getFirst();
        assertNotNull(block.site());
        assertTrue(block.site().contains("LeakDetectionTest.paranoidPoolRecordsAllocationSites"), block.site());
        IllegalStateException e = assertThrows(IllegalStateException.class, pool::close);
        assertTrue(e.getMessage().contains("allocated at") && e.getMessage().contains("LeakDetectionTest"),
                e.getMessage());
        pool.deallocate(a, 1000, 64, Stream.HOST);
        pool.close();
    }

    @Test
    void trackingResourceReportsLiveAllocationsOnClose() {
        List<String> reports = new CopyOnWriteArrayList<>();
        Consumer<String> listener = reports::add;
        LeakDetection.addListener(listener);
        try {
            SimulatedResource device = new SimulatedResource(1L << 30);
            TrackingResource t = new TrackingResource(device, "tracked-test", LeakDetection.Level.PARANOID);
            long a = t.allocate(4242, 64, Stream.HOST);
            t.close();
            assertEquals(1, reports.size());
            assertTrue(reports.getFirst().contains("'tracked-test' closed with 1 live allocations")
                    && reports.getFirst().contains("4242 bytes")
                    && reports.getFirst().contains("LeakDetectionTest"), reports.getFirst());
            assertEquals(4242, device.usedBytes(), "reporting frees nothing");
            t.deallocate(a, 4242, 64, Stream.HOST);
            t.close();
            assertEquals(1, reports.size());
        } finally {
            LeakDetection.removeListener(listener);
        }
    }
}
