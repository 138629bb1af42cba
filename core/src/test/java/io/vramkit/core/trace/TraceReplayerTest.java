package io.vramkit.core.trace;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vramkit.core.memory.CachingPool;
import io.vramkit.core.memory.PoolSnapshot;
import java.io.StringReader;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

class TraceReplayerTest {

    private static final long GiB = 1L << 30;

    @Test
    void peaksMatchAnIndependentReference() {
        Trace t = LlmServingTraceGenerator.defaults(1).withRequests(30).generate();
        long live = 0;
        long peak = 0;
        for (TraceEvent e : t.events()) {
            live += e.action() == TraceEvent.Action.ALLOCATE ? e.bytes() : -e.bytes();
            peak = Math.max(peak, live);
        }
        assertEquals(0, live, "the generated trace frees everything");
        ReplayReport none = TraceReplayer.replay(t, "none", 80 * GiB, Function.identity());
        assertEquals(peak, none.peakAllocatedBytes());
        assertEquals(peak, none.peakReservedBytes(), "without pooling the device holds exactly what is live");
        assertEquals(0, none.failedAllocations());
        assertNull(none.peakSnapshot());

        ReplayReport pooled = TraceReplayer.replay(t, "pool", 80 * GiB, CachingPool::new);
        assertEquals(peak, pooled.peakAllocatedBytes());
        assertTrue(pooled.peakReservedBytes() >= peak);
        assertTrue(pooled.upstreamAllocations() < none.upstreamAllocations() / 10,
                "the pool asks the device far less often: " + pooled.upstreamAllocations() + " vs "
                        + none.upstreamAllocations());
        PoolSnapshot snap = pooled.peakSnapshot();
        assertNotNull(snap);
        assertEquals(pooled.peakReservedBytes(), snap.reservedBytes(), "the snapshot is of the peak reservation");
    }

    @Test
    void llmTraceStaysWithinTenPercentOfPeakAllocated() {
        for (long seed : new long[] {42, 1}) {
            Trace t = LlmServingTraceGenerator.defaults(seed).generate();
            ReplayReport pooled = TraceReplayer.replay(t, "pool", 80 * GiB, CachingPool::new);
            assertTrue(pooled.reservedToAllocatedRatio() <= 1.10,
                    "peak reserved / peak allocated = " + pooled.reservedToAllocatedRatio());
            assertEquals(0, pooled.failedAllocations());
        }
    }

    @Test
    void reallocatedKvBuffersFragmentButStillReplay() {
        Trace t = LlmServingTraceGenerator.defaults(42).withRequests(60).withReallocatedKv(true).generate();
        ReplayReport pooled = TraceReplayer.replay(t, "pool", 80 * GiB, CachingPool::new);
        ReplayReport none = TraceReplayer.replay(t, "none", 80 * GiB, Function.identity());
        assertEquals(none.peakAllocatedBytes(), pooled.peakAllocatedBytes());
        assertTrue(pooled.reservedToAllocatedRatio() >= 1.0);
        assertEquals(0, pooled.failedAllocations());
    }

    @Test
    void smallDeviceCountsFailuresAndSkipsTheirFrees() {
        Trace t = LlmServingTraceGenerator.defaults(3).withRequests(40).generate();
        long capacity = 5 * GiB / 2;
        ReplayReport r = TraceReplayer.replay(t, "pool", capacity, CachingPool::new);
        assertTrue(r.failedAllocations() > 0, r.describe());
        assertTrue(r.peakReservedBytes() <= capacity);
        assertEquals(r.allocations() - r.failedAllocations(), r.frees(), "every successful allocation was freed");
    }

    @Test
    void generatorIsSeededAndVaried() {
        Trace a = LlmServingTraceGenerator.defaults(9).withRequests(20).generate();
        Trace b = LlmServingTraceGenerator.defaults(9).withRequests(20).generate();
        Trace c = LlmServingTraceGenerator.defaults(10).withRequests(20).generate();
        assertEquals(a, b);
        assertTrue(!a.equals(c));
        Map<Long, Integer> sizes = new HashMap<>();
        for (TraceEvent e : a.events()) {
            sizes.merge(e.bytes(), 1, Integer::sum);
        }
        assertTrue(sizes.size() > 50, "varied sizes: " + sizes.size());
        assertThrows(IllegalArgumentException.class, () -> LlmServingTraceGenerator.defaults(1).withRequests(0));
    }

    @Test
    void inconsistentTracesNameTheLine() {
        String csv = TraceCsv.HEADER + "\n1,0,allocate,0x10,64,0\n1,0,free,0x20,64,0\n";
        TraceFormatException e = assertThrows(TraceFormatException.class, () -> TraceReplayer.replay(
                TraceCsv.read(new StringReader(csv)), "x", GiB, CachingPool::new));
        assertEquals(3, e.lineNumber());
        assertTrue(e.getMessage().contains("0x20") && e.getMessage().contains("not live"), e.getMessage());

        String twice = TraceCsv.HEADER + "\n1,0,allocate,0x10,64,0\n\n1,0,allocate,0x10,64,0\n";
        TraceFormatException e2 = assertThrows(TraceFormatException.class, () -> TraceReplayer.replay(
                TraceCsv.read(new StringReader(twice)), "x", GiB, CachingPool::new));
        assertEquals(4, e2.lineNumber());

        String size = TraceCsv.HEADER + "\n1,0,allocate,0x10,64,0\n1,0,free,0x10,65,0\n";
        TraceFormatException e3 = assertThrows(TraceFormatException.class, () -> TraceReplayer.replay(
                TraceCsv.read(new StringReader(size)), "x", GiB, CachingPool::new));
        assertTrue(e3.getMessage().contains("Size 65"), e3.getMessage());
    }

    @Test
    void reportJsonRoundTrips() {
        List<TraceEvent> ev = new ArrayList<>();
        ev.add(new TraceEvent(1, 0, TraceEvent.Action.ALLOCATE, 0x10, 1 << 20, 0));
        ev.add(new TraceEvent(1, 1, TraceEvent.Action.ALLOCATE, 0x20, 3 << 20, 5));
        ev.add(new TraceEvent(1, 2, TraceEvent.Action.FREE, 0x10, 1 << 20, 0));
        ev.add(new TraceEvent(1, 3, TraceEvent.Action.FREE, 0x20, 3 << 20, 5));
        ReplayReport r = TraceReplayer.replay(Trace.of(ev), "pool", GiB, CachingPool::new);
        assertEquals(4L << 20, r.peakAllocatedBytes());
        ReplayReport back = ReplayReport.fromJson(r.toJson());
        assertEquals(r.peakAllocatedBytes(), back.peakAllocatedBytes());
        assertEquals(r.peakReservedBytes(), back.peakReservedBytes());
        assertEquals(r.failedAllocations(), back.failedAllocations());
        assertEquals(r.resource(), back.resource());
        assertTrue(r.describe().contains("peak allocated 4.00 MiB"));
    }
}
