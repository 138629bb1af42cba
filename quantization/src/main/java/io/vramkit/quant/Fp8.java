package io.vramkit.quant;

/**
 * Conversions between {@code float} and the two OCP 8-bit floating-point formats, E4M3 and E5M2.
 *
 * <p><b>E4M3</b> ({@code float8_e4m3fn}): 1 sign bit, 4 exponent bits (bias 7), 3 mantissa bits, finite only.
 * Largest finite value ±448 ({@code 0x7E}/{@code 0xFE}); smallest normal 2<sup>-6</sup>, smallest subnormal
 * 2<sup>-9</sup>. {@code 0x7F} and {@code 0xFF} are NaN; there is no infinity.
 *
 * <p><b>E5M2</b> ({@code float8_e5m2}): 1 sign bit, 5 exponent bits (bias 15), 2 mantissa bits, IEEE-like.
 * Largest finite value ±57344 ({@code 0x7B}/{@code 0xFB}); smallest normal 2<sup>-14</sup>, smallest subnormal
 * 2<sup>-16</sup>. {@code 0x7C}/{@code 0xFC} are ±infinity, {@code 0x7D..0x7F} and {@code 0xFD..0xFF} are NaN.
 *
 * <p>Encoding ({@code float → byte}) rounds to nearest, ties to even, and <em>saturates</em>: any finite value or
 * infinity beyond the largest finite value becomes the largest finite value of the same sign (the behaviour of
 * CUDA's {@code __nv_cvt_float_to_fp8(x, __NV_SATFINITE, ...)}). NaN encodes to {@code 0x7F} in both formats
 * (sign dropped). Signed zero is kept ({@code -0.0f → 0x80}).
 *
 * <p>Decoding ({@code byte → float}) is exact (every FP8 value is a {@code float}) and uses 256-entry tables.
 * E4M3 NaN codes decode to {@link Float#NaN}; E5M2 infinities decode to ±{@link Float#POSITIVE_INFINITY}.
 *
 * <p>Stateless and thread-safe. The bulk methods take a {@code scale}: the stored code represents
 * {@code value = decode(code) × scale}, the convention of vramkit's FP8 weights and KV cache (see
 * {@code docs/formats.md}).
 */
public final class Fp8 {

    /** Largest finite E4M3 magnitude. */
    public static final float E4M3_MAX = 448f;
    /** Largest finite E5M2 magnitude. */
    public static final float E5M2_MAX = 57344f;
    /** The NaN code produced by both encoders. */
    public static final byte NAN_CODE = 0x7F;

    private static final float[] E4M3_TABLE = new float[256];
    private static final float[] E5M2_TABLE = new float[256];

    static {
        for (int c = 0; c < 256; c++) {
            E4M3_TABLE[c] = decodeSlow(c, 4, 3, 7, false);
            E5M2_TABLE[c] = decodeSlow(c, 5, 2, 15, true);
        }
    }

    private Fp8() {
    }

    private static float decodeSlow(int code, int expBits, int manBits, int bias, boolean ieee) {
        int sign = (code >>> 7) & 1;
        int exp = (code >>> manBits) & ((1 << expBits) - 1);
        int man = code & ((1 << manBits) - 1);
        int expMax = (1 << expBits) - 1;
        float v;
        if (ieee && exp == expMax) {
            v = man == 0 ? Float.POSITIVE_INFINITY : Float.NaN;
        } else if (!ieee && exp == expMax && man == (1 << manBits) - 1) {
            v = Float.NaN;
        } else if (exp == 0) {
            v = Math.scalb((float) man, 1 - bias - manBits);
        } else {
            v = Math.scalb((float) ((1 << manBits) | man), exp - bias - manBits);
        }
        return sign == 1 ? -v : v;
    }

    /**
     * Encodes {@code x} as E4M3: round to nearest even, saturating to ±448; NaN becomes {@link #NAN_CODE}.
     *
     * @param x any float
     * @return the E4M3 code
     */
    public static byte toE4M3(float x) {
        int bits = Float.floatToRawIntBits(x);
        int sign = (bits >>> 24) & 0x80;
        int abs = bits & 0x7FFFFFFF;
        if (abs > 0x7F800000) {
            return NAN_CODE;
        }
        int code;
        if (abs < 0x3C800000) {
            // below 2^-6, the smallest normal: the code is the subnormal mantissa count in units of 2^-9, and
            // rounding up to 8 lands exactly on the smallest normal code.
            code = (int) Math.rint(Float.intBitsToFloat(abs) * 512f);
        } else {
            int rounded = abs + 0x7FFFF + ((abs >>> 20) & 1);
            code = (rounded >>> 20) - ((127 - 7) << 3);
            if (code > 0x7E) {
                code = 0x7E;
            }
        }
        return (byte) (sign | code);
    }

    /**
     * Encodes {@code x} as E5M2: round to nearest even, saturating to ±57344 (infinity too); NaN becomes
     * {@link #NAN_CODE}.
     *
     * @param x any float
     * @return the E5M2 code
     */
    public static byte toE5M2(float x) {
        int bits = Float.floatToRawIntBits(x);
        int sign = (bits >>> 24) & 0x80;
        int abs = bits & 0x7FFFFFFF;
        if (abs > 0x7F800000) {
            return NAN_CODE;
        }
        int code;
        if (abs < 0x38800000) {
            // below 2^-14, the smallest normal: subnormal mantissa count in units of 2^-16.
            code = (int) Math.rint(Float.intBitsToFloat(abs) * 65536f);
        } else {
            int rounded = abs + 0xFFFFF + ((abs >>> 21) & 1);
            code = (rounded >>> 21) - ((127 - 15) << 2);
            if (code > 0x7B) {
                code = 0x7B;
            }
        }
        return (byte) (sign | code);
    }

    /**
     * Decodes an E4M3 code exactly.
     *
     * @param code the byte
     * @return its value; NaN for {@code 0x7F}/{@code 0xFF}
     */
    public static float fromE4M3(byte code) {
        return E4M3_TABLE[code & 0xFF];
    }

    /**
     * Decodes an E5M2 code exactly.
     *
     * @param code the byte
     * @return its value; ±infinity for {@code 0x7C}/{@code 0xFC}, NaN for the other all-ones-exponent codes
     */
    public static float fromE5M2(byte code) {
        return E5M2_TABLE[code & 0xFF];
    }

    /**
     * Returns a copy of the 256-entry decode table of a format, for kernels that want their own copy.
     *
     * @param e4m3 {@code true} for E4M3, {@code false} for E5M2
     * @return a new array; {@code table[code & 0xFF]} is the decoded value
     */
    public static float[] decodeTable(boolean e4m3) {
        return (e4m3 ? E4M3_TABLE : E5M2_TABLE).clone();
    }

    /**
     * Encodes {@code n} floats as {@code code = toE4M3(src / scale)}.
     *
     * @param src    source values
     * @param srcOff first source index
     * @param dst    destination codes
     * @param dstOff first destination index
     * @param n      element count
     * @param scale  positive finite scale; the stored code represents {@code code × scale}
     * @throws IllegalArgumentException  if {@code scale} is not positive and finite, or {@code n < 0}
     * @throws IndexOutOfBoundsException if a range falls outside its array
     */
    public static void encodeE4M3(float[] src, int srcOff, byte[] dst, int dstOff, int n, float scale) {
        checkBulk(src.length, srcOff, dst.length, dstOff, n, scale);
        float inv = 1f / scale;
        for (int i = 0; i < n; i++) {
            dst[dstOff + i] = toE4M3(src[srcOff + i] * inv);
        }
    }

    /**
     * Encodes {@code n} floats as {@code code = toE5M2(src / scale)}.
     *
     * @param src    source values
     * @param srcOff first source index
     * @param dst    destination codes
     * @param dstOff first destination index
     * @param n      element count
     * @param scale  positive finite scale; the stored code represents {@code code × scale}
     * @throws IllegalArgumentException  if {@code scale} is not positive and finite, or {@code n < 0}
     * @throws IndexOutOfBoundsException if a range falls outside its array
     */
    public static void encodeE5M2(float[] src, int srcOff, byte[] dst, int dstOff, int n, float scale) {
        checkBulk(src.length, srcOff, dst.length, dstOff, n, scale);
        float inv = 1f / scale;
        for (int i = 0; i < n; i++) {
            dst[dstOff + i] = toE5M2(src[srcOff + i] * inv);
        }
    }

    /**
     * Decodes {@code n} E4M3 codes as {@code dst = fromE4M3(code) × scale}.
     *
     * @param src    codes
     * @param srcOff first code index
     * @param dst    destination values
     * @param dstOff first destination index
     * @param n      element count
     * @param scale  positive finite scale
     * @throws IllegalArgumentException  if {@code scale} is not positive and finite, or {@code n < 0}
     * @throws IndexOutOfBoundsException if a range falls outside its array
     */
    public static void decodeE4M3(byte[] src, int srcOff, float[] dst, int dstOff, int n, float scale) {
        checkBulk(dst.length, dstOff, src.length, srcOff, n, scale);
        for (int i = 0; i < n; i++) {
            dst[dstOff + i] = E4M3_TABLE[src[srcOff + i] & 0xFF] * scale;
        }
    }

    /**
     * Decodes {@code n} E5M2 codes as {@code dst = fromE5M2(code) × scale}.
     *
     * @param src    codes
     * @param srcOff first code index
     * @param dst    destination values
     * @param dstOff first destination index
     * @param n      element count
     * @param scale  positive finite scale
     * @throws IllegalArgumentException  if {@code scale} is not positive and finite, or {@code n < 0}
     * @throws IndexOutOfBoundsException if a range falls outside its array
     */
    public static void decodeE5M2(byte[] src, int srcOff, float[] dst, int dstOff, int n, float scale) {
        checkBulk(dst.length, dstOff, src.length, srcOff, n, scale);
        for (int i = 0; i < n; i++) {
            dst[dstOff + i] = E5M2_TABLE[src[srcOff + i] & 0xFF] * scale;
        }
    }

    private static void checkBulk(int floatLen, int floatOff, int byteLen, int byteOff, int n, float scale) {
        if (!(scale > 0f) || Float.isInfinite(scale)) {
            throw new IllegalArgumentException("scale must be positive and finite, got " + scale);
        }
        if (n < 0) {
            throw new IllegalArgumentException("n must be >= 0, got " + n);
        }
        java.util.Objects.checkFromIndexSize(floatOff, n, floatLen);
        java.util.Objects.checkFromIndexSize(byteOff, n, byteLen);
    }
}
