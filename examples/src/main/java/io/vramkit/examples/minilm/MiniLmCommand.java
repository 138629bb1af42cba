package io.vramkit.examples.minilm;

import io.vramkit.examples.Command;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code vramkit minilm [--sentences FILE] [--precisions P1,P2,...] [--batch N] [--passes N] [--json] [--out DIR]}:
 * runs {@link MiniLmBenchmark}, prints the table (or, with {@code --json}, one JSON line) on stdout and progress
 * on stderr, and writes {@code minilm.md} and {@code minilm.html} to {@code --out DIR} (default: {@code docs/} when
 * the current folder is the repository root, i.e. holds {@code pom.xml} and {@code docs/}; else the current
 * folder). Stateless.
 */
public final class MiniLmCommand implements Command {

    @Override
    public String name() {
        return "minilm";
    }

    @Override
    public String summary() {
        return "run all-MiniLM-L6-v2 at FP32/INT8/INT4/NF4/MIXED and compare with ONNX Runtime";
    }

    @Override
    public int run(List<String> args, PrintStream out, PrintStream err) throws Exception {
        Path sentencesFile = null;
        List<String> precisions = MiniLmBenchmark.PRECISIONS;
        boolean json = false;
        Path outDir = null;
        MiniLmBenchmark.Options o = MiniLmBenchmark.Options.defaults();
        int batch = o.batchSize();
        int passes = o.timedPasses();
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            switch (a) {
                case "--json" -> json = true;
                case "--sentences" -> sentencesFile = Path.of(value(args, ++i, a));
                case "--out" -> outDir = Path.of(value(args, ++i, a));
                case "--precisions" -> {
                    String v = value(args, ++i, a);
                    precisions = new ArrayList<>();
                    for (String p : v.split(",")) {
                        String t = p.trim();
                        if (!MiniLmBenchmark.PRECISIONS.contains(t)
                                && !MiniLmBenchmark.OPTIONAL_PRECISIONS.contains(t)) {
                            throw new UsageException("--precisions: '" + t + "' is not one of "
                                    + String.join(",", MiniLmBenchmark.PRECISIONS) + " or optional "
                                    + String.join(",", MiniLmBenchmark.OPTIONAL_PRECISIONS));
                        }
                        if (precisions.contains(t)) {
                            throw new UsageException("--precisions: '" + t + "' is listed twice");
                        }
                        precisions.add(t);
                    }
                }
                case "--batch" -> batch = positive(args, ++i, a);
                case "--passes" -> passes = positive(args, ++i, a);
                default -> throw new UsageException("unknown argument '" + a + "'; usage: minilm [--sentences FILE] "
                        + "[--precisions " + String.join(",", MiniLmBenchmark.PRECISIONS) + "] [--batch N] "
                        + "[--passes N] [--json] [--out DIR]");
            }
        }
        List<String> sentences;
        if (sentencesFile == null) {
            sentences = SentenceSet.defaults();
        } else {
            if (!Files.isRegularFile(sentencesFile)) {
                throw new UsageException("--sentences: no such file '" + sentencesFile + "'");
            }
            try {
                sentences = SentenceSet.read(sentencesFile);
            } catch (IllegalArgumentException e) {
                throw new UsageException("--sentences: " + e.getMessage());
            }
        }
        if (outDir == null) {
            outDir = Files.isRegularFile(Path.of("pom.xml")) && Files.isDirectory(Path.of("docs"))
                    ? Path.of("docs") : Path.of(".");
        }
        if (Files.exists(outDir) && !Files.isDirectory(outDir)) {
            throw new UsageException("--out: '" + outDir + "' exists and is not a folder");
        }
        MiniLmBenchmark.Options options = new MiniLmBenchmark.Options(batch, passes, o.mixedBudgetFraction(),
                o.calibrationSentences());
        MiniLmBenchmark.Report report = MiniLmBenchmark.run(sentences, precisions, options, err);
        String command = "vramkit minilm " + String.join(" ", args);
        Files.createDirectories(outDir);
        Path md = outDir.resolve("minilm.md");
        Path html = outDir.resolve("minilm.html");
        Files.writeString(md, MiniLmReport.markdown(report, command.trim()), StandardCharsets.UTF_8);
        Files.writeString(html, MiniLmReport.html(report, command.trim()), StandardCharsets.UTF_8);
        if (json) {
            out.println(MiniLmReport.json(report));
        } else {
            out.print(MiniLmReport.table(report));
        }
        err.println("wrote " + md + " and " + html);
        return 0;
    }

    private static String value(List<String> args, int i, String flag) {
        if (i >= args.size()) {
            throw new UsageException(flag + " needs a value");
        }
        return args.get(i);
    }

    private static int positive(List<String> args, int i, String flag) {
        String v = value(args, i, flag);
        try {
            int n = Integer.parseInt(v);
            if (n < 1) {
                throw new UsageException(flag + " must be >= 1, got " + n);
            }
            return n;
        } catch (NumberFormatException e) {
            throw new UsageException(flag + " must be an integer, got '" + v + "'");
        }
    }
}
