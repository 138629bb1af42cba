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
 * so the group layout stays the plain one of the format either way.
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
     * damped Hessian {@code (2/n)·XᵀX + λI}. Immutable and thread-safe; holds {@code 8·cols²} bytes on the heap.
     */
    public static final class Calibration {
        private final int cols;
        private final int samples;
        private final double damping;
        private final double[] u;
        private final int[] perm;

        private Calibration(int cols, int samples, double damping, double[] u, int[] perm) {
            this.cols = cols;
            this.samples = samples;
            this.damping = damping;
            this.u = u;
            this.perm = perm;
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
                return new Calibration(n, calibRows, lambda, u, perm);
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
     * Quantizes a layer with GPTQ using a prepared {@link Calibration} of its input.
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
        Objects.requireNonNull(calibration, "calibration");
        checkWeights(name, weights, rows, cols, format);
        if (calibration.cols() != cols) {
            throw new IllegalArgumentException("tensor '" + name + "': calibration.cols() = " + calibration.cols()
                    + " but the weights have cols = " + cols);
        }
        QuantizedTensor t = QuantizedTensor.allocate(name, format, rows, cols);
        try {
            MemorySegment codes = t.codesForWrite();
            MemorySegment scales = t.scalesForWrite();
            MemorySegment zeros = t.zerosForWrite();
            int tiles = (rows + ROW_TILE - 1) / ROW_TILE;
            ParallelExecutor.parallelFor(0, tiles, 1, (a, b) -> {
                for (int tile = a; tile < b; tile++) {
                    int r0 = tile * ROW_TILE;
                    quantizeTile(name, weights, r0, Math.min(rows, r0 + ROW_TILE), cols, format, calibration.u,
                            calibration.perm, codes, scales, zeros);
                }
            });
            return t;
        } catch (RuntimeException | Error e) {
            t.close();
            throw e;
        }
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
     * GPTQ over rows {@code [r0, r1)}: every row runs the same column sweep, sharing each row of {@code U}. With a
     * permutation (act-order), {@code w} and {@code U} are in permuted column order and the group scales are static.
     */
    private static void quantizeTile(String name, float[] weights, int r0, int r1, int cols, QuantFormat f,
                                     double[] u, int[] perm, MemorySegment codes, MemorySegment scales,
                                     MemorySegment zeros) {
        int nr = r1 - r0;
        int g = f.groupSize() == QuantFormat.PER_CHANNEL ? cols : f.groupSize();
        int gpr = cols / g;
        int block = f.groupSize() == QuantFormat.PER_CHANNEL ? BLOCK : (BLOCK + g - 1) / g * g;
        double[] w = new double[nr * cols];
        for (int r = 0; r < nr; r++) {
            for (int i = 0; i < cols; i++) {
                w[r * cols + i] = weights[(r0 + r) * cols + (perm == null ? i : perm[i])];
            }
        }
        byte[] q = new byte[nr * cols];
        double[] err = new double[nr * block];
        float[] scale = new float[nr];
        int[] zero = new int[nr];
        float[] group = new float[g];
        float[] staticScale = null;
        int[] staticZero = null;
        if (perm != null) {
            staticScale = new float[nr * gpr];
            staticZero = new int[nr * gpr];
            float[] s1 = new float[1];
            int[] z1 = new int[1];
            for (int r = 0; r < nr; r++) {
                for (int gi = 0; gi < gpr; gi++) {
                    System.arraycopy(weights, (r0 + r) * cols + gi * g, group, 0, g);
                    chooseScale(name, f, group, r0 + r, gi, 0, s1, z1);
                    staticScale[r * gpr + gi] = s1[0];
                    staticZero[r * gpr + gi] = z1[0];
                    storeScale(f, scales, zeros, (long) (r0 + r) * gpr + gi, r0 + r, s1[0], z1[0]);
                }
            }
        }
        for (int b0 = 0; b0 < cols; b0 += block) {
            int b1 = Math.min(cols, b0 + block);
            for (int i = b0; i < b1; i++) {
                if (perm != null) {
                    int gi = perm[i] / g;
                    for (int r = 0; r < nr; r++) {
                        scale[r] = staticScale[r * gpr + gi];
                        zero[r] = staticZero[r * gpr + gi];
                    }
                } else if (i % g == 0) {
                    for (int r = 0; r < nr; r++) {
                        for (int c = 0; c < g; c++) {
                            group[c] = (float) w[r * cols + i + c];
                        }
                        chooseScale(name, f, group, r0 + r, i / g, r, scale, zero);
                        long gidx = (long) (r0 + r) * gpr + i / g;
                        storeScale(f, scales, zeros, gidx, r0 + r, scale[r], zero[r]);
                    }
                }
                int ui = i * cols;
                double dinv = 1.0 / u[ui + i];
                for (int r = 0; r < nr; r++) {
                    int wo = r * cols;
                    double wv = w[wo + i];
                    int code = encode(f, (float) wv, scale[r], zero[r]);
                    q[wo + (perm == null ? i : perm[i])] = (byte) code;
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
        for (int r = 0; r < nr; r++) {
            long row = (long) (r0 + r) * cols;
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
