package io.vramkit.core.planner;

import io.vramkit.core.DType;
import io.vramkit.core.kv.KvCacheConfig;

import java.util.ArrayList;
import java.util.List;

/**
 * Estimates inference and training memory from a model config and answers "what fits". Formulas and sources are in
 * {@code docs/kv-cache.md}:
 * <ul>
 *   <li>weights: exact per-tensor bytes of the {@link WeightPlan};</li>
 *   <li>KV: {@code 2 × layers × kvHeads × headDim × bytes} per token, rounded up to whole blocks per sequence
 *       (vLLM's paging), capped at the live blocks of a sliding window, plus FP32 scales per block and head for
 *       INT8/FP8;</li>
 *   <li>activations of one step of {@code maxBatchTokens} tokens (residual, norm output, Q/K/V, the gated MLP's
 *       three intermediates, FP16) plus FP32 logits per sequence; cuBLAS workspace; allocator overhead as a fraction
 *       of the dynamic memory; a fixed runtime overhead per GPU (CUDA context, handles);</li>
 *   <li>training: ZeRO stages 0–3 (Rajbhandari et al. 2020) with {@code K = 12} bytes of optimizer state per
 *       parameter, ZeRO-Offload, tensor and pipeline parallelism; activations per Korthikanti et al. 2022.</li>
 * </ul>
 * Immutable and thread-safe.
 *
 * @param gpuMemoryUtilization      fraction of each GPU the plan may use (vLLM's default is 0.90)
 * @param runtimeOverheadBytes      per-GPU bytes outside any pool (CUDA context, cuBLAS/NCCL handles)
 * @param workspaceBytes            per-GPU library workspace
 * @param allocatorOverheadFraction pool overhead over KV, activations and workspace
 */
public record CapacityPlanner(double gpuMemoryUtilization, long runtimeOverheadBytes, long workspaceBytes,
                              double allocatorOverheadFraction) {

    /** Bytes of optimizer state per parameter for mixed-precision Adam (FP32 master, momentum, variance). */
    public static final int ADAM_BYTES_PER_PARAMETER = 12;

    /**
     * Validates.
     *
     * @throws IllegalArgumentException naming the bad component
     */
    public CapacityPlanner {
        if (!(gpuMemoryUtilization > 0 && gpuMemoryUtilization <= 1)) {
            throw new IllegalArgumentException("gpuMemoryUtilization must be in (0, 1], got " + gpuMemoryUtilization);
        }
        if (runtimeOverheadBytes < 0 || workspaceBytes < 0) {
            throw new IllegalArgumentException("runtimeOverheadBytes and workspaceBytes must be >= 0, got "
                    + runtimeOverheadBytes + " and " + workspaceBytes);
        }
        if (!(allocatorOverheadFraction >= 0 && allocatorOverheadFraction < 1)) {
            throw new IllegalArgumentException("allocatorOverheadFraction must be in [0, 1), got "
                    + allocatorOverheadFraction);
        }
    }

    /** GPU defaults: 90% utilization, 512 MiB runtime overhead, 32 MiB workspace, 2% allocator overhead. */
    public static CapacityPlanner gpuDefaults() {
        return new CapacityPlanner(0.90, 512L << 20, 32L << 20, 0.02);
    }

    /** CPU run: no runtime overhead or workspace; the KV pool and weights only. */
    public static CapacityPlanner cpu() {
        return new CapacityPlanner(1.0, 0, 0, 0);
    }

    /** KV element bytes. */
    private static int kvElem(DType t) {
        return t.byteSize();
    }

    /** Bytes of one KV block across layers, K and V, scales included, for the whole model (all KV heads). */
    public static long kvBlockBytes(ModelConfig m, DType kv, int blockSize) {
        long data = (long) blockSize * m.kvElementsPerToken() * kvElem(kv);
        long scales = kv.byteSize() == 1 ? 2L * m.numLayers() * m.numKvHeads() * Float.BYTES : 0;
        return data + scales;
    }

    /** Blocks one sequence holds at {@code context} tokens: rounded up, and capped by a sliding window. */
    public static long kvBlocksPerSequence(ModelConfig m, int blockSize, int context) {
        long blocks = (context + (long) blockSize - 1) / blockSize;
        if (m.slidingWindow() > 0) {
            // blocks wholly behind the window are reclaimed (PagedKvCache's rule), so at most this many are live
            blocks = Math.min(blocks, (m.slidingWindow() + (long) blockSize - 1) / blockSize + 1);
        }
        return blocks;
    }

    /**
     * A {@link KvCacheConfig} for this model's KV cache on one GPU (all KV heads when {@code tensorParallel} is 1).
     *
     * @param numBlocks blocks in the pool
     */
    public static KvCacheConfig kvCacheConfig(ModelConfig m, DType kv, int blockSize, int numBlocks) {
        return KvCacheConfig.builder().numLayers(m.numLayers()).kvHeads(m.numKvHeads()).headDim(m.headDim())
                .blockSize(blockSize).numBlocks(numBlocks).dtype(kv).slidingWindow(m.slidingWindow()).build();
    }

    /** Memory to serve {@code spec}. */
    public InferenceEstimate estimate(InferenceSpec spec) {
        ModelConfig m = spec.model();
        int t = spec.tensorParallel();
        long weights = spec.weights().weightBytes(m);
        long blockBytes = kvBlockBytes(m, spec.kvDType(), spec.blockSize());
        long blocksPerSeq = kvBlocksPerSequence(m, spec.blockSize(), spec.contextTokens());
        long kv = blockBytes * blocksPerSeq * spec.sequences();
        long act = activationBytes(spec);
        long kvPerGpu = kvPerGpu(kv, m, t);
        long overhead = (long) Math.ceil(allocatorOverheadFraction * (kvPerGpu + act + workspaceBytes));
        long perGpu = ceilDiv(weights, t) + kvPerGpu + act + workspaceBytes + overhead + runtimeOverheadBytes;
        return new InferenceEstimate(m.parameters(), weights, m.kvElementsPerToken() * kvElem(spec.kvDType()),
                blockBytes, blocksPerSeq, kv, act, workspaceBytes, overhead, runtimeOverheadBytes, perGpu,
                perGpu * t, t);
    }

    private static long kvPerGpu(long kv, ModelConfig m, int t) {
        // KV heads split over tensor-parallel ranks; with fewer KV heads than ranks they are replicated.
        long headsPerGpu = Math.max(1, (m.numKvHeads() + t - 1) / t);
        return ceilDiv(kv * headsPerGpu, m.numKvHeads());
    }

    private static long activationBytes(InferenceSpec spec) {
        ModelConfig m = spec.model();
        int t = spec.tensorParallel();
        long tokens = spec.maxBatchTokens();
        long perToken = 2L * m.hiddenSize()
                + (long) (m.numHeads() + 2 * m.numKvHeads()) * m.headDim() / t
                + 3L * m.intermediateSize() * m.expertsPerToken() / t;
        long logits = (long) Math.min(spec.sequences(), spec.maxBatchTokens()) * m.vocabSize() * Float.BYTES;
        return tokens * perToken * 2 + logits;
    }

    private static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }

    /** Bytes a GPU lets the plan use: {@code capacity × utilization − runtime overhead}. */
    public long usableBytesPerGpu(GpuSpec gpus) {
        return (long) (gpus.bytesPerGpu() * gpuMemoryUtilization) - runtimeOverheadBytes;
    }

    /**
     * KV blocks that fit per GPU for {@code spec} on {@code gpus} (tensor parallel over all of them).
     *
     * @throws PlanDoesNotFitException if the weights, activations and overheads alone exceed the budget, saying by
     *                                 how much
     */
    public long kvBlocksThatFit(InferenceSpec spec, GpuSpec gpus) {
        InferenceSpec s = spec.withTensorParallel(gpus.count());
        ModelConfig m = s.model();
        long usable = usableBytesPerGpu(gpus);
        long weights = ceilDiv(s.weights().weightBytes(m), gpus.count());
        long act = activationBytes(s);
        double f = allocatorOverheadFraction;
        long fixed = weights + (long) Math.ceil((1 + f) * (act + workspaceBytes));
        if (fixed > usable) {
            long short_ = fixed - usable;
            throw new PlanDoesNotFitException(String.format(
                    "%s with %s weights needs %s per GPU for weights (%s) and activations/workspace before any KV "
                            + "cache, but %s allows %s per GPU (%.0f%% of %s minus %s runtime overhead): short by %s "
                            + "per GPU", m.name(), s.weights().label(), ByteUnits.format(fixed),
                    ByteUnits.format(weights), gpus, ByteUnits.format(usable), gpuMemoryUtilization * 100,
                    ByteUnits.format(gpus.bytesPerGpu()), ByteUnits.format(runtimeOverheadBytes),
                    ByteUnits.format(short_)), short_);
        }
        long kvBudget = (long) ((usable - fixed) / (1 + f));
        long blockPerGpu = kvPerGpu(kvBlockBytes(m, s.kvDType(), s.blockSize()), m, gpus.count());
        return kvBudget / blockPerGpu;
    }

    /**
     * What fits: the longest context for {@code spec.sequences()} sequences, and the most sequences at
     * {@code spec.contextTokens()}, on {@code gpus} with tensor parallelism over all of them.
     *
     * @throws PlanDoesNotFitException if the fixed memory exceeds the budget, or not even one sequence of the asked
     *                                 context fits (saying by how much)
     */
    public WhatFits whatFits(InferenceSpec spec, GpuSpec gpus) {
        InferenceSpec s = spec.withTensorParallel(gpus.count());
        ModelConfig m = s.model();
        long blocks = kvBlocksThatFit(s, gpus);
        long perSeq = blocks / s.sequences();
        long ctx;
        String limitedBy;
        long windowBlocks = m.slidingWindow() > 0 ? kvBlocksPerSequence(m, s.blockSize(), Integer.MAX_VALUE) : -1;
        if (windowBlocks > 0 && perSeq >= windowBlocks) {
            ctx = m.maxPositions();
            limitedBy = "model max_position_embeddings (sliding window bounds the KV)";
        } else {
            ctx = perSeq * s.blockSize();
            limitedBy = "KV memory";
            if (ctx >= m.maxPositions()) {
                ctx = m.maxPositions();
                limitedBy = "model max_position_embeddings";
            }
        }
        long needPerSeq = kvBlocksPerSequence(m, s.blockSize(), s.contextTokens());
        long seqs = blocks / needPerSeq;
        if (seqs < 1) {
            long blockPerGpu = kvPerGpu(kvBlockBytes(m, s.kvDType(), s.blockSize()), m, gpus.count());
            long short_ = (needPerSeq - blocks) * blockPerGpu;
            throw new PlanDoesNotFitException(String.format(
                    "one sequence of %d tokens needs %d KV blocks (%s per GPU) but only %d fit on %s after the "
                            + "weights: short by %s per GPU; the longest context that fits is %d tokens",
                    s.contextTokens(), needPerSeq, ByteUnits.format(needPerSeq * blockPerGpu), blocks, gpus,
                    ByteUnits.format(short_), blocks * s.blockSize()), short_);
        }
        int maxSeqs = (int) Math.min(Integer.MAX_VALUE, seqs);
        InferenceSpec answered = s.withSequences(maxSeqs);
        return new WhatFits(s, gpus, blocks, (int) Math.min(Integer.MAX_VALUE, ctx), maxSeqs, limitedBy,
                estimate(answered));
    }

    /**
     * The least lossy precision plan that serves {@code spec.sequences()} sequences of {@code spec.contextTokens()}
     * on {@code gpus}: candidates from FP16 weights and KV down to NF4 weights with INT8 KV, in order of increasing
     * quantization, and the first that fits wins.
     *
     * @throws PlanDoesNotFitException if none fits, with the shortfall of the smallest plan
     */
    public WhatFits cheapestPlan(InferenceSpec spec, GpuSpec gpus) {
        PlanDoesNotFitException last = null;
        for (Candidate c : candidates()) {
            InferenceSpec s = spec.withPrecision(WeightPlan.uniform(c.weights()), c.kv());
            try {
                WhatFits w = whatFits(s, gpus);
                if (w.maxSequences() >= spec.sequences()) {
                    return w;
                }
                long blockPerGpu = kvPerGpu(kvBlockBytes(s.model(), c.kv(), s.blockSize()), s.model(), gpus.count());
                long need = kvBlocksPerSequence(s.model(), s.blockSize(), s.contextTokens()) * spec.sequences();
                last = new PlanDoesNotFitException(String.format("%d sequences of %d tokens need %d KV blocks but "
                                + "the smallest plan (%s weights, %s KV) leaves room for %d: short by %s per GPU",
                        spec.sequences(), spec.contextTokens(), need, c.weights(), c.kv(), w.kvBlocks(),
                        ByteUnits.format((need - w.kvBlocks()) * blockPerGpu)),
                        (need - w.kvBlocks()) * blockPerGpu);
            } catch (PlanDoesNotFitException e) {
                last = e;
            }
        }
        throw last;
    }

    /** A weight and KV precision pair. */
    private record Candidate(WeightPrecision weights, DType kv) {
    }

    private static List<Candidate> candidates() {
        List<Candidate> out = new ArrayList<>();
        WeightPrecision[] w = {WeightPrecision.FP16, WeightPrecision.FP8, WeightPrecision.INT8, WeightPrecision.INT4,
            WeightPrecision.NF4};
        DType[] kv = {DType.FP16, DType.FP8_E4M3, DType.INT8};
        for (WeightPrecision p : w) {
            for (DType k : kv) {
                out.add(new Candidate(p, k));
            }
        }
        return out;
    }

    /**
     * Per-GPU training memory.
     *
     * <p>Model states (Rajbhandari et al. 2020, §5) with {@code Ψ' = Ψ / (t × p)} per model-parallel rank and
     * {@code N = gpus / (t × p)} data-parallel ranks: stage 0 {@code (2 + 2 + K)Ψ'}, stage 1 {@code 4Ψ' + KΨ'/N},
     * stage 2 {@code 2Ψ' + (2 + K)Ψ'/N}, stage 3 {@code (2 + 2 + K)Ψ'/N}. Offload moves the partitioned gradients and
     * optimizer states (and for OPTIMIZER_AND_PARAMS the parameters) to host memory.
     *
     * <p>Activations (Korthikanti et al. 2022, Table 2), bytes per layer with 16-bit activations, {@code s} sequence,
     * {@code b} micro-batch, {@code h} hidden, {@code a} heads: none {@code sbh(10 + 24/t + 5as/(ht))}, with sequence
     * parallelism {@code sbh(34 + 5as/h)/t}; selective recomputation drops the {@code 5as/h} term; full recomputation
     * keeps {@code 2sbh} (over {@code t} with sequence parallelism). The first pipeline stage holds {@code p}
     * micro-batches of {@code L/p} layers, i.e. {@code L} layers' worth. The formulas are for GPT-style blocks; for
     * gated MLPs they are an approximation.
     */
    public TrainingEstimate estimateTraining(TrainingSpec spec) {
        double psi = (double) spec.parameters() / (spec.tensorParallel() * spec.pipelineParallel());
        int n = spec.dataParallel();
        int k = ADAM_BYTES_PER_PARAMETER;
        double params = 2 * psi;
        double grads = 2 * psi;
        double opt = k * psi;
        switch (spec.zeroStage()) {
            case 1 -> opt /= n;
            case 2 -> {
                opt /= n;
                grads /= n;
            }
            case 3 -> {
                opt /= n;
                grads /= n;
                params /= n;
            }
            default -> { }
        }
        double host = 0;
        if (spec.offload() != TrainingSpec.Offload.NONE) {
            host = opt + grads;
            opt = 0;
            grads = 0;
            if (spec.offload() == TrainingSpec.Offload.OPTIMIZER_AND_PARAMS) {
                host += params;
                params = 0;
            }
        }
        long act = 0;
        ModelConfig m = spec.model();
        if (m != null) {
            double s = spec.seqLength();
            double b = spec.microBatch();
            double h = m.hiddenSize();
            double a = m.numHeads();
            double t = spec.tensorParallel();
            double sbh = s * b * h;
            boolean sp = spec.sequenceParallel();
            double perLayer = switch (spec.checkpointing()) {
                case NONE -> sp ? sbh * (34 + 5 * a * s / h) / t : sbh * (10 + 24 / t + 5 * a * s / (h * t));
                case SELECTIVE -> sp ? sbh * 34 / t : sbh * (10 + 24 / t);
                case FULL -> sp ? 2 * sbh / t : 2 * sbh;
            };
            act = (long) Math.ceil(perLayer * m.numLayers());
        }
        long p = (long) Math.ceil(params);
        long g = (long) Math.ceil(grads);
        long o = (long) Math.ceil(opt);
        return new TrainingEstimate(p, g, o, (long) Math.ceil(host), act, p + g + o + act);
    }
}
