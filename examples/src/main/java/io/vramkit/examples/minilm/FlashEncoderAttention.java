package io.vramkit.examples.minilm;

import io.vramkit.attention.AttentionParams;
import io.vramkit.attention.FlashAttention;
import io.vramkit.attention.HeadTensor;

/**
 * {@link EncoderAttention} through the attention module's {@link FlashAttention}: packed varlen batches with
 * {@code cuSeqlens}, bidirectional (not causal), the explicit softmax scale. Thread-safe, as FlashAttention is.
 */
public final class FlashEncoderAttention implements EncoderAttention {

    private final FlashAttention flash;

    /** Uses FlashAttention with its default tiles and scratch. */
    public FlashEncoderAttention() {
        this(new FlashAttention());
    }

    /**
     * Uses the given FlashAttention.
     *
     * @param flash the kernel (not owned)
     */
    public FlashEncoderAttention(FlashAttention flash) {
        this.flash = java.util.Objects.requireNonNull(flash, "flash");
    }

    @Override
    public void attend(float[] q, float[] k, float[] v, float[] out, int[] cuSeqlens, int heads, int headDim,
                       float scale) {
        int tokens = cuSeqlens[cuSeqlens.length - 1];
        AttentionParams params = AttentionParams.builder().scale(scale).causal(false).build();
        flash.forward(HeadTensor.of(q, tokens, heads, headDim), HeadTensor.of(k, tokens, heads, headDim),
                HeadTensor.of(v, tokens, heads, headDim), cuSeqlens, cuSeqlens, params,
                HeadTensor.of(out, tokens, heads, headDim));
    }
}
