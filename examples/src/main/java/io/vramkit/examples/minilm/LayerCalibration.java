package io.vramkit.examples.minilm;

import io.vramkit.quant.Gptq;
import io.vramkit.quant.QuantFormat;
import io.vramkit.quant.QuantizedMatmul;
import io.vramkit.quant.QuantizedTensor;
import io.vramkit.quant.Quantizer;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * How one linear layer is calibrated for the demo's 4-bit rows: an optional per-input-channel scale {@code s}
 * (AWQ-style, Lin et al. 2023), an optional orthonormal block Hadamard rotation {@code R} (incoherence processing,
 * as in QuIP, Chee et al. 2023, and QuaRot, Ashkboos et al. 2024), and GPTQ's factorized Hessian of the transformed
 * input {@code (x ⊘ s)·R}. The layer then quantizes {@code W·diag(s)·R} and applies {@code ⊘ s} and {@code R} to
 * its input before the matmul, so in exact arithmetic {@code ((x ⊘ s)·R)·(W·diag(s)·R)ᵀ = x·Wᵀ} ({@code R} is
 * symmetric and orthogonal): the scale moves the rounding error towards the input channels that carry little
 * activation energy, and the rotation spreads outlier weights and activations over a whole block, so that each
 * 4-bit group has an even range. The rotation stores nothing (its random signs are folded into the sign of
 * {@code s}). Immutable and thread-safe (arrays must be treated as read-only).
 *
 * @param inputScale the scale {@code s}, {@code [in]}, non-zero (negative lanes carry the rotation's signs); null
 *                   for the identity
 * @param gptq       GPTQ's calibration of the (scaled) layer input
 * @param refits     GPTQ scale-refit rounds to run when the layer is quantized ({@link Gptq#quantize(String, float[],
 *                   int, int, QuantFormat, Gptq.Calibration, int)}), {@code 0..}{@value Gptq#MAX_REFITS}
 * @param rotation   block size of the orthonormal Hadamard rotation applied after the scale ({@link #hadamard}),
 *                   a power of two in {@code [2, 4096]} dividing the layer's input size, or 0 for none
 */
public record LayerCalibration(float[] inputScale, Gptq.Calibration gptq, int refits, int rotation) {

    /**
     * GPTQ's relative dampening: 10%, because a few thousand calibration tokens barely pin down a 1536-wide input
     * (chosen on held-out calibration sentences among 0.01, 0.03, 0.05, 0.1, 0.2, 0.3; see {@code HeldOutStudy}).
     */
    static final double DAMPING = 0.1;
    /**
     * Exponents {@code α} tried for {@code s = rms(x)^α}; 0 is the identity (a finer grid, steps of 1/8 up to 3/4,
     * did no better on held-out sentences).
     */
    static final double[] ALPHAS = {0, 0.25, 0.5};
    /** Largest Hadamard block: 128 for the 384-wide inputs, 512 for the FFN's 1536-wide one. */
    static final int ROTATION = 512;
    /** GPTQ scale-refit rounds: the best of 0 to 4 on held-out sentences. */
    static final int REFITS = 3;
    /** Calibration rows used to compare the candidate scales (the Hessian uses all rows). */
    static final int SEARCH_ROWS = 2048;
    /** The format the candidate scales are compared in: the headline INT4 row's. */
    static final QuantFormat SEARCH_FORMAT = QuantFormat.INT4_ASYM_G64;
    /** Seed of the rotation's random signs. */
    static final long SIGN_SEED = 0x5eed_0f_4adL;

    /**
     * Checks the arguments.
     *
     * @throws NullPointerException     if {@code gptq} is null
     * @throws IllegalArgumentException naming {@code refits} and its value if it is out of range
     */
    public LayerCalibration {
        Objects.requireNonNull(gptq, "gptq");
        if (refits < 0 || refits > Gptq.MAX_REFITS) {
            throw new IllegalArgumentException("refits must be in [0, " + Gptq.MAX_REFITS + "], got " + refits);
        }
        checkRotation(rotation);
    }

    private static void checkRotation(int rotation) {
        if (rotation != 0 && (rotation < 2 || rotation > 4096 || Integer.bitCount(rotation) != 1)) {
            throw new IllegalArgumentException("rotation must be 0 or a power of two in [2, 4096], got " + rotation);
        }
    }

    /**
     * A calibration without scale refit or rotation (plain GPTQ after the input scale).
     *
     * @param inputScale the scale {@code s}, or null
     * @param gptq       GPTQ's calibration of the (scaled) layer input
     */
    public LayerCalibration(float[] inputScale, Gptq.Calibration gptq) {
        this(inputScale, gptq, 0, 0);
    }

    /**
     * The calibration's hyper-parameters. Immutable ({@code alphas} is copied).
     *
     * @param damping     GPTQ's relative dampening, in {@code (0, 1000]}
     * @param alphas      exponents {@code α} tried for {@code s = rms(x)^α}, each in {@code [0, 2]}, at least one
     * @param alphaByGptq whether {@code α} is chosen by the output error of the GPTQ-quantized layer (plain GPTQ,
     *                    without refit) rather than of round-to-nearest
     * @param refits      GPTQ scale-refit rounds, {@code 0..}{@value Gptq#MAX_REFITS}
     * @param rotation    largest Hadamard block size (see {@link LayerCalibration}), 0 for none: each layer uses
     *                    the largest power of two up to this that divides its input size; with a rotation the
     *                    input scale also carries fixed random signs ({@link #signs})
     */
    public record Settings(double damping, double[] alphas, boolean alphaByGptq, int refits, int rotation) {
        /**
         * Validates and copies.
         *
         * @throws IllegalArgumentException naming the setting and its value if it is out of range
         */
        public Settings {
            if (!(damping > 0 && damping <= 1e3)) {
                throw new IllegalArgumentException("damping must be in (0, 1000], got " + damping);
            }
            Objects.requireNonNull(alphas, "alphas");
            if (alphas.length == 0) {
                throw new IllegalArgumentException("alphas must hold at least one exponent");
            }
            alphas = alphas.clone();
            for (double a : alphas) {
                if (!(a >= 0 && a <= 2)) {
                    throw new IllegalArgumentException("alphas must lie in [0, 2], got " + a);
                }
            }
            if (refits < 0 || refits > Gptq.MAX_REFITS) {
                throw new IllegalArgumentException("refits must be in [0, " + Gptq.MAX_REFITS + "], got " + refits);
            }
            checkRotation(rotation);
        }

        /** The exponents, a copy. */
        @Override
        public double[] alphas() {
            return alphas.clone();
        }

        /** A one-line description, e.g. {@code damping 0.1, alphas [0.0, 0.25, 0.5] by GPTQ, refits 1, rotation 512}. */
        @Override
        public String toString() {
            return "damping " + damping + ", alphas " + java.util.Arrays.toString(alphas) + " by "
                    + (alphaByGptq ? "GPTQ" : "RTN") + ", refits " + refits + ", rotation " + rotation;
        }

        /**
         * The demo's settings, chosen on held-out calibration sentences: {@link #DAMPING}, {@link #ALPHAS} chosen
         * by the GPTQ-quantized output error, {@link #REFITS} refit rounds, rotation up to {@link #ROTATION}.
         */
        public static Settings defaults() {
            return new Settings(DAMPING, ALPHAS, true, REFITS, ROTATION);
        }
    }

    /**
     * The calibration of a whole model: every layer's, and the FP32 model's output on the calibration sentences
     * (for the final bias correction, {@link #finalShift}). Immutable.
     *
     * @param layers by layer name, in execution order
     * @param ids    the calibration token ids
     * @param fp32   the FP32 model's output on {@code ids} (one batch)
     */
    public record Model(Map<String, LayerCalibration> layers, List<int[]> ids, MiniLmEncoder.Output fp32) {
        /** Copies the collections. */
        public Model {
            layers = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(layers));
            ids = List.copyOf(ids);
            Objects.requireNonNull(fp32, "fp32");
        }
    }

    /**
     * The bias correction of a quantized model's last hidden state: the mean, over calibration sentences, of each
     * sentence's mean difference {@code fp32 − quantized} per channel (every sentence weighs the same, as in the
     * mean-pooled embedding). Added to the last LayerNorm's beta ({@link MiniLmEncoder#withFinalShift}) it removes
     * the quantization's average drift of the output; like the linear layers' scales it is fitted on the
     * calibration sentences only.
     *
     * @param quantized the quantized model's output on the calibration ids
     * @param fp32      the FP32 model's output on the same ids
     * @return the shift, {@code [hidden]}
     * @throws IllegalArgumentException if the two outputs do not have the same sequences
     */
    public static float[] finalShift(MiniLmEncoder.Output quantized, MiniLmEncoder.Output fp32) {
        int[] cu = fp32.cuSeqlens();
        if (!java.util.Arrays.equals(cu, quantized.cuSeqlens())) {
            throw new IllegalArgumentException("quantized and fp32 outputs hold different sequences");
        }
        int batch = cu.length - 1;
        int h = fp32.pooled().length / batch;
        double[] d = new double[h];
        for (int s = 0; s < batch; s++) {
            double f = 1.0 / ((double) (cu[s + 1] - cu[s]) * batch);
            for (int r = cu[s]; r < cu[s + 1]; r++) {
                for (int c = 0; c < h; c++) {
                    d[c] += (fp32.hidden()[r * h + c] - quantized.hidden()[r * h + c]) * f;
                }
            }
        }
        float[] out = new float[h];
        for (int c = 0; c < h; c++) {
            out[c] = (float) d[c];
        }
        return out;
    }

    /**
     * Calibrates every linear layer on the FP32 model's activations of {@code ids}.
     *
     * <p>Each token's activation row is weighted by {@code 1/√len} of its sentence, so that every sentence counts
     * equally in the Hessian, as it does in the mean-pooled embedding (a 4-token sentence's embedding is the mean
     * of 4 rows; a 500-token one's of 500). For each layer, with the {@link Settings#defaults() default settings},
     * the scale {@code s = rms(x)^α / √(max·min)} (times the rotation's random signs) is chosen among
     * {@link #ALPHAS} by the output error {@code ‖X·Wᵀ − X·Ŵᵀ‖²} on the first {@link #SEARCH_ROWS} rows of the
     * layer quantized to {@link #SEARCH_FORMAT} with GPTQ (act-order, {@link #DAMPING}) on the transformed input
     * {@code (x ⊘ s)·R}, {@code R} the block Hadamard rotation of the largest power-of-two block up to
     * {@link #ROTATION} that divides the input size; the chosen layer is quantized with {@link #REFITS} scale
     * refit rounds.
     *
     * @param weights the model
     * @param ids     calibration token ids, at least one sequence
     * @return the calibration of every linear layer and the FP32 output on {@code ids}
     * @throws IllegalArgumentException from {@link Gptq#calibrate} if a Hessian cannot be factorized
     */
    public static Model calibrateAll(MiniLmWeights weights, List<int[]> ids) {
        return calibrateAll(weights, ids, Settings.defaults());
    }

    /**
     * Calibrates every linear layer on the FP32 model's activations of {@code ids} with chosen hyper-parameters
     * (see {@link #calibrateAll(MiniLmWeights, List)}).
     *
     * @param weights  the model
     * @param ids      calibration token ids, at least one sequence
     * @param settings the hyper-parameters
     * @return the calibration of every linear layer and the FP32 output on {@code ids}
     * @throws IllegalArgumentException from {@link Gptq#calibrate} if a Hessian cannot be factorized
     */
    public static Model calibrateAll(MiniLmWeights weights, List<int[]> ids, Settings settings) {
        Objects.requireNonNull(weights, "weights");
        Objects.requireNonNull(settings, "settings");
        Objects.requireNonNull(ids, "ids");
        if (ids.isEmpty()) {
            throw new IllegalArgumentException("ids must hold at least one calibration sequence");
        }
        Map<String, float[]> acts = new LinkedHashMap<>();
        MiniLmEncoder.Output fp32;
        try (MiniLmEncoder encoder = new MiniLmEncoder(weights, lin -> QuantLinear.of(lin, QuantFormat.FP32),
                Kernels.attention())) {
            fp32 = encoder.encode(ids, (name, x, rows, in) -> acts.put(name, java.util.Arrays.copyOf(x, rows * in)));
        }
        float[] rowWeight = rowWeights(ids);
        Map<String, LayerCalibration> out = new LinkedHashMap<>();
        for (MiniLmWeights.Layer l : weights.layers()) {
            for (MiniLmWeights.Linear lin : l.linears()) {
                float[] x = acts.remove(lin.name());
                out.put(lin.name(), calibrate(lin, x, rowWeight, settings));
            }
        }
        return new Model(out, ids, fp32);
    }

    /** One layer: {@code x} is {@code [rows, in]}, weighted in place by {@code rowWeight}. */
    private static LayerCalibration calibrate(MiniLmWeights.Linear lin, float[] x, float[] rowWeight,
                                              Settings settings) {
        int in = lin.in();
        int rows = x.length / in;
        // The largest power-of-two block up to the setting that tiles the input.
        int rotation = Math.min(settings.rotation(), Integer.lowestOneBit(in));
        double[] sq = new double[in];
        for (int r = 0; r < rows; r++) {
            float f = rowWeight[r];
            int o = r * in;
            for (int i = 0; i < in; i++) {
                float v = x[o + i] * f;
                x[o + i] = v;
                sq[i] += (double) v * v;
            }
        }
        int sub = Math.min(rows, SEARCH_ROWS);
        double[] alphas = settings.alphas();
        float[] signs = rotation == 0 ? null : signs(in);
        if (settings.alphaByGptq() && alphas.length > 1) {
            LayerCalibration best = null;
            double bestErr = Double.POSITIVE_INFINITY;
            for (double alpha : alphas) {
                float[] s = scale(sq, rows, alpha, signs);
                // candidates are compared with plain GPTQ (no refit): the refit is a small final correction
                LayerCalibration c = new LayerCalibration(s, Gptq.calibrate(lin.name(),
                        transformInput(x, rows, in, s == null ? null : inverse(s), rotation), rows, in, true,
                        settings.damping()), 0, rotation);
                double err;
                try (QuantLinear q = QuantLinear.gptq(lin, SEARCH_FORMAT, c)) {
                    err = outputError(lin, x, sub, q);
                }
                if (err < bestErr) {
                    bestErr = err;
                    best = c;
                }
            }
            return new LayerCalibration(best.inputScale(), best.gptq(), settings.refits(), rotation);
        }
        float[] best = null;
        double bestErr = Double.POSITIVE_INFINITY;
        for (double alpha : alphas) {
            float[] s = scale(sq, rows, alpha, signs);
            double err = alphas.length == 1 ? 0 : searchError(lin, x, sub, s, rotation);
            if (err < bestErr) {
                bestErr = err;
                best = s;
            }
        }
        return new LayerCalibration(best, Gptq.calibrate(lin.name(),
                transformInput(x, rows, in, best == null ? null : inverse(best), rotation), rows, in, true,
                settings.damping()), settings.refits(), rotation);
    }

    /** {@code ‖X·Wᵀ − q(X)‖²} on the first {@code rows} rows of {@code x}, biases cancelling. */
    private static double outputError(MiniLmWeights.Linear lin, float[] x, int rows, QuantLinear q) {
        int in = lin.in();
        int out = lin.out();
        float[] xs = java.util.Arrays.copyOf(x, rows * in);
        float[] yq = new float[rows * out];
        float[] y = new float[rows * out];
        q.apply(xs, rows, yq);
        try (QuantLinear f = QuantLinear.of(lin, QuantFormat.FP32)) {
            f.apply(xs, rows, y);
        }
        double e = 0;
        for (int i = 0; i < y.length; i++) {
            double d = (double) y[i] - yq[i];
            e += d * d;
        }
        return e;
    }

    /** {@code 1/√len} of each token's sentence, token by token. */
    private static float[] rowWeights(List<int[]> ids) {
        float[] w = new float[ids.stream().mapToInt(a -> a.length).sum()];
        int row = 0;
        for (int[] s : ids) {
            float f = (float) (1.0 / Math.sqrt(s.length));
            for (int t = 0; t < s.length; t++) {
                w[row++] = f;
            }
        }
        return w;
    }

    /**
     * {@code s_i = rms_i^α}, normalized by {@code √(max·min)} so that the scales straddle 1, times the rotation's
     * random signs; null for the identity ({@code α = 0} without rotation).
     */
    private static float[] scale(double[] sq, int rows, double alpha, float[] signs) {
        if (alpha == 0) {
            return signs == null ? null : signs.clone();
        }
        float[] s = new float[sq.length];
        double lo = Double.POSITIVE_INFINITY;
        double hi = 0;
        for (int i = 0; i < s.length; i++) {
            // A floor keeps never-active channels from getting a vanishing scale (and a huge 1/s).
            double v = Math.pow(Math.max(Math.sqrt(sq[i] / rows), 1e-4), alpha);
            s[i] = (float) v;
            lo = Math.min(lo, v);
            hi = Math.max(hi, v);
        }
        float norm = (float) Math.sqrt(lo * hi);
        for (int i = 0; i < s.length; i++) {
            s[i] /= norm;
            if (signs != null) {
                s[i] *= signs[i];
            }
        }
        return s;
    }

    /**
     * The rotation's random signs, {@code ±1} per input feature, from a fixed seed (so that they are reproducible;
     * they end up in the stored input scale, whose sign they set).
     */
    static float[] signs(int in) {
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(SIGN_SEED + in);
        float[] s = new float[in];
        for (int i = 0; i < in; i++) {
            s[i] = rnd.nextBoolean() ? 1f : -1f;
        }
        return s;
    }

    /**
     * The orthonormal block Hadamard transform of {@code a[off, off + n)} in place: each block of {@code block}
     * (a power of two dividing {@code n}) is multiplied by the Sylvester Hadamard matrix over {@code √block}. The
     * matrix is symmetric and orthogonal, so the transform is its own inverse.
     */
    static void hadamard(float[] a, int off, int n, int block) {
        float norm = (float) (1.0 / Math.sqrt(block));
        for (int b = off; b < off + n; b += block) {
            for (int len = 1; len < block; len <<= 1) {
                for (int i = b; i < b + block; i += 2 * len) {
                    for (int j = i; j < i + len; j++) {
                        float u = a[j];
                        float v = a[j + len];
                        a[j] = u + v;
                        a[j + len] = u - v;
                    }
                }
            }
            for (int j = b; j < b + block; j++) {
                a[j] *= norm;
            }
        }
    }

    /**
     * The layer input as the quantized weight sees it: {@code (x ⊘ s)·R} with {@code R} the block Hadamard of
     * {@code rotation} (none when 0), on the first {@code rows} rows; {@code x} itself when there is nothing to do,
     * else a new array.
     */
    static float[] transformInput(float[] x, int rows, int in, float[] inv, int rotation) {
        if (inv == null && rotation == 0) {
            return x;
        }
        float[] out = new float[rows * in];
        for (int r = 0; r < rows; r++) {
            int o = r * in;
            for (int i = 0; i < in; i++) {
                out[o + i] = inv == null ? x[o + i] : x[o + i] * inv[i];
            }
            if (rotation > 0) {
                hadamard(out, o, in, rotation);
            }
        }
        return out;
    }

    /**
     * The weight the layer quantizes: {@code W·diag(s)·R}, so that {@code ((x ⊘ s)·R)·(W·diag(s)·R)ᵀ = x·Wᵀ}
     * ({@code R} orthogonal and symmetric); {@code w} itself when there is nothing to do, else a new array.
     */
    static float[] transformWeight(float[] w, int out, int in, float[] s, int rotation) {
        if (s == null && rotation == 0) {
            return w;
        }
        float[] ws = s == null ? w.clone() : scaleColumns(w, out, in, s);
        if (rotation > 0) {
            for (int o = 0; o < out; o++) {
                hadamard(ws, o * in, in, rotation);
            }
        }
        return ws;
    }

    /** {@code 1/s}, lane by lane. */
    static float[] inverse(float[] s) {
        float[] inv = new float[s.length];
        for (int i = 0; i < s.length; i++) {
            inv[i] = 1f / s[i];
        }
        return inv;
    }

    /** {@code W·diag(s)}, a new array. */
    static float[] scaleColumns(float[] w, int out, int in, float[] s) {
        float[] ws = new float[w.length];
        for (int o = 0; o < out; o++) {
            int b = o * in;
            for (int i = 0; i < in; i++) {
                ws[b + i] = w[b + i] * s[i];
            }
        }
        return ws;
    }

    /**
     * {@code ‖X·(W − Ŵ)ᵀ‖²} on the first {@code rows} rows, computed in the transformed space (the same, since
     * the transform is exact): {@code ‖X'·(W' − RTN(W'))ᵀ‖²} with {@code X' = (X ⊘ s)·R}, {@code W' = W·diag(s)·R},
     * round-to-nearest in {@link #SEARCH_FORMAT}.
     */
    private static double searchError(MiniLmWeights.Linear lin, float[] x, int rows, float[] s, int rotation) {
        int in = lin.in();
        int out = lin.out();
        float[] ws = transformWeight(lin.weight(), out, in, s, rotation);
        float[] xs = transformInput(x, rows, in, s == null ? null : inverse(s), rotation);
        float[] dq;
        try (QuantizedTensor q = Quantizer.quantize(lin.name(), ws, out, in, SEARCH_FORMAT)) {
            dq = q.dequantize();
        }
        float[] delta = new float[out * in];
        for (int i = 0; i < delta.length; i++) {
            delta[i] = ws[i] - dq[i];
        }
        float[] y = new float[rows * out];
        try (QuantizedTensor d = Quantizer.quantize(lin.name() + ".delta", delta, out, in, QuantFormat.FP32)) {
            QuantizedMatmul.matmul(xs, rows, d, y);
        }
        double e = 0;
        for (float v : y) {
            e += (double) v * v;
        }
        return e;
    }
}
