package io.vramkit.examples.minilm;

import io.vramkit.core.cpu.ParallelExecutor;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;

/**
 * The all-MiniLM-L6-v2 forward pass on a packed variable-length batch (no padding): embeddings (word + position +
 * token type 0) and LayerNorm; six BERT layers of Q/K/V projections, bidirectional attention, output projection,
 * residual and LayerNorm, FFN with the erf GELU, residual and LayerNorm; then mean pooling over each sequence's
 * tokens and L2 normalization, as sentence-transformers does for this model.
 *
 * <p>Every linear layer runs through an {@link EncoderLinear} made by the factory passed in, so the same encoder
 * runs at any weight precision; attention runs through an {@link EncoderAttention}. The encoder owns its linears
 * and closes them in {@link #close()}; it holds no per-call state, so {@link #encode} is thread-safe when the
 * linears and attention are.
 */
public final class MiniLmEncoder implements AutoCloseable {

    /** Sees the input of each linear layer during a forward pass (used to calibrate the mixed-precision planner). */
    @FunctionalInterface
    public interface LinearObserver {
        /**
         * Called before a linear layer runs.
         *
         * @param linear the layer's role name, e.g. {@code layer.0.attention.self.query}
         * @param x      its input {@code [rows, in]}; read only, valid during the call only
         * @param rows   rows of {@code x}
         * @param in     features per row
         */
        void observe(String linear, float[] x, int rows, int in);
    }

    /**
     * The result of one batch.
     *
     * @param hidden    last hidden state, {@code [totalTokens, hidden]}, packed
     * @param cuSeqlens sequence starts into {@code hidden}, {@code [batch + 1]}
     * @param pooled    L2-normalized mean-pooled embeddings, {@code [batch, hidden]}
     */
    public record Output(float[] hidden, int[] cuSeqlens, float[] pooled) {
    }

    private final MiniLmWeights w;
    private final List<EncoderLinear[]> linears;
    private final EncoderAttention attention;
    /** Added to every token of the last hidden state (a calibrated shift of the last LayerNorm's beta), or null. */
    private final float[] finalShift;

    private MiniLmEncoder(MiniLmEncoder base, float[] finalShift) {
        this.w = base.w;
        this.linears = base.linears;
        this.attention = base.attention;
        this.finalShift = finalShift;
    }

    /**
     * This encoder with a constant vector added to every token's last hidden state, i.e. to the last LayerNorm's
     * beta (used for a calibrated bias correction of a quantized model). The result shares this encoder's linear
     * layers: close only one of the two.
     *
     * @param shift {@code [hidden]} finite values, copied
     * @return a new encoder view
     * @throws IllegalArgumentException naming {@code shift} if its length is not the hidden size or a value is
     *                                  not finite
     */
    public MiniLmEncoder withFinalShift(float[] shift) {
        Objects.requireNonNull(shift, "shift");
        if (shift.length != w.hidden()) {
            throw new IllegalArgumentException("shift.length = " + shift.length + " but hidden = " + w.hidden());
        }
        for (int c = 0; c < shift.length; c++) {
            if (!Float.isFinite(shift[c])) {
                throw new IllegalArgumentException("shift[" + c + "] = " + shift[c] + " is not finite");
            }
        }
        return new MiniLmEncoder(this, shift.clone());
    }

    /**
     * Builds an encoder.
     *
     * @param weights   the model weights (shared, read only)
     * @param linear    makes the runtime form of each linear layer (e.g. quantizes it); called once per layer
     * @param attention the attention kernel
     * @throws IllegalArgumentException if a made linear has the wrong shape
     */
    public MiniLmEncoder(MiniLmWeights weights, Function<MiniLmWeights.Linear, EncoderLinear> linear,
                         EncoderAttention attention) {
        this.w = Objects.requireNonNull(weights, "weights");
        this.attention = Objects.requireNonNull(attention, "attention");
        this.finalShift = null;
        this.linears = new ArrayList<>();
        try {
            for (MiniLmWeights.Layer l : weights.layers()) {
                List<MiniLmWeights.Linear> ls = l.linears();
                EncoderLinear[] made = new EncoderLinear[ls.size()];
                linears.add(made);
                for (int i = 0; i < made.length; i++) {
                    made[i] = Objects.requireNonNull(linear.apply(ls.get(i)), "linear factory result");
                    if (made[i].in() != ls.get(i).in() || made[i].out() != ls.get(i).out()) {
                        throw new IllegalArgumentException("linear factory made " + made[i].out() + "x"
                                + made[i].in() + " for " + ls.get(i).name() + ", expected " + ls.get(i).out() + "x"
                                + ls.get(i).in());
                    }
                }
            }
        } catch (RuntimeException | Error e) {
            // Release what was already quantized so a failed build leaks no off-heap memory.
            close();
            throw e;
        }
    }

    /** Closes every linear layer (releasing quantized weight memory). Idempotent. */
    @Override
    public void close() {
        for (EncoderLinear[] ls : linears) {
            for (EncoderLinear l : ls) {
                if (l != null) {
                    l.close();
                }
            }
        }
    }

    /**
     * Bytes of the activation buffers one {@link #encode} call allocates for {@code tokens} packed tokens: the
     * hidden state, Q, K, V, attention output, a residual scratch and the FFN buffer, all FP32.
     */
    public long activationBytes(int tokens) {
        return 4L * tokens * (6L * w.hidden() + w.intermediate());
    }

    /** Bytes of all linear-layer weights in their storage formats. */
    public long linearWeightBytes() {
        long n = 0;
        for (EncoderLinear[] ls : linears) {
            for (EncoderLinear l : ls) {
                n += l.weightBytes();
            }
        }
        return n;
    }

    /**
     * Encodes a batch of token-id sequences, as produced by {@link WordPieceTokenizer} ({@code [CLS] … [SEP]}).
     *
     * @param batch    the sequences; each non-empty and at most {@code maxPositions} long
     * @param observer sees every linear layer's input, or null
     * @return hidden states and pooled embeddings; owned by the caller
     * @throws IllegalArgumentException if the batch is empty, a sequence is empty or too long, or an id is outside
     *                                  the vocabulary (the message gives the sequence and position)
     */
    public Output encode(List<int[]> batch, LinearObserver observer) {
        Objects.requireNonNull(batch, "batch");
        if (batch.isEmpty()) {
            throw new IllegalArgumentException("batch must hold at least one sequence, got 0");
        }
        int[] cu = new int[batch.size() + 1];
        for (int s = 0; s < batch.size(); s++) {
            int[] ids = Objects.requireNonNull(batch.get(s), "batch[" + s + "]");
            if (ids.length == 0 || ids.length > w.maxPositions()) {
                throw new IllegalArgumentException("batch[" + s + "] has " + ids.length + " tokens; must be 1.."
                        + w.maxPositions());
            }
            for (int p = 0; p < ids.length; p++) {
                if (ids[p] < 0 || ids[p] >= w.vocab()) {
                    throw new IllegalArgumentException("batch[" + s + "][" + p + "] = " + ids[p]
                            + " is outside the vocabulary 0.." + (w.vocab() - 1));
                }
            }
            cu[s + 1] = cu[s] + ids.length;
        }
        int t = cu[batch.size()];
        int h = w.hidden();
        float[] x = new float[t * h];
        embed(batch, cu, x);
        float[] q = new float[t * h];
        float[] k = new float[t * h];
        float[] v = new float[t * h];
        float[] a = new float[t * h];
        float[] tmp = new float[t * h];
        float[] ffn = new float[t * w.intermediate()];
        float scale = (float) (1.0 / Math.sqrt(w.headDim()));
        for (int l = 0; l < linears.size(); l++) {
            MiniLmWeights.Layer lw = w.layers().get(l);
            EncoderLinear[] ls = linears.get(l);
            run(lw.query(), ls[0], x, t, q, observer);
            run(lw.key(), ls[1], x, t, k, observer);
            run(lw.value(), ls[2], x, t, v, observer);
            attention.attend(q, k, v, a, cu, w.heads(), w.headDim(), scale);
            run(lw.attnOut(), ls[3], a, t, tmp, observer);
            addNorm(tmp, x, lw.attnLnGamma(), lw.attnLnBeta(), t);
            run(lw.ffnIn(), ls[4], x, t, ffn, observer);
            gelu(ffn);
            run(lw.ffnOut(), ls[5], ffn, t, tmp, observer);
            addNorm(tmp, x, lw.outLnGamma(), lw.outLnBeta(), t);
        }
        if (finalShift != null) {
            float[] shift = finalShift;
            EncoderOps ops = EncoderOps.INSTANCE;
            ParallelExecutor.parallelFor(0, t, 32, (r0, r1) -> ops.addBias(x, r0, r1, h, shift));
        }
        return new Output(x, cu, pool(x, cu, h));
    }

    private static void run(MiniLmWeights.Linear role, EncoderLinear lin, float[] x, int rows, float[] y,
                            LinearObserver observer) {
        if (observer != null) {
            observer.observe(role.name(), x, rows, lin.in());
        }
        lin.apply(x, rows, y);
    }

    private void embed(List<int[]> batch, int[] cu, float[] x) {
        int h = w.hidden();
        float[] word = w.wordEmbeddings();
        float[] pos = w.positionEmbeddings();
        float[] type = w.tokenTypeEmbeddings();
        int b = batch.size();
        ParallelExecutor.parallelFor(0, b, 1, (s0, s1) -> {
            for (int s = s0; s < s1; s++) {
                int[] ids = batch.get(s);
                for (int p = 0; p < ids.length; p++) {
                    int row = (cu[s] + p) * h;
                    int wo = ids[p] * h;
                    int po = p * h;
                    for (int c = 0; c < h; c++) {
                        // Same association order as the ONNX graph: (word + type) + position.
                        x[row + c] = (word[wo + c] + type[c]) + pos[po + c];
                    }
                    EncoderOps.INSTANCE.addLayerNorm(null, x, row, h, w.embLnGamma(), w.embLnBeta(),
                            w.layerNormEps());
                }
            }
        });
    }

    /** {@code x = LayerNorm(y + x)}, row by row, in parallel. */
    private void addNorm(float[] y, float[] x, float[] gamma, float[] beta, int rows) {
        int h = w.hidden();
        float eps = w.layerNormEps();
        EncoderOps ops = EncoderOps.INSTANCE;
        ParallelExecutor.parallelFor(0, rows, 16, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                ops.addLayerNorm(y, x, r * h, h, gamma, beta, eps);
            }
        });
    }

    /** LayerNorm of {@code x[off .. off+n)} in place ({@link EncoderOps#addLayerNorm} without a branch). */
    static void layerNorm(float[] x, int off, int n, float[] gamma, float[] beta, float eps) {
        EncoderOps.INSTANCE.addLayerNorm(null, x, off, n, gamma, beta, eps);
    }

    /** The erf GELU in float64, {@code 0.5 · x · (1 + erf(x / √2))}. */
    static double geluExact(double x) {
        return 0.5 * x * (1.0 + erf(x * 0.7071067811865476));
    }

    /** The erf GELU in place, in parallel ({@link EncoderOps#gelu}). */
    static void gelu(float[] x) {
        EncoderOps ops = EncoderOps.INSTANCE;
        ParallelExecutor.parallelFor(0, x.length, 1 << 13, (i0, i1) -> ops.gelu(x, i0, i1));
    }

    /**
     * The error function, Abramowitz and Stegun 7.1.26 (absolute error below 1.5e-7, under one FP32 ulp of GELU's
     * output scale), odd-extended to negative arguments.
     */
    static double erf(double x) {
        double ax = Math.abs(x);
        double t = 1.0 / (1.0 + 0.3275911 * ax);
        double y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t
                + 0.254829592) * t * Math.exp(-ax * ax);
        return x < 0 ? -y : y;
    }

    /** Mean over each sequence's tokens, then L2 normalization. */
    static float[] pool(float[] x, int[] cu, int h) {
        int b = cu.length - 1;
        float[] out = new float[b * h];
        double[] acc = new double[h];
        for (int s = 0; s < b; s++) {
            java.util.Arrays.fill(acc, 0);
            for (int r = cu[s]; r < cu[s + 1]; r++) {
                for (int c = 0; c < h; c++) {
                    acc[c] += x[r * h + c];
                }
            }
            int n = cu[s + 1] - cu[s];
            double norm = 0;
            for (int c = 0; c < h; c++) {
                acc[c] /= n;
                norm += acc[c] * acc[c];
            }
            double inv = 1.0 / Math.max(Math.sqrt(norm), 1e-12);
            for (int c = 0; c < h; c++) {
                out[s * h + c] = (float) (acc[c] * inv);
            }
        }
        return out;
    }
}
