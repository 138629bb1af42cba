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
 *       registers); larger batches take the GEMM path: the activations are packed once into K-major panels,
 *       each tile of weight rows is dequantized once into per-thread scratch, and a register-blocked micro-kernel
 *       (on AVX-512, 32 activation rows × 6 weight rows of accumulators held in vector registers) reuses every
 *       loaded activation vector for six weights and every weight for 32 activation rows.</li>
 *   <li>{@link #w8a8} quantizes each activation row to INT8 on the fly (symmetric, per token) and multiplies in
 *       integer arithmetic with INT8 weights; the choice for large batches.</li>
 *   <li>{@link #w4a8} quantizes each activation row to INT8 per weight group and multiplies with INT4 weights in
 *       16-bit integer lanes: the fast CPU decode path for INT4, as llama.cpp pairs Q4_0 weights with Q8_0
 *       activations, at the cost of the activations' rounding.</li>
 *   <li>{@link #dense} multiplies with plain FP32 weights held in a {@code float[]}.</li>
 * </ul>
 * All work runs on {@link ParallelExecutor}, split over output rows (and, in the GEMM path, over activation
 * panels when the weight has few tiles). Thread-safe; concurrent calls must not share an output array. The GEMM
 * path keeps per-thread scratch buffers (packed activations, one weight tile) between calls, up to 16 MiB each.
 */
public final class QuantizedMatmul {

    /** Largest batch that takes the GEMV path. */
    public static final int GEMV_MAX_BATCH = 16;

    /** Weight rows dequantized at once by the GEMM path: a multiple of the micro-kernel's six rows. */
    private static final int GEMM_TILE_ROWS = 48;

    /** Largest scratch buffer (floats) a thread keeps between calls: 16 MiB. */
    private static final int SCRATCH_KEEP_FLOATS = 4 << 20;

    private static final ThreadLocal<float[]> PACKED = new ThreadLocal<>();
    private static final ThreadLocal<float[]> TILE = new ThreadLocal<>();

    private QuantizedMatmul() {
    }

    /**
     * {@code y[b, r] = Σ_c x[b, c] · W[r, c]} with FP32 activations.
     *
     * @param x     activations {@code [batch, cols]} row-major (at least {@code batch × cols} elements)
     * @param batch number of activation rows, &ge; 1
     * @param w     weights {@code [rows, cols]}, open
     * @param y     output {@code [batch, rows]} row-major (at least {@code batch × rows} elements), overwritten
     * @throws IllegalArgumentException naming the argument and sizes if a shape does not match or {@code batch < 1},
     *                                  or if {@code batch} rounded up to the GEMM panel height times {@code cols}
     *                                  exceeds the largest Java array
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
        gemm(k, x, batch, w, y);
    }

    /**
     * The large-batch path: packs {@code x} into K-major panels once (shared by every tile), then splits the work
     * into (weight tile, panel range) units; each unit dequantizes its {@value #GEMM_TILE_ROWS}-row tile into a
     * per-thread scratch buffer and runs the register-blocked micro-kernel over its panels.
     */
    private static void gemm(QuantKernels k, float[] x, int batch, QuantizedTensor w, float[] y) {
        int rows = w.rows();
        int cols = w.cols();
        int pr = k.gemmPanelRows();
        int panels = (batch + pr - 1) / pr;
        long packed = (long) panels * pr * cols;
        if (packed > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("batch = " + batch + " × cols = " + cols + " (tensor '" + w.name()
                    + "') is too large for one call: the packed activations would need " + packed
                    + " floats; split the batch");
        }
        float[] xp = scratch(PACKED, (int) packed);
        ParallelExecutor.parallelFor(0, panels, Math.max(1, 65536 / (pr * cols)),
                (p0, p1) -> pack(x, batch, cols, pr, xp, p0, p1));
        int tiles = (rows + GEMM_TILE_ROWS - 1) / GEMM_TILE_ROWS;
        // enough units for every thread to stay busy when the weight has few tiles; each extra panel group costs
        // one more dequantization of its tile
        int groups = Math.max(1, Math.min(panels, (4 * ParallelExecutor.THREADS + tiles - 1) / tiles));
        int perGroup = (panels + groups - 1) / groups;
        ParallelExecutor.parallelFor(0, tiles * groups, 1, (u0, u1) -> {
            float[] tile = scratch(TILE, GEMM_TILE_ROWS * cols);
            int loaded = -1;
            for (int u = u0; u < u1; u++) {
                int t = u / groups;
                int p0 = (u % groups) * perGroup;
                int p1 = Math.min(panels, p0 + perGroup);
                if (p0 >= p1) {
                    continue;
                }
                int r0 = t * GEMM_TILE_ROWS;
                int r1 = Math.min(rows, r0 + GEMM_TILE_ROWS);
                if (t != loaded) {
                    k.dequantizeRows(w, r0, r1, tile, 0);
                    loaded = t;
                }
                k.gemmTile(xp, batch, cols, tile, r1 - r0, y, rows, r0, p0, p1);
            }
        });
    }

    /**
     * {@code xp[(p × cols + c) × pr + i] = x[(p × pr + i) × cols + c]} for panels {@code [p0, p1)}, rows past
     * {@code batch} zero.
     */
    private static void pack(float[] x, int batch, int cols, int pr, float[] xp, int p0, int p1) {
        for (int p = p0; p < p1; p++) {
            int b0 = p * pr;
            int nb = Math.min(pr, batch - b0);
            int o = p * cols * pr;
            for (int i = 0; i < nb; i++) {
                int xi = (b0 + i) * cols;
                for (int c = 0; c < cols; c++) {
                    xp[o + c * pr + i] = x[xi + c];
                }
            }
            for (int i = nb; i < pr; i++) {
                for (int c = 0; c < cols; c++) {
                    xp[o + c * pr + i] = 0f;
                }
            }
        }
    }

    /**
     * A per-thread float buffer of at least {@code n} elements, kept between calls up to
     * {@value #SCRATCH_KEEP_FLOATS} floats (larger requests get a fresh array each time, so a rare huge batch does
     * not pin its memory).
     */
    private static float[] scratch(ThreadLocal<float[]> cache, int n) {
        float[] a = cache.get();
        if (a != null && a.length >= n) {
            return a;
        }
        a = new float[n];
        if (n <= SCRATCH_KEEP_FLOATS) {
            cache.set(a);
        }
        return a;
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
        k.quantizeActivationGroups(x, batch, cols, cols, xq, xs);
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
     * W4A8 for INT4 symmetric weights: each activation row is quantized to INT8 per weight group, with the scale
     * {@code absmax/127} of those {@code groupSize} activations (symmetric, round half to even), multiplied with the
     * INT4 codes in exact integer arithmetic per group, and rescaled in FP32 by the product of the weight and
     * activation scales: {@code y[b, r] = Σ_g s_w[r, g] · s_x[b, g] · Σ_{c∈g} (u[r, c] − 8) · q_x[b, c]}.
     *
     * <p>Against {@link #matmul} on the same weights it adds the activations' rounding: at most
     * {@code Σ_g (s_x[b, g] / 2) · Σ_{c∈g} |W[r, c]|} per output, plus FP32 summation error. Per-group activation
     * scales keep an outlier activation's coarse step within its own group (on Gaussian weights and activations it
     * moved INT4 g128's output error from 9.17% to 9.20%). On CPUs with 512-bit vectors its loop is about 1.6×
     * faster than {@link #matmul}'s FP32-activation kernel from cache, and it reads INT4 weights from DRAM at
     * 60–90% of the streaming-read bandwidth where {@link #matmul} reaches 49–61% (docs/benchmarks.md, runs 8-9):
     * the 4-bit decode works on 32 16-bit lanes per instruction instead of 16 FP32 lanes, with no codebook lookup.
     * Any batch is accepted; each activation row is one pass over the weights.
     *
     * @param x     activations {@code [batch, cols]}, finite
     * @param batch number of activation rows, &ge; 1
     * @param w     INT4 symmetric weights (any group size), open
     * @param y     output {@code [batch, rows]}, overwritten
     * @throws IllegalArgumentException naming the format if {@code w} is not INT4 symmetric, naming the index if an
     *                                  activation is not finite (then {@code y} is untouched), and naming sizes if
     *                                  a shape does not match
     * @throws IllegalStateException    if {@code w} is closed
     */
    public static void w4a8(float[] x, int batch, QuantizedTensor w, float[] y) {
        w4a8With(QuantKernels.INSTANCE, x, batch, w, y);
    }

    static void w4a8With(QuantKernels k, float[] x, int batch, QuantizedTensor w, float[] y) {
        check(x, batch, w, y);
        if (w.format().scheme() != QuantFormat.Scheme.INT4_SYM) {
            throw new IllegalArgumentException("w4a8 needs INT4 symmetric weights, but tensor '" + w.name()
                    + "' is " + w.format());
        }
        int cols = w.cols();
        int gpr = w.groupsPerRow();
        byte[] xq = new byte[batch * cols];
        float[] xs = new float[batch * gpr];
        k.quantizeActivationGroups(x, batch, cols, cols / gpr, xq, xs);
        ParallelExecutor.parallelFor(0, w.rows(), Math.max(1, 16384 / cols),
                (r0, r1) -> k.gemvW4a8(w, xq, xs, batch, y, r0, r1));
    }

    /**
     * Per-token symmetric INT8 quantization of activations: {@code xs[b] = absmax(x[b]) / 127},
     * {@code xq = clamp(rint(x / xs), -127, 127)}, which is the per-group quantization of W4A8 with one group per
     * row.
     */
    static void quantizeActivations(float[] x, int batch, int cols, byte[] xq, float[] xs) {
        QuantKernels.INSTANCE.quantizeActivationGroups(x, batch, cols, cols, xq, xs);
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
