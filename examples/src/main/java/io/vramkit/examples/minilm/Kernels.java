package io.vramkit.examples.minilm;

/** The attention kernel the demo runs: the attention module's FlashAttention. */
final class Kernels {

    private static final EncoderAttention ATTENTION = new FlashEncoderAttention();

    private Kernels() {
    }

    static EncoderAttention attention() {
        return ATTENTION;
    }
}
