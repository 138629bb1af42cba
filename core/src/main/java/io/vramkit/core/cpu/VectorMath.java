package io.vramkit.core.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

/**
 * Lane-wise math on Vector API vectors for the Panama kernels of every module, written with plain arithmetic that
 * C2 always compiles to vector instructions. Use it only from code loaded through {@link VectorSupport} (it needs
 * {@code jdk.incubator.vector}). Stateless and thread-safe.
 *
 * <p>Works for any species; call it from a kernel whose species is a {@code static final} constant, so that C2
 * inlines it with a known vector shape (a call it does not inline would box the vectors).
 */
public final class VectorMath {

    private static final float EXP_LO = -87.33f;
    private static final float EXP_HI = 88.72f;
    private static final float MAGIC = 12582912f;
    private static final int MAGIC_BITS = Float.floatToRawIntBits(MAGIC);

    private VectorMath() {
    }

    /**
     * {@code e^x} lane-wise, within 2 ulp: Cody-Waite reduction {@code x = n·ln2 + r} and the Cephes {@code expf}
     * polynomial for {@code e^r}, scaled by {@code 2^n} built in the exponent bits. Lanes below {@code -87.33}
     * (including {@code -Infinity}) give 0; lanes above {@code 88.72} are clamped there, whose {@code e^x} is
     * at the top of the float range ({@code +Infinity}); NaN lanes stay NaN.
     * Written out because the SVML-backed {@code VectorOperators.EXP} is not always intrinsified by C2, and its
     * fallback is orders of magnitude slower.
     *
     * @param x the exponents
     * @return {@code e^x} in the species of {@code x}
     */
    public static FloatVector exp(FloatVector x) {
        VectorMask<Float> tiny = x.compare(VectorOperators.LT, EXP_LO);
        FloatVector xc = x.max(EXP_LO).min(EXP_HI);
        // Adding 1.5·2^23 rounds x·log2(e) to the nearest integer n, kept in the low mantissa bits.
        FloatVector t = xc.fma(x.broadcast(1.44269504088896341f), x.broadcast(MAGIC));
        FloatVector nf = t.sub(MAGIC);
        FloatVector r = nf.fma(x.broadcast(-0.693359375f), xc);
        r = nf.fma(x.broadcast(2.12194440e-4f), r);
        FloatVector p = x.broadcast(1.9875691500e-4f);
        p = p.fma(r, x.broadcast(1.3981999507e-3f));
        p = p.fma(r, x.broadcast(8.3334519073e-3f));
        p = p.fma(r, x.broadcast(4.1665795894e-2f));
        p = p.fma(r, x.broadcast(1.6666665459e-1f));
        p = p.fma(r, x.broadcast(5.0000001201e-1f));
        FloatVector y = p.mul(r.mul(r)).add(r).add(1f);
        IntVector bits = ((IntVector) t.reinterpretAsInts()).sub(MAGIC_BITS - 127).lanewise(VectorOperators.LSHL, 23);
        return y.mul(bits.reinterpretAsFloats()).blend(0f, tiny);
    }
}
