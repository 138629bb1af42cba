package io.vramkit.quant;

import io.vramkit.core.cpu.ParallelExecutor;
import io.vramkit.quant.internal.Layouts;
import io.vramkit.quant.internal.QuantKernels;
import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * Matrix products with quantized (or dense) weights on the CPU: {@code y[batch, rows] = x[batch, cols] · Wᵀ} where
 * {@code W} is {@code [rows, cols] = [outFeatures, inFeatures]}, with FP32 accumulation.
 *
 * <ul>
 *   <li>{@link #matmul} with FP32 activations and {@link #matmulBf16} with BF16 activations work for every
 *       {@link QuantFormat}, the dense FP32/FP16/BF16 ones included, so formats compare with one call. Batches of
 *       1 to {@value #GEMV_MAX_BATCH} take the fused dequantize-GEMV kernel (weights are read once and decoded in
 *       registers); larger batches take the GEMM path, which dequantizes a tile of rows once and reuses it for
 *       every activation row.</li>
 *   <li>{@link #w8a8} quantizes each activation row to INT8 on the fly (symmetric, per token) and multiplies in
 *       integer arithmetic with INT8 weights; the choice for large batches.</li>
 *   <li>{@link #dense} multiplies with plain FP32 weights held in a {@code float[]}.</li>
 * </ul>
 * All work runs on {@link ParallelExecutor}, split over output rows. Stateless and thread-safe; concurrent calls
 * must not share an output array.
 */
public final class QuantizedMatmul {

    /** Largest batch that takes the GEMV path. */
    public static final int GEMV_MAX_BATCH = 16;

    private static final int GEMM_TILE_ROWS = 16;

    private QuantizedMatmul() {
    }

    /**
     * {@code y[b, r] = Σ_c x[b, c] · W[r, c]} with FP32 activations.
     *
     * @param x     activations {@code [batch, cols]} row-major (at least {@code batch × cols} elements)
     * @param batch number of activation rows, &ge; 1
     * @param w     weights {@code [rows, cols]}, open
     * @param y     output {@code [batch, rows]} row-major (at least {@code batch × rows} elements), overwritten
     * @throws IllegalArgumentException naming the argument and sizes if a shape does not match or {@code batch < 1}
     * @throws IllegalStateException    if {@code w} is closed
     */
    public static void matmul(float[] x, int batch, QuantizedTensor w, float[] y) {
        matmulWith(QuantKernels.INSTANCE, x, batch, w, y);
    }

    static void matmulWith(QuantKernels k, float[] x, int batch, QuantizedTensor w, float[] y) {
        check(x, batch, w, y);
        int rows = w.rows();
        int cols = w.cols();
        if (batch <= GEMV_MAX_BATCH) {
            int grain = Math.max(1, 16384 / cols);
            ParallelExecutor.parallelFor(0, rows, grain, (r0, r1) -> k.gemv(w, x, batch, y, r0, r1));
            return;
        }
        int tiles = (rows + GEMM_TILE_ROWS - 1) / GEMM_TILE_ROWS;
        ParallelExecutor.parallelFor(0, tiles, 1, (t0, t1) -> {
            float[] tile = new float[GEMM_TILE_ROWS * cols];
            for (int t = t0; t < t1; t++) {
                int r0 = t * GEMM_TILE_ROWS;
                int r1 = Math.min(rows, r0 + GEMM_TILE_ROWS);
                k.dequantizeRows(w, r0, r1, tile, 0);
                for (int b = 0; b < batch; b++) {
                    for (int r = r0; r < r1; r++) {
                        y[b * rows + r] = k.dot(tile, (r - r0) * cols, x, b * cols, cols);
                    }
                }
            }
        });
    }

    /**
     * As {@link #matmul}, with BF16 activations given as raw bfloat16 bits (converted exactly to FP32 first).
     *
     * @param x     activations {@code [batch, cols]} as bfloat16 bit patterns
     * @param batch number of activation rows, &ge; 1
     * @param w     weights {@code [rows, cols]}
     * @param y     output {@code [batch, rows]}, overwritten
     * @throws IllegalArgumentException naming the argument and sizes if a shape does not match
     */
    public static void matmulBf16(short[] x, int batch, QuantizedTensor w, float[] y) {
        Objects.requireNonNull(x, "x");
        Objects.requireNonNull(w, "w");
        checkBatch(batch);
        long need = (long) batch * w.cols();
        if (x.length < need) {
            throw new IllegalArgumentException("x.length = " + x.length + " < batch × cols = " + batch + " × "
                    + w.cols() + " = " + need + " (tensor '" + w.name() + "')");
        }
        float[] xf = new float[(int) need];
        for (int i = 0; i < xf.length; i++) {
            xf[i] = Layouts.fromBf16(x[i]);
        }
        matmul(xf, batch, w, y);
    }

    /**
     * Dense FP32 matmul {@code y[b, r] = Σ_c x[b, c] · w[r, c]} with on-heap weights, the baseline the quantized
     * paths are compared with.
     *
     * @param x     activations {@code [batch, cols]}
     * @param batch number of activation rows, &ge; 1
     * @param w     weights {@code [rows, cols]} row-major
     * @param rows  output features
     * @param cols  input features
     * @param y     output {@code [batch, rows]}, overwritten
     * @throws IllegalArgumentException naming the argument and sizes if a shape does not match
     */
    public static void dense(float[] x, int batch, float[] w, int rows, int cols, float[] y) {
        Objects.requireNonNull(x, "x");
        Objects.requireNonNull(w, "w");
        Objects.requireNonNull(y, "y");
        checkBatch(batch);
        if (rows < 1 || cols < 1 || (long) rows * cols != w.length) {
            throw new IllegalArgumentException("w.length = " + w.length + " does not match rows × cols = " + rows
                    + " × " + cols);
        }
        checkSizes(x.length, y.length, batch, rows, cols, "dense");
        QuantKernels k = QuantKernels.INSTANCE;
        ParallelExecutor.parallelFor(0, rows, Math.max(1, 16384 / cols), (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                for (int b = 0; b < batch; b++) {
                    y[b * rows + r] = k.dot(w, r * cols, x, b * cols, cols);
                }
            }
        });
    }

    /**
     * W8A8: each activation row is quantized to INT8 with its own scale {@code absmax/127} (dynamic per-token,
     * symmetric, round to nearest even), multiplied with the INT8 weight codes in exact integer arithmetic per
     * group, and rescaled in FP32.
     *
     * @param x     activations {@code [batch, cols]}, finite
     * @param batch number of activation rows, &ge; 1
     * @param w     INT8 weights (per-channel or grouped)
     * @param y     output {@code [batch, rows]}, overwritten
     * @throws IllegalArgumentException naming the format if {@code w} is not INT8, naming the index if an activation
     *                                  is not finite, and naming sizes if a shape does not match
     */
    public static void w8a8(float[] x, int batch, QuantizedTensor w, float[] y) {
        w8a8With(QuantKernels.INSTANCE, x, batch, w, y);
    }

    static void w8a8With(QuantKernels k, float[] x, int batch, QuantizedTensor w, float[] y) {
        check(x, batch, w, y);
        if (w.format().scheme() != QuantFormat.Scheme.INT8) {
            throw new IllegalArgumentException("w8a8 needs INT8 weights, but tensor '" + w.name() + "' is "
                    + w.format());
        }
        int cols = w.cols();
        byte[] xq = new byte[batch * cols];
        float[] xs = new float[batch];
        quantizeActivations(x, batch, cols, xq, xs);
        int rows = w.rows();
        int gpr = w.groupsPerRow();
        int g = cols / gpr;
        MemorySegment codes = w.codes();
        ParallelExecutor.parallelFor(0, rows, Math.max(1, 16384 / cols), (r0, r1) -> {
            float[] sw = new float[gpr];
            for (int r = r0; r < r1; r++) {
                for (int gi = 0; gi < gpr; gi++) {
                    sw[gi] = w.scale(r, gi);
                }
                for (int b = 0; b < batch; b++) {
                    float acc = 0f;
                    for (int gi = 0; gi < gpr; gi++) {
                        acc += sw[gi] * k.dotInt8(codes, (long) r * cols + gi * g, xq, b * cols + gi * g, g);
                    }
                    y[b * rows + r] = acc * xs[b];
                }
            }
        });
    }

    /**
     * Per-token symmetric INT8 quantization of activations: {@code xs[b] = absmax(x[b]) / 127},
     * {@code xq = clamp(rint(x / xs), -127, 127)}.
     */
    static void quantizeActivations(float[] x, int batch, int cols, byte[] xq, float[] xs) {
        for (int b = 0; b < batch; b++) {
            float m = 0f;
            for (int c = 0; c < cols; c++) {
                float v = x[b * cols + c];
                if (!Float.isFinite(v)) {
                    throw new IllegalArgumentException("activation x[" + (b * cols + c) + "] (row " + b + ", col "
                            + c + ") is " + v + "; W8A8 needs finite activations");
                }
                m = Math.max(m, Math.abs(v));
            }
            float s = m / 127f;
            float inv = s == 0f ? 0f : 1f / s;
            xs[b] = s;
            for (int c = 0; c < cols; c++) {
                float q = (float) Math.rint(x[b * cols + c] * inv);
                xq[b * cols + c] = (byte) (int) Math.min(127f, Math.max(-127f, q));
            }
        }
    }

    private static void check(float[] x, int batch, QuantizedTensor w, float[] y) {
        Objects.requireNonNull(x, "x");
        Objects.requireNonNull(w, "w");
        Objects.requireNonNull(y, "y");
        checkBatch(batch);
        w.checkOpen();
        checkSizes(x.length, y.length, batch, w.rows(), w.cols(), "tensor '" + w.name() + "'");
    }

    private static void checkBatch(int batch) {
        if (batch < 1) {
            throw new IllegalArgumentException("batch must be >= 1, got " + batch);
        }
    }

    private static void checkSizes(int xLen, int yLen, int batch, int rows, int cols, String what) {
        if ((long) batch * cols > xLen) {
            throw new IllegalArgumentException("x.length = " + xLen + " < batch × cols = " + batch + " × " + cols
                    + " = " + (long) batch * cols + " (" + what + " has cols = " + cols + ")");
        }
        if ((long) batch * rows > yLen) {
            throw new IllegalArgumentException("y.length = " + yLen + " < batch × rows = " + batch + " × " + rows
                    + " = " + (long) batch * rows + " (" + what + " has rows = " + rows + ")");
        }
    }
}
