package io.vramkit.quant.internal;

/** Error construction shared by the kernels, so every path names the tensor and the index the same way. */
public final class Checks {

    private Checks() {
    }

    /**
     * Finds the first non-finite value in {@code w[from, to)} and returns the exception that names it.
     *
     * @param name tensor name
     * @param w    weights
     * @param cols row length, to report row and column
     * @param from first flat index to scan
     * @param to   end of the scan
     * @return the exception to throw (never null; if nothing is found, one that says the range overflowed)
     */
    public static IllegalArgumentException nonFinite(String name, float[] w, int cols, int from, int to) {
        for (int i = from; i < to; i++) {
            if (!Float.isFinite(w[i])) {
                return new IllegalArgumentException("tensor '" + name + "': weight at index " + i + " (row "
                        + i / cols + ", col " + i % cols + ") is " + w[i] + "; NaN and infinity are rejected");
            }
        }
        return new IllegalArgumentException("tensor '" + name + "': weights in index range [" + from + ", " + to
                + ") overflow the format");
    }

    /** The exception for a group whose FP16 scale overflows. */
    public static IllegalArgumentException scaleOverflow(String name, int row, int group, float needed) {
        return new IllegalArgumentException("tensor '" + name + "': the scale of row " + row + ", group " + group
                + " would be " + needed + ", beyond FP16's 65504; weights this large need INT8 per-channel, FP8 or "
                + "a dense format");
    }

    /** The exception for a value beyond a dense format's range. */
    public static IllegalArgumentException valueOverflow(String name, int index, float value, String format) {
        return new IllegalArgumentException("tensor '" + name + "': weight at index " + index + " is " + value
                + ", beyond the range of " + format);
    }

    /** Rounds to FP16 and back; callers check for infinity. */
    public static float roundFp16(float v) {
        return Float.float16ToFloat(Float.floatToFloat16(v));
    }
}
