package io.vramkit.core.planner;

/**
 * The answer to "what fits on these GPUs?". Immutable.
 *
 * @param spec                the plan evaluated (with the answered context and sequences filled in)
 * @param gpus                the GPUs
 * @param kvBlocks            KV blocks that fit per GPU after weights, activations and overheads
 * @param maxContextTokens    the longest context for {@code spec.sequences()} sequences
 * @param maxSequences        the most sequences at {@code spec.contextTokens()}
 * @param limitedBy           what bounds the context: "KV memory" or "model max_position_embeddings"
 * @param estimate            the full estimate at {@code maxSequences} sequences of the asked context
 */
public record WhatFits(InferenceSpec spec, GpuSpec gpus, long kvBlocks, int maxContextTokens, int maxSequences,
                       String limitedBy, InferenceEstimate estimate) {
}
