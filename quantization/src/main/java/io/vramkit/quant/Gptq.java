package io.vramkit.quant;

import io.vramkit.core.cpu.ParallelExecutor;
import io.vramkit.quant.internal.Layouts;
import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * GPTQ (Frantar et al. 2022, "GPTQ: Accurate Post-Training Quantization for Generative Pre-trained Transformers"):
 * a calibration-aware quantizer that picks the codes and scales of the <em>same</em> packed formats as
 * {@link Quantizer} (the layouts of {@code docs/formats.md} do not change, only which codes and scales are stored), so
 * that the layer's output {@code X·Ŵᵀ} on calibration activations {@code X} stays close to {@code X·Wᵀ}, rather than
 * {@code Ŵ} close to {@code W}.
 *
 * <p>Algorithm: {@code H = (2/n)·XᵀX} in double precision from the layer's input activations ({@code n} rows of
 * {@code cols}); input channels that are never active get {@code H[i][i] = 1}; dampening {@code λ = 0.01·mean(diag H)}
 * is added to the diagonal (multiplied by 10 and retried, at most 4 times, if the Cholesky factorization still
 * fails); {@code U} = the upper Cholesky factor of {@code H⁻¹} ({@code H⁻¹ = UᵀU}). Then the columns are visited in
 * order, in blocks of {@link #BLOCK} columns (rounded up to a multiple of the group size): when a group starts its
 * scale (and zero-point, or NF4 absmax) is chosen for each row from the <em>current, already error-updated</em>
 * weights of that group, with the same candidate search as {@link Quantizer}; each column is quantized with its
 * group's scale and its error {@code (w − ŵ)/U[i][i]} is propagated to the block's remaining columns with the row
 * {@code U[i, i+1:]}; after a block the accumulated errors update all later columns at once (lazy batch update).
 * Optionally ({@link #calibrate(String, float[], int, int, boolean)}) columns are visited in act-order, by
 * decreasing Hessian diagonal, with every group's scale fixed up front from the original weights ("static groups"),
 * so the group layout stays the plain one of the format either way. Optionally
 * ({@link #quantize(String, float[], int, int, QuantFormat, Calibration, int)}) the scales and zero points are then
 * refitted to the same Hessian-weighted error with the codes held fixed (closed-form least squares per row).
 *
 * <p>Supported formats: {@code INT4_G{G}}, {@code INT4_ASYM_G{G}}, {@code NF4_B{B}} (without double quantization),
 * {@code INT8} and {@code INT8_G{G}}. Dense, FP8 and double-quantized NF4 formats are rejected.
 *
 * <p>Stateless and thread-safe; work is spread over rows on the shared {@link ParallelExecutor}. A
 * {@link Calibration} is immutable and may be shared by layers that read the same input (for example Q, K and V).
 */
public final class Gptq {

    /** Columns per lazy batch update (rounded up to a multiple of the group size). */
    public static final int BLOCK = 128;
    /** Relative dampening: {@code λ = DAMPING × mean(diag H)}. */
    public static final double DAMPING = 0.01;
    /** Most scale-refit rounds {@link #quantize(String, float[], int, int, QuantFormat, Calibration, int)} takes. */
    public static final int MAX_REFITS = 8;

    private static final int ROW_TILE = 16;
    /** Calibration rows per FP32 GEMM block of the Hessian; partial sums are accumulated in double. */
    private static final int GRAM_BLOCK_ROWS = 2048;
    private static final int MAX_DAMPING_RETRIES = 4;
    private static final int SEARCH_STEPS = 8;
    private static final float INT4_SHRINK = 0.025f;
    private static final float INT8_SHRINK = 0.01f;
    private static final int NF4_SEARCH_STEPS = 4;
    private static final float NF4_SHRINK = 0.03f;

    private Gptq() {
    }

    /**
     * The factorized second-order information of one layer input: the upper Cholesky factor of the inverse of the
     * damped Hessian {@code (2/n)·XᵀX + λI}, and the Hessian itself (for the scale refit of
     * {@link #quantize(String, float[], int, int, QuantFormat, Calibration, int)}). Immutable and thread-safe; holds
     * {@code 16·cols²} bytes on the heap.
     */
    public static final class Calibration {
        private final int cols;
        private final int samples;
        private final double damping;
        private final double[] u;
        private final int[] perm;
        /** {@code H} without the dampening, {@code [cols, cols]} in the original column order. */
        private final double[] hessian;

        private Calibration(int cols, int samples, double damping, double[] u, int[] perm, double[] hessian) {
            this.cols = cols;
            this.samples = samples;
            this.damping = damping;
            this.u = u;
            this.perm = perm;
            this.hessian = hessian;
        }

        /** Whether columns are quantized in act-order (decreasing Hessian diagonal) with static group scales. */
        public boolean actOrder() {
            return perm != null;
        }

        /** Input features (the Hessian is {@code cols × cols}). */
        public int cols() {
            return cols;
        }

        /** Calibration rows (tokens) the Hessian was built from. */
        public int samples() {
            return samples;
        }

        /** The dampening {@code λ} added to the Hessian's diagonal (absolute, after any retries). */
        public double damping() {
            return damping;
        }
    }

    /**
     * Builds the Hessian of a layer input and factorizes it.
     *
     * @param name        layer name for messages
     * @param calibration {@code calibRows × cols} finite input activations, row-major; not modified or retained
     * @param calibRows   calibration rows (tokens), &ge; 1
     * @param cols        input features, &ge; 1
     * @return the factorization
     * @throws IllegalArgumentException naming the argument and its value if {@code calibRows} or {@code cols} is below
     *                                  1, {@code calibration.length != calibRows × cols}, or an activation is NaN or
     *                                  infinite (naming its row and column); if the Hessian cannot be factorized
     *                                  even after dampening retries
     */
    public static Calibration calibrate(String name, float[] calibration, int calibRows, int cols) {
        return calibrate(name, calibration, calibRows, cols, false);
    }

    /**
     * Builds the Hessian of a layer input and factorizes it, optionally for act-order.
     *
     * <p>With {@code actOrder}, columns are quantized in order of decreasing Hessian diagonal (the input channels
     * with the most activation energy first, so that their error is compensated by the many columns still to
     * come), and every group's scale is chosen up front from the original weights ("static groups"): the stored
     * groups stay the format's contiguous ones, so the packed layout does not change.
     *
     * @param name        layer name for messages
     * @param calibration {@code calibRows × cols} finite input activations, row-major; not modified or retained
     * @param calibRows   calibration rows (tokens), &ge; 1
     * @param cols        input features, &ge; 1
     * @param actOrder    whether to quantize columns in act-order with static group scales
     * @return the factorization
     * @throws IllegalArgumentException as {@link #calibrate(String, float[], int, int)}
     */
    public static Calibration calibrate(String name, float[] calibration, int calibRows, int cols,
                                        boolean actOrder) {
        return calibrate(name, calibration, calibRows, cols, actOrder, DAMPING);
    }

    /**
     * Builds the Hessian of a layer input and factorizes it, optionally for act-order, with a chosen relative
     * dampening: {@code λ = damping × mean(diag H)}. Larger dampening (0.1 rather than the default
     * {@value #DAMPING}) trusts a Hessian estimated from few calibration tokens less, which helps when the tokens
     * barely outnumber the input features.
     *
     * @param name        layer name for messages
     * @param calibration {@code calibRows × cols} finite input activations, row-major; not modified or retained
     * @param calibRows   calibration rows (tokens), &ge; 1
     * @param cols        input features, &ge; 1
     * @param actOrder    whether to quantize columns in act-order with static group scales
     * @param damping     relative dampening, finite and in {@code (0, 1e3]}
     * @return the factorization
     * @throws IllegalArgumentException as {@link #calibrate(String, float[], int, int)}, and naming {@code damping}
     *                                  and its value if it is out of range
     */
    public static Calibration calibrate(String name, float[] calibration, int calibRows, int cols,
                                        boolean actOrder, double damping) {
        Objects.requireNonNull(name, "name");
        if (!(damping > 0 && damping <= 1e3)) {
            throw new IllegalArgumentException("layer '" + name + "': damping must be in (0, 1000], got " + damping);
        }
        Objects.requireNonNull(calibration, "calibration");
        if (calibRows < 1) {
            throw new IllegalArgumentException("layer '" + name + "': calibRows must be >= 1, got " + calibRows);
        }
        if (cols < 1) {
            throw new IllegalArgumentException("layer '" + name + "': cols must be >= 1, got " + cols);
        }
        if ((long) calibRows * cols != calibration.length) {
            throw new IllegalArgumentException("layer '" + name + "': calibration.length = " + calibration.length
                    + " but calibRows × cols = " + calibRows + " × " + cols + " = " + (long) calibRows * cols);
        }
        for (int i = 0; i < calibration.length; i++) {
            if (!Float.isFinite(calibration[i])) {
                throw new IllegalArgumentException("layer '" + name + "': calibration activation at row "
                        + i / cols + ", column " + i % cols + " is " + calibration[i]);
            }
        }
        int n = cols;
        double[] h = gram(name, calibration, calibRows, n);
        double meanDiag = 0;
        for (int i = 0; i < n; i++) {
            if (h[i * n + i] == 0) {
                // A channel that is never active: its weights do not affect the output on the calibration set.
                h[i * n + i] = 1;
            }
            meanDiag += h[i * n + i];
        }
        meanDiag /= n;
        int[] perm = null;
        double[] hp = h;
        if (actOrder) {
            Integer[] order = new Integer[n];
            for (int i = 0; i < n; i++) {
                order[i] = i;
            }
            double[] diag = new double[n];
            for (int i = 0; i < n; i++) {
                diag[i] = h[i * n + i];
            }
            java.util.Arrays.sort(order, (a, b) -> Double.compare(diag[b], diag[a]));
            perm = new int[n];
            hp = new double[n * n];
            for (int a = 0; a < n; a++) {
                perm[a] = order[a];
            }
            for (int a = 0; a < n; a++) {
                for (int b = 0; b < n; b++) {
                    hp[a * n + b] = h[perm[a] * n + perm[b]];
                }
            }
        }
        double lambda = damping * meanDiag;
        for (int attempt = 0; attempt <= MAX_DAMPING_RETRIES; attempt++) {
            double[] u = inverseUpperCholesky(hp, n, lambda);
            if (u != null) {
                return new Calibration(n, calibRows, lambda, u, perm, h);
            }
            lambda *= 10;
        }
        throw new IllegalArgumentException("layer '" + name + "': the Hessian of the calibration activations is not "
                + "positive definite even with dampening " + lambda / 10 + " (mean diagonal " + meanDiag + ")");
    }

    /**
     * {@code H = (2/n)·XᵀX} for {@code X = [rows, n]}, symmetric, in double precision. The product runs on the
     * register-blocked FP32 GEMM of {@link QuantizedMatmul} ({@code Xᵀ} as both operands), in blocks of at most
     * {@value #GRAM_BLOCK_ROWS} rows whose FP32 partial sums are accumulated in double: the FP32 rounding of a
     * block (relative ~1e-6) is far below the 1% dampening added later, and the GEMM is two orders of magnitude
     * faster than a scalar double loop on thousands of calibration tokens.
     */
    private static double[] gram(String name, float[] x, int rows, int n) {
        double[] h = new double[n * n];
        float[] xt = new float[(int) Math.min((long) GRAM_BLOCK_ROWS, rows) * n];
        float[] part = new float[n * n];
        for (int r0 = 0; r0 < rows; r0 += GRAM_BLOCK_ROWS) {
            int m = Math.min(GRAM_BLOCK_ROWS, rows - r0);
            int base = r0;
            // xt = block of Xᵀ, [n, m]
            ParallelExecutor.parallelFor(0, n, 64, (c0, c1) -> {
                for (int c = c0; c < c1; c++) {
                    int o = c * m;
                    for (int r = 0; r < m; r++) {
                        xt[o + r] = x[(base + r) * n + c];
                    }
                }
            });
            float[] block = m * n == xt.length ? xt : java.util.Arrays.copyOf(xt, m * n);
            try (QuantizedTensor t = Quantizer.quantize(name + ".gram", block, n, m, QuantFormat.FP32)) {
                QuantizedMatmul.matmul(block, n, t, part);
            }
            for (int i = 0; i < n * n; i++) {
                h[i] += part[i];
            }
        }
        double norm = 2.0 / rows;
        for (int i = 0; i < n; i++) {
            for (int j = i; j < n; j++) {
                // Symmetrize exactly: the GEMM's two triangles may differ in the last bit.
                double v = 0.5 * (h[i * n + j] + h[j * n + i]) * norm;
                h[i * n + j] = v;
                h[j * n + i] = v;
            }
        }
        return h;
    }

    /**
     * Upper Cholesky factor {@code U} of {@code (H + λI)⁻¹}, or null if the factorization breaks down. With
     * {@code J} the reversal permutation, the lower Cholesky factor {@code L} of {@code J(H + λI)J} gives
     * {@code U = J·L⁻¹·J}: one factorization and one triangular inverse, no full inverse.
     */
    private static double[] inverseUpperCholesky(double[] h, int n, double lambda) {
        double[] l = new double[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j <= i; j++) {
                l[i * n + j] = h[(n - 1 - i) * n + (n - 1 - j)] + (i == j ? lambda : 0);
            }
        }
        for (int j = 0; j < n; j++) {
            int jo = j * n;
            double s = l[jo + j];
            for (int k = 0; k < j; k++) {
                s -= l[jo + k] * l[jo + k];
            }
            if (!(s > 0) || !Double.isFinite(s)) {
                return null;
            }
            double d = Math.sqrt(s);
            l[jo + j] = d;
            int col = j;
            ParallelExecutor.parallelFor(j + 1, n, Math.max(16, 65536 / Math.max(1, j)), (i0, i1) -> {
                for (int i = i0; i < i1; i++) {
                    int io = i * n;
                    double t = l[io + col];
                    for (int k = 0; k < col; k++) {
                        t -= l[io + k] * l[jo + k];
                    }
                    l[io + col] = t / d;
                }
            });
        }
        // t[j][i] = (L⁻¹)[i][j]: each column of the inverse is independent, rows of L and t are read contiguously.
        double[] t = new double[n * n];
        ParallelExecutor.parallelFor(0, n, Math.max(1, 64), (j0, j1) -> {
            for (int j = j0; j < j1; j++) {
                int to = j * n;
                t[to + j] = 1.0 / l[j * n + j];
                for (int i = j + 1; i < n; i++) {
                    int io = i * n;
                    double s = 0;
                    for (int k = j; k < i; k++) {
                        s += l[io + k] * t[to + k];
                    }
                    t[to + i] = -s / l[io + i];
                }
            }
        });
        double[] u = new double[n * n];
        for (int a = 0; a < n; a++) {
            for (int b = a; b < n; b++) {
                u[a * n + b] = t[(n - 1 - b) * n + (n - 1 - a)];
            }
        }
        return u;
    }

    /**
     * Quantizes a layer with GPTQ, building its {@link Calibration} first.
     *
     * @param name        tensor name, used in messages and as the tensor's name
     * @param weights     {@code rows × cols} finite floats, row-major {@code [outFeatures, inFeatures]}; not modified
     * @param rows        output features
     * @param cols        input features; divisible by the format's group size
     * @param format      a supported format (see the class comment)
     * @param calibration {@code calibRows × cols} input activations of the layer, row-major; not modified
     * @param calibRows   calibration rows (tokens)
     * @return a new tensor in {@code format} that owns its off-heap memory; close it
     * @throws IllegalArgumentException as {@link #calibrate} and {@link #quantize(String, float[], int, int,
     *                                  QuantFormat, Calibration)}
     */
    public static QuantizedTensor quantize(String name, float[] weights, int rows, int cols, QuantFormat format,
                                           float[] calibration, int calibRows) {
        checkWeights(name, weights, rows, cols, format);
        return quantize(name, weights, rows, cols, format, calibrate(name, calibration, calibRows, cols));
    }

    /**
     * Quantizes a layer with GPTQ using a prepared {@link Calibration} of its input (no scale refit).
     *
     * @param name        tensor name, used in messages and as the tensor's name
     * @param weights     {@code rows × cols} finite floats, row-major {@code [outFeatures, inFeatures]}; not modified
     * @param rows        output features
     * @param cols        input features; divisible by the format's group size
     * @param format      a supported format (see the class comment)
     * @param calibration the factorized Hessian of this layer's input, {@code calibration.cols() == cols}
     * @return a new tensor in {@code format} that owns its off-heap memory; close it
     * @throws IllegalArgumentException naming the argument and its value if the format is not supported, the shape
     *                                  does not fit the format, {@code weights.length != rows × cols}, a weight is
     *                                  NaN or infinite (naming its index), {@code calibration.cols() != cols}, or a
     *                                  scale overflows FP16 (naming row and group). No memory stays allocated after
     *                                  a failure.
     */
    public static QuantizedTensor quantize(String name, float[] weights, int rows, int cols, QuantFormat format,
                                           Calibration calibration) {
        return quantize(name, weights, rows, cols, format, calibration, 0);
    }

    /**
     * Quantizes a layer with GPTQ using a prepared {@link Calibration} of its input, then refits the scales (and
     * zero points) of every row to the layer's output error, {@code refits} times.
     *
     * <p>One refit round: with the codes {@code q} that the column sweep chose held fixed, a row's dequantized weights
     * {@code ŵ_i = a_g·(c_i − z_g)} (with {@code c_i} the code's unit value and {@code g} the group of column
     * {@code i}) are linear in the group scales {@code a}, and for the asymmetric format in the offsets
     * {@code b_g = −a_g·z_g}. The error GPTQ minimizes, {@code (w − ŵ)ᵀ·(H + λI)·(w − ŵ)}, is then a quadratic in
     * those {@code 2·groups} unknowns (groups of one row are coupled through {@code H}), and its least-squares
     * solution is closed-form. The zero points are rounded to their integer codes {@code 0..15} and the scales
     * solved again with the zero points fixed, then rounded to the stored precision (FP16 for grouped formats).
     * The refit replaces a row's scales only if its error, computed with the rounded values, is lower. Rounds
     * after the first run the column sweep again with the refitted scales held fixed (so the codes follow the new
     * scales) before refitting; each row keeps the round with the lowest error. The normal equations come from
     * FP32 GEMMs ({@code 2·rows·cols²} flops per round), accumulated and solved in double.
     *
     * @param name        tensor name, used in messages and as the tensor's name
     * @param weights     {@code rows × cols} finite floats, row-major {@code [outFeatures, inFeatures]}; not modified
     * @param rows        output features
     * @param cols        input features; divisible by the format's group size
     * @param format      a supported format (see the class comment)
     * @param calibration the factorized Hessian of this layer's input, {@code calibration.cols() == cols}
     * @param refits      scale-refit rounds, {@code 0..}{@value #MAX_REFITS}; 0 is plain GPTQ
     * @return a new tensor in {@code format} that owns its off-heap memory; close it
     * @throws IllegalArgumentException as {@link #quantize(String, float[], int, int, QuantFormat, Calibration)},
     *                                  and naming {@code refits} and its value if it is out of range
     */
    public static QuantizedTensor quantize(String name, float[] weights, int rows, int cols, QuantFormat format,
                                           Calibration calibration, int refits) {
        Objects.requireNonNull(calibration, "calibration");
        if (refits < 0 || refits > MAX_REFITS) {
            throw new IllegalArgumentException("tensor '" + name + "': refits must be in [0, " + MAX_REFITS
                    + "], got " + refits);
        }
        checkWeights(name, weights, rows, cols, format);
        if (calibration.cols() != cols) {
            throw new IllegalArgumentException("tensor '" + name + "': calibration.cols() = " + calibration.cols()
                    + " but the weights have cols = " + cols);
        }
        int g = groupSize(format, cols);
        int gpr = cols / g;
        QuantizedTensor t = QuantizedTensor.allocate(name, format, rows, cols);
        Refit refit = null;
        try {
            byte[] q = new byte[rows * cols];
            float[] sc = new float[rows * gpr];
            int[] zr = new int[rows * gpr];
            sweepAll(name, weights, rows, cols, format, calibration, false, q, sc, zr);
            if (refits > 0) {
                refit = new Refit(name, format, calibration, g);
                double[] best = refit.run(weights, rows, q, sc, zr);
                byte[] q2 = new byte[rows * cols];
                float[] sc2 = new float[rows * gpr];
                int[] zr2 = new int[rows * gpr];
                for (int round = 1; round < refits; round++) {
                    System.arraycopy(sc, 0, sc2, 0, sc.length);
                    System.arraycopy(zr, 0, zr2, 0, zr.length);
                    sweepAll(name, weights, rows, cols, format, calibration, true, q2, sc2, zr2);
                    double[] e = refit.run(weights, rows, q2, sc2, zr2);
                    for (int r = 0; r < rows; r++) {
                        if (e[r] < best[r]) {
                            best[r] = e[r];
                            System.arraycopy(q2, r * cols, q, r * cols, cols);
                            System.arraycopy(sc2, r * gpr, sc, r * gpr, gpr);
                            System.arraycopy(zr2, r * gpr, zr, r * gpr, gpr);
                        }
                    }
                }
            }
            store(format, rows, cols, gpr, q, sc, zr, t.codesForWrite(), t.scalesForWrite(), t.zerosForWrite());
            return t;
        } catch (RuntimeException | Error e) {
            t.close();
            throw e;
        } finally {
            if (refit != null) {
                refit.close();
            }
        }
    }

    /** The column sweep of every row, in tiles of {@link #ROW_TILE} rows on the shared executor. */
    private static void sweepAll(String name, float[] weights, int rows, int cols, QuantFormat f, Calibration cal,
                                 boolean fixed, byte[] q, float[] sc, int[] zr) {
        int tiles = (rows + ROW_TILE - 1) / ROW_TILE;
        ParallelExecutor.parallelFor(0, tiles, 1, (a, b) -> {
            for (int tile = a; tile < b; tile++) {
                int r0 = tile * ROW_TILE;
                sweep(name, weights, r0, Math.min(rows, r0 + ROW_TILE), cols, f, cal.u, cal.perm, fixed, q, sc, zr);
            }
        });
    }

    /** Writes the codes, scales and zero points into the tensor's memory. */
    private static void store(QuantFormat f, int rows, int cols, int gpr, byte[] q, float[] sc, int[] zr,
                              MemorySegment codes, MemorySegment scales, MemorySegment zeros) {
        for (int r = 0; r < rows; r++) {
            for (int gi = 0; gi < gpr; gi++) {
                storeScale(f, scales, zeros, (long) r * gpr + gi, r, sc[r * gpr + gi], zr[r * gpr + gi]);
            }
            long row = (long) r * cols;
            int qo = r * cols;
            if (f.isFourBit()) {
                for (int c = 0; c < cols; c += 2) {
                    codes.set(Layouts.I8, (row + c) / 2, (byte) ((q[qo + c] & 0xF) | ((q[qo + c + 1] & 0xF) << 4)));
                }
            } else {
                for (int c = 0; c < cols; c++) {
                    codes.set(Layouts.I8, row + c, q[qo + c]);
                }
            }
        }
    }

    private static int groupSize(QuantFormat f, int cols) {
        return f.groupSize() == QuantFormat.PER_CHANNEL ? cols : f.groupSize();
    }

    private static void checkWeights(String name, float[] weights, int rows, int cols, QuantFormat format) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(weights, "weights");
        Objects.requireNonNull(format, "format");
        boolean supported = switch (format.scheme()) {
            case INT4_SYM, INT4_ASYM, INT8 -> true;
            case NF4 -> !format.doubleQuant();
            default -> false;
        };
        if (!supported) {
            throw new IllegalArgumentException("tensor '" + name + "': format " + format.name()
                    + " is not supported by GPTQ (use INT4_G<n>, INT4_ASYM_G<n>, NF4_B<n>, INT8 or INT8_G<n>)");
        }
        format.checkShape(name, rows, cols);
        if ((long) rows * cols != weights.length) {
            throw new IllegalArgumentException("tensor '" + name + "': weights.length = " + weights.length
                    + " but rows × cols = " + rows + " × " + cols + " = " + (long) rows * cols);
        }
        for (int i = 0; i < weights.length; i++) {
            if (!Float.isFinite(weights[i])) {
                throw new IllegalArgumentException("tensor '" + name + "': weight at index " + i + " (row "
                        + i / cols + ", column " + i % cols + ") is " + weights[i]);
            }
        }
    }

    /**
     * GPTQ's column sweep over rows {@code [r0, r1)}: their codes in {@code q} ({@code [rows, cols]}, original
     * column order) and group scales and zero points in {@code sc}, {@code zr} ({@code [rows, groups]}). With {@code fixed} the scales and
     * zero points passed in are used as they are; otherwise they are chosen (statically from the original weights
     * in act-order, else from the error-updated weights when a group starts). With a permutation (act-order),
     * {@code w} and {@code U} are in permuted column order.
     */
    private static void sweep(String name, float[] weights, int r0, int r1, int cols, QuantFormat f, double[] u,
                              int[] perm, boolean fixed, byte[] q, float[] sc, int[] zr) {
        int nr = r1 - r0;
        int g = groupSize(f, cols);
        int gpr = cols / g;
        int block = f.groupSize() == QuantFormat.PER_CHANNEL ? BLOCK : (BLOCK + g - 1) / g * g;
        double[] w = new double[nr * cols];
        for (int r = 0; r < nr; r++) {
            for (int i = 0; i < cols; i++) {
                w[r * cols + i] = weights[(r0 + r) * cols + (perm == null ? i : perm[i])];
            }
        }
        double[] err = new double[nr * block];
        float[] scale = new float[nr];
        int[] zero = new int[nr];
        float[] group = new float[g];
        if (perm != null && !fixed) {
            float[] s1 = new float[1];
            int[] z1 = new int[1];
            for (int r = 0; r < nr; r++) {
                for (int gi = 0; gi < gpr; gi++) {
                    System.arraycopy(weights, (r0 + r) * cols + gi * g, group, 0, g);
                    chooseScale(name, f, group, r0 + r, gi, 0, s1, z1);
                    sc[(r0 + r) * gpr + gi] = s1[0];
                    zr[(r0 + r) * gpr + gi] = z1[0];
                }
            }
        }
        for (int b0 = 0; b0 < cols; b0 += block) {
            int b1 = Math.min(cols, b0 + block);
            for (int i = b0; i < b1; i++) {
                if (perm != null || fixed) {
                    int gi = (perm == null ? i : perm[i]) / g;
                    for (int r = 0; r < nr; r++) {
                        scale[r] = sc[(r0 + r) * gpr + gi];
                        zero[r] = zr[(r0 + r) * gpr + gi];
                    }
                } else if (i % g == 0) {
                    for (int r = 0; r < nr; r++) {
                        for (int c = 0; c < g; c++) {
                            group[c] = (float) w[r * cols + i + c];
                        }
                        chooseScale(name, f, group, r0 + r, i / g, r, scale, zero);
                        sc[(r0 + r) * gpr + i / g] = scale[r];
                        zr[(r0 + r) * gpr + i / g] = zero[r];
                    }
                }
                int ui = i * cols;
                double dinv = 1.0 / u[ui + i];
                for (int r = 0; r < nr; r++) {
                    int wo = r * cols;
                    double wv = w[wo + i];
                    int code = encode(f, (float) wv, scale[r], zero[r]);
                    q[(r0 + r) * cols + (perm == null ? i : perm[i])] = (byte) code;
                    double e = (wv - decode(f, code, scale[r], zero[r])) * dinv;
                    err[r * block + (i - b0)] = e;
                    for (int j = i + 1; j < b1; j++) {
                        w[wo + j] -= e * u[ui + j];
                    }
                }
            }
            if (b1 < cols) {
                for (int r = 0; r < nr; r++) {
                    int wo = r * cols;
                    for (int k = b0; k < b1; k++) {
                        double e = err[r * block + (k - b0)];
                        if (e == 0) {
                            continue;
                        }
                        int uk = k * cols;
                        for (int j = b1; j < cols; j++) {
                            w[wo + j] -= e * u[uk + j];
                        }
                    }
                }
            }
        }
    }

    /**
     * The scale refit of one tensor (see {@link #quantize(String, float[], int, int, QuantFormat, Calibration,
     * int)}): the damped Hessian {@code H + λI} as FP32 tensors, whole and split by column group, so that the normal
     * equations of all rows come from the quantization module's FP32 GEMM. Owns those tensors: close it.
     */
    private static final class Refit implements AutoCloseable {
        private final QuantFormat f;
        private final int cols;
        private final int g;
        private final int gpr;
        private final boolean asym;
        /** {@code H + λI}, {@code [cols, cols]}. */
        private final QuantizedTensor full;
        /** Column group {@code h} of {@code H + λI}, {@code [cols, g]}. */
        private final QuantizedTensor[] byGroup;
        /** {@code Σ_{i∈g, j∈h} (H + λI)_{ij}}, {@code [groups, groups]}: the same for every row. */
        private final double[] mbb;

        Refit(String name, QuantFormat f, Calibration cal, int g) {
            this.f = f;
            this.cols = cal.cols;
            this.g = g;
            this.gpr = cols / g;
            this.asym = f.scheme() == QuantFormat.Scheme.INT4_ASYM;
            int n = cols;
            double[] h = cal.hessian;
            float[] hd = new float[n * n];
            mbb = new double[gpr * gpr];
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < n; j++) {
                    double v = h[i * n + j] + (i == j ? cal.damping : 0);
                    hd[i * n + j] = (float) v;
                    mbb[(i / g) * gpr + j / g] += v;
                }
            }
            byGroup = new QuantizedTensor[gpr];
            QuantizedTensor whole = null;
            try {
                whole = Quantizer.quantize(name + ".hessian", hd, n, n, QuantFormat.FP32);
                float[] part = new float[n * g];
                for (int hg = 0; hg < gpr; hg++) {
                    for (int i = 0; i < n; i++) {
                        System.arraycopy(hd, i * n + hg * g, part, i * g, g);
                    }
                    byGroup[hg] = Quantizer.quantize(name + ".hessian." + hg, part, n, g, QuantFormat.FP32);
                }
            } catch (RuntimeException | Error e) {
                if (whole != null) {
                    whole.close();
                }
                for (QuantizedTensor t : byGroup) {
                    if (t != null) {
                        t.close();
                    }
                }
                throw e;
            }
            full = whole;
        }

        /**
         * One refit round: replaces a row's scales and zero points in {@code sc}/{@code zr} where the refit lowers
         * its error, and returns each row's error {@code (w − ŵ)ᵀ(H + λI)(w − ŵ)} after the round, up to the
         * constant {@code wᵀ(H + λI)w}.
         */
        double[] run(float[] weights, int rows, byte[] q, float[] sc, int[] zr) {
            float[] c = new float[rows * cols];
            for (int i = 0; i < c.length; i++) {
                c[i] = decode(f, q[i], 1f, 0);
            }
            // maa[r][g][h] = A_gᵀ(H + λI)A_h, mba[r][g][h] = B_gᵀ(H + λI)A_h, ra[r][g] = A_gᵀ(H + λI)w,
            // rb[r][g] = B_gᵀ(H + λI)w, with A_g row r's unit code values in group g (zero elsewhere), B_g the
            // group's indicator.
            double[] maa = new double[rows * gpr * gpr];
            double[] mba = asym ? new double[rows * gpr * gpr] : null;
            double[] ra = new double[rows * gpr];
            double[] rb = asym ? new double[rows * gpr] : null;
            float[] y = new float[rows * cols];
            QuantizedMatmul.matmul(weights, rows, full, y);
            ParallelExecutor.parallelFor(0, rows, 16, (a, b) -> {
                for (int r = a; r < b; r++) {
                    for (int i = 0; i < cols; i++) {
                        double v = y[r * cols + i];
                        ra[r * gpr + i / g] += c[r * cols + i] * v;
                        if (asym) {
                            rb[r * gpr + i / g] += v;
                        }
                    }
                }
            });
            float[] ch = new float[rows * g];
            for (int hg = 0; hg < gpr; hg++) {
                for (int r = 0; r < rows; r++) {
                    System.arraycopy(c, r * cols + hg * g, ch, r * g, g);
                }
                QuantizedMatmul.matmul(ch, rows, byGroup[hg], y);
                int col = hg;
                ParallelExecutor.parallelFor(0, rows, 16, (a, b) -> {
                    for (int r = a; r < b; r++) {
                        for (int i = 0; i < cols; i++) {
                            double v = y[r * cols + i];
                            int m = (r * gpr + i / g) * gpr + col;
                            maa[m] += c[r * cols + i] * v;
                            if (asym) {
                                mba[m] += v;
                            }
                        }
                    }
                });
            }
            double[] out = new double[rows];
            ParallelExecutor.parallelFor(0, rows, 8, (a, b) -> {
                for (int r = a; r < b; r++) {
                    out[r] = solveRow(r, maa, mba, ra, rb, sc, zr);
                }
            });
            return out;
        }

        /** Refits row {@code r}; returns its error after the refit (or before, if the refit did not lower it). */
        private double solveRow(int r, double[] maa, double[] mba, double[] ra, double[] rb, float[] sc, int[] zr) {
            boolean fp16 = f.scheme() != QuantFormat.Scheme.NF4 && f.groupSize() != QuantFormat.PER_CHANNEL;
            int so = r * gpr;
            int mo = r * gpr * gpr;
            float[] a = java.util.Arrays.copyOfRange(sc, so, so + gpr);
            int[] z = java.util.Arrays.copyOfRange(zr, so, so + gpr);
            double bestErr = refitError(maa, mba, mbb, ra, rb, mo, so, gpr, a, z);
            float[] bestA = a;
            int[] bestZ = z;
            // Zero-point candidates: the current ones, and (asymmetric) those of the joint least-squares solution.
            int[][] zeroCandidates = {z, null};
            if (asym) {
                int n2 = 2 * gpr;
                double[] m = new double[n2 * n2];
                double[] rhs = new double[n2];
                for (int p = 0; p < gpr; p++) {
                    rhs[p] = ra[so + p];
                    rhs[gpr + p] = rb[so + p];
                    for (int s = 0; s < gpr; s++) {
                        m[p * n2 + s] = maa[mo + p * gpr + s];
                        m[p * n2 + gpr + s] = mba[mo + s * gpr + p];
                        m[(gpr + p) * n2 + s] = mba[mo + p * gpr + s];
                        m[(gpr + p) * n2 + gpr + s] = mbb[p * gpr + s];
                    }
                }
                double[] theta = solveSpd(m, rhs, n2);
                if (theta != null) {
                    int[] zc = z.clone();
                    for (int p = 0; p < gpr; p++) {
                        double ap = theta[p];
                        if (ap > 0) {
                            zc[p] = (int) Math.min(15, Math.max(0, Math.rint(-theta[gpr + p] / ap)));
                        }
                    }
                    zeroCandidates[1] = zc;
                }
            }
            for (int[] zc : zeroCandidates) {
                if (zc == null) {
                    continue;
                }
                double[] m = new double[gpr * gpr];
                double[] rhs = new double[gpr];
                for (int p = 0; p < gpr; p++) {
                    rhs[p] = ra[so + p] - (asym ? zc[p] * rb[so + p] : 0);
                    for (int s = 0; s < gpr; s++) {
                        double v = maa[mo + p * gpr + s];
                        if (asym) {
                            v += -zc[s] * mba[mo + s * gpr + p] - zc[p] * mba[mo + p * gpr + s]
                                    + (double) zc[p] * zc[s] * mbb[p * gpr + s];
                        }
                        m[p * gpr + s] = v;
                    }
                }
                double[] sol = solveSpd(m, rhs, gpr);
                if (sol == null) {
                    continue;
                }
                float[] ac = new float[gpr];
                boolean ok = true;
                for (int p = 0; p < gpr && ok; p++) {
                    float v = fp16 ? fp16((float) sol[p]) : (float) sol[p];
                    ok = Float.isFinite(v) && v != 0f;
                    ac[p] = v;
                }
                if (!ok) {
                    continue;
                }
                double e = refitError(maa, mba, mbb, ra, rb, mo, so, gpr, ac, zc);
                if (e < bestErr) {
                    bestErr = e;
                    bestA = ac;
                    bestZ = zc;
                }
            }
            System.arraycopy(bestA, 0, sc, so, gpr);
            System.arraycopy(bestZ, 0, zr, so, gpr);
            return bestErr;
        }

        @Override
        public void close() {
            full.close();
            for (QuantizedTensor t : byGroup) {
                t.close();
            }
        }
    }

    /** {@code θᵀMθ − 2·rᵀθ} of one row for scales {@code a} and zero points {@code z} ({@code b_g = −a_g·z_g}). */
    private static double refitError(double[] maa, double[] mba, double[] mbb, double[] ra, double[] rb, int mo,
                                     int so, int gpr, float[] a, int[] z) {
        double e = 0;
        for (int p = 0; p < gpr; p++) {
            double ap = a[p];
            double bp = -ap * z[p];
            e -= 2 * (ap * ra[so + p] + (rb == null ? 0 : bp * rb[so + p]));
            for (int s = 0; s < gpr; s++) {
                double as = a[s];
                double v = ap * as * maa[mo + p * gpr + s];
                if (mba != null) {
                    double bs = -as * z[s];
                    v += bp * as * mba[mo + p * gpr + s] + ap * bs * mba[mo + s * gpr + p]
                            + bp * bs * mbb[p * gpr + s];
                }
                e += v;
            }
        }
        return e;
    }

    /**
     * Solves {@code M·x = b} for a symmetric positive semi-definite {@code M} ({@code [n, n]}) by Cholesky with a
     * relative ridge of {@code 1e-10} on the diagonal; null if it breaks down.
     */
    private static double[] solveSpd(double[] m, double[] b, int n) {
        double[] l = new double[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j <= i; j++) {
                double s = m[i * n + j] + (i == j ? 1e-10 * Math.abs(m[i * n + i]) : 0);
                for (int k = 0; k < j; k++) {
                    s -= l[i * n + k] * l[j * n + k];
                }
                if (i == j) {
                    if (!(s > 0) || !Double.isFinite(s)) {
                        return null;
                    }
                    l[i * n + i] = Math.sqrt(s);
                } else {
                    l[i * n + j] = s / l[j * n + j];
                }
            }
        }
        double[] y = new double[n];
        for (int i = 0; i < n; i++) {
            double s = b[i];
            for (int k = 0; k < i; k++) {
                s -= l[i * n + k] * y[k];
            }
            y[i] = s / l[i * n + i];
        }
        double[] x = new double[n];
        for (int i = n - 1; i >= 0; i--) {
            double s = y[i];
            for (int k = i + 1; k < n; k++) {
                s -= l[k * n + i] * x[k];
            }
            x[i] = s / l[i * n + i];
        }
        for (double v : x) {
            if (!Double.isFinite(v)) {
                return null;
            }
        }
        return x;
    }

    /** The stored code of one weight: INT4 nibble {@code 0..15}, NF4 index, or INT8 {@code −127..127}. */
    private static int encode(QuantFormat f, float w, float s, int z) {
        float inv = s == 0f ? 0f : 1f / s;
        return switch (f.scheme()) {
            case INT4_SYM -> (int) Math.min(7f, Math.max(-8f, (float) Math.rint(w * inv))) + 8;
            case INT4_ASYM -> (int) Math.min(15f, Math.max(0f, (float) Math.rint(w * inv) + z));
            case NF4 -> Layouts.nf4Code(w * inv);
            case INT8 -> (int) Math.min(127f, Math.max(-127f, (float) Math.rint(w * inv)));
            default -> throw new IllegalStateException(f.name());
        };
    }

    /** The value a kernel dequantizes a code to. */
    private static float decode(QuantFormat f, int code, float s, int z) {
        return switch (f.scheme()) {
            case INT4_SYM -> (code - 8) * s;
            case INT4_ASYM -> (code - z) * s;
            case NF4 -> Layouts.NF4[code] * s;
            case INT8 -> code * s;
            default -> throw new IllegalStateException(f.name());
        };
    }

    private static float groupError(QuantFormat f, float[] w, float s, int z) {
        float e = 0f;
        for (float v : w) {
            float d = decode(f, encode(f, v, s, z), s, z) - v;
            e += d * d;
        }
        return e;
    }

    /**
     * The scale (and zero-point) of one group with the rules and candidate search of {@link Quantizer}
     * ({@code docs/formats.md}), applied to the group's current, error-updated weights; for INT4 asymmetric the two
     * ends of the range are shrunk independently ({@code SEARCH_STEPS²} candidates), since GPTQ's calibration cost
     * dwarfs the search.
     */
    private static void chooseScale(String name, QuantFormat f, float[] w, int row, int gi, int r, float[] scale,
                                    int[] zero) {
        float m = 0f;
        for (float v : w) {
            m = Math.max(m, Math.abs(v));
        }
        if (!Float.isFinite(m)) {
            throw new IllegalArgumentException("tensor '" + name + "': GPTQ updates made row " + row + ", group " + gi
                    + " non-finite; the calibration activations are too ill-conditioned");
        }
        boolean fp16 = f.groupSize() != QuantFormat.PER_CHANNEL;
        float best = Float.POSITIVE_INFINITY;
        float s = 0f;
        int z = 0;
        switch (f.scheme()) {
            case INT4_SYM -> {
                float signed = m;
                for (float v : w) {
                    if (Math.abs(v) == m) {
                        signed = v;
                        break;
                    }
                }
                float s0 = signed / -8f;
                if (Float.isInfinite(fp16(s0))) {
                    throw overflow(name, row, gi, m / 8f);
                }
                for (int k = 0; k < SEARCH_STEPS && m > 0f; k++) {
                    float cand = fp16(s0 * (1f - INT4_SHRINK * k));
                    float e = groupError(f, w, cand, 0);
                    if (e < best) {
                        best = e;
                        s = cand;
                    }
                }
            }
            case INT4_ASYM -> {
                float lo = 0f;
                float hi = 0f;
                for (float v : w) {
                    lo = Math.min(lo, v);
                    hi = Math.max(hi, v);
                }
                if (Float.isInfinite(fp16((hi - lo) / 15f))) {
                    throw overflow(name, row, gi, (hi - lo) / 15f);
                }
                // the two ends of the range shrink independently: a skewed group clips its long tail only
                for (int a = 0; a < SEARCH_STEPS && hi > lo; a++) {
                    float lo2 = lo * (1f - INT4_SHRINK * a);
                    for (int b = 0; b < SEARCH_STEPS; b++) {
                        float hi2 = hi * (1f - INT4_SHRINK * b);
                        float cand = fp16((hi2 - lo2) / 15f);
                        if (cand == 0f) {
                            continue;
                        }
                        int cz = (int) Math.min(15f, Math.max(0f, (float) Math.rint(-lo2 / cand)));
                        float e = groupError(f, w, cand, cz);
                        if (e < best) {
                            best = e;
                            s = cand;
                            z = cz;
                        }
                    }
                }
            }
            case NF4 -> {
                s = m;
                for (int k = 0; k < NF4_SEARCH_STEPS && m > 0f; k++) {
                    float cand = m * (1f - NF4_SHRINK * k);
                    float e = groupError(f, w, cand, 0);
                    if (e < best) {
                        best = e;
                        s = cand;
                    }
                }
            }
            case INT8 -> {
                if (fp16 && Float.isInfinite(fp16(m / 127f))) {
                    throw overflow(name, row, gi, m / 127f);
                }
                for (int k = 0; k < SEARCH_STEPS && m > 0f; k++) {
                    float cand = m * (1f - INT8_SHRINK * k) / 127f;
                    cand = fp16 ? fp16(cand) : cand;
                    float e = groupError(f, w, cand, 0);
                    if (e < best) {
                        best = e;
                        s = cand;
                    }
                }
            }
            default -> throw new IllegalStateException(f.name());
        }
        scale[r] = s;
        zero[r] = z;
    }

    private static void storeScale(QuantFormat f, MemorySegment scales, MemorySegment zeros, long gidx, int row,
                                   float s, int z) {
        switch (f.scheme()) {
            case INT4_SYM -> scales.setAtIndex(Layouts.I16, gidx, Float.floatToFloat16(s));
            case INT4_ASYM -> {
                scales.setAtIndex(Layouts.I16, gidx, Float.floatToFloat16(s));
                zeros.set(Layouts.I8, gidx, (byte) z);
            }
            case NF4 -> scales.setAtIndex(Layouts.F32, gidx, s);
            case INT8 -> {
                if (f.groupSize() == QuantFormat.PER_CHANNEL) {
                    scales.setAtIndex(Layouts.F32, row, s);
                } else {
                    scales.setAtIndex(Layouts.I16, gidx, Float.floatToFloat16(s));
                }
            }
            default -> throw new IllegalStateException(f.name());
        }
    }

    private static float fp16(float v) {
        return Float.float16ToFloat(Float.floatToFloat16(v));
    }

    private static IllegalArgumentException overflow(String name, int row, int group, float scale) {
        return new IllegalArgumentException("tensor '" + name + "': row " + row + ", group " + group + " needs scale "
                + scale + ", which overflows FP16");
    }
}
