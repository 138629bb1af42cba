package io.vramkit.examples.replay;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vramkit.core.testing.TestJson;
import io.vramkit.examples.Main;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReplayCommandTest {

    private record Result(int code, String out, String err) {
    }

    private static Result run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Main.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    @SuppressWarnings("unchecked")
    void llmServingWorkloadPrintsOneJsonLineAndWritesTheMemoryMap(@TempDir Path dir) throws Exception {
        Result r = run("replay", "--workload", "llm-serving", "--requests", "40", "--json", "--out", dir.toString(),
                "--save-trace", dir.resolve("trace.csv").toString());
        assertEquals(0, r.code, r.err);
        String[] lines = r.out.strip().split("\n");
        assertEquals(1, lines.length, r.out);
        Map<String, Object> m = TestJson.parseObject(lines[0]);
        long peakAllocated = (Long) m.get("peakAllocatedBytes");
        long peakReserved = (Long) m.get("peakReservedBytes");
        assertTrue(peakAllocated > 2L << 30, "weights alone are over 2 GiB: " + peakAllocated);
        assertTrue(peakReserved >= peakAllocated);
        assertTrue(peakReserved <= peakAllocated * 1.10, "ratio " + m.get("reservedToAllocatedRatio"));
        assertEquals(0L, m.get("failedAllocations"));
        Map<String, Object> none = (Map<String, Object>) m.get("noPooling");
        assertEquals(peakAllocated, none.get("peakAllocatedBytes"));
        Path map = Path.of((String) m.get("memoryMap"));
        assertEquals(dir.resolve(ReplayCommand.MEMORY_MAP).toAbsolutePath().normalize(), map);
        String html = Files.readString(map);
        assertTrue(html.contains("<svg") && html.contains("peak reservation"));

        // The saved trace replays to the same figures.
        Result again = run("replay", "--trace", dir.resolve("trace.csv").toString(), "--json", "--out",
                dir.resolve("again").toString());
        assertEquals(0, again.code, again.err);
        Map<String, Object> m2 = TestJson.parseObject(again.out.strip());
        assertEquals(peakAllocated, m2.get("peakAllocatedBytes"));
        assertEquals(peakReserved, m2.get("peakReservedBytes"));
    }

    @Test
    void releaseThresholdKeepsReallocatedKvWithinTenPercent(@TempDir Path dir) {
        Result r = run("replay", "--workload", "llm-serving", "--requests", "60", "--realloc-kv",
                "--release-threshold-mib", "256", "--json", "--out", dir.toString());
        assertEquals(0, r.code, r.err);
        Map<String, Object> m = TestJson.parseObject(r.out.strip());
        assertTrue((Double) m.get("reservedToAllocatedRatio") <= 1.10, r.out);
    }

    @Test
    void humanReportNamesBothResources(@TempDir Path dir) {
        Result r = run("replay", "--workload", "llm-serving", "--requests", "10", "--out", dir.toString());
        assertEquals(0, r.code, r.err);
        assertTrue(r.out.contains("caching pool:") && r.out.contains("no pooling:")
                && r.out.contains("memory map at peak reservation"), r.out);
    }

    @Test
    void smallDeviceReportsFailedAllocations(@TempDir Path dir) {
        Result r = run("replay", "--workload", "llm-serving", "--requests", "20", "--capacity-gib", "2.4",
                "--json", "--out", dir.toString());
        assertEquals(0, r.code, r.err);
        assertTrue((Long) TestJson.parseObject(r.out.strip()).get("failedAllocations") > 0, r.out);
    }

    @Test
    void malformedTraceLineIsReportedWithItsNumber(@TempDir Path dir) throws Exception {
        Path bad = dir.resolve("bad.csv");
        Files.writeString(bad, "Thread,Time,Action,Pointer,Size,Stream\n1,0,allocate,0x10,64,0\n1,0,frobnicate,0x10,"
                + "64,0\n");
        Result r = run("replay", "--trace", bad.toString(), "--out", dir.toString());
        assertEquals(1, r.code);
        assertTrue(r.err.contains("line 3") && r.err.contains("frobnicate"), r.err);
    }

    @Test
    void badArgumentsAreUsageErrors() {
        for (String[] args : new String[][] {
            {"replay"},
            {"replay", "--workload", "chat"},
            {"replay", "--workload", "llm-serving", "--trace", "x.csv"},
            {"replay", "--workload", "llm-serving", "--requests", "-3"},
            {"replay", "--workload", "llm-serving", "--capacity-gib", "zero"},
            {"replay", "--trace", "/no/such/file.csv"},
            {"replay", "--workload", "llm-serving", "--bogus"},
            {"replay", "--workload", "llm-serving", "--max-split-mib", "1"},
            {"replay", "--workload", "llm-serving", "--release-threshold-mib", "-1"},
        }) {
            Result r = run(args);
            assertEquals(2, r.code, String.join(" ", args) + " -> " + r.err);
            assertTrue(r.err.startsWith("vramkit replay: "), r.err);
        }
    }
}
