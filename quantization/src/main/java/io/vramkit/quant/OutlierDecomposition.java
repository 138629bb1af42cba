package io.vramkit.quant;

import java.util.Arrays;
import java.util.Objects;

/**
 * LLM.int8()-style mixed decomposition (Dettmers et al. 2022): the input channels (columns of {@code W}) whose
 * calibration activations exceed a magnitude threshold (default {@value #DEFAULT_THRESHOLD}) stay in FP16, and the
 * rest go through W8A8 ({@link QuantizedMatmul#w8a8}: INT8 per-channel weights, per-token INT8 activations). The
 * outlier channels would otherwise set every token's activation scale and wipe out the resolution of the others.
 *
 * <p>The outlier set is fixed at construction from the calibration activations, so the FP16 copy holds only those
 * columns. At run time those columns of {@code x} go through the FP16 path whatever their magnitude; a new outlier
 * in another column is quantized with the rest (a larger error, never a wrong shape).
 *
 * <p>Layout: the inlier part is an ordinary INT8 per-channel {@link QuantizedTensor} of the full shape with the
 * outlier columns set to zero; the outlier part is {@code fp16[rows, outliers]} row-major plus the sorted column
 * indices. Owns the inlier tensor (closed by {@link #close()}). Thread-safe for concurrent {@link #matmul} calls.
 */
public final class OutlierDecomposition implements AutoCloseable {

    /** The activation magnitude above which a channel counts as an outlier, as in LLM.int8(). */
    public static final float DEFAULT_THRESHOLD = 6f;

    private final QuantizedTensor inliers;
    private final int[] outlierCols;
    private final short[] outlierWeights;

    private OutlierDecomposition(QuantizedTensor inliers, int[] outlierCols, short[] outlierWeights) {
        this.inliers = inliers;
        this.outlierCols = outlierCols;
        this.outlierWeights = outlierWeights;
    }

    /**
     * Splits a weight matrix using calibration activations.
     *
     * @param name        tensor name (messages)
     * @param weights     {@code [rows, cols]} row-major, finite
     * @param rows        output features
     * @param cols        input features
     * @param calibration activations {@code [calibRows, cols]} row-major
     * @param calibRows   calibration rows, &ge; 1
     * @param threshold   magnitude threshold, &gt; 0
     * @return the decomposition, owning its memory
     * @throws IllegalArgumentException naming the argument if a size does not match, the threshold is not positive,
     *                                  or a weight is not finite (as {@link Quantizer#quantize})
     */
    public static OutlierDecomposition of(String name, float[] weights, int rows, int cols, float[] calibration,
                                          int calibRows, float threshold) {
        Objects.requireNonNull(weights, "weights");
        Objects.requireNonNull(calibration, "calibration");
        if (!(threshold > 0f) || Float.isInfinite(threshold)) {
            throw new IllegalArgumentException("threshold must be positive and finite, got " + threshold);
        }
        if (calibRows < 1 || (long) calibRows * cols > calibration.length) {
            throw new IllegalArgumentException("tensor '" + name + "': calibration.length = " + calibration.length
                    + " does not cover calibRows × cols = " + calibRows + " × " + cols);
        }
        if ((long) rows * cols != weights.length || rows < 1 || cols < 1) {
            throw new IllegalArgumentException("tensor '" + name + "': weights.length = " + weights.length
                    + " but rows × cols = " + rows + " × " + cols);
        }
        boolean[] outlier = new boolean[cols];
        int n = 0;
        for (int b = 0; b < calibRows; b++) {
            for (int c = 0; c < cols; c++) {
                if (!outlier[c] && Math.abs(calibration[b * cols + c]) > threshold) {
                    outlier[c] = true;
                    n++;
                }
            }
        }
        int[] oc = new int[n];
        for (int c = 0, j = 0; c < cols; c++) {
            if (outlier[c]) {
                oc[j++] = c;
            }
        }
        float[] in = weights.clone();
        short[] ow = new short[rows * n];
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < n; j++) {
                float v = weights[r * cols + oc[j]];
                if (!Float.isFinite(v) || Float.isInfinite(Float.float16ToFloat(Float.floatToFloat16(v)))) {
                    throw new IllegalArgumentException("tensor '" + name + "': weight at index " + (r * cols + oc[j])
                            + " is " + v + ", which FP16 cannot hold");
                }
                ow[r * n + j] = Float.floatToFloat16(v);
                in[r * cols + oc[j]] = 0f;
            }
        }
        return new OutlierDecomposition(Quantizer.quantize(name, in, rows, cols, QuantFormat.INT8), oc, ow);
    }

    /** The outlier input channels, sorted (a copy). */
    public int[] outlierColumns() {
        return outlierCols.clone();
    }

    /** The INT8 per-channel part (outlier columns zeroed); owned by this object. */
    public QuantizedTensor inliers() {
        return inliers;
    }

    /** Bytes held: the INT8 tensor, the FP16 outlier columns and their 4-byte indices. */
    public long byteSize() {
        return inliers.byteSize() + 2L * outlierWeights.length + 4L * outlierCols.length;
    }

    /**
     * {@code y[b, r] = Σ_c x[b, c] · W[r, c]}: W8A8 over the inlier channels (their per-token scale ignores the
     * outlier columns) plus an FP32-accumulated FP16 product over the outlier channels.
     *
     * @param x     activations {@code [batch, cols]}, finite
     * @param batch activation rows, &ge; 1
     * @param y     output {@code [batch, rows]}, overwritten
     * @throws IllegalArgumentException naming the argument and sizes if a shape does not match
     */
    public void matmul(float[] x, int batch, float[] y) {
        Objects.requireNonNull(x, "x");
        int cols = inliers.cols();
        int rows = inliers.rows();
        if (batch < 1 || (long) batch * cols > x.length) {
            throw new IllegalArgumentException("x.length = " + x.length + " with batch = " + batch
                    + " does not cover batch × cols = " + batch + " × " + cols + " (tensor '" + inliers.name() + "')");
        }
        float[] xin = Arrays.copyOf(x, batch * cols);
        int n = outlierCols.length;
        float[] xo = new float[batch * n];
        for (int b = 0; b < batch; b++) {
            for (int j = 0; j < n; j++) {
                xo[b * n + j] = x[b * cols + outlierCols[j]];
                xin[b * cols + outlierCols[j]] = 0f;
            }
        }
        QuantizedMatmul.w8a8(xin, batch, inliers, y);
        for (int b = 0; b < batch; b++) {
            for (int r = 0; r < rows; r++) {
                float s = 0f;
                for (int j = 0; j < n; j++) {
                    s += xo[b * n + j] * Float.float16ToFloat(outlierWeights[r * n + j]);
                }
                y[b * rows + r] += s;
            }
        }
    }

    /** Frees the INT8 part. Idempotent. */
    @Override
    public void close() {
        inliers.close();
    }
}
