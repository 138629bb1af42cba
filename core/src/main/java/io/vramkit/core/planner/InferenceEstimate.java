package io.vramkit.core.planner;

/**
 * Memory to serve an {@link InferenceSpec}, in bytes. Per-GPU figures assume tensor parallelism over
 * {@code tensorParallel} GPUs. Immutable.
 *
 * @param parameters          model parameters
 * @param weightBytes         all weights
 * @param kvBytesPerToken     KV bytes per token, all layers, K and V, without scales or block rounding
 * @param kvBlockBytes        bytes of one KV block across layers, scales included
 * @param kvBlocksPerSequence blocks one sequence holds at its full context (block rounding, sliding window)
 * @param kvBytes             KV bytes for all sequences
 * @param activationBytes     peak activations of one step, per GPU
 * @param workspaceBytes      library workspaces (cuBLAS), per GPU
 * @param allocatorOverhead   pool fragmentation and alignment, per GPU
 * @param runtimeOverhead     CUDA context and handles, per GPU
 * @param perGpuBytes         everything one GPU holds
 * @param totalBytes          everything, all GPUs
 * @param tensorParallel      GPUs the model is split over
 */
public record InferenceEstimate(long parameters, long weightBytes, long kvBytesPerToken, long kvBlockBytes,
                                long kvBlocksPerSequence, long kvBytes, long activationBytes, long workspaceBytes,
                                long allocatorOverhead, long runtimeOverhead, long perGpuBytes, long totalBytes,
                                int tensorParallel) {
}
