package io.vramkit.core;

/**
 * Element types of dense tensors and buffers.
 *
 * <p>Packed sub-byte and block-scaled formats (INT4, NF4 and friends) are not dtypes: they are
 * quantized formats owned by the quantization module, which describe their own bit layout.
 */
public enum DType {
    /** IEEE 754 binary64. */
    FP64(8),
    /** IEEE 754 binary32. */
    FP32(4),
    /** IEEE 754 binary16. */
    FP16(2),
    /** bfloat16: the upper 16 bits of a binary32. */
    BF16(2),
    /** OCP FP8 E4M3 (finite-only, max 448). */
    FP8_E4M3(1),
    /** OCP FP8 E5M2 (IEEE-like, max 57344). */
    FP8_E5M2(1),
    /** Signed 8-bit integer. */
    INT8(1),
    /** Unsigned 8-bit integer. */
    UINT8(1),
    /** Signed 32-bit integer. */
    INT32(4),
    /** Signed 64-bit integer. */
    INT64(8);

    private final int byteSize;

    DType(int byteSize) {
        this.byteSize = byteSize;
    }

    /** Bytes taken by one element. */
    public int byteSize() {
        return byteSize;
    }

    /** Whether this is a floating-point type. */
    public boolean isFloatingPoint() {
        return switch (this) {
            case FP64, FP32, FP16, BF16, FP8_E4M3, FP8_E5M2 -> true;
            default -> false;
        };
    }
}
