package io.vramkit.core.planner;

import io.vramkit.core.DType;

/**
 * What to serve: a model, its weight plan and KV precision, and the load.
 *
 * @param model          the model
 * @param weights        the weight plan
 * @param kvDType        KV element type: FP32, FP16, BF16, INT8 or FP8_E4M3
 * @param blockSize      KV block size in tokens
 * @param contextTokens  tokens per sequence (prompt plus output)
 * @param sequences      concurrent sequences
 * @param maxBatchTokens tokens per forward step (sizes activations)
 * @param tensorParallel GPUs the model is split over (weights, KV heads and activations divide by it)
 */
public record InferenceSpec(ModelConfig model, WeightPlan weights, DType kvDType, int blockSize, int contextTokens,
                            int sequences, int maxBatchTokens, int tensorParallel) {

    /**
     * Validates.
     *
     * @throws IllegalArgumentException naming the bad component and its value
     */
    public InferenceSpec {
        if (model == null || weights == null || kvDType == null) {
            throw new IllegalArgumentException("model, weights and kvDType must not be null");
        }
        switch (kvDType) {
            case FP32, FP16, BF16, INT8, FP8_E4M3 -> { }
            default -> throw new IllegalArgumentException("kvDType must be FP32, FP16, BF16, INT8 or FP8_E4M3, got "
                    + kvDType);
        }
        if (blockSize <= 0) {
            throw new IllegalArgumentException("blockSize must be positive, got " + blockSize);
        }
        if (contextTokens <= 0) {
            throw new IllegalArgumentException("contextTokens must be positive, got " + contextTokens);
        }
        if (sequences <= 0) {
            throw new IllegalArgumentException("sequences must be positive, got " + sequences);
        }
        if (maxBatchTokens <= 0) {
            throw new IllegalArgumentException("maxBatchTokens must be positive, got " + maxBatchTokens);
        }
        if (tensorParallel <= 0) {
            throw new IllegalArgumentException("tensorParallel must be positive, got " + tensorParallel);
        }
    }

    /** One sequence of {@code contextTokens}, block 16, 2048-token steps, no tensor parallelism. */
    public static InferenceSpec of(ModelConfig model, WeightPlan weights, DType kvDType, int contextTokens) {
        return new InferenceSpec(model, weights, kvDType, 16, contextTokens, 1, 2048, 1);
    }

    /** A copy with another context. */
    public InferenceSpec withContext(int tokens) {
        return new InferenceSpec(model, weights, kvDType, blockSize, tokens, sequences, maxBatchTokens,
                tensorParallel);
    }

    /** A copy with another number of sequences. */
    public InferenceSpec withSequences(int n) {
        return new InferenceSpec(model, weights, kvDType, blockSize, contextTokens, n, maxBatchTokens,
                tensorParallel);
    }

    /** A copy with another tensor-parallel degree. */
    public InferenceSpec withTensorParallel(int t) {
        return new InferenceSpec(model, weights, kvDType, blockSize, contextTokens, sequences, maxBatchTokens, t);
    }

    /** A copy with other weights and KV precision. */
    public InferenceSpec withPrecision(WeightPlan w, DType kv) {
        return new InferenceSpec(model, w, kv, blockSize, contextTokens, sequences, maxBatchTokens, tensorParallel);
    }
}
