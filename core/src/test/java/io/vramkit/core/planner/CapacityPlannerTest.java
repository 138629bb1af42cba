package io.vramkit.core.planner;

import io.vramkit.core.DType;
import io.vramkit.core.kv.KvCacheConfig;
import io.vramkit.core.kv.PagedKvCache;
import io.vramkit.core.memory.Buffer;
import io.vramkit.core.memory.CachingPool;
import io.vramkit.core.memory.HostMemoryResource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CapacityPlannerTest {

    private static void within(double expected, double actual, double rel, String what) {
        assertTrue(Math.abs(actual - expected) <= rel * Math.abs(expected),
                what + ": expected " + expected + " within " + rel * 100 + "%, got " + actual);
    }

    @ParameterizedTest
    @CsvSource({"llama-2-7b, 6738415616", "llama-2-13b, 13015864320", "llama-2-70b, 68976648192",
        "llama-3-8b, 8030261248", "llama-3-70b, 70553706496", "mistral-7b, 7241732096",
        "mixtral-8x7b, 46702792704"})
    void presetParameterCountsMatchTheClosedForm(String name, long expected) {
        ModelConfig m = ModelPresets.get(name);
        // closed form in float64: embeddings (+ LM head), per layer q,k,v,o + experts x 3 h I + router + 2 norms
        double h = m.hiddenSize();
        double d = m.headDim();
        double perLayer = h * m.numHeads() * d * 2 + 2 * h * m.numKvHeads() * d
                + m.numExperts() * 3 * h * m.intermediateSize() + (m.numExperts() > 1 ? h * m.numExperts() : 0)
                + 2 * h;
        double closed = m.vocabSize() * h * 2 + m.numLayers() * perLayer + h;
        assertEquals(closed, (double) m.parameters());
        assertEquals(expected, m.parameters());
    }

    @Test
    void llama2_70bHas68_98BParametersAnd320KiBPerTokenInFp16() {
        ModelConfig m = ModelPresets.get("Llama-2-70B");
        within(68.98e9, m.parameters(), 0.005, "parameters");
        InferenceEstimate e = CapacityPlanner.gpuDefaults().estimate(
                InferenceSpec.of(m, WeightPlan.uniform(WeightPrecision.FP16), DType.FP16, 4096));
        within(320 * 1024, e.kvBytesPerToken(), 0.005, "KV bytes per token");
        assertEquals(327_680, e.kvBytesPerToken());
        within(2 * 68.98e9, e.weightBytes(), 0.005, "FP16 weights");
        // sixteen 8k-token conversations: 40 GiB of KV
        InferenceEstimate sixteen = CapacityPlanner.gpuDefaults().estimate(
                InferenceSpec.of(m, WeightPlan.uniform(WeightPrecision.FP16), DType.FP16, 8192).withSequences(16));
        assertEquals(40L << 30, sixteen.kvBytes());
    }

    @Test
    void zeroStagesMatchThePaperExample() {
        CapacityPlanner p = CapacityPlanner.gpuDefaults();
        double[] expectedGB = {120, 31.4, 16.6, 1.88};
        for (int stage = 0; stage <= 3; stage++) {
            TrainingEstimate e = p.estimateTraining(TrainingSpec.zero(7_500_000_000L, 64, stage));
            within(expectedGB[stage], ByteUnits.toGB(e.totalBytes()), 0.005, "ZeRO stage " + stage);
        }
        // exact: 16 Psi, 4 Psi + 12 Psi / 64, 2 Psi + 14 Psi / 64, 16 Psi / 64
        assertEquals(31_406_250_000L, p.estimateTraining(TrainingSpec.zero(7_500_000_000L, 64, 1)).totalBytes());
        TrainingEstimate off = p.estimateTraining(new TrainingSpec(7_500_000_000L, 64, 2,
                TrainingSpec.Offload.OPTIMIZER, 1, 1, null, 0, 0, TrainingSpec.Checkpointing.NONE, false));
        assertEquals(15_000_000_000L, off.totalBytes(), "ZeRO-Offload keeps only FP16 parameters on the GPU");
        assertEquals(1_640_625_000L, off.hostBytes());
        TrainingEstimate tp = p.estimateTraining(new TrainingSpec(7_500_000_000L, 64, 0,
                TrainingSpec.Offload.NONE, 4, 2, null, 0, 0, TrainingSpec.Checkpointing.NONE, false));
        assertEquals(15_000_000_000L, tp.totalBytes(), "model parallel 8 divides the model states by 8");
    }

    @Test
    void activationsFollowKorthikanti() {
        // GPT-3 175B as in the paper: s 2048, b 1, h 12288, a 96, L 96, t 8.
        ModelConfig gpt3 = new ModelConfig("gpt-3", 51200, 12288, 4 * 12288, 96, 96, 96, 128, false, 0, 1, 1, 2048);
        CapacityPlanner p = CapacityPlanner.gpuDefaults();
        double s = 2048;
        double h = 12288;
        double a = 96;
        double t = 8;
        double sbh = s * h;
        double[][] cases = {
            {0, 0, sbh * (10 + 24 / t + 5 * a * s / (h * t))},
            {0, 1, sbh * (34 + 5 * a * s / h) / t},
            {1, 1, 34 * sbh / t},
            {2, 0, 2 * sbh},
        };
        TrainingSpec.Checkpointing[] cps = TrainingSpec.Checkpointing.values();
        for (double[] c : cases) {
            TrainingEstimate e = p.estimateTraining(new TrainingSpec(175_000_000_000L, 64, 0,
                    TrainingSpec.Offload.NONE, 8, 8, gpt3, 2048, 1, cps[(int) c[0]], c[1] == 1));
            within(c[2] * 96, e.activationBytes(), 1e-9, "activations " + cps[(int) c[0]] + " sp=" + c[1]);
        }
        // The paper's headline: selective recomputation with sequence parallelism needs 34/(10+24/t+5as/(ht)) of
        // the plain tensor-parallel activations, about 5x less for GPT-3 at t = 8.
        double ratio = (10 + 24 / t + 5 * a * s / (h * t)) / (34 / t);
        assertTrue(ratio > 4 && ratio < 6, "ratio " + ratio);
    }

    @Test
    void inferenceEstimateIsWithin5PercentOfWhatAPoolReservesInACpuRun() {
        ModelConfig tiny = new ModelConfig("tiny", 100, 64, 128, 2, 4, 2, 16, false, 0, 1, 1, 512);
        for (DType kv : new DType[] {DType.FP16, DType.INT8, DType.FP32}) {
            InferenceSpec spec = new InferenceSpec(tiny, WeightPlan.uniform(WeightPrecision.FP16), kv, 16, 100, 3,
                    64, 1);
            InferenceEstimate e = CapacityPlanner.cpu().estimate(spec);
            HostMemoryResource host = new HostMemoryResource();
            List<Buffer> weights = new ArrayList<>();
            // the real model's tensors, allocated one by one from the pool
            long[][] shapes = {{100, 64}, {100, 64}, {1, 64}};
            for (long[] sh : shapes) {
                weights.add(Buffer.allocate(host, sh[0] * sh[1] * 2));
            }
            for (int l = 0; l < 2; l++) {
                long[][] layer = {{64, 64}, {32, 64}, {32, 64}, {64, 64}, {128, 64}, {128, 64}, {64, 128}, {1, 64},
                    {1, 64}};
                for (long[] sh : layer) {
                    weights.add(Buffer.allocate(host, sh[0] * sh[1] * 2));
                }
            }
            long weightBytes = host.usedBytes();
            within(weightBytes, e.weightBytes(), 0.05, "weights");
            KvCacheConfig cfg = CapacityPlanner.kvCacheConfig(tiny, kv, 16,
                    (int) (e.kvBlocksPerSequence() * spec.sequences()));
            try (PagedKvCache cache = new PagedKvCache(cfg, host)) {
                for (int s = 0; s < 3; s++) {
                    int seq = cache.newSequence(s);
                    for (int t = 0; t < 100; t++) {
                        cache.append(seq, t);
                    }
                }
                assertEquals(cache.totalBlocks(), cache.usedBlocks(), "the planned blocks are exactly used");
                long reserved = host.usedBytes() - weightBytes;
                within(reserved, e.kvBytes(), 0.05, "KV bytes for " + kv);
                within(host.usedBytes(), e.totalBytes() - e.activationBytes(), 0.05, "weights + KV for " + kv);
            }
            weights.forEach(Buffer::close);
            assertEquals(0, host.usedBytes());
        }
    }

    @Test
    void inferenceEstimateIsWithin5PercentOfWhatACachingPoolReserves() {
        // a 1 GB model: big enough that the pool's segments (20 MiB, 2 MiB rounding) are small against it
        ModelConfig m = new ModelConfig("small", 32000, 2048, 5632, 8, 16, 4, 128, false, 0, 1, 1, 2048);
        InferenceSpec spec = new InferenceSpec(m, WeightPlan.uniform(WeightPrecision.FP16), DType.FP16, 16, 1000, 8,
                64, 1);
        InferenceEstimate e = CapacityPlanner.cpu().estimate(spec);
        HostMemoryResource host = new HostMemoryResource();
        try (CachingPool pool = new CachingPool(host)) {
            List<Buffer> weights = new ArrayList<>();
            long h = 2048;
            weights.add(Buffer.allocate(pool, 32000 * h * 2));
            weights.add(Buffer.allocate(pool, 32000 * h * 2));
            weights.add(Buffer.allocate(pool, h * 2));
            for (int l = 0; l < 8; l++) {
                long[][] layer = {{2048, 2048}, {512, 2048}, {512, 2048}, {2048, 2048}, {5632, 2048}, {5632, 2048},
                    {2048, 5632}, {1, 2048}, {1, 2048}};
                for (long[] sh : layer) {
                    weights.add(Buffer.allocate(pool, sh[0] * sh[1] * 2));
                }
            }
            KvCacheConfig cfg = CapacityPlanner.kvCacheConfig(m, DType.FP16, 16,
                    (int) (e.kvBlocksPerSequence() * spec.sequences()));
            try (PagedKvCache cache = new PagedKvCache(cfg, pool)) {
                for (int s = 0; s < 8; s++) {
                    int seq = cache.newSequence(s);
                    for (int t = 0; t < 1000; t++) {
                        cache.append(seq, t);
                    }
                }
                assertEquals(cache.totalBlocks(), cache.usedBlocks());
                // measured: the pool's segment rounding adds 3.4% here
                within(pool.reservedBytes(), e.weightBytes() + e.kvBytes(), 0.05,
                        "weights + KV against the pool's reserved bytes");
            }
            weights.forEach(Buffer::close);
        }
        assertEquals(0, host.usedBytes());
    }

    @Test
    void whatFitsAnswersContextAndSequences() {
        CapacityPlanner p = CapacityPlanner.gpuDefaults();
        ModelConfig m = ModelPresets.get("llama-2-70b");
        InferenceSpec spec = InferenceSpec.of(m, WeightPlan.uniform(WeightPrecision.FP16), DType.FP16, 4096);
        GpuSpec gpus = GpuSpec.parse("2xH100-80GB");
        WhatFits w = p.whatFits(spec, gpus);
        long perSeq = CapacityPlanner.kvBlocksPerSequence(m, 16, 4096);
        assertTrue(w.maxSequences() * perSeq <= w.kvBlocks());
        assertTrue((w.maxSequences() + 1) * perSeq > w.kvBlocks());
        assertTrue(w.estimate().perGpuBytes() <= gpus.bytesPerGpu() * 0.9 + 1, "answer must fit");
        assertTrue(w.maxSequences() >= 4 && w.maxSequences() <= 12, "2xH100 holds a handful of 4k sequences: "
                + w.maxSequences());
        // More memory per sequence means fewer sequences; INT8 KV doubles what fits.
        WhatFits int8 = p.whatFits(spec.withPrecision(WeightPlan.uniform(WeightPrecision.FP16), DType.INT8), gpus);
        assertTrue(int8.maxSequences() >= 2 * w.maxSequences() - 1);
        // Mistral's sliding window bounds the KV per sequence: 4096 / 16 + 1 blocks at any length.
        ModelConfig mistral = ModelPresets.get("mistral-7b");
        assertEquals(257, CapacityPlanner.kvBlocksPerSequence(mistral, 16, 32768));
        WhatFits mw = p.whatFits(InferenceSpec.of(mistral, WeightPlan.uniform(WeightPrecision.FP16), DType.FP16,
                32768), GpuSpec.parse("L4-24GB"));
        assertEquals(32768, mw.maxContextTokens());
        assertTrue(mw.limitedBy().contains("sliding window"), mw.limitedBy());
    }

    @Test
    void cheapestPlanPicksTheLeastQuantizedPlanThatFits() {
        CapacityPlanner p = CapacityPlanner.gpuDefaults();
        ModelConfig m = ModelPresets.get("llama-2-70b");
        InferenceSpec spec = InferenceSpec.of(m, WeightPlan.uniform(WeightPrecision.FP16), DType.FP16, 4096)
                .withSequences(4);
        WhatFits w = p.cheapestPlan(spec, GpuSpec.parse("1xH100-80GB"));
        // FP16 weights (138 GB) do not fit one H100 (76.4 GB usable); FP8 weights (69 GB) plus 5.4 GB of FP16 KV do.
        assertEquals(WeightPrecision.FP8, w.spec().weights().uniform());
        assertEquals(DType.FP16, w.spec().kvDType());
        assertThrows(PlanDoesNotFitException.class, () -> p.whatFits(spec, GpuSpec.parse("1xH100-80GB")));
        // With 16 sequences the KV must shrink too, or the weights go to 4 bits.
        WhatFits more = p.cheapestPlan(spec.withSequences(16), GpuSpec.parse("1xH100-80GB"));
        assertTrue(more.spec().kvDType() != DType.FP16 || more.spec().weights().uniform() != WeightPrecision.FP8,
                more.spec().toString());
        assertTrue(more.maxSequences() >= 16);
        assertTrue(w.maxSequences() >= 4);
        PlanDoesNotFitException none = assertThrows(PlanDoesNotFitException.class,
                () -> p.cheapestPlan(spec.withSequences(1000), GpuSpec.parse("T4-16GB")));
        assertTrue(none.getMessage().contains("short by"), none.getMessage());
    }

    @Test
    void weightPlansCountBytesPerFormat() {
        ModelConfig m = ModelPresets.get("llama-2-7b");
        long fp16 = WeightPlan.uniform(WeightPrecision.FP16).weightBytes(m);
        assertEquals(2 * m.parameters(), fp16);
        long int4 = WeightPlan.uniform(WeightPrecision.INT4).weightBytes(m);
        long linear = m.numLayers() * m.linearParametersPerLayer();
        long rest = 2 * (m.parameters() - linear);
        within(linear * 4.125 / 8 + rest, int4, 0.001, "INT4 g128");
        long mixed = WeightPlan.mixed(4.125).weightBytes(m);
        within(int4, mixed, 0.001, "mixed at INT4's bits per weight");
        assertEquals(1234L, WeightPlan.perTensor(Map.of("a", 1000L, "b", 234L)).weightBytes(m));
        within(4.125, WeightPrecision.INT4.bitsPerWeight(), 1e-9, "INT4 bpw");
        within(4.127, WeightPrecision.NF4.bitsPerWeight(), 0.001, "NF4 bpw");
    }

    @Test
    void badInputNamesTheProblem() {
        IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class,
                () -> ModelPresets.get("llama-9"));
        assertTrue(unknown.getMessage().contains("llama-2-70b") && unknown.getMessage().contains("mixtral-8x7b"),
                unknown.getMessage());
        IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
                () -> ModelConfig.fromHuggingFace("x", "{\"hidden_size\": 64, \"num_attention_heads\": 4,"
                        + " \"vocab_size\": 10, \"num_hidden_layers\": 2}"));
        assertTrue(missing.getMessage().contains("\"intermediate_size\""), missing.getMessage());
        IllegalArgumentException typed = assertThrows(IllegalArgumentException.class,
                () -> ModelConfig.fromHuggingFace("x", "{\"hidden_size\": \"big\"}"));
        assertTrue(typed.getMessage().contains("hidden_size"), typed.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ModelConfig.fromHuggingFace("x", "{\"a\": }"));
        PlanDoesNotFitException small = assertThrows(PlanDoesNotFitException.class,
                () -> CapacityPlanner.gpuDefaults().whatFits(InferenceSpec.of(ModelPresets.get("llama-2-70b"),
                        WeightPlan.uniform(WeightPrecision.FP16), DType.FP16, 4096), GpuSpec.parse("A100-40GB")));
        assertTrue(small.getMessage().contains("short by") && small.getMessage().contains("GiB"),
                small.getMessage());
        within(137.95e9 + 0.55e9 - 0.9 * 40960 * 1048576.0, small.shortfallBytes(), 0.02, "shortfall");
        IllegalArgumentException gpu = assertThrows(IllegalArgumentException.class, () -> GpuSpec.parse("2xB9000"));
        assertTrue(gpu.getMessage().contains("H100-80GB"), gpu.getMessage());
        assertEquals(24_000_000_000L, GpuSpec.parse("24GB").bytesPerGpu());
        assertEquals(24L << 30, GpuSpec.parse("4x24GiB").bytesPerGpu());
        assertThrows(IllegalArgumentException.class, () -> new TrainingSpec(1, 64, 0, TrainingSpec.Offload.OPTIMIZER,
                1, 1, null, 0, 0, TrainingSpec.Checkpointing.NONE, false));
        assertThrows(IllegalArgumentException.class, () -> TrainingSpec.zero(10, 6, 4));
    }

    @Test
    void bytesArePrintedInBothUnits() {
        assertEquals("68.98 GB (64.24 GiB)", ByteUnits.format(68_976_648_192L));
        assertEquals("327680 bytes (320.00 KiB)", ByteUnits.format(327_680));
    }
}
