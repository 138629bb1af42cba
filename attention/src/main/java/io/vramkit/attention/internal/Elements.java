package io.vramkit.attention.internal;

import io.vramkit.core.DType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Scalar element conversions between FP32 and the storage types attention reads and writes (FP16, BF16, INT8,
 * FP8 codes). Stateless and thread-safe.
 */
public final class Elements {

    /** Unaligned little-endian-as-native layouts, so that heap and native segments both work. */
    public static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    /** 16-bit storage layout. */
    public static final ValueLayout.OfShort S16 = ValueLayout.JAVA_SHORT_UNALIGNED;

    private Elements() {
    }

    /** bfloat16 bits to float (exact). */
    public static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat(bits << 16);
    }

    /** float to bfloat16 bits, rounding to nearest even; NaN stays NaN. */
    public static short floatToBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7FFF_FFFF) > 0x7F80_0000) {
            return (short) ((bits >>> 16) | 0x40);
        }
        return (short) ((bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16);
    }

    /** Rounds a float to the nearest value representable in {@code type} (FP32, FP16 or BF16). */
    public static float round(float f, DType type) {
        return switch (type) {
            case FP32 -> f;
            case FP16 -> Float.float16ToFloat(Float.floatToFloat16(f));
            case BF16 -> bf16ToFloat(floatToBf16(f));
            default -> throw new IllegalArgumentException("type must be FP32, FP16 or BF16, got " + type);
        };
    }

    /** Reads element {@code index} of a segment holding {@code type} elements, as float (codes are not scaled). */
    public static float get(MemorySegment seg, DType type, long index, float[] fp8Table) {
        return switch (type) {
            case FP32 -> seg.get(F32, index * 4);
            case FP16 -> Float.float16ToFloat(seg.get(S16, index * 2));
            case BF16 -> bf16ToFloat(seg.get(S16, index * 2));
            case INT8 -> seg.get(ValueLayout.JAVA_BYTE, index);
            case FP8_E4M3, FP8_E5M2 -> fp8Table[seg.get(ValueLayout.JAVA_BYTE, index) & 0xFF];
            default -> throw new IllegalArgumentException("unsupported element type " + type);
        };
    }

    /** Writes {@code value}, rounded to {@code type} (FP32, FP16 or BF16), as element {@code index}. */
    public static void set(MemorySegment seg, DType type, long index, float value) {
        switch (type) {
            case FP32 -> seg.set(F32, index * 4, value);
            case FP16 -> seg.set(S16, index * 2, Float.floatToFloat16(value));
            case BF16 -> seg.set(S16, index * 2, floatToBf16(value));
            default -> throw new IllegalArgumentException("type must be FP32, FP16 or BF16, got " + type);
        }
    }
}
