package io.vramkit.examples.minilm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The CI run of the headline demo: 32 sentences (31 from the default set plus its longest, which is over 512 tokens)
 * at FP32, INT8, INT4-g64 and MIXED against ONNX Runtime, asserting the accuracy targets (not latency).
 */
class MiniLmBenchmarkTest {

    private static MiniLmBenchmark.Report report;
    private static int longIndex;

    @BeforeAll
    static void runReducedSet() throws Exception {
        List<String> all = SentenceSet.defaults();
        String longest = all.stream().max((a, b) -> Integer.compare(a.length(), b.length())).orElseThrow();
        List<String> set = new ArrayList<>(all.subList(0, 31));
        longIndex = set.size();
        set.add(longest);
        report = MiniLmBenchmark.run(set, List.of("FP32", "INT8", "INT4-g64", "MIXED"),
                new MiniLmBenchmark.Options(32, 0, 0.30, 8), null);
    }

    private static Map<String, MiniLmBenchmark.PrecisionResult> byName() {
        return report.results().stream().collect(Collectors.toMap(MiniLmBenchmark.PrecisionResult::precision,
                r -> r));
    }

    @Test
    void fp32IsTheSameModelAndMath() {
        MiniLmBenchmark.PrecisionResult fp32 = byName().get("FP32");
        assertTrue(fp32.meanCosine() >= 0.99999, "FP32 mean cosine " + fp32.meanCosine());
        assertTrue(fp32.minCosine() >= 0.9999, "FP32 min cosine " + fp32.minCosine());
        assertTrue(fp32.maxAbsErrorPerToken() < 1e-3, "FP32 max abs error " + fp32.maxAbsErrorPerToken());
        assertTrue(fp32.spearman() >= 0.9999, "FP32 Spearman " + fp32.spearman());
        assertEquals(4.0, fp32.bytesPerParameter(), 1e-9);
        assertEquals(report.fp32WeightBytes(), fp32.weightBytes());
    }

    @Test
    void int8MeetsItsTarget() {
        MiniLmBenchmark.PrecisionResult r = byName().get("INT8");
        assertTrue(r.meanCosine() >= 0.999, "INT8 mean cosine " + r.meanCosine());
        assertTrue(r.weightBytes() < 0.26 * report.fp32WeightBytes(), "INT8 bytes " + r.weightBytes());
        assertTrue(r.spearman() >= 0.99, "INT8 Spearman " + r.spearman());
    }

    @Test
    void int4g64StaysAboveItsMeasuredFloor() {
        // Calibrated asymmetric INT4 with groups of 64 (sentence-weighted activations, AWQ-style input scales,
        // block Hadamard rotation, GPTQ with scale/zero refit, final bias correction) measures 0.9929 on these 32
        // sentences (0.9911 before the rotation and refit); plain GPTQ reached ~0.98 and round-to-nearest ~0.96.
        // The floor, above the target of 0.99, sits 9e-4 under the calibrated figure: a margin for rounding
        // differences between machines, while losing the rotation and refit (0.9911) fails.
        MiniLmBenchmark.PrecisionResult r = byName().get("INT4-g64");
        assertTrue(r.meanCosine() >= 0.992, "INT4-g64 mean cosine " + r.meanCosine());
        assertTrue(r.weightBytes() < 0.15 * report.fp32WeightBytes(), "INT4-g64 bytes " + r.weightBytes());
    }

    @Test
    void gptqCalibrationSentencesAreDisjointFromTheEvaluationSet() {
        java.util.Set<String> eval = new java.util.HashSet<>(SentenceSet.defaults());
        assertTrue(CalibrationSet.sentences().size() >= 50);
        for (String s : CalibrationSet.sentences()) {
            assertTrue(!eval.contains(s), "calibration sentence is also evaluated: " + s);
        }
        assertTrue(MiniLmBenchmark.usesGptq("INT4-g64"));
        assertTrue(MiniLmBenchmark.usesGptq("NF4-g64"));
        assertTrue(!MiniLmBenchmark.usesGptq("INT4-g64-RTN"));
        assertTrue(!MiniLmBenchmark.usesGptq("INT8"));
        assertEquals(io.vramkit.quant.QuantFormat.INT4_ASYM_G64, MiniLmBenchmark.formatOf("INT4-ASYM-g64-RTN"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> MiniLmBenchmark.formatOf("INT8-RTN"));
        assertTrue(e.getMessage().contains("INT8-RTN"), e.getMessage());
    }

    @Test
    void mixedMeetsItsTargetWithinBudget() {
        MiniLmBenchmark.PrecisionResult r = byName().get("MIXED");
        assertTrue(r.meanCosine() >= 0.995, "MIXED mean cosine " + r.meanCosine());
        assertTrue(r.weightBytes() <= 0.30 * report.fp32WeightBytes(), "MIXED bytes " + r.weightBytes()
                + " of FP32 " + report.fp32WeightBytes());
    }

    @Test
    void longInputIsTruncatedAndReported() {
        assertEquals(List.of(longIndex), report.truncated());
        assertTrue(report.longestUntruncated() > 512);
        assertEquals(512, report.maxTokens());
        assertTrue(MiniLmReport.markdown(report, "test").contains("truncated"));
        assertTrue(Double.isNaN(report.onnxruntimeMsPerBatch()), "timing was skipped");
    }

    @Test
    void reportsRender() {
        String json = MiniLmReport.json(report);
        assertTrue(json.matches("\\{\"results\":\\[(\\{\"precision\":\"[A-Z0-9a-z-]+\",\"weightBytes\":\\d+,"
                + "\"meanCosine\":[0-9.eE-]+,\"minCosine\":[0-9.eE-]+,\"msPerBatch\":(null|[0-9.eE-]+)},?)+],"
                + "\"onnxruntimeMsPerBatch\":(null|[0-9.eE-]+)}"), json);
        assertTrue(!json.contains("\n"));
        String html = MiniLmReport.html(report, "test <cmd>");
        assertTrue(html.contains("<svg") && html.contains("</svg>") && html.contains("test &lt;cmd&gt;"));
        assertTrue(MiniLmReport.table(report).contains("INT4-g64"));
        assertTrue(MiniLmReport.markdown(report, "test").contains("| MIXED |"));
    }

    @Test
    void badArgumentsAreNamed() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> MiniLmBenchmark.run(List.of("a"), List.of("INT3"), MiniLmBenchmark.Options.defaults(), null));
        assertTrue(e.getMessage().contains("INT3"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> MiniLmBenchmark.run(List.of("a"),
                List.of("FP32", "FP32"), MiniLmBenchmark.Options.defaults(), null));
        assertTrue(e.getMessage().contains("twice"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> MiniLmBenchmark.run(List.of(), List.of("FP32"), MiniLmBenchmark.Options.defaults(), null));
        assertTrue(e.getMessage().contains("sentences"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new MiniLmBenchmark.Options(0, 1, 0.3, 1));
        assertTrue(e.getMessage().contains("batchSize") && e.getMessage().contains("0"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new MiniLmBenchmark.Options(1, 1, 1.5, 1));
        assertTrue(e.getMessage().contains("mixedBudgetFraction") && e.getMessage().contains("1.5"));
        e = assertThrows(IllegalArgumentException.class, () -> new MiniLmBenchmark.Options(1, -1, 0.3, 1));
        assertTrue(e.getMessage().contains("timedPasses"), e.getMessage());
    }
}
