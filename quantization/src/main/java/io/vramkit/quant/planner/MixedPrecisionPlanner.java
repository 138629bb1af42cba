package io.vramkit.quant.planner;

import io.vramkit.quant.QuantFormat;
import io.vramkit.quant.QuantizedMatmul;
import io.vramkit.quant.QuantizedTensor;
import io.vramkit.quant.Quantizer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Chooses a {@link QuantFormat} for every weight tensor of a model so that the total estimated output error is as
 * small as possible within a memory budget, in the spirit of llama.cpp's Q4_K_M recipes but measured rather than
 * assumed.
 *
 * <p><b>Sensitivity is measured.</b> Each tensor is quantized with each allowed candidate format, and its error is
 * the squared Frobenius error of the layer output {@code ‖X·Wᵀ − X·Ŵᵀ‖²} on the tensor's calibration activations
 * {@code X} when given, else the squared weight error {@code ‖W − Ŵ‖²}. Squared errors add over tensors, which makes
 * the total a sum the optimizer can split.
 *
 * <p><b>Optimization.</b> A multiple-choice knapsack solved by dynamic programming over the budget divided into
 * {@value #BUDGET_BUCKETS} units, each tensor's cost rounded <em>up</em> to whole units, so a plan never exceeds
 * the budget. The rounding can only lose options, so the result is then compared with every single format applied
 * to all tensors (exact byte counts) and the better plan is returned: the plan is never worse than the best single
 * format that fits.
 *
 * <p><b>Constraints</b> express policies such as "attention in at least INT8" ({@link #atLeast}) or "FFN only in
 * 4-bit formats" ({@link #only}); every matching constraint applies.
 *
 * <p>Configure, then call {@link #plan}. Not thread-safe while being configured; {@code plan} may then be called
 * from any thread, once at a time.
 *
 * {@snippet :
 * Plan plan = new MixedPrecisionPlanner()
 *         .candidates(QuantFormat.standard())
 *         .atLeast(".*attn.*", QuantFormat.INT8)
 *         .budgetBytes(3L << 30)
 *         .plan(tensors);
 * System.out.println(plan.report());
 * }
 */
public final class MixedPrecisionPlanner {

    /** Budget units of the dynamic program. */
    public static final int BUDGET_BUCKETS = 8192;

    /**
     * A weight tensor to plan for.
     *
     * @param name            unique name (constraints match it)
     * @param weights         {@code [rows, cols]} row-major, finite; not modified
     * @param rows            output features
     * @param cols            input features
     * @param calibration     activations {@code [calibrationRows, cols]}, or {@code null}
     * @param calibrationRows rows of {@code calibration} (0 when null)
     */
    public record TensorSpec(String name, float[] weights, int rows, int cols, float[] calibration,
                             int calibrationRows) {
        /**
         * Validates the sizes.
         *
         * @throws IllegalArgumentException naming the tensor and the sizes that do not match
         */
        public TensorSpec {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(weights, "weights");
            if (rows < 1 || cols < 1 || (long) rows * cols != weights.length) {
                throw new IllegalArgumentException("tensor '" + name + "': weights.length = " + weights.length
                        + " but rows × cols = " + rows + " × " + cols);
            }
            if (calibration != null && (calibrationRows < 1 || (long) calibrationRows * cols > calibration.length)) {
                throw new IllegalArgumentException("tensor '" + name + "': calibration.length = "
                        + calibration.length + " does not cover calibrationRows × cols = " + calibrationRows + " × "
                        + cols);
            }
        }

        /** A tensor without calibration activations. */
        public static TensorSpec of(String name, float[] weights, int rows, int cols) {
            return new TensorSpec(name, weights, rows, cols, null, 0);
        }
    }

    /** What one candidate format costs and loses on one tensor. */
    public record Measurement(QuantFormat format, long bytes, double squaredError, double relativeError) {
    }

    /** The chosen format of one tensor. */
    public record Assignment(String name, QuantFormat format, long bytes, double squaredError,
                             double relativeError, long parameters) {
    }

    private record Rule(Pattern pattern, QuantFormat atLeast, Set<QuantFormat> only) {
    }

    private List<QuantFormat> candidates = QuantFormat.standard();
    private final List<Rule> rules = new ArrayList<>();
    private long budgetBytes = -1;
    private double targetBits = -1;

    /** Creates a planner with {@link QuantFormat#standard()} candidates and no budget yet. */
    public MixedPrecisionPlanner() {
    }

    /**
     * Sets the candidate formats.
     *
     * @throws IllegalArgumentException if the list is empty
     */
    public MixedPrecisionPlanner candidates(List<QuantFormat> formats) {
        if (formats.isEmpty()) {
            throw new IllegalArgumentException("candidates must not be empty");
        }
        this.candidates = List.copyOf(formats);
        return this;
    }

    /** Tensors whose name fully matches {@code regex} get only formats with at least the bits per weight of {@code min}. */
    public MixedPrecisionPlanner atLeast(String regex, QuantFormat min) {
        rules.add(new Rule(Pattern.compile(regex), Objects.requireNonNull(min, "min"), null));
        return this;
    }

    /** Tensors whose name fully matches {@code regex} get only one of {@code formats}. */
    public MixedPrecisionPlanner only(String regex, QuantFormat... formats) {
        if (formats.length == 0) {
            throw new IllegalArgumentException("only(" + regex + ") needs at least one format");
        }
        rules.add(new Rule(Pattern.compile(regex), null, Set.of(formats)));
        return this;
    }

    /**
     * Sets the budget in bytes (replaces a target bits per weight).
     *
     * @throws IllegalArgumentException if {@code bytes <= 0}
     */
    public MixedPrecisionPlanner budgetBytes(long bytes) {
        if (bytes <= 0) {
            throw new IllegalArgumentException("budgetBytes must be > 0, got " + bytes);
        }
        this.budgetBytes = bytes;
        this.targetBits = -1;
        return this;
    }

    /**
     * Sets the budget as average bits per weight over all tensors, scales included (replaces a byte budget).
     *
     * @throws IllegalArgumentException if {@code bits} is not positive and finite
     */
    public MixedPrecisionPlanner targetBitsPerWeight(double bits) {
        if (!(bits > 0) || Double.isInfinite(bits)) {
            throw new IllegalArgumentException("targetBitsPerWeight must be > 0, got " + bits);
        }
        this.targetBits = bits;
        this.budgetBytes = -1;
        return this;
    }

    /** The candidates allowed for a tensor after applying every matching rule. */
    List<QuantFormat> allowed(TensorSpec t) {
        List<QuantFormat> out = new ArrayList<>();
        for (QuantFormat f : candidates) {
            if (f.groupSize() != QuantFormat.PER_CHANNEL && t.cols() % f.groupSize() != 0) {
                continue;
            }
            if (f.isFourBit() && (t.cols() & 1) != 0) {
                continue;
            }
            boolean ok = true;
            for (Rule r : rules) {
                if (!r.pattern().matcher(t.name()).matches()) {
                    continue;
                }
                if (r.atLeast() != null && f.bitsPerWeight(t.rows(), t.cols())
                        < r.atLeast().bitsPerWeight(t.rows(), t.cols()) - 1e-9) {
                    ok = false;
                }
                if (r.only() != null && !r.only().contains(f)) {
                    ok = false;
                }
            }
            if (ok) {
                out.add(f);
            }
        }
        return out;
    }

    /**
     * Measures every allowed candidate on every tensor.
     *
     * @param tensors the tensors, distinct names
     * @return per tensor name, the measurements in candidate order
     * @throws IllegalArgumentException naming the tensor if names repeat, no candidate is allowed for a tensor, or
     *                                  quantization rejects it
     */
    public Map<String, List<Measurement>> measure(List<TensorSpec> tensors) {
        Map<String, List<Measurement>> out = new LinkedHashMap<>();
        Set<String> seen = new HashSet<>();
        for (TensorSpec t : tensors) {
            if (!seen.add(t.name())) {
                throw new IllegalArgumentException("tensor name '" + t.name() + "' appears twice");
            }
            List<QuantFormat> fs = allowed(t);
            if (fs.isEmpty()) {
                throw new IllegalArgumentException("no candidate format is allowed for tensor '" + t.name() + "' ["
                        + t.rows() + ", " + t.cols() + "] by the candidates " + candidates + " and constraints");
            }
            double[] ref = t.calibration() == null ? null : reference(t);
            double refNorm = 0;
            if (ref != null) {
                for (double v : ref) {
                    refNorm += v * v;
                }
            } else {
                for (float v : t.weights()) {
                    refNorm += (double) v * v;
                }
            }
            List<Measurement> ms = new ArrayList<>();
            for (QuantFormat f : fs) {
                try (QuantizedTensor q = Quantizer.quantize(t.name(), t.weights(), t.rows(), t.cols(), f)) {
                    double se = 0;
                    if (ref != null) {
                        float[] y = new float[t.calibrationRows() * t.rows()];
                        QuantizedMatmul.matmul(t.calibration(), t.calibrationRows(), q, y);
                        for (int i = 0; i < y.length; i++) {
                            double d = ref[i] - y[i];
                            se += d * d;
                        }
                    } else {
                        float[] d = q.dequantize();
                        for (int i = 0; i < d.length; i++) {
                            double e = (double) t.weights()[i] - d[i];
                            se += e * e;
                        }
                    }
                    ms.add(new Measurement(f, q.byteSize(), se, refNorm == 0 ? 0 : Math.sqrt(se / refNorm)));
                }
            }
            out.put(t.name(), Collections.unmodifiableList(ms));
        }
        return out;
    }

    private static double[] reference(TensorSpec t) {
        int rows = t.rows();
        int cols = t.cols();
        double[] y = new double[t.calibrationRows() * rows];
        for (int b = 0; b < t.calibrationRows(); b++) {
            for (int r = 0; r < rows; r++) {
                double s = 0;
                for (int c = 0; c < cols; c++) {
                    s += (double) t.calibration()[b * cols + c] * t.weights()[r * cols + c];
                }
                y[b * rows + r] = s;
            }
        }
        return y;
    }

    /**
     * Measures and plans.
     *
     * @param tensors the tensors, distinct names
     * @return the plan
     * @throws IllegalStateException    if no budget was set
     * @throws IllegalArgumentException if even the smallest allowed formats exceed the budget (the message gives
     *                                  both byte counts), or as {@link #measure}
     */
    public Plan plan(List<TensorSpec> tensors) {
        if (budgetBytes < 0 && targetBits < 0) {
            throw new IllegalStateException("set budgetBytes(...) or targetBitsPerWeight(...) before plan()");
        }
        long params = 0;
        for (TensorSpec t : tensors) {
            params += (long) t.rows() * t.cols();
        }
        long budget = budgetBytes > 0 ? budgetBytes : (long) Math.floor(targetBits * params / 8.0);
        return solve(tensors, measure(tensors), budget);
    }

    /**
     * Plans from measurements already taken (for example to try several budgets without re-measuring).
     *
     * @param tensors      the tensors measured
     * @param measurements the result of {@link #measure} for them
     * @param budget       budget in bytes, &gt; 0
     * @return the plan
     * @throws IllegalArgumentException if the budget is not positive or cannot hold the smallest allowed formats
     */
    public Plan solve(List<TensorSpec> tensors, Map<String, List<Measurement>> measurements, long budget) {
        if (budget <= 0) {
            throw new IllegalArgumentException("budget must be > 0 bytes, got " + budget);
        }
        int n = tensors.size();
        List<List<Measurement>> ms = new ArrayList<>();
        long minBytes = 0;
        for (TensorSpec t : tensors) {
            List<Measurement> m = measurements.get(t.name());
            if (m == null || m.isEmpty()) {
                throw new IllegalArgumentException("no measurements for tensor '" + t.name() + "'");
            }
            ms.add(m);
            minBytes += m.stream().mapToLong(Measurement::bytes).min().orElseThrow();
        }
        if (minBytes > budget) {
            throw new IllegalArgumentException("budget of " + budget + " bytes cannot hold the smallest allowed "
                    + "formats, which need " + minBytes + " bytes");
        }
        int units = BUDGET_BUCKETS;
        double unit = (double) budget / units;
        // dp[u] = least error using at most u units over the tensors so far; choice[i][u] = candidate index.
        double[] dp = new double[units + 1];
        int[][] choice = new int[n][units + 1];
        for (int i = 0; i < n; i++) {
            double[] next = new double[units + 1];
            java.util.Arrays.fill(next, Double.POSITIVE_INFINITY);
            List<Measurement> m = ms.get(i);
            for (int k = 0; k < m.size(); k++) {
                int cost = (int) Math.min(units + 1L, (long) Math.ceil(m.get(k).bytes() / unit - 1e-9));
                double err = m.get(k).squaredError();
                for (int u = cost; u <= units; u++) {
                    double v = dp[u - cost] + err;
                    if (v < next[u]) {
                        next[u] = v;
                        choice[i][u] = k;
                    }
                }
            }
            dp = next;
        }
        Measurement[] picked = null;
        double bestErr = Double.POSITIVE_INFINITY;
        if (dp[units] < Double.POSITIVE_INFINITY) {
            picked = new Measurement[n];
            int u = units;
            for (int i = n - 1; i >= 0; i--) {
                Measurement m = ms.get(i).get(choice[i][u]);
                picked[i] = m;
                u -= (int) Math.min(units + 1L, (long) Math.ceil(m.bytes() / unit - 1e-9));
            }
            bestErr = dp[units];
        }
        // exact single-format plans: the guarantee that the mixed plan is never worse than any of them
        Set<QuantFormat> formats = new java.util.LinkedHashSet<>();
        ms.forEach(l -> l.forEach(m -> formats.add(m.format())));
        for (QuantFormat f : formats) {
            Measurement[] single = new Measurement[n];
            long bytes = 0;
            double err = 0;
            boolean ok = true;
            for (int i = 0; i < n && ok; i++) {
                Measurement m = ms.get(i).stream().filter(x -> x.format().equals(f)).findFirst().orElse(null);
                if (m == null) {
                    ok = false;
                } else {
                    single[i] = m;
                    bytes += m.bytes();
                    err += m.squaredError();
                }
            }
            if (ok && bytes <= budget && err < bestErr) {
                bestErr = err;
                picked = single;
            }
        }
        if (picked == null) {
            // the rounding left nothing and no single format fits: take the smallest allowed format everywhere
            picked = new Measurement[n];
            for (int i = 0; i < n; i++) {
                picked[i] = ms.get(i).stream().min(java.util.Comparator.comparingLong(Measurement::bytes))
                        .orElseThrow();
            }
        }
        List<Assignment> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            TensorSpec t = tensors.get(i);
            out.add(new Assignment(t.name(), picked[i].format(), picked[i].bytes(), picked[i].squaredError(),
                    picked[i].relativeError(), (long) t.rows() * t.cols()));
        }
        return new Plan(out, budget);
    }
}
