package io.vramkit.quant.planner;

import java.util.List;
import java.util.Locale;

/**
 * The output of {@link MixedPrecisionPlanner}: one {@link MixedPrecisionPlanner.Assignment} per tensor, in input
 * order, with totals, as a readable table ({@link #report()}) or JSON ({@link #toJson()}). Immutable and
 * thread-safe.
 *
 * @param assignments per-tensor formats, bytes and measured errors
 * @param budgetBytes the budget the plan was made for
 */
public record Plan(List<MixedPrecisionPlanner.Assignment> assignments, long budgetBytes) {

    /** Copies the list. */
    public Plan {
        assignments = List.copyOf(assignments);
    }

    /** Total bytes of all tensors in their chosen formats; never above {@link #budgetBytes()}. */
    public long totalBytes() {
        return assignments.stream().mapToLong(MixedPrecisionPlanner.Assignment::bytes).sum();
    }

    /** Sum of the per-tensor squared errors the planner minimized. */
    public double totalSquaredError() {
        return assignments.stream().mapToDouble(MixedPrecisionPlanner.Assignment::squaredError).sum();
    }

    /** Average bits per weight, scales included. */
    public double bitsPerWeight() {
        long params = assignments.stream().mapToLong(MixedPrecisionPlanner.Assignment::parameters).sum();
        return params == 0 ? 0 : 8.0 * totalBytes() / params;
    }

    /** A fixed-width table: tensor, format, bytes (MiB), bits per weight, relative error; then the totals. */
    public String report() {
        int w = Math.max(6, assignments.stream().mapToInt(a -> a.name().length()).max().orElse(6));
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "%-" + w + "s  %-14s %12s %8s %10s%n", "tensor", "format", "MiB", "bits",
                "rel.error"));
        for (MixedPrecisionPlanner.Assignment a : assignments) {
            b.append(String.format(Locale.ROOT, "%-" + w + "s  %-14s %12.3f %8.3f %10.5f%n", a.name(), a.format(),
                    a.bytes() / 1048576.0, 8.0 * a.bytes() / a.parameters(), a.relativeError()));
        }
        b.append(String.format(Locale.ROOT, "total %.3f MiB of a %.3f MiB budget, %.3f bits per weight, "
                        + "squared error %.6g%n", totalBytes() / 1048576.0, budgetBytes / 1048576.0, bitsPerWeight(),
                totalSquaredError()));
        return b.toString();
    }

    /** The plan as a JSON object: budget, totals and a {@code tensors} array. */
    public String toJson() {
        StringBuilder b = new StringBuilder("{");
        b.append("\"budgetBytes\":").append(budgetBytes)
                .append(",\"totalBytes\":").append(totalBytes())
                .append(",\"bitsPerWeight\":").append(num(bitsPerWeight()))
                .append(",\"totalSquaredError\":").append(num(totalSquaredError()))
                .append(",\"tensors\":[");
        for (int i = 0; i < assignments.size(); i++) {
            MixedPrecisionPlanner.Assignment a = assignments.get(i);
            b.append(i == 0 ? "" : ",").append("{\"name\":");
            quote(b, a.name());
            b.append(",\"format\":\"").append(a.format()).append("\",\"bytes\":").append(a.bytes())
                    .append(",\"parameters\":").append(a.parameters())
                    .append(",\"squaredError\":").append(num(a.squaredError()))
                    .append(",\"relativeError\":").append(num(a.relativeError())).append('}');
        }
        return b.append("]}").toString();
    }

    private static String num(double v) {
        return Double.isFinite(v) ? Double.toString(v) : "null";
    }

    private static void quote(StringBuilder b, String s) {
        b.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '"' || c == '\\') {
                b.append('\\').append(c);
            } else if (c < 0x20) {
                b.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        b.append('"');
    }
}
