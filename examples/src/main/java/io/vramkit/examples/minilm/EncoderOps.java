package io.vramkit.examples.minilm;

import io.vramkit.core.cpu.VectorSupport;

/**
 * The element-wise kernels of the MiniLM forward pass: bias addition, the erf GELU and (residual +) LayerNorm. The
 * Vector API implementation ({@code PanamaEncoderOps}) is loaded through {@link VectorSupport} when
 * {@code jdk.incubator.vector} is readable; otherwise {@link ScalarEncoderOps} runs. Both agree with the float64
 * definitions to about one FP32 ulp of the output scale (tests check both). Implementations are stateless and
 * thread-safe; callers split work over rows or ranges and run the pieces in parallel.
 */
public interface EncoderOps {

    /** The implementation in use: vectorized when the Vector API is available, else scalar. */
    EncoderOps INSTANCE = VectorSupport.load(EncoderOps.class, "io.vramkit.examples.minilm.PanamaEncoderOps",
            ScalarEncoderOps::new);

    /**
     * {@code y[r, c] += bias[c]} for rows {@code [r0, r1)} of a row-major {@code [rows, cols]} array.
     *
     * @param y    the rows, updated in place
     * @param cols columns per row, {@code bias.length >= cols}
     */
    void addBias(float[] y, int r0, int r1, int cols, float[] bias);

    /**
     * The erf GELU {@code 0.5·x·(1 + erf(x/√2))} in place over {@code x[from .. to)}; {@code x ≥ 8} stays
     * {@code x}, {@code x ≤ −8} becomes 0 (FP32-exact there), NaN stays NaN. Absolute error below
     * {@code 3e-7 + 1e-7·|GELU(x)|}.
     */
    void gelu(float[] x, int from, int to);

    /**
     * {@code x[off .. off+n) = LayerNorm(y[off .. off+n) + x[off .. off+n))} with scale {@code gamma} and shift
     * {@code beta} (biased variance, {@code eps} inside the square root); with {@code y == null}, the LayerNorm of
     * {@code x} alone. Relative error about {@code 1e-6} of the output scale.
     *
     * @param y     the branch added to the residual first (same offsets as {@code x}), or null; read only
     * @param x     the residual, overwritten with the result
     * @param n     features per row, &ge; 1
     * @param gamma scale, {@code [n]}
     * @param beta  shift, {@code [n]}
     */
    void addLayerNorm(float[] y, float[] x, int off, int n, float[] gamma, float[] beta, float eps);

    /**
     * {@code out[off .. off+n) = (x[off .. off+n) ⊙ inv)·R}: the input transform of a rotated layer
     * ({@link LayerCalibration}), {@code R} the orthonormal Sylvester Hadamard matrix on each block of {@code block}
     * elements (see {@link LayerCalibration#hadamard}). Relative error about {@code 1e-6} of the output scale.
     *
     * @param x     the input row; read only
     * @param inv   per-element factors {@code [n]}, or null for none
     * @param out   receives the result (same offsets as {@code x}; may not be {@code x})
     * @param n     elements, a multiple of {@code block}
     * @param block a power of two, &ge; 2
     */
    void scaleHadamard(float[] x, float[] inv, float[] out, int off, int n, int block);
}
