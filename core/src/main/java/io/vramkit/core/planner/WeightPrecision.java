package io.vramkit.core.planner;

import java.util.Locale;

/**
 * Storage formats of linear weights, with exact byte counts that follow the quantization module's
 * {@code QuantFormat.storageBytes} for the default group sizes (see {@code docs/formats.md}).
 */
public enum WeightPrecision {
    /** IEEE binary32. */
    FP32,
    /** IEEE binary16. */
    FP16,
    /** bfloat16. */
    BF16,
    /** FP8 E4M3 with one FP32 scale per output row. */
    FP8,
    /** Symmetric INT8 with one FP32 scale per output row. */
    INT8,
    /** Symmetric INT4 in groups of 128 with FP16 scales (4.125 bits per weight). */
    INT4,
    /** NF4 in blocks of 64 with double-quantized absmax (8-bit, blocks of 256): about 4.127 bits per weight. */
    NF4;

    /**
     * Exact bytes of a {@code [rows, cols]} weight matrix in this format.
     *
     * @throws IllegalArgumentException if a dimension is not positive
     */
    public long storageBytes(long rows, long cols) {
        if (rows <= 0 || cols <= 0) {
            throw new IllegalArgumentException("rows and cols must be positive, got " + rows + " x " + cols);
        }
        long n = rows * cols;
        return switch (this) {
            case FP32 -> 4 * n;
            case FP16, BF16 -> 2 * n;
            case FP8, INT8 -> n + 4 * rows;
            case INT4 -> n / 2 + 2 * rows * ((cols + 127) / 128);
            case NF4 -> {
                long groups = rows * ((cols + 63) / 64);
                yield n / 2 + groups + 4 * ((groups + 255) / 256) + 4;
            }
        };
    }

    /** Whether the format is below 16 bits (its plans keep embeddings, norms and router in FP16). */
    public boolean isQuantized() {
        return this == FP8 || this == INT8 || this == INT4 || this == NF4;
    }

    /** Nominal bits per weight including scales, on a 4096 × 4096 matrix. */
    public double bitsPerWeight() {
        return 8.0 * storageBytes(4096, 4096) / (4096.0 * 4096.0);
    }

    /**
     * Parses {@code fp32, fp16, bf16, fp8, int8, int4, nf4} (case-insensitive).
     *
     * @throws IllegalArgumentException naming the known formats
     */
    public static WeightPrecision parse(String s) {
        try {
            return valueOf(s.toUpperCase(Locale.ROOT));
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("unknown weight precision '" + s
                    + "'; known: fp32, fp16, bf16, fp8, int8, int4, nf4");
        }
    }
}
