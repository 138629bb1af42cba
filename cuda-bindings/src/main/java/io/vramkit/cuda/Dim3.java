package io.vramkit.cuda;

/**
 * A CUDA grid or block size, as {@code dim3}. Immutable.
 *
 * @param x the x extent, at least 1
 * @param y the y extent, at least 1
 * @param z the z extent, at least 1
 */
public record Dim3(int x, int y, int z) {

    /**
     * @throws IllegalArgumentException naming the extent that is below 1
     */
    public Dim3 {
        if (x < 1) {
            throw new IllegalArgumentException("x must be >= 1, got " + x);
        }
        if (y < 1) {
            throw new IllegalArgumentException("y must be >= 1, got " + y);
        }
        if (z < 1) {
            throw new IllegalArgumentException("z must be >= 1, got " + z);
        }
    }

    /** A one-dimensional size. */
    public static Dim3 of(int x) {
        return new Dim3(x, 1, 1);
    }

    /** A two-dimensional size. */
    public static Dim3 of(int x, int y) {
        return new Dim3(x, y, 1);
    }

    /** {@code x * y * z}. */
    public long volume() {
        return (long) x * y * z;
    }
}
