package io.vramkit.examples.minilm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vramkit.examples.Main;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The {@code minilm} CLI: argument errors and one small end-to-end run with {@code --json}. */
class MiniLmCommandTest {

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
    void badArgumentsExitTwoNamingThem(@TempDir Path dir) throws Exception {
        Result r = run("minilm", "--precisions", "FP32,INT3");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("'INT3'"), r.err());
        r = run("minilm", "--precisions", "INT8,INT8");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("twice"), r.err());
        r = run("minilm", "--batch", "0");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--batch must be >= 1, got 0"), r.err());
        r = run("minilm", "--passes", "x");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--passes must be an integer, got 'x'"), r.err());
        r = run("minilm", "--sentences", dir.resolve("missing.txt").toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("missing.txt"), r.err());
        Path empty = Files.writeString(dir.resolve("empty.txt"), "\n\n");
        r = run("minilm", "--sentences", empty.toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("no non-empty line"), r.err());
        r = run("minilm", "--bogus");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("'--bogus'"), r.err());
        r = run("minilm", "--out");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--out needs a value"), r.err());
        Path file = Files.writeString(dir.resolve("file"), "x");
        r = run("minilm", "--out", file.toString(), "--sentences", file.toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("not a folder"), r.err());
    }

    @Test
    void jsonRunPrintsOneLineAndWritesTheReports(@TempDir Path dir) throws Exception {
        Path sentences = Files.writeString(dir.resolve("s.txt"),
                "A cat sat on the mat.\r\nThe cat was sitting on the mat.\n\nStocks fell sharply.\n",
                StandardCharsets.UTF_8);
        Path out = dir.resolve("reports");
        Result r = run("minilm", "--sentences", sentences.toString(), "--precisions", "FP32,INT8", "--json",
                "--passes", "1", "--batch", "2", "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        String[] lines = r.out().strip().split("\n");
        assertEquals(1, lines.length, r.out());
        assertTrue(lines[0].startsWith("{\"results\":[{\"precision\":\"FP32\",\"weightBytes\":"), lines[0]);
        assertTrue(lines[0].contains("{\"precision\":\"INT8\""), lines[0]);
        assertTrue(lines[0].matches(".*\"onnxruntimeMsPerBatch\":[0-9.eE-]+}$"), lines[0]);
        String md = Files.readString(out.resolve("minilm.md"));
        assertTrue(md.contains("| FP32 |") && md.contains("3 sentences"), md);
        assertTrue(Files.readString(out.resolve("minilm.html")).contains("<svg"));
    }
}
