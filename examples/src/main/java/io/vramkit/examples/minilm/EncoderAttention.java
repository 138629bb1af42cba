package io.vramkit.examples.minilm;

/**
 * Bidirectional (non-causal) scaled dot-product attention over a packed variable-length batch: sequence {@code s}
 * occupies token rows {@code [cuSeqlens[s], cuSeqlens[s+1])} of {@code q}, {@code k}, {@code v} and {@code out},
 * each {@code [totalTokens, heads, headDim]} row-major, and attends only to its own tokens (no padding).
 * Implementations are thread-safe.
 */
public interface EncoderAttention {

    /**
     * {@code out = softmax(q·kᵀ · scale) · v} per sequence and head.
     *
     * @param cuSeqlens cumulative sequence starts, {@code [batch + 1]}, starting at 0
     * @throws IllegalArgumentException if the shapes do not agree
     */
    void attend(float[] q, float[] k, float[] v, float[] out, int[] cuSeqlens, int heads, int headDim, float scale);
}
