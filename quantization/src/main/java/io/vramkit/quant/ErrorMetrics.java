package io.vramkit.quant;

import java.util.Objects;

/**
 * Quantization error measures, computed in float64: weight-space relative Frobenius error, maximum absolute error,
 * and the relative error of the layer output {@code X · Wᵀ} on calibration activations (the quantity that matters
 * downstream, and the planner's sensitivity). Stateless and thread-safe.
 *
 * <p>Documented bounds (checked in tests, on Gaussian and heavy-tailed weights with outlier channels): INT8
 * per-channel ≤ 1% relative Frobenius error; INT4 with groups of 128 ≤ 12%; NF4 ≤ INT4 at equal group size on
 * Gaussian weights. Per element, the absolute error is at most half a quantization step: {@code scale/2} for INT8,
 * one step {@code |scale|} for INT4 (symmetric: weights opposite the largest one clip at {@code 7·|scale|};
 * asymmetric: the rounded zero-point shifts the grid by up to half a step), half the largest codebook gap times the absmax for NF4,
 * and half an FP8 unit in the last place for FP8 (2<sup>-4</sup> relative for E4M3, 2<sup>-3</sup> for E5M2).
 */
public final class ErrorMetrics {

    /** The three measures for one tensor. */
    public record Report(double relativeFrobenius, double maxAbs, double outputRelative) {
    }

    private ErrorMetrics() {
    }

    /**
     * {@code ‖ref − approx‖_F / ‖ref‖_F}; 0 when both are zero, infinity when only {@code ref} is zero.
     *
     * @throws IllegalArgumentException naming both lengths if they differ
     */
    public static double relativeFrobenius(float[] ref, float[] approx) {
        checkLengths(ref, approx);
        double num = 0;
        double den = 0;
        for (int i = 0; i < ref.length; i++) {
            double d = (double) ref[i] - approx[i];
            num += d * d;
            den += (double) ref[i] * ref[i];
        }
        if (den == 0) {
            return num == 0 ? 0 : Double.POSITIVE_INFINITY;
        }
        return Math.sqrt(num / den);
    }

    /**
     * {@code max_i |ref[i] − approx[i]|}.
     *
     * @throws IllegalArgumentException naming both lengths if they differ
     */
    public static double maxAbs(float[] ref, float[] approx) {
        checkLengths(ref, approx);
        double m = 0;
        for (int i = 0; i < ref.length; i++) {
            m = Math.max(m, Math.abs((double) ref[i] - approx[i]));
        }
        return m;
    }

    /**
     * Relative Frobenius error of the layer output: the float64 product {@code X · Wᵀ} with the original weights,
     * against {@link QuantizedMatmul#matmul} with the quantized ones.
     *
     * @param weights the original {@code [rows, cols]} weights
     * @param q       the quantized tensor of the same shape
     * @param x       calibration activations {@code [batch, cols]}
     * @param batch   activation rows
     * @return the relative output error
     * @throws IllegalArgumentException naming the sizes if shapes do not match
     */
    public static double outputError(float[] weights, QuantizedTensor q, float[] x, int batch) {
        Objects.requireNonNull(q, "q");
        int rows = q.rows();
        int cols = q.cols();
        if (weights.length != (long) rows * cols) {
            throw new IllegalArgumentException("weights.length = " + weights.length + " but tensor '" + q.name()
                    + "' is [" + rows + ", " + cols + "]");
        }
        if (batch < 1 || x.length < (long) batch * cols) {
            throw new IllegalArgumentException("calibration x.length = " + x.length + " with batch = " + batch
                    + " does not cover batch × cols = " + (long) batch * cols);
        }
        float[] y = new float[batch * rows];
        QuantizedMatmul.matmul(x, batch, q, y);
        double num = 0;
        double den = 0;
        for (int b = 0; b < batch; b++) {
            for (int r = 0; r < rows; r++) {
                double ref = 0;
                for (int c = 0; c < cols; c++) {
                    ref += (double) x[b * cols + c] * weights[r * cols + c];
                }
                double d = ref - y[b * rows + r];
                num += d * d;
                den += ref * ref;
            }
        }
        return den == 0 ? (num == 0 ? 0 : Double.POSITIVE_INFINITY) : Math.sqrt(num / den);
    }

    /**
     * All three measures for one tensor. Without calibration activations ({@code x == null}) the output error is
     * {@code NaN}.
     *
     * @param weights original weights {@code [rows, cols]}
     * @param q       quantized tensor
     * @param x       calibration activations {@code [batch, cols]}, or {@code null}
     * @param batch   activation rows (ignored when {@code x} is null)
     * @return the report
     */
    public static Report measure(float[] weights, QuantizedTensor q, float[] x, int batch) {
        float[] deq = q.dequantize();
        return new Report(relativeFrobenius(weights, deq), maxAbs(weights, deq),
                x == null ? Double.NaN : outputError(weights, q, x, batch));
    }

    private static void checkLengths(float[] a, float[] b) {
        Objects.requireNonNull(a, "ref");
        Objects.requireNonNull(b, "approx");
        if (a.length != b.length) {
            throw new IllegalArgumentException("ref.length = " + a.length + " != approx.length = " + b.length);
        }
    }
}
