package io.vramkit.examples.minilm;

import io.vramkit.core.cpu.VectorMath;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector API {@link EncoderOps}. Loaded reflectively by {@link io.vramkit.core.cpu.VectorSupport}; never referenced
 * by name from code that must run without {@code jdk.incubator.vector}. Tails shorter than a vector run the
 * {@link ScalarEncoderOps} code. Stateless and thread-safe.
 *
 * <p>GELU evaluates {@code erfc(|x|/√2)} with Abramowitz and Stegun 7.1.26 (absolute error below 1.5e-7) and a
 * vector {@code exp}, then {@code GELU(x) = 0.5·x·(2 − erfc)} for {@code x ≥ 0} and {@code 0.5·x·erfc} for
 * {@code x < 0}, which avoids the cancellation of {@code 1 + erf(x)} for negative {@code x}. LayerNorm accumulates
 * its mean and variance in FP32 lanes (two passes, the variance around the mean).
 */
public final class PanamaEncoderOps implements EncoderOps {

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    private static final ScalarEncoderOps SCALAR = new ScalarEncoderOps();

    /** {@code H_L}, the Sylvester Hadamard matrix of the vector length, row-major: the first stages in registers. */
    private static final float[] H_L = sylvester(L);

    /** Creates the vector kernels (stateless). */
    public PanamaEncoderOps() {
    }

    private static float[] sylvester(int n) {
        float[] h = new float[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                h[i * n + j] = Integer.bitCount(i & j) % 2 == 0 ? 1f : -1f;
            }
        }
        return h;
    }

    /**
     * The first {@code log2 L} butterfly stages of each {@code L}-chunk as one product with {@code H_L} ({@code L}
     * broadcast FMAs per chunk, instead of butterflies across lanes), then the remaining stages as whole-vector
     * butterflies; the normalization is folded into the input factors.
     */
    @Override
    public void scaleHadamard(float[] x, float[] inv, float[] out, int off, int n, int block) {
        if (block < L) {
            SCALAR.scaleHadamard(x, inv, out, off, n, block);
            return;
        }
        float norm = (float) (1.0 / Math.sqrt(block));
        float[] chunk = new float[L];
        for (int c = 0; c < n; c += L) {
            FloatVector v = FloatVector.fromArray(S, x, off + c).mul(norm);
            if (inv != null) {
                v = v.mul(FloatVector.fromArray(S, inv, c));
            }
            v.intoArray(chunk, 0);
            FloatVector acc = FloatVector.zero(S);
            for (int k = 0; k < L; k++) {
                acc = FloatVector.fromArray(S, H_L, k * L).fma(FloatVector.broadcast(S, chunk[k]), acc);
            }
            acc.intoArray(out, off + c);
        }
        for (int b = off; b < off + n; b += block) {
            for (int len = L; len < block; len <<= 1) {
                for (int i = b; i < b + block; i += 2 * len) {
                    for (int j = i; j < i + len; j += L) {
                        FloatVector u = FloatVector.fromArray(S, out, j);
                        FloatVector w = FloatVector.fromArray(S, out, j + len);
                        u.add(w).intoArray(out, j);
                        u.sub(w).intoArray(out, j + len);
                    }
                }
            }
        }
    }

    @Override
    public void addBias(float[] y, int r0, int r1, int cols, float[] bias) {
        int vec = S.loopBound(cols);
        for (int r = r0; r < r1; r++) {
            int o = r * cols;
            int c = 0;
            for (; c < vec; c += L) {
                FloatVector.fromArray(S, y, o + c).add(FloatVector.fromArray(S, bias, c)).intoArray(y, o + c);
            }
            for (; c < cols; c++) {
                y[o + c] += bias[c];
            }
        }
    }

    private static final float INV_SQRT2 = 0.70710678118654752f;
    private static final float AS_P = 0.3275911f;
    private static final float AS_A1 = 0.254829592f;
    private static final float AS_A2 = -0.284496736f;
    private static final float AS_A3 = 1.421413741f;
    private static final float AS_A4 = -1.453152027f;
    private static final float AS_A5 = 1.061405429f;

    @Override
    public void gelu(float[] x, int from, int to) {
        int i = from;
        int vec = from + S.loopBound(to - from);
        for (; i < vec; i += L) {
            gelu(FloatVector.fromArray(S, x, i)).intoArray(x, i);
        }
        SCALAR.gelu(x, i, to);
    }

    private static FloatVector gelu(FloatVector x) {
        FloatVector a = x.abs().mul(INV_SQRT2);
        FloatVector one = FloatVector.broadcast(S, 1f);
        FloatVector t = one.div(a.fma(FloatVector.broadcast(S, AS_P), one));
        FloatVector p = FloatVector.broadcast(S, AS_A5);
        p = p.fma(t, FloatVector.broadcast(S, AS_A4));
        p = p.fma(t, FloatVector.broadcast(S, AS_A3));
        p = p.fma(t, FloatVector.broadcast(S, AS_A2));
        p = p.fma(t, FloatVector.broadcast(S, AS_A1));
        FloatVector erfc = p.mul(t).mul(VectorMath.exp(a.mul(a).neg()));
        VectorMask<Float> negative = x.compare(VectorOperators.LT, 0f);
        FloatVector factor = FloatVector.broadcast(S, 2f).sub(erfc).blend(erfc, negative);
        FloatVector y = x.mul(0.5f).mul(factor);
        // Match the scalar kernel's saturation exactly (and keep -Infinity finite): x ≥ 8 → x, x ≤ −8 → 0.
        y = y.blend(x, x.compare(VectorOperators.GE, ScalarEncoderOps.GELU_RANGE));
        return y.blend(0f, x.compare(VectorOperators.LE, -ScalarEncoderOps.GELU_RANGE));
    }

    @Override
    public void addLayerNorm(float[] y, float[] x, int off, int n, float[] gamma, float[] beta, float eps) {
        if (n < L) {
            SCALAR.addLayerNorm(y, x, off, n, gamma, beta, eps);
            return;
        }
        int vec = S.loopBound(n);
        FloatVector acc = FloatVector.zero(S);
        int c = 0;
        for (; c < vec; c += L) {
            FloatVector v = FloatVector.fromArray(S, x, off + c);
            if (y != null) {
                v = FloatVector.fromArray(S, y, off + c).add(v);
                v.intoArray(x, off + c);
            }
            acc = acc.add(v);
        }
        float tail = 0f;
        for (; c < n; c++) {
            if (y != null) {
                x[off + c] = y[off + c] + x[off + c];
            }
            tail += x[off + c];
        }
        float mean = (acc.reduceLanes(VectorOperators.ADD) + tail) / n;
        FloatVector m = FloatVector.broadcast(S, mean);
        FloatVector sq = FloatVector.zero(S);
        for (c = 0; c < vec; c += L) {
            FloatVector d = FloatVector.fromArray(S, x, off + c).sub(m);
            sq = d.fma(d, sq);
        }
        float tailSq = 0f;
        for (; c < n; c++) {
            float d = x[off + c] - mean;
            tailSq += d * d;
        }
        double var = ((double) sq.reduceLanes(VectorOperators.ADD) + tailSq) / n;
        float inv = (float) (1.0 / Math.sqrt(var + eps));
        for (c = 0; c < vec; c += L) {
            FloatVector d = FloatVector.fromArray(S, x, off + c).sub(m).mul(inv);
            d.fma(FloatVector.fromArray(S, gamma, c), FloatVector.fromArray(S, beta, c)).intoArray(x, off + c);
        }
        for (; c < n; c++) {
            x[off + c] = (x[off + c] - mean) * inv * gamma[c] + beta[c];
        }
    }
}
