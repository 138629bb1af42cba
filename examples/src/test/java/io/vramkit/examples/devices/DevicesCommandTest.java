package io.vramkit.examples.devices;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vramkit.cuda.Cuda;
import io.vramkit.examples.Main;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** {@code vramkit devices} always exits 0 and says what it found, in words or as one JSON line. */
class DevicesCommandTest {

    private static String[] run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Main.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new String[] {Integer.toString(code), out.toString(StandardCharsets.UTF_8),
                err.toString(StandardCharsets.UTF_8)};
    }

    @Test
    void humanReportNamesCudaStateAndCpuBackend() {
        String[] r = run("devices");
        assertEquals("0", r[0], r[2]);
        assertTrue(r[1].startsWith("CUDA\n"), r[1]);
        assertTrue(r[1].contains("CPU backend"), r[1]);
        assertTrue(r[1].contains("Vector API"), r[1]);
        Cuda.CudaStatus status = Cuda.status();
        if (!status.usable()) {
            assertTrue(r[1].contains("no usable GPU (" + status.reason().name().toLowerCase().replace('_', ' ')),
                    r[1]);
        }
    }

    @Test
    void jsonIsOneLineWithTheReason() {
        String[] r = run("devices", "--json");
        assertEquals("0", r[0], r[2]);
        String line = r[1].strip();
        assertEquals(1, r[1].lines().count(), r[1]);
        assertTrue(line.startsWith("{\"cuda\":{\"usable\":") && line.endsWith("}}"), line);
        assertTrue(line.contains("\"reason\":\"" + Cuda.status().reason().name() + "\""), line);
        assertTrue(line.contains("\"cpu\":{\"vectorApi\":"), line);
        assertTrue(line.contains("\"headerVersion\":13000"), line);
    }

    @Test
    void unknownArgumentsAreUsageErrors() {
        String[] r = run("devices", "--bogus");
        assertEquals("2", r[0]);
        assertTrue(r[2].contains("unknown argument '--bogus'"), r[2]);
    }
}
