package io.vramkit.core.planner;

/**
 * A mixed-precision Adam training setup for the ZeRO and activation estimates.
 *
 * @param parameters       model parameters Ψ
 * @param gpus             GPUs in all, a multiple of {@code tensorParallel × pipelineParallel}
 * @param zeroStage        0 (plain data parallel), 1 (optimizer states partitioned), 2 (+ gradients), 3 (+ params)
 * @param offload          what lives in host memory instead
 * @param tensorParallel   tensor-parallel degree t
 * @param pipelineParallel pipeline-parallel degree p
 * @param model            the architecture, for activations; null to count model states only
 * @param seqLength        sequence length s
 * @param microBatch       micro-batch size b
 * @param checkpointing    activation recomputation
 * @param sequenceParallel whether tensor parallelism also splits the layer norms and dropouts (Korthikanti et al.)
 */
public record TrainingSpec(long parameters, int gpus, int zeroStage, Offload offload, int tensorParallel,
                           int pipelineParallel, ModelConfig model, int seqLength, int microBatch,
                           Checkpointing checkpointing, boolean sequenceParallel) {

    /** Where ZeRO-Offload puts model states. */
    public enum Offload {
        /** Everything on the GPU. */
        NONE,
        /** Optimizer states and gradients in host memory (ZeRO-Offload; needs stage 1 or more). */
        OPTIMIZER,
        /** Also the parameters (ZeRO-Infinity style; needs stage 3). */
        OPTIMIZER_AND_PARAMS
    }

    /** Activation recomputation, as in Korthikanti et al. 2022. */
    public enum Checkpointing {
        /** Store every activation. */
        NONE,
        /** Recompute the attention core (softmax, dropout, scores) only. */
        SELECTIVE,
        /** Store only each layer's input and recompute the rest. */
        FULL
    }

    /**
     * Validates.
     *
     * @throws IllegalArgumentException naming the bad component and its value
     */
    public TrainingSpec {
        if (parameters <= 0) {
            throw new IllegalArgumentException("parameters must be positive, got " + parameters);
        }
        if (gpus <= 0) {
            throw new IllegalArgumentException("gpus must be positive, got " + gpus);
        }
        if (zeroStage < 0 || zeroStage > 3) {
            throw new IllegalArgumentException("zeroStage must be 0..3, got " + zeroStage);
        }
        if (offload == null || checkpointing == null) {
            throw new IllegalArgumentException("offload and checkpointing must not be null");
        }
        if (offload == Offload.OPTIMIZER && zeroStage < 1) {
            throw new IllegalArgumentException("offload OPTIMIZER needs zeroStage >= 1, got " + zeroStage);
        }
        if (offload == Offload.OPTIMIZER_AND_PARAMS && zeroStage != 3) {
            throw new IllegalArgumentException("offload OPTIMIZER_AND_PARAMS needs zeroStage 3, got " + zeroStage);
        }
        if (tensorParallel <= 0 || pipelineParallel <= 0) {
            throw new IllegalArgumentException("tensorParallel and pipelineParallel must be positive, got "
                    + tensorParallel + " and " + pipelineParallel);
        }
        if (gpus % (tensorParallel * pipelineParallel) != 0) {
            throw new IllegalArgumentException("gpus " + gpus + " must be a multiple of tensorParallel x "
                    + "pipelineParallel = " + tensorParallel * pipelineParallel);
        }
        if (model != null && (seqLength <= 0 || microBatch <= 0)) {
            throw new IllegalArgumentException("seqLength and microBatch must be positive with a model, got "
                    + seqLength + " and " + microBatch);
        }
    }

    /** Model states only (no activations), no model or tensor parallelism: the ZeRO paper's setting. */
    public static TrainingSpec zero(long parameters, int gpus, int stage) {
        return new TrainingSpec(parameters, gpus, stage, Offload.NONE, 1, 1, null, 0, 0, Checkpointing.NONE, false);
    }

    /** Data-parallel degree {@code gpus / (t × p)}. */
    public int dataParallel() {
        return gpus / (tensorParallel * pipelineParallel);
    }
}
