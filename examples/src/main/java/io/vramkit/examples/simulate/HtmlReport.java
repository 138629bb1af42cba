package io.vramkit.examples.simulate;

import java.util.List;
import java.util.Locale;
import java.util.function.ToDoubleFunction;

/**
 * Renders a {@link ServingSimulator.Result} as one self-contained HTML page with inline SVG charts (no scripts, no
 * external files): KV memory over time, queue depth, preemptions, and waste.
 */
public final class HtmlReport {

    private static final int W = 880;
    private static final int H = 220;
    private static final int PAD = 48;

    private HtmlReport() {
    }

    /** The page for {@code results} (one or more runs of the same workload), titled {@code title}. */
    public static String render(String title, List<ServingSimulator.Result> results, String probeNote) {
        StringBuilder b = new StringBuilder();
        b.append("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>").append(esc(title))
                .append("</title><style>body{font-family:sans-serif;margin:24px;color:#222}"
                        + "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;"
                        + "text-align:right}th{background:#f4f4f4}svg{background:#fcfcfc;border:1px solid #ddd;"
                        + "margin:8px 0}.note{color:#555;font-size:90%}</style></head><body>");
        b.append("<h1>").append(esc(title)).append("</h1>");
        b.append("<table><tr><th>layout</th><th>policy</th><th>completed</th><th>failed</th><th>preemptions</th>"
                + "<th>KV waste</th><th>mean KV use</th><th>peak reserved</th><th>tokens/s</th><th>req/s</th>"
                + "<th>TTFT p50 (s)</th><th>TTFT p99 (s)</th><th>compressed blocks</th><th>prefix-hit tokens</th>"
                + "</tr>");
        for (ServingSimulator.Result r : results) {
            b.append(String.format(Locale.ROOT, "<tr><td>%s</td><td>%s</td><td>%d</td><td>%d</td><td>%d</td>"
                            + "<td>%.2f%%</td><td>%.1f%%</td><td>%.1f%%</td><td>%.0f</td><td>%.2f</td><td>%.3f</td>"
                            + "<td>%.3f</td><td>%d</td><td>%d</td></tr>", r.layout().cliName(), esc(r.policy()),
                    r.completed(), r.failed(), r.preemptions(), r.kvWasteFraction() * 100,
                    r.meanKvUtilization() * 100, r.peakReservedUtilization() * 100, r.throughputTokensPerSecond(),
                    r.throughputRequestsPerSecond(), r.ttftP50Seconds(), r.ttftP99Seconds(), r.compressedBlocks(),
                    r.prefixHitTokens()));
        }
        b.append("</table>");
        if (probeNote != null) {
            b.append("<p class=\"note\">").append(esc(probeNote)).append("</p>");
        }
        for (ServingSimulator.Result r : results) {
            b.append("<h2>").append(esc(r.layout().cliName())).append(" (").append(esc(r.policy())).append(")</h2>");
            List<ServingSimulator.Sample> s = r.samples();
            b.append(chart("KV memory (GiB): allocated blocks vs tokens held", s, new String[] {"allocated",
                "used by tokens"}, new String[] {"#d62728", "#1f77b4"},
                List.of(x -> x.kvAllocatedBytes() / (double) (1L << 30), x -> x.kvUsedBytes() / (double) (1L << 30))));
            b.append(chart("Queue depth (requests)", s, new String[] {"waiting", "running", "swapped"},
                    new String[] {"#ff7f0e", "#2ca02c", "#9467bd"},
                    List.of(x -> x.waiting(), x -> x.running(), x -> x.swapped())));
            b.append(chart("Preemptions (cumulative)", s, new String[] {"preemptions"}, new String[] {"#8c564b"},
                    List.of(x -> x.preemptions())));
            b.append(chart("KV waste (allocated slots without a token, fraction)", s, new String[] {"waste"},
                    new String[] {"#7f7f7f"}, List.of(ServingSimulator.Sample::wasteFraction)));
            if (r.firstPreemptionReason() != null) {
                b.append("<p class=\"note\">First preemption: ").append(esc(r.firstPreemptionReason()))
                        .append("</p>");
            }
        }
        b.append("<p class=\"note\">Simulated with the real vramkit scheduler and paged KV cache (accounting-only) "
                + "and a roofline step-time model. GiB = 2<sup>30</sup> bytes.</p></body></html>");
        return b.toString();
    }

    private static String chart(String title, List<ServingSimulator.Sample> s, String[] names, String[] colors,
                                List<ToDoubleFunction<ServingSimulator.Sample>> series) {
        StringBuilder b = new StringBuilder();
        double tMax = s.isEmpty() ? 1 : Math.max(1e-9, s.get(s.size() - 1).seconds());
        double yMax = 1e-9;
        for (var f : series) {
            for (var x : s) {
                yMax = Math.max(yMax, f.applyAsDouble(x));
            }
        }
        yMax *= 1.05;
        b.append(String.format(Locale.ROOT, "<svg width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                + "xmlns=\"http://www.w3.org/2000/svg\">", W, H, W, H));
        b.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"16\" font-size=\"13\">%s</text>", PAD, esc(title)));
        int x0 = PAD;
        int y0 = H - 28;
        int x1 = W - 12;
        int y1 = 26;
        b.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#999\"/>"
                + "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#999\"/>", x0, y0, x1, y0, x0, y0, x0, y1));
        for (int i = 0; i <= 4; i++) {
            double v = yMax * i / 4;
            double y = y0 - (y0 - y1) * i / 4.0;
            b.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%.1f\" font-size=\"10\" text-anchor=\"end\">"
                    + "%s</text>", x0 - 4, y + 3, fmt(v)));
            double t = tMax * i / 4;
            double x = x0 + (x1 - x0) * i / 4.0;
            b.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" font-size=\"10\" text-anchor=\"middle\">"
                    + "%s s</text>", x, y0 + 14, fmt(t)));
        }
        for (int k = 0; k < series.size(); k++) {
            StringBuilder pts = new StringBuilder();
            for (var x : s) {
                double px = x0 + (x1 - x0) * x.seconds() / tMax;
                double py = y0 - (y0 - y1) * series.get(k).applyAsDouble(x) / yMax;
                pts.append(String.format(Locale.ROOT, "%.1f,%.1f ", px, py));
            }
            b.append("<polyline fill=\"none\" stroke-width=\"1.3\" stroke=\"").append(colors[k])
                    .append("\" points=\"").append(pts).append("\"/>");
            b.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" font-size=\"11\" fill=\"%s\">%s</text>",
                    x1 - 150, y1 + 14 * (k + 1), colors[k], esc(names[k])));
        }
        b.append("</svg>");
        return b.toString();
    }

    private static String fmt(double v) {
        return Math.abs(v) >= 100 ? String.format(Locale.ROOT, "%.0f", v) : String.format(Locale.ROOT, "%.2f", v);
    }

    private static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
