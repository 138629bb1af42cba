package io.vramkit.core.kv;

/**
 * Element conversions of the paged KV layout (see {@code docs/formats.md} and {@code docs/kv-cache.md}): FP16, BF16,
 * FP8 E4M3 and symmetric INT8 codes.
 *
 * <p>Core cannot depend on the quantization module, so the few conversions the KV cache needs live here. The E4M3
 * encoder is the same algorithm as the quantization module's canonical {@code io.vramkit.quant.Fp8.toE4M3}
 * (round to nearest even, saturating to ±448, NaN to {@code 0x7F}), so both produce identical bits.
 *
 * <p>INT8 codes are symmetric, −127..127, value = code × scale, with {@code scale = absmax / 127}. FP8 codes store
 * {@code value / scale} with {@code scale = absmax / 448}. Stateless and thread-safe.
 */
public final class KvQuant {

    /** Largest finite E4M3 magnitude. */
    public static final float E4M3_MAX = 448f;
    /** Largest INT8 code magnitude (symmetric, −127..127). */
    public static final int INT8_MAX = 127;

    private static final float[] E4M3_TABLE = new float[256];

    static {
        for (int c = 0; c < 256; c++) {
            int exp = (c >>> 3) & 0xF;
            int man = c & 7;
            float v;
            if (exp == 15 && man == 7) {
                v = Float.NaN;
            } else if (exp == 0) {
                v = Math.scalb((float) man, -9);
            } else {
                v = Math.scalb((float) (8 | man), exp - 10);
            }
            E4M3_TABLE[c] = (c & 0x80) != 0 ? -v : v;
        }
    }

    private KvQuant() {
    }

    /**
     * Encodes a float as OCP FP8 E4M3 (finite-only): round to nearest even, saturating to ±448, NaN to {@code 0x7F}.
     *
     * @param x the value
     * @return the code byte
     */
    public static byte toE4M3(float x) {
        int bits = Float.floatToRawIntBits(x);
        int sign = (bits >>> 24) & 0x80;
        int abs = bits & 0x7FFFFFFF;
        if (abs > 0x7F800000) {
            return 0x7F;
        }
        int code;
        if (abs < 0x3C800000) {
            // below 2^-6, the smallest normal: subnormal mantissa in units of 2^-9; rounding up to 8 lands exactly on
            // the smallest normal code.
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

    /** Decodes an E4M3 code. */
    public static float fromE4M3(byte code) {
        return E4M3_TABLE[code & 0xFF];
    }

    /** Rounds a float to bfloat16 (nearest even) and returns the 16 bits. NaN stays NaN. */
    public static short toBf16(float x) {
        int bits = Float.floatToRawIntBits(x);
        if ((bits & 0x7FFFFFFF) > 0x7F800000) {
            return (short) ((bits >>> 16) | 0x40);
        }
        return (short) ((bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16);
    }

    /** Widens bfloat16 bits to a float, exactly. */
    public static float fromBf16(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    /**
     * The symmetric INT8 code of {@code x} at {@code scale}: {@code round(x / scale)} clamped to −127..127, or 0 when
     * the scale is 0.
     */
    public static byte toInt8(float x, float scale) {
        if (scale == 0f) {
            return 0;
        }
        int q = Math.round(x / scale);
        return (byte) Math.max(-INT8_MAX, Math.min(INT8_MAX, q));
    }

    /**
     * The scale for a group whose largest magnitude is {@code absmax}, for a one-byte code type.
     *
     * @param absmax the largest magnitude in the group, {@code >= 0}
     * @param fp8    whether the codes are FP8 E4M3 (else INT8)
     * @return {@code absmax / 448} or {@code absmax / 127}
     */
    public static float scaleFor(float absmax, boolean fp8) {
        return absmax / (fp8 ? E4M3_MAX : INT8_MAX);
    }
}
