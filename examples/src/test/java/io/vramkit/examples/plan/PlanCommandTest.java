package io.vramkit.examples.plan;

import io.vramkit.examples.Main;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

public class PlanCommandTest {

    /** One CLI run's exit code and output. */
    public record Run(int code, String out, String err) {
    }

    /** Runs the CLI in-process. */
    public static Run run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Main.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    /** An integer field of a one-line JSON object. */
    public static long field(String json, String name) {
        Matcher m = Pattern.compile("\"" + name + "\":(-?\\d+)[,}]").matcher(json);
        assertTrue(m.find(), "no integer field " + name + " in " + json);
        return Long.parseLong(m.group(1));
    }

    @Test
    void jsonAnswersTheQuestion() {
        Run r = run("plan", "--model", "llama-2-70b", "--weights", "fp16", "--kv", "fp16", "--gpus", "2xH100-80GB",
                "--context", "4096", "--json");
        assertEquals(0, r.code(), r.err());
        String j = r.out().trim();
        assertEquals(1, r.out().strip().lines().count(), "exactly one JSON line");
        assertEquals(68_976_648_192L, field(j, "parameters"));
        assertEquals(137_953_296_384L, field(j, "weightBytes"));
        assertEquals(327_680L, field(j, "kvBytesPerToken"));
        long seqs = field(j, "maxSequences");
        long blocks = field(j, "kvBlocksPerGpu");
        assertEquals(blocks / 256, seqs, "4096-token sequences take 256 blocks each");
        assertEquals(4096, field(j, "maxContextTokens"));
        assertTrue(j.contains("\"fits\":true"));
    }

    @Test
    void withoutGpusItReportsTheMemoryOfThePlan() {
        Run r = run("plan", "--model", "mixtral-8x7b", "--weights", "int4", "--kv", "int8", "--context", "8192",
                "--sequences", "4", "--json");
        assertEquals(0, r.code(), r.err());
        assertEquals(46_702_792_704L, field(r.out(), "parameters"));
        // INT8 KV: 1 byte per element plus FP32 scales per block and head
        assertEquals(2L * 32 * 8 * 128, field(r.out(), "kvBytesPerToken"));
        assertEquals(512L * 4 * (16 * 65536 + 2 * 32 * 8 * 4), field(r.out(), "kvBytes"));
        Run human = run("plan", "--model", "mixtral-8x7b", "--weights", "int4");
        assertTrue(human.out().contains("GiB") && human.out().contains("GB"), human.out());
        assertTrue(human.out().contains("active per token"), human.out());
    }

    @Test
    void cheapestAndTrainingModes() {
        Run c = run("plan", "--model", "llama-2-70b", "--gpus", "1xH100-80GB", "--context", "4096", "--sequences",
                "4", "--cheapest", "--json");
        assertEquals(0, c.code(), c.err());
        assertTrue(c.out().contains("\"cheapestWeights\":\"fp8\""), c.out());
        Run t = run("plan", "--model", "llama-2-7b", "--train", "--gpus", "64x80GB", "--zero", "3", "--json");
        assertEquals(0, t.code(), t.err());
        long states = field(t.out(), "modelStateBytesPerGpu");
        assertEquals(Math.ceil(16.0 * 6_738_415_616L / 64), states, 64.0);
    }

    @Test
    void badInputIsExplained(@TempDir Path dir) throws Exception {
        Run unknown = run("plan", "--model", "gpt-5");
        assertEquals(2, unknown.code());
        assertTrue(unknown.err().contains("llama-2-70b") && unknown.err().contains("mistral-7b"), unknown.err());
        Path cfg = dir.resolve("config.json");
        Files.writeString(cfg, "{\"hidden_size\": 64, \"num_attention_heads\": 4, \"vocab_size\": 10,"
                + " \"intermediate_size\": 128}");
        Run missing = run("plan", "--model", cfg.toString());
        assertEquals(2, missing.code());
        assertTrue(missing.err().contains("num_hidden_layers"), missing.err());
        Run small = run("plan", "--model", "llama-2-70b", "--gpus", "A100-40GB", "--json");
        assertEquals(1, small.code());
        assertTrue(small.out().contains("\"fits\":false") && small.out().contains("short by"), small.out());
        assertTrue(field(small.out(), "shortfallBytes") > 90_000_000_000L, small.out());
        Run opt = run("plan", "--model", "llama-2-7b", "--kv", "fp4");
        assertEquals(2, opt.code());
        assertTrue(opt.err().contains("--kv"), opt.err());
        Run unk = run("plan", "--model", "llama-2-7b", "--frobnicate", "1");
        assertEquals(2, unk.code());
        assertTrue(unk.err().contains("--frobnicate"), unk.err());
        Files.writeString(cfg, "{\"hidden_size\": 64, \"num_attention_heads\": 4, \"vocab_size\": 10,"
                + " \"intermediate_size\": 128, \"num_hidden_layers\": 2}");
        Run ok = run("plan", "--model", cfg.toString(), "--json");
        assertEquals(0, ok.code(), ok.err());
    }
}
