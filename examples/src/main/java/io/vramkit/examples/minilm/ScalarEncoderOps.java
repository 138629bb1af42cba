package io.vramkit.examples.minilm;

/**
 * Plain-Java {@link EncoderOps}: the fallback when the Vector API is not readable, and the reference the vectorized
 * kernels are tested against. LayerNorm statistics are accumulated in float64; GELU interpolates linearly in a
 * table of the float64 erf GELU with step 1/1024 (interpolation error at most {@code h²/8 · max|GELU″| ≈ 1e-7},
 * about one FP32 ulp at the activations' scale, with no {@code exp} in the hot loop). Stateless and thread-safe.
 */
public final class ScalarEncoderOps implements EncoderOps {

    /** Table step of {@link #gelu}: 1/1024. */
    private static final int GELU_STEPS_PER_UNIT = 1024;
    /** Beyond ±8, GELU(x) is x or 0 to FP32 precision (erf(8/√2) = 1 − 6e-16). */
    static final float GELU_RANGE = 8f;
    private static final float[] GELU_TABLE = geluTable();

    /** Creates the kernels (stateless). */
    public ScalarEncoderOps() {
    }

    @Override
    public void scaleHadamard(float[] x, float[] inv, float[] out, int off, int n, int block) {
        for (int i = 0; i < n; i++) {
            out[off + i] = inv == null ? x[off + i] : x[off + i] * inv[i];
        }
        LayerCalibration.hadamard(out, off, n, block);
    }

    private static float[] geluTable() {
        int n = (int) (2 * GELU_RANGE * GELU_STEPS_PER_UNIT) + 2;
        float[] t = new float[n];
        for (int i = 0; i < n; i++) {
            t[i] = (float) MiniLmEncoder.geluExact(-GELU_RANGE + (double) i / GELU_STEPS_PER_UNIT);
        }
        return t;
    }

    @Override
    public void addBias(float[] y, int r0, int r1, int cols, float[] bias) {
        for (int r = r0; r < r1; r++) {
            int o = r * cols;
            for (int c = 0; c < cols; c++) {
                y[o + c] += bias[c];
            }
        }
    }

    @Override
    public void gelu(float[] x, int from, int to) {
        float[] table = GELU_TABLE;
        for (int i = from; i < to; i++) {
            float v = x[i];
            if (v >= GELU_RANGE) {
                continue;
            }
            if (v <= -GELU_RANGE || v != v) {
                x[i] = v != v ? v : 0f;
                continue;
            }
            // The table position in float64: in FP32 it would lose ~1e-3 of a step at |x| near 8.
            double pos = ((double) v + GELU_RANGE) * GELU_STEPS_PER_UNIT;
            int k = (int) pos;
            double frac = pos - k;
            x[i] = (float) (table[k] + frac * (table[k + 1] - table[k]));
        }
    }

    @Override
    public void addLayerNorm(float[] y, float[] x, int off, int n, float[] gamma, float[] beta, float eps) {
        if (y != null) {
            for (int c = 0; c < n; c++) {
                x[off + c] = y[off + c] + x[off + c];
            }
        }
        double sum = 0;
        for (int c = 0; c < n; c++) {
            sum += x[off + c];
        }
        double mean = sum / n;
        double var = 0;
        for (int c = 0; c < n; c++) {
            double d = x[off + c] - mean;
            var += d * d;
        }
        double inv = 1.0 / Math.sqrt(var / n + eps);
        for (int c = 0; c < n; c++) {
            x[off + c] = (float) ((x[off + c] - mean) * inv) * gamma[c] + beta[c];
        }
    }
}
