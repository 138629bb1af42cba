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
 * (AWQ-style, Lin et al. 2023) and GPTQ's factorized Hessian of the scaled input {@code x ⊘ s}. The layer then
 * quantizes {@code W·diag(s)} and divides its input by {@code s} before the matmul, so in exact arithmetic
 * {@code (x ⊘ s)·(W·diag(s))ᵀ = x·Wᵀ}: the scale only moves where the rounding error falls, towards the input
 * channels that carry little activation energy. Immutable and thread-safe (arrays must be treated as read-only).
 *
 * @param inputScale the scale {@code s}, {@code [in]}, all positive; null when no scaling helped (the identity)
 * @param gptq       GPTQ's calibration of the (scaled) layer input
 */
public record LayerCalibration(float[] inputScale, Gptq.Calibration gptq) {

    /** GPTQ's relative dampening: 10%, because a few thousand calibration tokens barely pin down a 1536-wide input. */
    static final double DAMPING = 0.1;
    /** Exponents {@code α} tried for {@code s = rms(x)^α}; 0 is the identity. */
    static final double[] ALPHAS = {0, 0.25, 0.5};
    /** Calibration rows used to compare the candidate scales (the Hessian uses all rows). */
    static final int SEARCH_ROWS = 2048;
    /** The format the candidate scales are compared in: the headline INT4 row's. */
    static final QuantFormat SEARCH_FORMAT = QuantFormat.INT4_ASYM_G64;

    /** Checks the arguments. @throws NullPointerException if {@code gptq} is null */
    public LayerCalibration {
        Objects.requireNonNull(gptq, "gptq");
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
     * of 4 rows; a 500-token one's of 500). For each layer the scale {@code s = rms(x)^α / √(max·min)} is chosen
     * among {@link #ALPHAS} by the output error {@code ‖X·Wᵀ − X·Ŵᵀ‖²} of round-to-nearest
     * {@link #SEARCH_FORMAT}
     * on the first {@link #SEARCH_ROWS} rows; then GPTQ (act-order, {@link #DAMPING}) is calibrated on
     * {@code x ⊘ s}.
     *
     * @param weights the model
     * @param ids     calibration token ids, at least one sequence
     * @return the calibration of every linear layer and the FP32 output on {@code ids}
     * @throws IllegalArgumentException from {@link Gptq#calibrate} if a Hessian cannot be factorized
     */
    public static Model calibrateAll(MiniLmWeights weights, List<int[]> ids) {
        Objects.requireNonNull(weights, "weights");
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
                out.put(lin.name(), calibrate(lin, x, rowWeight));
            }
        }
        return new Model(out, ids, fp32);
    }

    /** One layer: {@code x} is {@code [rows, in]}, weighted and scaled in place. */
    private static LayerCalibration calibrate(MiniLmWeights.Linear lin, float[] x, float[] rowWeight) {
        int in = lin.in();
        int rows = x.length / in;
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
        float[] best = null;
        double bestErr = Double.POSITIVE_INFINITY;
        for (double alpha : ALPHAS) {
            float[] s = alpha == 0 ? null : scale(sq, rows, alpha);
            double err = searchError(lin, x, sub, s);
            if (err < bestErr) {
                bestErr = err;
                best = s;
            }
        }
        if (best != null) {
            float[] inv = inverse(best);
            for (int r = 0; r < rows; r++) {
                int o = r * in;
                for (int i = 0; i < in; i++) {
                    x[o + i] *= inv[i];
                }
            }
        }
        return new LayerCalibration(best, Gptq.calibrate(lin.name(), x, rows, in, true, DAMPING));
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

    /** {@code s_i = rms_i^α}, normalized by {@code √(max·min)} so that the scales straddle 1. */
    private static float[] scale(double[] sq, int rows, double alpha) {
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
        }
        return s;
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
     * {@code ‖X·(W − Ŵ)ᵀ‖²} on the first {@code rows} rows, {@code Ŵ = RTN(W·diag(s))·diag(1/s)} in
     * {@link #SEARCH_FORMAT}.
     */
    private static double searchError(MiniLmWeights.Linear lin, float[] x, int rows, float[] s) {
        int in = lin.in();
        int out = lin.out();
        float[] ws = s == null ? lin.weight() : scaleColumns(lin.weight(), out, in, s);
        float[] dq;
        try (QuantizedTensor q = Quantizer.quantize(lin.name(), ws, out, in, SEARCH_FORMAT)) {
            dq = q.dequantize();
        }
        float[] inv = s == null ? null : inverse(s);
        float[] delta = new float[out * in];
        for (int o = 0; o < out; o++) {
            int b = o * in;
            for (int i = 0; i < in; i++) {
                delta[b + i] = lin.weight()[b + i] - (inv == null ? dq[b + i] : dq[b + i] * inv[i]);
            }
        }
        float[] y = new float[rows * out];
        try (QuantizedTensor d = Quantizer.quantize(lin.name() + ".delta", delta, out, in, QuantFormat.FP32)) {
            QuantizedMatmul.matmul(x, rows, d, y);
        }
        double e = 0;
        for (float v : y) {
            e += (double) v * v;
        }
        return e;
    }
}
