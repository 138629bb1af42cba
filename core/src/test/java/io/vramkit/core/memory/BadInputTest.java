package io.vramkit.core.memory;

import static io.vramkit.core.memory.ByteSizes.MiB;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vramkit.core.testing.NoLeaksExtension;
import java.util.List;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.function.Executable;

/** Every bad argument raises a clear exception naming it, and leaves statistics and blocks exactly as they were. */
class BadInputTest {

    @RegisterExtension
    final NoLeaksExtension leaks = new NoLeaksExtension();

    private static void assertRefused(Supplier<Object> state, Class<? extends Throwable> type, String mustMention,
                                      Executable call) {
        Object before = state.get();
        Throwable t = assertThrows(type, call);
        assertTrue(t.getMessage().contains(mustMention),
                "message should mention '" + mustMention + "': " + t.getMessage());
        assertEquals(before, state.get(), "state must not change");
    }

    private static Supplier<Object> stateOf(CachingPool pool) {
        return () -> List.of(pool.statistics(), pool.snapshot());
    }

    @Test
    void poolRejectsBadAllocationArguments() {
        CachingPool pool = leaks.track(new CachingPool(leaks.track(new SimulatedResource(1L << 30))));
        long keep = pool.allocate(1000, 64, Stream.HOST);
        Supplier<Object> state = stateOf(pool);
        assertRefused(state, IllegalArgumentException.class, "bytes", () -> pool.allocate(0, 64, Stream.HOST));
        assertRefused(state, IllegalArgumentException.class, "-5", () -> pool.allocate(-5, 64, Stream.HOST));
        assertRefused(state, IllegalArgumentException.class, "bytes",
                () -> pool.allocate(Long.MAX_VALUE, 64, Stream.HOST));
        assertRefused(state, IllegalArgumentException.class, "bytes",
                () -> pool.allocate(Long.MAX_VALUE - 10, 1L << 40, Stream.HOST));
        assertRefused(state, IllegalArgumentException.class, "alignment", () -> pool.allocate(64, 3, Stream.HOST));
        assertRefused(state, IllegalArgumentException.class, "alignment", () -> pool.allocate(64, 0, Stream.HOST));
        assertRefused(state, IllegalArgumentException.class, "alignment", () -> pool.allocate(64, -8, Stream.HOST));
        assertRefused(state, IllegalArgumentException.class, "alignment",
                () -> pool.allocate(64, 1L << 40, Stream.HOST));
        assertRefused(state, IllegalArgumentException.class, "stream", () -> pool.allocate(64, 64, null));
        pool.deallocate(keep, 1000, 64, Stream.HOST);
    }

    @Test
    void poolRejectsForeignDoubleAndMismatchedFrees() {
        CachingPool pool = leaks.track(new CachingPool(leaks.track(new SimulatedResource(1L << 30))));
        long a = pool.allocate(1000, 64, Stream.HOST);
        long b = pool.allocate(3 * MiB, 256, Stream.HOST);
        Supplier<Object> state = stateOf(pool);
        assertRefused(state, IllegalArgumentException.class, "not a live allocation",
                () -> pool.deallocate(0xdead0000L, 1000, 64, Stream.HOST));
        assertRefused(state, IllegalArgumentException.class, "not a live allocation",
                () -> pool.deallocate(a + 512, 1000, 64, Stream.HOST));
        assertRefused(state, IllegalArgumentException.class, "bytes 999",
                () -> pool.deallocate(a, 999, 64, Stream.HOST));
        assertRefused(state, IllegalArgumentException.class, "alignment 128",
                () -> pool.deallocate(a, 1000, 128, Stream.HOST));
        assertRefused(state, IllegalArgumentException.class, "stream", () -> pool.deallocate(a, 1000, 64, null));
        pool.deallocate(a, 1000, 64, Stream.HOST);
        Supplier<Object> after = stateOf(pool);
        assertRefused(after, IllegalArgumentException.class, "double free",
                () -> pool.deallocate(a, 1000, 64, Stream.HOST));
        pool.deallocate(b, 3 * MiB, 256, Stream.HOST);
    }

    @Test
    void bufferDoubleCloseAndUseAfterFreeAreExceptions() {
        CachingPool pool = leaks.track(new CachingPool(leaks.track(new HostMemoryResource())));
        Buffer buf = Buffer.allocate(pool, 4096);
        var seg = buf.segment();
        buf.close();
        Supplier<Object> state = stateOf(pool);
        assertRefused(state, IllegalStateException.class, "double free", buf::close);
        assertRefused(state, IllegalStateException.class, "use after free", buf::address);
        assertRefused(state, IllegalStateException.class, "use after free", buf::segment);
        // A segment taken before the close is dead too: access is an exception, never a crash.
        assertThrows(IllegalStateException.class, () -> seg.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0));
    }

    @Test
    void bufferFromAnotherPoolCannotBeFreedHere() {
        CachingPool a = leaks.track(new CachingPool(leaks.track(new SimulatedResource(1L << 30))));
        CachingPool b = leaks.track(new CachingPool(leaks.track(new SimulatedResource(1L << 30))));
        long x = a.allocate(4096, 256, Stream.HOST);
        Supplier<Object> state = stateOf(b);
        assertRefused(state, IllegalArgumentException.class, "not a live allocation",
                () -> b.deallocate(x, 4096, 256, Stream.HOST));
        a.deallocate(x, 4096, 256, Stream.HOST);
    }

    @Test
    void adaptorsRejectBadInputWithoutChangingCounts() {
        SimulatedResource device = leaks.track(new SimulatedResource(1L << 30));
        LimitingResource limit = new LimitingResource(device, 10 * MiB);
        StatisticsResource stats = new StatisticsResource(limit);
        TrackingResource tracked = leaks.track(new TrackingResource(stats));
        long a = tracked.allocate(MiB, 256, Stream.HOST);
        Supplier<Object> state = () -> List.of(stats.statistics(), limit.usedBytes(), device.usedBytes(),
                tracked.liveAllocationCount());
        assertRefused(state, IllegalArgumentException.class, "bytes", () -> tracked.allocate(0, 1, Stream.HOST));
        assertRefused(state, IllegalArgumentException.class, "alignment", () -> tracked.allocate(8, 6, Stream.HOST));
        assertRefused(state, IllegalArgumentException.class, "double free",
                () -> tracked.deallocate(a + 1, MiB, 256, Stream.HOST));
        assertRefused(state, IllegalArgumentException.class, "bytes 5",
                () -> tracked.deallocate(a, 5, 256, Stream.HOST));
        assertRefused(state, IllegalArgumentException.class, "bytes 5",
                () -> stats.deallocate(a, 5, 256, Stream.HOST));
        assertRefused(state, IllegalArgumentException.class, "not allocated",
                () -> limit.deallocate(a + 1, MiB, 256, Stream.HOST));
        tracked.deallocate(a, MiB, 256, Stream.HOST);
    }

    @Test
    void constructorsNameTheirBadArguments() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new LimitingResource(new HostMemoryResource(),
                0)).getMessage().contains("limitBytes"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new SimulatedResource(-1))
                .getMessage().contains("capacityBytes"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> PoolSettings.builder().minBlockBytes(100)
                .build()).getMessage().contains("minBlockBytes"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> PoolSettings.builder().maxSplitBytes(1024)
                .build()).getMessage().contains("maxSplitBytes"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> PoolSettings.builder().smallSegmentBytes(512)
                .build()).getMessage().contains("smallSegmentBytes"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> PoolSettings.builder().reservedLimitBytes(0)
                .build()).getMessage().contains("reservedLimitBytes"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new CachingPool(null))
                .getMessage().contains("upstream"));
    }
}
