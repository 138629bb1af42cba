package io.vramkit.quant;

import java.util.Random;

/** Synthetic weights and activations for the quantization tests, with float64 references. */
final class TestData {

    private TestData() {
    }

    /** Gaussian weights, standard deviation {@code std}. */
    static float[] gaussian(int n, double std, long seed) {
        Random rnd = new Random(seed);
        float[] w = new float[n];
        for (int i = 0; i < n; i++) {
            w[i] = (float) (rnd.nextGaussian() * std);
        }
        return w;
    }

    /**
     * Heavy-tailed weights (Student t with 5 degrees of freedom, excess kurtosis 6, scaled to about 0.02) with a few
     * injected outlier input channels (one column in 256, ×4) and one outlier output row (×2), the shape of real LLM
     * weight matrices.
     */
    static float[] heavyTailed(int rows, int cols, long seed) {
        return heavyTailed(rows, cols, seed, 5, 4f);
    }

    /**
     * Student-t weights with {@code nu} degrees of freedom ({@code nu <= 0}: Gaussian) and outlier columns scaled by
     * {@code gain}.
     */
    static float[] heavyTailed(int rows, int cols, long seed, int nu, float gain) {
        Random rnd = new Random(seed);
        float[] w = new float[rows * cols];
        for (int i = 0; i < w.length; i++) {
            if (nu <= 0) {
                w[i] = (float) (0.02 * rnd.nextGaussian());
                continue;
            }
            double chi2 = 0;
            for (int k = 0; k < nu; k++) {
                double z = rnd.nextGaussian();
                chi2 += z * z;
            }
            w[i] = (float) (0.02 * rnd.nextGaussian() / Math.sqrt(chi2 / nu));
        }
        int outliers = Math.max(1, cols / 256);
        for (int k = 0; k < outliers; k++) {
            int c = rnd.nextInt(cols);
            for (int r = 0; r < rows; r++) {
                w[r * cols + c] *= gain;
            }
        }
        int r = rnd.nextInt(rows);
        for (int c = 0; c < cols; c++) {
            w[r * cols + c] *= 2f;
        }
        return w;
    }

    /** Float64 reference of {@code x · Wᵀ}. */
    static double[] reference(float[] x, int batch, float[] w, int rows, int cols) {
        double[] y = new double[batch * rows];
        for (int b = 0; b < batch; b++) {
            for (int r = 0; r < rows; r++) {
                double s = 0;
                for (int c = 0; c < cols; c++) {
                    s += (double) x[b * cols + c] * w[r * cols + c];
                }
                y[b * rows + r] = s;
            }
        }
        return y;
    }

    /** Float64 {@code Σ |x|·|w|} per output, the scale of FP32 rounding error in a dot product. */
    static double[] magnitude(float[] x, int batch, float[] w, int rows, int cols) {
        double[] y = new double[batch * rows];
        for (int b = 0; b < batch; b++) {
            for (int r = 0; r < rows; r++) {
                double s = 0;
                for (int c = 0; c < cols; c++) {
                    s += Math.abs((double) x[b * cols + c] * w[r * cols + c]);
                }
                y[b * rows + r] = s;
            }
        }
        return y;
    }
}
