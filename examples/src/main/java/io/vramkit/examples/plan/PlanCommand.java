package io.vramkit.examples.plan;

import io.vramkit.core.DType;
import io.vramkit.core.planner.ByteUnits;
import io.vramkit.core.planner.CapacityPlanner;
import io.vramkit.core.planner.GpuSpec;
import io.vramkit.core.planner.InferenceEstimate;
import io.vramkit.core.planner.InferenceSpec;
import io.vramkit.core.planner.ModelConfig;
import io.vramkit.core.planner.ModelPresets;
import io.vramkit.core.planner.PlanDoesNotFitException;
import io.vramkit.core.planner.TrainingEstimate;
import io.vramkit.core.planner.TrainingSpec;
import io.vramkit.core.planner.WeightPlan;
import io.vramkit.core.planner.WeightPrecision;
import io.vramkit.examples.Command;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * {@code vramkit plan}: the capacity planner on the command line.
 *
 * {@snippet :
 * vramkit plan --model llama-2-70b --weights fp16 --kv fp16 --gpus 2xH100-80GB --context 4096 --json
 * vramkit plan --model mistral-7b --gpus L4-24GB --sequences 8 --cheapest
 * vramkit plan --model llama-2-7b --train --gpus 64x80GB --zero 3
 * }
 *
 * <p>Without {@code --gpus} it prints the memory of the plan; with it, what fits (longest context, most sequences);
 * with {@code --cheapest}, the least quantized plan that fits. {@code --model} takes a preset name or a path to a
 * Hugging Face {@code config.json}.
 */
public final class PlanCommand implements Command {

    private static final Set<String> VALUES = Set.of("model", "weights", "bpw", "kv", "gpus", "context", "sequences",
            "block-size", "batch-tokens", "zero", "offload", "tp", "pp", "seq-length", "micro-batch",
            "checkpointing");
    private static final Set<String> FLAGS = Set.of("json", "cheapest", "train", "sequence-parallel");

    @Override
    public String name() {
        return "plan";
    }

    @Override
    public String summary() {
        return "capacity planner: memory of a model plan, what fits on GPUs, ZeRO training memory";
    }

    @Override
    public int run(List<String> argList, PrintStream out, PrintStream err) {
        CliArgs a = new CliArgs(argList, VALUES, FLAGS);
        if (!a.has("model")) {
            throw new UsageException("--model is required: a preset (" + String.join(", ", ModelPresets.names())
                    + ") or a config.json path");
        }
        ModelConfig model = loadModel(a.get("model", null));
        boolean json = a.flag("json");
        CapacityPlanner planner = CapacityPlanner.gpuDefaults();
        if (a.flag("train")) {
            return train(a, model, planner, json, out);
        }
        WeightPlan weights = a.has("bpw") ? WeightPlan.mixed(a.doubleValue("bpw", 16))
                : WeightPlan.uniform(parseWeights(a.get("weights", "fp16")));
        DType kv = parseKv(a.get("kv", "fp16"));
        int context = a.intValue("context", model.maxPositions(), 1, Integer.MAX_VALUE);
        int sequences = a.intValue("sequences", 1, 1, 1 << 20);
        int block = a.intValue("block-size", 16, 1, 1 << 16);
        int batch = a.intValue("batch-tokens", 2048, 1, 1 << 24);
        GpuSpec gpus = a.has("gpus") ? parseGpus(a.get("gpus", null)) : null;
        InferenceSpec spec = new InferenceSpec(model, weights, kv, block, context, sequences, batch,
                gpus == null ? 1 : gpus.count());
        JsonOut j = new JsonOut().put("model", model.name()).put("parameters", model.parameters())
                .put("activeParameters", model.activeParameters());
        try {
            if (gpus == null) {
                InferenceEstimate e = planner.estimate(spec);
                describe(j, e, spec);
                if (json) {
                    out.println(j);
                } else {
                    human(out, model, spec, e);
                }
                return 0;
            }
            var fits = a.flag("cheapest") ? planner.cheapestPlan(spec, gpus) : planner.whatFits(spec, gpus);
            InferenceSpec answered = fits.spec().withSequences(fits.maxSequences());
            InferenceEstimate e = fits.estimate();
            describe(j, e, answered);
            j.put("gpus", gpus.toString()).put("gpuCount", gpus.count()).put("bytesPerGpu", gpus.bytesPerGpu())
                    .put("usableBytesPerGpu", planner.usableBytesPerGpu(gpus)).put("fits", true)
                    .put("kvBlocksPerGpu", fits.kvBlocks()).put("maxContextTokens", fits.maxContextTokens())
                    .put("maxContextFor", sequences).put("maxSequences", fits.maxSequences())
                    .put("maxSequencesAtContext", context).put("limitedBy", fits.limitedBy());
            if (a.flag("cheapest")) {
                j.put("cheapestWeights", answered.weights().label())
                        .put("cheapestKv", answered.kvDType().name().toLowerCase(Locale.ROOT));
            }
            if (json) {
                out.println(j);
            } else {
                human(out, model, answered, e);
                out.printf(Locale.ROOT, "on %s (%s usable per GPU at %.0f%% utilization):%n", gpus,
                        ByteUnits.format(planner.usableBytesPerGpu(gpus)), planner.gpuMemoryUtilization() * 100);
                if (a.flag("cheapest")) {
                    out.printf("  least quantized plan that fits: %s weights, %s KV%n", answered.weights().label(),
                            answered.kvDType());
                }
                out.printf("  KV blocks per GPU:           %d of %d tokens%n", fits.kvBlocks(), block);
                out.printf("  longest context, %d seq(s): %d tokens (limited by %s)%n", sequences,
                        fits.maxContextTokens(), fits.limitedBy());
                out.printf("  most sequences at %d tokens: %d%n", context, fits.maxSequences());
            }
            return 0;
        } catch (PlanDoesNotFitException e) {
            if (json) {
                j.put("fits", false).put("shortfallBytes", e.shortfallBytes()).put("error", e.getMessage());
                out.println(j);
            } else {
                err.println("does not fit: " + e.getMessage());
            }
            return 1;
        }
    }

    private static void describe(JsonOut j, InferenceEstimate e, InferenceSpec spec) {
        j.put("weights", spec.weights().label()).put("weightBytes", e.weightBytes())
                .put("weightGB", ByteUnits.toGB(e.weightBytes())).put("weightGiB", ByteUnits.toGiB(e.weightBytes()))
                .put("kv", spec.kvDType().name().toLowerCase(Locale.ROOT)).put("kvBytesPerToken", e.kvBytesPerToken())
                .put("kvBlockBytes", e.kvBlockBytes()).put("blockSize", spec.blockSize())
                .put("context", spec.contextTokens()).put("sequences", spec.sequences())
                .put("kvBlocksPerSequence", e.kvBlocksPerSequence()).put("kvBytes", e.kvBytes())
                .put("activationBytes", e.activationBytes()).put("workspaceBytes", e.workspaceBytes())
                .put("allocatorOverheadBytes", e.allocatorOverhead())
                .put("runtimeOverheadBytes", e.runtimeOverhead()).put("perGpuBytes", e.perGpuBytes())
                .put("totalBytes", e.totalBytes()).put("totalGB", ByteUnits.toGB(e.totalBytes()))
                .put("totalGiB", ByteUnits.toGiB(e.totalBytes()));
    }

    private static void human(PrintStream out, ModelConfig m, InferenceSpec spec, InferenceEstimate e) {
        out.printf(Locale.ROOT, "%s: %,d parameters (%.2f B)%s%n", m.name(), m.parameters(), m.parameters() / 1e9,
                m.numExperts() > 1 ? String.format(Locale.ROOT, ", %.2f B active per token",
                        m.activeParameters() / 1e9) : "");
        out.printf("  weights (%s):        %s%n", spec.weights().label(), ByteUnits.format(e.weightBytes()));
        out.printf("  KV per token (%s):     %s%n", spec.kvDType(), ByteUnits.format(e.kvBytesPerToken()));
        out.printf("  KV, %d x %d tokens:   %s (%d blocks of %d per sequence)%n", spec.sequences(),
                spec.contextTokens(), ByteUnits.format(e.kvBytes()), e.kvBlocksPerSequence(), spec.blockSize());
        out.printf("  activations/GPU:      %s%n", ByteUnits.format(e.activationBytes()));
        out.printf("  workspace + overhead: %s + %s + runtime %s per GPU%n", ByteUnits.format(e.workspaceBytes()),
                ByteUnits.format(e.allocatorOverhead()), ByteUnits.format(e.runtimeOverhead()));
        out.printf("  per GPU (TP %d):       %s; total %s%n", e.tensorParallel(), ByteUnits.format(e.perGpuBytes()),
                ByteUnits.format(e.totalBytes()));
    }

    private static int train(CliArgs a, ModelConfig model, CapacityPlanner planner, boolean json, PrintStream out) {
        GpuSpec gpus = a.has("gpus") ? parseGpus(a.get("gpus", null)) : null;
        int count = gpus == null ? 1 : gpus.count();
        TrainingSpec.Offload offload = switch (a.get("offload", "none").toLowerCase(Locale.ROOT)) {
            case "none" -> TrainingSpec.Offload.NONE;
            case "optimizer" -> TrainingSpec.Offload.OPTIMIZER;
            case "all", "params" -> TrainingSpec.Offload.OPTIMIZER_AND_PARAMS;
            default -> throw new UsageException("--offload must be none, optimizer or all, got '"
                    + a.get("offload", "") + "'");
        };
        TrainingSpec.Checkpointing ck = switch (a.get("checkpointing", "selective").toLowerCase(Locale.ROOT)) {
            case "none" -> TrainingSpec.Checkpointing.NONE;
            case "selective" -> TrainingSpec.Checkpointing.SELECTIVE;
            case "full" -> TrainingSpec.Checkpointing.FULL;
            default -> throw new UsageException("--checkpointing must be none, selective or full, got '"
                    + a.get("checkpointing", "") + "'");
        };
        TrainingSpec spec;
        try {
            spec = new TrainingSpec(model.parameters(), count, a.intValue("zero", 0, 0, 3), offload,
                    a.intValue("tp", 1, 1, 1024), a.intValue("pp", 1, 1, 1024), model,
                    a.intValue("seq-length", 2048, 1, 1 << 24), a.intValue("micro-batch", 1, 1, 1 << 16), ck,
                    a.flag("sequence-parallel"));
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage());
        }
        TrainingEstimate e = planner.estimateTraining(spec);
        boolean fits = gpus == null || e.totalBytes() <= planner.usableBytesPerGpu(gpus);
        if (json) {
            out.println(new JsonOut().put("model", model.name()).put("parameters", model.parameters())
                    .put("gpus", count).put("zeroStage", spec.zeroStage())
                    .put("offload", offload.name().toLowerCase(Locale.ROOT))
                    .put("tensorParallel", spec.tensorParallel()).put("pipelineParallel", spec.pipelineParallel())
                    .put("parameterBytesPerGpu", e.parameterBytes()).put("gradientBytesPerGpu", e.gradientBytes())
                    .put("optimizerBytesPerGpu", e.optimizerBytes()).put("modelStateBytesPerGpu", e.modelStateBytes())
                    .put("hostBytesPerGpu", e.hostBytes()).put("activationBytesPerGpu", e.activationBytes())
                    .put("totalBytesPerGpu", e.totalBytes()).put("totalGBPerGpu", ByteUnits.toGB(e.totalBytes()))
                    .put("fits", fits));
        } else {
            out.printf(Locale.ROOT, "%s training, %d GPU(s), ZeRO stage %d, offload %s, TP %d, PP %d:%n",
                    model.name(), count, spec.zeroStage(), offload, spec.tensorParallel(), spec.pipelineParallel());
            out.printf("  model states per GPU: %s (params %s, grads %s, Adam %s)%n",
                    ByteUnits.format(e.modelStateBytes()), ByteUnits.format(e.parameterBytes()),
                    ByteUnits.format(e.gradientBytes()), ByteUnits.format(e.optimizerBytes()));
            out.printf("  host (offloaded):     %s per GPU%n", ByteUnits.format(e.hostBytes()));
            out.printf("  activations (%s):     %s%n", ck, ByteUnits.format(e.activationBytes()));
            out.printf("  total per GPU:        %s%s%n", ByteUnits.format(e.totalBytes()),
                    gpus == null ? "" : fits ? " (fits)" : " (does NOT fit " + gpus + ")");
        }
        return fits ? 0 : 1;
    }

    /**
     * Loads a preset by name or a Hugging Face {@code config.json} by path, for the CLI tools.
     *
     * @throws UsageException naming the problem (unknown model with the known list, unreadable file, missing field)
     */
    public static ModelConfig loadModel(String m) {
        if (m.endsWith(".json")) {
            Path p = Path.of(m);
            try {
                return ModelConfig.fromHuggingFace(p.getFileName().toString(), Files.readString(p));
            } catch (IOException e) {
                throw new UsageException("cannot read --model " + m + ": " + e.getMessage());
            } catch (IllegalArgumentException e) {
                throw new UsageException(e.getMessage());
            }
        }
        try {
            return ModelPresets.get(m);
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage());
        }
    }

    private static WeightPrecision parseWeights(String s) {
        try {
            return WeightPrecision.parse(s);
        } catch (IllegalArgumentException e) {
            throw new UsageException("--weights: " + e.getMessage());
        }
    }

    static DType parseKv(String s) {
        return switch (s.toLowerCase(Locale.ROOT)) {
            case "fp32" -> DType.FP32;
            case "fp16" -> DType.FP16;
            case "bf16" -> DType.BF16;
            case "fp8", "fp8_e4m3" -> DType.FP8_E4M3;
            case "int8" -> DType.INT8;
            default -> throw new UsageException("--kv must be fp32, fp16, bf16, fp8 or int8, got '" + s + "'");
        };
    }

    private static GpuSpec parseGpus(String s) {
        try {
            return GpuSpec.parse(s);
        } catch (IllegalArgumentException e) {
            throw new UsageException("--gpus: " + e.getMessage());
        }
    }
}
