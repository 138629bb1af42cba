package io.vramkit.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vramkit.core.memory.HostMemoryResource;
import io.vramkit.core.memory.MemoryKind;
import io.vramkit.core.memory.Stream;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The pinned pool's size classes and event-gated reuse, over host memory (the logic does not depend on CUDA). */
class PinnedHostResourceTest {

    @Test
    void sizeClassesAreFourPerDoublingNotPowersOfTwo() {
        assertEquals(4096, PinnedHostResource.sizeClass(1));
        assertEquals(4096, PinnedHostResource.sizeClass(4096));
        assertEquals(5120, PinnedHostResource.sizeClass(4097));
        assertEquals(8192, PinnedHostResource.sizeClass(8192));
        assertEquals(10240, PinnedHostResource.sizeClass(8193));
        assertEquals(1_310_720, PinnedHostResource.sizeClass((1 << 20) + 1));
        assertEquals(5L << 28, PinnedHostResource.sizeClass((1L << 30) + 12345));
        Random rnd = new Random(7);
        for (int i = 0; i < 10_000; i++) {
            long bytes = 1 + (long) (Math.pow(2, rnd.nextDouble() * 40));
            long cls = PinnedHostResource.sizeClass(bytes);
            assertTrue(cls >= bytes, bytes + " -> " + cls);
            assertTrue(cls <= Math.max(4096, bytes * 1.25 + 1), bytes + " -> " + cls + " wastes more than 25%");
            assertEquals(cls, PinnedHostResource.sizeClass(cls), "a class is its own class");
            assertEquals(0, cls % 1024, "page-friendly: " + cls);
        }
        assertThrows(IllegalArgumentException.class, () -> PinnedHostResource.sizeClass(0));
        assertThrows(IllegalArgumentException.class, () -> PinnedHostResource.sizeClass(-5));
    }

    @Test
    void aBlockIsReusedOnlyAfterItsEventCompletes() {
        HostMemoryResource host = new HostMemoryResource();
        ManualStream stream = new ManualStream();
        try (PinnedHostResource pool = new PinnedHostResource(host, 1L << 30)) {
            long a = pool.allocate(5000, 64, stream);
            pool.deallocate(a, 5000, 64, stream);
            assertEquals(5120, pool.cachedBytes());
            // The copy that used the block may still run: a new block is allocated.
            long b = pool.allocate(5100, 64, stream);
            assertNotEquals(a, b);
            assertEquals(2, pool.misses());
            assertEquals(1, pool.blocksSkippedAsBusy());
            stream.synchronize();
            long c = pool.allocate(4500, 64, stream);
            assertEquals(a, c, "the completed block is reused");
            assertEquals(1, pool.hits());
            assertTrue(stream.events.getFirst().closed, "the reused block's event is closed");
            pool.deallocate(b, 5100, 64, stream);
            pool.deallocate(c, 4500, 64, stream);
            stream.synchronize();
            assertEquals(2, host.liveAllocations());
            assertEquals(0, pool.liveAllocations());
        }
        assertEquals(0, host.liveAllocations(), "close returns cached blocks upstream");
    }

    @Test
    void randomizedWorkloadKeepsTheBooksStraight() {
        HostMemoryResource host = new HostMemoryResource();
        ManualStream stream = new ManualStream();
        Random rnd = new Random(1234);
        try (PinnedHostResource pool = new PinnedHostResource(host, 1 << 20)) {
            List<long[]> live = new ArrayList<>();
            for (int step = 0; step < 3000; step++) {
                if (live.isEmpty() || rnd.nextInt(3) > 0) {
                    long bytes = 1 + rnd.nextInt(200_000);
                    long address = pool.allocate(bytes, 1L << rnd.nextInt(13), stream);
                    for (long[] other : live) {
                        assertTrue(address + bytes <= other[0] || other[0] + other[1] <= address,
                                "live blocks overlap");
                    }
                    live.add(new long[] {address, bytes});
                    java.lang.foreign.MemorySegment.ofAddress(address).reinterpret(bytes).fill((byte) step);
                } else {
                    long[] victim = live.remove(rnd.nextInt(live.size()));
                    pool.deallocate(victim[0], victim[1], 64, stream);
                }
                if (rnd.nextInt(20) == 0) {
                    stream.synchronize();
                }
                long expectedLive = live.stream().mapToLong(x -> PinnedHostResource.sizeClass(x[1])).sum();
                assertEquals(expectedLive, pool.liveBytes());
                assertEquals(live.size(), pool.liveAllocations());
            }
            assertTrue(pool.hits() > 0 && pool.misses() > 0, pool.toString());
            for (long[] x : live) {
                pool.deallocate(x[0], x[1], 64, stream);
            }
            stream.synchronize();
            pool.trim();
            assertEquals(0, pool.cachedBytes());
            assertEquals(0, host.liveAllocations());
        }
    }

    @Test
    void cacheIsBoundedByMaxCachedBytesOnceEventsComplete() {
        HostMemoryResource host = new HostMemoryResource();
        try (PinnedHostResource pool = new PinnedHostResource(host, 16384)) {
            List<Long> blocks = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                blocks.add(pool.allocate(8192, 64, Stream.HOST));
            }
            for (long b : blocks) {
                pool.deallocate(b, 8192, 64, Stream.HOST);
            }
            assertEquals(16384, pool.cachedBytes());
            assertEquals(2, host.liveAllocations());
            assertEquals(16384, pool.trim());
            assertEquals(0, host.liveAllocations());
        }
    }

    @Test
    void badArgumentsNameTheArgumentAndChangeNothing() {
        HostMemoryResource host = new HostMemoryResource();
        ManualStream stream = new ManualStream();
        try (PinnedHostResource pool = new PinnedHostResource(host, 1 << 20)) {
            long a = pool.allocate(100, 64, stream);
            var e = assertThrows(IllegalArgumentException.class, () -> pool.allocate(0, 64, stream));
            assertTrue(e.getMessage().contains("bytes"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> pool.allocate(10, 3, stream));
            assertTrue(e.getMessage().contains("alignment"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> pool.allocate(10, 8192, stream));
            assertTrue(e.getMessage().contains("alignment must be <= 4096"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> pool.deallocate(a + 8, 100, 64, stream));
            assertTrue(e.getMessage().contains("was not allocated"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> pool.deallocate(a, 101, 64, stream));
            assertTrue(e.getMessage().contains("bytes 101 does not match the 100"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> pool.deallocate(a, 100, 64, null));
            assertTrue(e.getMessage().contains("stream"), e.getMessage());
            assertEquals(1, pool.liveAllocations());
            assertEquals(4096, pool.liveBytes());
            assertEquals(0, pool.cachedBytes());
            pool.deallocate(a, 100, 64, stream);
            assertThrows(IllegalArgumentException.class, () -> pool.deallocate(a, 100, 64, stream), "double free");
            assertEquals(4096, pool.cachedBytes());
        }
        assertThrows(IllegalArgumentException.class, () -> new PinnedHostResource(host, -1));
        assertThrows(IllegalArgumentException.class, () -> new PinnedHostResource(null, 1));
        assertEquals(MemoryKind.PINNED_HOST, new PinnedHostResource(host, 0).kind());
    }

    @Test
    void closeWaitsForPendingEventsBeforeFreeing() {
        HostMemoryResource host = new HostMemoryResource();
        ManualStream stream = new ManualStream();
        PinnedHostResource pool = new PinnedHostResource(host, 1 << 20);
        long a = pool.allocate(4096, 64, stream);
        pool.deallocate(a, 4096, 64, stream);
        assertEquals(1, host.liveAllocations());
        pool.close();
        assertTrue(stream.events.getFirst().closed);
        assertEquals(0, host.liveAllocations());
        assertThrows(IllegalStateException.class, () -> pool.allocate(1, 1, stream));
    }
}
