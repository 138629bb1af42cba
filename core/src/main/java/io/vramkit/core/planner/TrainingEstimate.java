package io.vramkit.core.planner;

/**
 * Per-GPU training memory, in bytes. Immutable.
 *
 * @param parameterBytes  FP16 parameters held on the GPU
 * @param gradientBytes   FP16 gradients held on the GPU
 * @param optimizerBytes  FP32 master weights, momentum and variance held on the GPU
 * @param hostBytes       model states offloaded to host memory, per GPU
 * @param activationBytes activations of the first pipeline stage (the largest)
 * @param totalBytes      everything the GPU holds
 */
public record TrainingEstimate(long parameterBytes, long gradientBytes, long optimizerBytes, long hostBytes,
                               long activationBytes, long totalBytes) {

    /** Parameters, gradients and optimizer states on the GPU. */
    public long modelStateBytes() {
        return parameterBytes + gradientBytes + optimizerBytes;
    }
}
