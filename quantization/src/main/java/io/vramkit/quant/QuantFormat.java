package io.vramkit.quant;

import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * A weight storage format: a scheme (dense FP32/FP16/BF16, INT8, INT4 symmetric or asymmetric, NF4, FP8) plus its
 * group size and options. Every format has exactly one packed layout, specified in {@code docs/formats.md} and
 * shared by the CPU and CUDA kernels.
 *
 * <p>Weights are matrices {@code [rows, cols] = [outFeatures, inFeatures]}, row-major; groups run along a row
 * (the input dimension). A group size of {@link #PER_CHANNEL} ({@code 0}) means one scale per row.
 *
 * <p>Immutable value type; instances are compared by value and are thread-safe. {@link #name()} gives a stable
 * text form ({@code "INT4_G128"}, {@code "NF4_B64_DQ"}) that {@link #parse(String)} reads back; it is what
 * safetensors metadata and the CLI use.
 */
public final class QuantFormat {

    /** The group size meaning "one scale per output row". */
    public static final int PER_CHANNEL = 0;

    /** The quantization scheme of a format. */
    public enum Scheme {
        /** Dense IEEE binary32, no scales. */
        FP32,
        /** Dense IEEE binary16, no scales. */
        FP16,
        /** Dense bfloat16, no scales. */
        BF16,
        /** Signed 8-bit, symmetric ({@code -127..127}), scale per row or per group. */
        INT8,
        /**
         * 4-bit symmetric ({@code -8..7}), signed FP16 scale per group that maps the largest-magnitude weight to
         * {@code -8} (as llama.cpp's Q4_0).
         */
        INT4_SYM,
        /** 4-bit asymmetric ({@code 0..15} with a zero-point), scale and zero-point per group. */
        INT4_ASYM,
        /** 4-bit NormalFloat (the QLoRA codebook), absmax per block, optionally double-quantized. */
        NF4,
        /** FP8 E4M3 codes with an FP32 scale per row. */
        FP8_E4M3,
        /** FP8 E5M2 codes with an FP32 scale per row. */
        FP8_E5M2
    }

    /** Dense FP32 (32 bits per weight). */
    public static final QuantFormat FP32 = new QuantFormat(Scheme.FP32, PER_CHANNEL, false);
    /** Dense FP16 (16 bits per weight). */
    public static final QuantFormat FP16 = new QuantFormat(Scheme.FP16, PER_CHANNEL, false);
    /** Dense BF16 (16 bits per weight). */
    public static final QuantFormat BF16 = new QuantFormat(Scheme.BF16, PER_CHANNEL, false);
    /** INT8 with one FP32 scale per output row. */
    public static final QuantFormat INT8 = new QuantFormat(Scheme.INT8, PER_CHANNEL, false);
    /** INT8 with an FP16 scale per 32 weights. */
    public static final QuantFormat INT8_G32 = int8(32);
    /** INT8 with an FP16 scale per 64 weights. */
    public static final QuantFormat INT8_G64 = int8(64);
    /** INT8 with an FP16 scale per 128 weights. */
    public static final QuantFormat INT8_G128 = int8(128);
    /** INT4 symmetric, groups of 32. */
    public static final QuantFormat INT4_G32 = int4(32, true);
    /** INT4 symmetric, groups of 64. */
    public static final QuantFormat INT4_G64 = int4(64, true);
    /** INT4 symmetric, groups of 128. */
    public static final QuantFormat INT4_G128 = int4(128, true);
    /** INT4 asymmetric, groups of 32. */
    public static final QuantFormat INT4_ASYM_G32 = int4(32, false);
    /** INT4 asymmetric, groups of 64. */
    public static final QuantFormat INT4_ASYM_G64 = int4(64, false);
    /** INT4 asymmetric, groups of 128. */
    public static final QuantFormat INT4_ASYM_G128 = int4(128, false);
    /** NF4, blocks of 64, FP32 absmax (QLoRA without double quantization). */
    public static final QuantFormat NF4_B64 = nf4(64, false);
    /** NF4, blocks of 64, double-quantized absmax (QLoRA). */
    public static final QuantFormat NF4_B64_DQ = nf4(64, true);
    /** FP8 E4M3, FP32 scale per row. */
    public static final QuantFormat FP8_E4M3 = new QuantFormat(Scheme.FP8_E4M3, PER_CHANNEL, false);
    /** FP8 E5M2, FP32 scale per row. */
    public static final QuantFormat FP8_E5M2 = new QuantFormat(Scheme.FP8_E5M2, PER_CHANNEL, false);

    /** Absmax values per second-level scale in NF4 double quantization. */
    public static final int DOUBLE_QUANT_BLOCK = 256;

    private final Scheme scheme;
    private final int groupSize;
    private final boolean doubleQuant;

    private QuantFormat(Scheme scheme, int groupSize, boolean doubleQuant) {
        this.scheme = scheme;
        this.groupSize = groupSize;
        this.doubleQuant = doubleQuant;
    }

    /**
     * INT8 symmetric with an FP16 scale per group.
     *
     * @param groupSize an even group size &ge; 2, or {@link #PER_CHANNEL} for one FP32 scale per row
     * @return the format
     * @throws IllegalArgumentException if {@code groupSize} is negative, odd or 1
     */
    public static QuantFormat int8(int groupSize) {
        return new QuantFormat(Scheme.INT8, checkGroup("groupSize", groupSize, true), false);
    }

    /**
     * INT4 with an FP16 scale (and, when asymmetric, a zero-point) per group.
     *
     * @param groupSize an even group size &ge; 2
     * @param symmetric {@code true} for codes {@code -8..7} with a signed scale {@code -maxabs/8}; {@code false} for codes
     *                  {@code 0..15} with a zero-point
     * @return the format
     * @throws IllegalArgumentException if {@code groupSize} is not even and &ge; 2
     */
    public static QuantFormat int4(int groupSize, boolean symmetric) {
        return new QuantFormat(symmetric ? Scheme.INT4_SYM : Scheme.INT4_ASYM,
                checkGroup("groupSize", groupSize, false), false);
    }

    /**
     * NF4 with an absmax per block of {@code blockSize} weights.
     *
     * @param blockSize   an even block size &ge; 2
     * @param doubleQuant whether the absmax values are themselves quantized to INT8 (QLoRA double quantization)
     * @return the format
     * @throws IllegalArgumentException if {@code blockSize} is not even and &ge; 2
     */
    public static QuantFormat nf4(int blockSize, boolean doubleQuant) {
        return new QuantFormat(Scheme.NF4, checkGroup("blockSize", blockSize, false), doubleQuant);
    }

    private static int checkGroup(String what, int g, boolean allowPerChannel) {
        if (allowPerChannel && g == PER_CHANNEL) {
            return g;
        }
        if (g < 2 || (g & 1) != 0) {
            throw new IllegalArgumentException(what + " must be even and >= 2"
                    + (allowPerChannel ? " (or 0 for per-channel)" : "") + ", got " + g);
        }
        return g;
    }

    /**
     * Parses the text form produced by {@link #name()}: {@code FP32}, {@code FP16}, {@code BF16}, {@code INT8},
     * {@code INT8_G<n>}, {@code INT4_G<n>}, {@code INT4_ASYM_G<n>}, {@code NF4_B<n>}, {@code NF4_B<n>_DQ},
     * {@code FP8_E4M3}, {@code FP8_E5M2}. Case-insensitive.
     *
     * @param text the format name
     * @return the format
     * @throws IllegalArgumentException naming the text if it is not a format
     */
    public static QuantFormat parse(String text) {
        Objects.requireNonNull(text, "text");
        String s = text.trim().toUpperCase(Locale.ROOT);
        try {
            switch (s) {
                case "FP32": return FP32;
                case "FP16": return FP16;
                case "BF16": return BF16;
                case "INT8": return INT8;
                case "FP8_E4M3": return FP8_E4M3;
                case "FP8_E5M2": return FP8_E5M2;
                default:
                    break;
            }
            if (s.startsWith("INT8_G")) {
                return int8(Integer.parseInt(s.substring(6)));
            }
            if (s.startsWith("INT4_ASYM_G")) {
                return int4(Integer.parseInt(s.substring(11)), false);
            }
            if (s.startsWith("INT4_G")) {
                return int4(Integer.parseInt(s.substring(6)), true);
            }
            if (s.startsWith("NF4_B")) {
                boolean dq = s.endsWith("_DQ");
                return nf4(Integer.parseInt(s.substring(5, dq ? s.length() - 3 : s.length())), dq);
            }
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not a quantization format: '" + text + "'", e);
        }
        throw new IllegalArgumentException("not a quantization format: '" + text + "' (expected one of FP32, FP16, "
                + "BF16, INT8, INT8_G<n>, INT4_G<n>, INT4_ASYM_G<n>, NF4_B<n>, NF4_B<n>_DQ, FP8_E4M3, FP8_E5M2)");
    }

    /** The formats the planner and CLI try by default, from largest to smallest. */
    public static List<QuantFormat> standard() {
        return List.of(FP16, INT8, INT8_G128, FP8_E4M3, INT4_ASYM_G32, INT4_G32, INT4_G64, NF4_B64, INT4_G128,
                NF4_B64_DQ);
    }

    /** The scheme. */
    public Scheme scheme() {
        return scheme;
    }

    /** Weights per scale along a row; {@link #PER_CHANNEL} ({@code 0}) for one scale per row or no scale. */
    public int groupSize() {
        return groupSize;
    }

    /** Whether NF4 absmax values are double-quantized. Always {@code false} for other schemes. */
    public boolean doubleQuant() {
        return doubleQuant;
    }

    /** Whether the format stores raw floating-point weights without scales. */
    public boolean isDense() {
        return scheme == Scheme.FP32 || scheme == Scheme.FP16 || scheme == Scheme.BF16;
    }

    /** Whether codes take 4 bits (two per byte). */
    public boolean isFourBit() {
        return scheme == Scheme.INT4_SYM || scheme == Scheme.INT4_ASYM || scheme == Scheme.NF4;
    }

    /** Bits of one code (32, 16, 8 or 4), scales not included. */
    public int codeBits() {
        return switch (scheme) {
            case FP32 -> 32;
            case FP16, BF16 -> 16;
            case INT8, FP8_E4M3, FP8_E5M2 -> 8;
            case INT4_SYM, INT4_ASYM, NF4 -> 4;
        };
    }

    /**
     * Checks that a {@code [rows, cols]} matrix can be stored in this format. vramkit rejects rather than pads: a
     * group must never straddle two rows, and padding would change the stored shape.
     *
     * @param name tensor name for the message
     * @param rows output features
     * @param cols input features
     * @throws IllegalArgumentException naming the tensor, the dimension and the sizes if the shape does not fit
     */
    public void checkShape(String name, int rows, int cols) {
        if (rows < 1 || cols < 1) {
            throw new IllegalArgumentException("tensor '" + name + "': rows and cols must be >= 1, got rows=" + rows
                    + ", cols=" + cols);
        }
        if (groupSize != PER_CHANNEL && cols % groupSize != 0) {
            throw new IllegalArgumentException("tensor '" + name + "': cols (input dimension) = " + cols
                    + " is not divisible by the group size " + groupSize + " of " + name()
                    + "; vramkit does not pad, choose a group size that divides " + cols);
        }
        if (isFourBit() && (cols & 1) != 0) {
            throw new IllegalArgumentException("tensor '" + name + "': cols = " + cols + " must be even for "
                    + name());
        }
    }

    /** Groups per row for {@code cols} input features ({@code 1} for per-channel formats). */
    public int groupsPerRow(int cols) {
        return groupSize == PER_CHANNEL ? 1 : cols / groupSize;
    }

    /**
     * Exact bytes to store a {@code [rows, cols]} matrix: codes plus scales, zero-points and second-level scales.
     *
     * @param rows output features
     * @param cols input features
     * @return the byte size
     * @throws IllegalArgumentException as {@link #checkShape}
     */
    public long storageBytes(int rows, int cols) {
        checkShape("?", rows, cols);
        long n = (long) rows * cols;
        long codes = n * codeBits() / 8;
        long groups = (long) rows * groupsPerRow(cols);
        return codes + switch (scheme) {
            case FP32, FP16, BF16 -> 0L;
            case INT8 -> groupSize == PER_CHANNEL ? 4L * rows : 2L * groups;
            case FP8_E4M3, FP8_E5M2 -> 4L * rows;
            case INT4_SYM -> 2L * groups;
            case INT4_ASYM -> 3L * groups;
            case NF4 -> doubleQuant ? groups + 4L * ((groups + DOUBLE_QUANT_BLOCK - 1) / DOUBLE_QUANT_BLOCK) + 4L
                    : 4L * groups;
        };
    }

    /**
     * Exact bits per weight, scales included, for a {@code [rows, cols]} matrix.
     *
     * @param rows output features
     * @param cols input features
     * @return {@code 8 × storageBytes / (rows × cols)}
     */
    public double bitsPerWeight(int rows, int cols) {
        return 8.0 * storageBytes(rows, cols) / ((double) rows * cols);
    }

    /**
     * Nominal bits per weight including per-group scales; per-row scales and the per-tensor constants of double
     * quantization are amortized over a 4096×4096 matrix (they cost under 0.01 bit there).
     */
    public double bitsPerWeight() {
        int g = groupSize == PER_CHANNEL ? 128 : groupSize;
        int cols = Math.max(4096, g) / g * g;
        return bitsPerWeight(4096, cols);
    }

    /** The stable text form, e.g. {@code INT4_G128}, {@code INT4_ASYM_G32}, {@code NF4_B64_DQ}, {@code INT8}. */
    public String name() {
        return switch (scheme) {
            case FP32, FP16, BF16, FP8_E4M3, FP8_E5M2 -> scheme.name();
            case INT8 -> groupSize == PER_CHANNEL ? "INT8" : "INT8_G" + groupSize;
            case INT4_SYM -> "INT4_G" + groupSize;
            case INT4_ASYM -> "INT4_ASYM_G" + groupSize;
            case NF4 -> "NF4_B" + groupSize + (doubleQuant ? "_DQ" : "");
        };
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof QuantFormat f && f.scheme == scheme && f.groupSize == groupSize
                && f.doubleQuant == doubleQuant;
    }

    @Override
    public int hashCode() {
        return Objects.hash(scheme, groupSize, doubleQuant);
    }

    /** Same as {@link #name()}. */
    @Override
    public String toString() {
        return name();
    }
}
