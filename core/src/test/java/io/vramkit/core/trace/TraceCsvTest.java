package io.vramkit.core.trace;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vramkit.core.memory.CachingPool;
import io.vramkit.core.memory.OutOfMemoryException;
import io.vramkit.core.memory.SimulatedResource;
import io.vramkit.core.memory.Stream;
import java.io.StringReader;
import java.util.List;
import org.junit.jupiter.api.Test;

class TraceCsvTest {

    @Test
    void writeThenReadGivesTheSameEvents() {
        Trace t = LlmServingTraceGenerator.defaults(5).withRequests(5).generate();
        StringBuilder sb = new StringBuilder();
        TraceCsv.write(t.events(), sb);
        assertTrue(sb.toString().startsWith(TraceCsv.HEADER + "\n1,00:00:00.000000,allocate,0x"));
        Trace back = TraceCsv.read(new StringReader(sb.toString()));
        assertEquals(t.events().size(), back.events().size());
        for (int i = 0; i < t.events().size(); i++) {
            TraceEvent a = t.events().get(i);
            TraceEvent b = back.events().get(i);
            // Times are written to the microsecond.
            assertEquals(new TraceEvent(a.thread(), a.timeNanos() / 1000 * 1000, a.action(), a.address(), a.bytes(),
                    a.stream()), b);
        }
        assertEquals(t, back);
    }

    @Test
    void acceptsRmmStyleVariants() {
        String csv = """
                Thread,Time,Action,Pointer,Size,Stream

                140,12:34:56.5,allocate,0x7f00,4096,0x0
                140,45296500000000,free,32512,4096,0
                7,01:02:03.123456789,allocate failure,0x0,8,0x1
                """;
        Trace t = TraceCsv.read(new StringReader(csv));
        assertEquals(3, t.events().size());
        assertEquals(3, t.lineOf(0));
        assertEquals(((12 * 60 + 34) * 60 + 56) * 1_000_000_000L + 500_000_000L, t.events().get(0).timeNanos());
        assertEquals(t.events().get(0).timeNanos(), t.events().get(1).timeNanos());
        assertEquals(0x7f00, t.events().get(1).address());
        assertEquals(TraceEvent.Action.ALLOCATE_FAILURE, t.events().get(2).action());
        assertEquals(1, t.events().get(2).stream());
    }

    @Test
    void malformedLinesAreReportedWithTheirLineNumber() {
        String head = TraceCsv.HEADER + "\n1,00:00:00.000001,allocate,0x10,64,0x0\n";
        for (String[] bad : new String[][] {
            {"1,00:00:00.000002,allocate,0x20,64", "expected 6"},
            {"1,00:00:00.000002,alloc,0x20,64,0x0", "Action"},
            {"1,00:00:00.000002,allocate,0xZZ,64,0x0", "Pointer"},
            {"1,00:00:00.000002,allocate,0x20,-64,0x0", "Size must be positive"},
            {"1,00:00:00.000002,allocate,0x20,sixty,0x0", "Size"},
            {"1,0a:00:00,allocate,0x20,64,0x0", "Time"},
            {"x,00:00:00.000002,allocate,0x20,64,0x0", "Thread"},
            {"1,00:00:00.000002,allocate,0x20,64,stream", "Stream"},
        }) {
            TraceFormatException e = assertThrows(TraceFormatException.class,
                    () -> TraceCsv.read(new StringReader(head + bad[0] + "\n")), bad[0]);
            assertEquals(3, e.lineNumber());
            assertTrue(e.getMessage().startsWith("line 3: ") && e.getMessage().contains(bad[1]), e.getMessage());
        }
    }

    @Test
    void recordingResourceWritesRmmColumnsThatReplay() {
        StringBuilder log = new StringBuilder();
        SimulatedResource device = new SimulatedResource(64L << 20);
        RecordingResource rec = new RecordingResource(device, log);
        long a = rec.allocate(1000, 256, Stream.HOST);
        long b = rec.allocate(5000, 256, Stream.HOST);
        rec.deallocate(a, 1000, 256, Stream.HOST);
        assertThrows(OutOfMemoryException.class, () -> rec.allocate(100L << 20, 256, Stream.HOST));
        rec.deallocate(b, 5000, 256, Stream.HOST);
        String[] lines = log.toString().split("\n");
        assertEquals(6, lines.length);
        assertEquals(TraceCsv.HEADER, lines[0]);
        assertTrue(lines[1].matches("\\d+,\\d\\d:\\d\\d:\\d\\d\\.\\d{6},allocate,0x[0-9a-f]+,1000,0x0"), lines[1]);
        assertTrue(lines[4].contains(",allocate failure,0x0,104857600,"), lines[4]);
        Trace t = TraceCsv.read(new StringReader(log.toString()));
        assertEquals(List.of(TraceEvent.Action.ALLOCATE, TraceEvent.Action.ALLOCATE, TraceEvent.Action.FREE,
                TraceEvent.Action.ALLOCATE_FAILURE, TraceEvent.Action.FREE),
                t.events().stream().map(TraceEvent::action).toList());
        ReplayReport r = TraceReplayer.replay(t, "pool", 64L << 20, CachingPool::new);
        assertEquals(2, r.allocations());
        assertEquals(2, r.frees());
        assertEquals(0, r.failedAllocations());
        assertEquals(6000, r.peakAllocatedBytes());
        assertEquals(0, device.usedBytes());
    }
}
