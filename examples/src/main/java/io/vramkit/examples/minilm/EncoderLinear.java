package io.vramkit.examples.minilm;

/**
 * One linear layer as the encoder runs it: {@code y[r, o] = Σ_i x[r, i] · W[o, i] + b[o]}, i.e. {@code y = x·Wᵀ + b},
 * for {@code rows} row-major rows. Implementations hold the weight in some storage format and say how many bytes it
 * takes. Implementations are immutable and thread-safe; {@link #apply} may be called concurrently with distinct
 * output arrays. An implementation may own off-heap memory, released by {@link #close()}.
 */
public interface EncoderLinear extends AutoCloseable {

    /** Input features. */
    int in();

    /** Output features. */
    int out();

    /** Bytes the weight (not the bias) occupies in its storage format, scales included. */
    long weightBytes();

    /**
     * Computes {@code y = x·Wᵀ + b}.
     *
     * @param x    {@code [rows, in]} row-major; read only
     * @param rows the number of rows
     * @param y    {@code [rows, out]} row-major; overwritten
     * @throws IllegalArgumentException if an array is shorter than its shape
     */
    void apply(float[] x, int rows, float[] y);

    /** Releases the weight memory; the layer must not be used afterwards. Idempotent. */
    @Override
    void close();
}
