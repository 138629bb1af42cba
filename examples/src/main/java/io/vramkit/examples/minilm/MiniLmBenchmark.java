package io.vramkit.examples.minilm;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import io.vramkit.core.cpu.ParallelExecutor;
import io.vramkit.core.cpu.VectorSupport;
import io.vramkit.quant.QuantFormat;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * The headline demo: all-MiniLM-L6-v2 run by vramkit at several weight precisions and by ONNX Runtime on the same
 * token ids in the same JVM, compared sentence by sentence.
 *
 * <p>For each precision it reports the linear-layer weight bytes and bytes per parameter; the mean and minimum
 * cosine similarity of the pooled embeddings against ONNX Runtime; the maximum absolute error of the last hidden
 * state per token; the Spearman correlation of all pairwise sentence similarities against the reference's (does
 * retrieval order survive?); the latency per batch for vramkit and ONNX Runtime measured in the same run; and the
 * peak memory (model plus activations of the largest batch).
 *
 * <p>Stateless; {@link #run} is not meant to be called concurrently (it measures latency).
 */
public final class MiniLmBenchmark {

    /** The precisions, in report order. */
    public static final List<String> PRECISIONS =
            List.of("FP32", "INT8", "INT4-g32", "INT4-g64", "INT4-g128", "NF4-g64", "MIXED");

    /**
     * Precisions that {@link #run} and the CLI accept besides {@link #PRECISIONS} but do not run by default: the
     * asymmetric INT4 format with groups of 64 (GPTQ-calibrated, as the other 4-bit rows), and the 4-bit rows with
     * plain round-to-nearest ({@code -RTN}), for comparison with GPTQ.
     */
    public static final List<String> OPTIONAL_PRECISIONS = List.of("INT4-SYM-g64", "INT4-ASYM-g64", "INT4-g32-RTN",
            "INT4-g64-RTN", "INT4-g128-RTN", "NF4-g64-RTN", "INT4-SYM-g64-RTN", "INT4-ASYM-g64-RTN");

    /** Untimed passes over all batches, after the one that produces the outputs, before each precision's timing. */
    static final int EXTRA_WARMUP_PASSES = 3;

    private MiniLmBenchmark() {
    }

    /**
     * Run options.
     *
     * @param batchSize            sentences per batch, &ge; 1 (32 by default)
     * @param timedPasses          timed passes over all batches per engine after the untimed warm-up passes (one
     *                             for ONNX Runtime, four for each vramkit precision, whose vector kernels need the
     *                             JIT); the best pass is reported; 0 skips timing and the extra warm-up (latencies
     *                             are then NaN), for tests
     * @param mixedBudgetFraction  MIXED's weight budget as a fraction of the FP32 linear weight bytes, in (0, 1]
     * @param calibrationSentences sentences whose activations calibrate the MIXED planner, &ge; 1
     */
    public record Options(int batchSize, int timedPasses, double mixedBudgetFraction, int calibrationSentences) {
        /** Validates the options. @throws IllegalArgumentException naming the bad option and its value */
        public Options {
            if (batchSize < 1) {
                throw new IllegalArgumentException("batchSize must be >= 1, got " + batchSize);
            }
            if (timedPasses < 0) {
                throw new IllegalArgumentException("timedPasses must be >= 0, got " + timedPasses);
            }
            if (!(mixedBudgetFraction > 0 && mixedBudgetFraction <= 1)) {
                throw new IllegalArgumentException("mixedBudgetFraction must be in (0, 1], got " + mixedBudgetFraction);
            }
            if (calibrationSentences < 1) {
                throw new IllegalArgumentException("calibrationSentences must be >= 1, got " + calibrationSentences);
            }
        }

        /** Batches of 32, 3 timed passes, MIXED at 30% of FP32 bytes calibrated on 8 sentences. */
        public static Options defaults() {
            return new Options(32, 3, 0.30, 8);
        }
    }

    /**
     * One precision's results.
     *
     * @param precision           the precision name ({@link #PRECISIONS})
     * @param plan                the formats used, e.g. {@code INT4_G64} or, for MIXED, counts per format
     * @param weightBytes         bytes of the 36 linear-layer weights in their formats, scales included
     * @param bytesPerParameter   {@code weightBytes} per linear-layer parameter
     * @param peakBytes           linear weights + FP32 embeddings, biases and norms + activations of the largest
     *                            batch
     * @param meanCosine          mean cosine of the pooled embeddings against ONNX Runtime
     * @param minCosine           minimum such cosine
     * @param maxAbsErrorPerToken largest absolute difference of any last-hidden-state element, over all tokens
     * @param meanAbsErrorPerToken mean over tokens of each token's largest absolute difference
     * @param spearman            Spearman correlation of all pairwise similarities against ONNX Runtime's
     * @param msPerBatch          vramkit latency per batch, best pass
     */
    public record PrecisionResult(String precision, String plan, long weightBytes, double bytesPerParameter,
                                  long peakBytes, double meanCosine, double minCosine, double maxAbsErrorPerToken,
                                  double meanAbsErrorPerToken, double spearman, double msPerBatch) {
    }

    /**
     * A whole run.
     *
     * @param sentences             number of sentences
     * @param tokens                total tokens after truncation
     * @param maxTokens             longest sequence after truncation
     * @param truncated             indices of the sentences cut at 512 positions
     * @param longestUntruncated    the longest tokenization before truncation
     * @param batchSize             sentences per batch
     * @param batches               batches per pass
     * @param ortPaddingFraction    fraction of ONNX Runtime's input positions that were padding
     * @param linearParameters      parameters in the linear layers (the quantized ones)
     * @param otherParameterBytes   bytes of the FP32 embeddings, biases and LayerNorms, the same in every precision
     * @param onnxruntimeMsPerBatch ONNX Runtime latency per batch, best pass
     * @param onnxruntimeSortedMsPerBatch ONNX Runtime latency per batch when the sentences are batched in length
     *                              order (least padding: its best case), best pass
     * @param onnxruntimeVersion    the ONNX Runtime version
     * @param threads               threads both engines used
     * @param machine               a one-line description of the JVM and CPU
     * @param results               one entry per requested precision, in request order
     */
    public record Report(int sentences, int tokens, int maxTokens, List<Integer> truncated, int longestUntruncated,
                         int batchSize, int batches, double ortPaddingFraction, long linearParameters,
                         long otherParameterBytes, double onnxruntimeMsPerBatch,
                         double onnxruntimeSortedMsPerBatch, String onnxruntimeVersion,
                         int threads, String machine, List<PrecisionResult> results) {
        /** Copies the lists. */
        public Report {
            truncated = List.copyOf(truncated);
            results = List.copyOf(results);
        }

        /** FP32 bytes of the linear-layer weights. */
        public long fp32WeightBytes() {
            return 4L * linearParameters;
        }
    }

    /**
     * The quantization format of a single-format precision.
     *
     * @return the format, or null for {@code MIXED}
     * @throws IllegalArgumentException naming the precision if it is not one of {@link #PRECISIONS}
     */
    public static QuantFormat formatOf(String precision) {
        Objects.requireNonNull(precision, "precision");
        if (precision.endsWith(RTN) && OPTIONAL_PRECISIONS.contains(precision)) {
            return formatOf(precision.substring(0, precision.length() - RTN.length()));
        }
        return switch (precision) {
            case "FP32" -> QuantFormat.FP32;
            case "INT8" -> QuantFormat.INT8;
            case "INT4-g32" -> QuantFormat.INT4_ASYM_G32;
            case "INT4-g64", "INT4-ASYM-g64" -> QuantFormat.INT4_ASYM_G64;
            case "INT4-g128" -> QuantFormat.INT4_ASYM_G128;
            case "INT4-SYM-g64" -> QuantFormat.INT4_G64;
            case "NF4-g64" -> QuantFormat.NF4_B64;
            case "MIXED" -> null;
            default -> throw new IllegalArgumentException("precision '" + precision + "' is not one of " + PRECISIONS
                    + " or " + OPTIONAL_PRECISIONS);
        };
    }

    /**
     * Whether a precision's weights are GPTQ-calibrated: the 4-bit ones, unless named {@code -RTN}.
     *
     * @throws IllegalArgumentException naming the precision if it is unknown
     */
    public static boolean usesGptq(String precision) {
        QuantFormat f = formatOf(precision);
        return f != null && f.isFourBit() && !precision.endsWith(RTN);
    }

    private static final String RTN = "-RTN";

    /**
     * Runs the comparison.
     *
     * @param sentences  the inputs (at least one, and at least {@code calibrationSentences} when MIXED is asked)
     * @param precisions precision names from {@link #PRECISIONS}, without duplicates
     * @param options    batch size, passes, MIXED budget
     * @param progress   one line per step goes here; may be null
     * @return the report
     * @throws IllegalArgumentException naming the argument if a list is empty, a precision is unknown or repeated
     * @throws OrtException             if ONNX Runtime fails
     */
    public static Report run(List<String> sentences, List<String> precisions, Options options, PrintStream progress)
            throws OrtException {
        Objects.requireNonNull(sentences, "sentences");
        Objects.requireNonNull(precisions, "precisions");
        Objects.requireNonNull(options, "options");
        if (sentences.isEmpty()) {
            throw new IllegalArgumentException("sentences must not be empty");
        }
        if (precisions.isEmpty()) {
            throw new IllegalArgumentException("precisions must not be empty");
        }
        for (int i = 0; i < precisions.size(); i++) {
            formatOf(precisions.get(i));
            if (precisions.indexOf(precisions.get(i)) != i) {
                throw new IllegalArgumentException("precision '" + precisions.get(i) + "' is listed twice");
            }
        }
        PrintStream log = progress == null ? new PrintStream(PrintStream.nullOutputStream()) : progress;

        long t0 = System.nanoTime();
        MiniLmWeights weights = MiniLmModel.weights();
        WordPieceTokenizer tokenizer = MiniLmModel.tokenizer();
        log.printf(Locale.ROOT, "loaded all-MiniLM-L6-v2 (%d layers, %.1f M parameters) in %.1f s%n",
                weights.layers().size(), weights.totalParameters() / 1e6, (System.nanoTime() - t0) / 1e9);

        List<int[]> ids = new ArrayList<>();
        List<Integer> truncated = new ArrayList<>();
        int longest = 0;
        int tokens = 0;
        int maxTokens = 0;
        for (int i = 0; i < sentences.size(); i++) {
            WordPieceTokenizer.Encoding e = tokenizer.encode(sentences.get(i));
            ids.add(e.ids());
            if (e.truncated()) {
                truncated.add(i);
            }
            longest = Math.max(longest, e.untruncatedLength());
            tokens += e.ids().length;
            maxTokens = Math.max(maxTokens, e.ids().length);
        }
        LayerCalibration.Model gptq = null;
        if (precisions.stream().anyMatch(MiniLmBenchmark::usesGptq)) {
            long c0 = System.nanoTime();
            List<int[]> calibIds = new ArrayList<>();
            int calibTokens = 0;
            for (String s : CalibrationSet.sentences()) {
                calibIds.add(tokenizer.encode(s).ids());
                calibTokens += calibIds.getLast().length;
            }
            gptq = LayerCalibration.calibrateAll(weights, calibIds);
            log.printf(Locale.ROOT, "4-bit calibration: %d sentences (%d tokens, disjoint from the evaluated ones), "
                    + "input scales chosen by GPTQ error and Hessians factorized (%s) in %.1f s%n", calibIds.size(),
                    calibTokens, LayerCalibration.Settings.defaults(), (System.nanoTime() - c0) / 1e9);
        }
        List<List<int[]>> batches = new ArrayList<>();
        long padded = 0;
        int maxBatchTokens = 0;
        for (int b = 0; b < ids.size(); b += options.batchSize()) {
            List<int[]> batch = ids.subList(b, Math.min(ids.size(), b + options.batchSize()));
            batches.add(batch);
            int len = batch.stream().mapToInt(a -> a.length).max().orElse(0);
            padded += (long) len * batch.size();
            maxBatchTokens = Math.max(maxBatchTokens, batch.stream().mapToInt(a -> a.length).sum());
        }
        log.printf(Locale.ROOT, "%d sentences, %d tokens, %d batches of up to %d; %d truncated at %d positions%n",
                sentences.size(), tokens, batches.size(), options.batchSize(), truncated.size(),
                MiniLmModel.MAX_POSITIONS);

        int threads = ParallelExecutor.THREADS;
        List<MiniLmEncoder.Output> reference = new ArrayList<>();
        double ortMs;
        try (OrtReference ort = new OrtReference(MiniLmModel.onnxBytes(), threads, weights.hidden())) {
            for (List<int[]> batch : batches) {
                reference.add(ort.run(batch));
            }
            ortMs = timeOrt(ort, batches, options.timedPasses());
            log.printf(Locale.ROOT, "ONNX Runtime %s: %.1f ms per batch%n", OrtEnvironment.getEnvironment().getVersion(),
                    ortMs);

            List<PrecisionResult> results = new ArrayList<>();
            for (String precision : precisions) {
                results.add(runPrecision(precision, weights, ids, batches, reference, options, maxBatchTokens,
                        usesGptq(precision) ? gptq : null, log));
            }
            // ONNX Runtime again after vramkit, so that both engines saw the same machine state; keep its best.
            if (options.timedPasses() > 0) {
                ortMs = Math.min(ortMs, timeOrt(ort, batches, options.timedPasses()));
            }
            double ortSortedMs = timeOrt(ort, sortedBatches(ids, options.batchSize()), options.timedPasses());
            log.printf(Locale.ROOT, "ONNX Runtime: %.1f ms per batch; %.1f ms per length-sorted batch%n", ortMs,
                    ortSortedMs);
            long other = 4L * (weights.totalParameters() - weights.linearParameters());
            return new Report(sentences.size(), tokens, maxTokens, truncated, longest, options.batchSize(),
                    batches.size(), 1.0 - (double) tokens / padded, weights.linearParameters(), other, ortMs,
                    ortSortedMs, OrtEnvironment.getEnvironment().getVersion(), threads, machine(), results);
        }
    }

    private static PrecisionResult runPrecision(String precision, MiniLmWeights weights, List<int[]> ids,
                                                List<List<int[]>> batches, List<MiniLmEncoder.Output> reference,
                                                Options options, int maxBatchTokens,
                                                LayerCalibration.Model gptq, PrintStream log) {
        long t0 = System.nanoTime();
        QuantFormat format = formatOf(precision);
        Map<String, QuantFormat> plan;
        if (format == null) {
            plan = MixedPlan.formats(MixedPlan.plan(weights, calibrate(weights, ids, options.calibrationSentences()),
                    (long) Math.floor(options.mixedBudgetFraction() * 4.0 * weights.linearParameters())));
        } else {
            plan = new HashMap<>();
            for (MiniLmWeights.Layer l : weights.layers()) {
                for (MiniLmWeights.Linear lin : l.linears()) {
                    plan.put(lin.name(), format);
                }
            }
        }
        try (MiniLmEncoder quantized = new MiniLmEncoder(weights, lin -> gptq == null
                ? QuantLinear.of(lin, plan.get(lin.name()))
                : QuantLinear.gptq(lin, plan.get(lin.name()), gptq.layers().get(lin.name())), Kernels.attention())) {
            MiniLmEncoder encoder = gptq == null ? quantized : quantized.withFinalShift(
                    LayerCalibration.finalShift(quantized.encode(gptq.ids(), null), gptq.fp32()));
            double quantS = (System.nanoTime() - t0) / 1e9;
            List<MiniLmEncoder.Output> outs = new ArrayList<>();
            for (List<int[]> batch : batches) {
                outs.add(encoder.encode(batch, null));
            }
            // More untimed passes before timing: C2 needs seconds to compile the vector kernels on a small
            // machine, and the first precision timed would otherwise pay for it (ONNX Runtime's native code needs
            // no JIT, and it gets its own untimed pass).
            for (int w = 0; options.timedPasses() > 0 && w < EXTRA_WARMUP_PASSES; w++) {
                for (List<int[]> batch : batches) {
                    encoder.encode(batch, null);
                }
            }
            double best = options.timedPasses() == 0 ? Double.NaN : Double.MAX_VALUE;
            for (int p = 0; p < options.timedPasses(); p++) {
                long s = System.nanoTime();
                for (List<int[]> batch : batches) {
                    encoder.encode(batch, null);
                }
                best = Math.min(best, (System.nanoTime() - s) / 1e6 / batches.size());
            }
            int h = weights.hidden();
            int n = ids.size();
            float[] ours = new float[n * h];
            float[] ref = new float[n * h];
            double cosSum = 0;
            double cosMin = Double.MAX_VALUE;
            double maxAbs = 0;
            double tokenMaxSum = 0;
            int tokenCount = 0;
            int row = 0;
            for (int b = 0; b < batches.size(); b++) {
                MiniLmEncoder.Output o = outs.get(b);
                MiniLmEncoder.Output r = reference.get(b);
                int bs = o.cuSeqlens().length - 1;
                for (int s = 0; s < bs; s++) {
                    double cos = Metrics.cosine(o.pooled(), r.pooled(), s * h, h);
                    cosSum += cos;
                    cosMin = Math.min(cosMin, cos);
                    System.arraycopy(o.pooled(), s * h, ours, (row + s) * h, h);
                    System.arraycopy(r.pooled(), s * h, ref, (row + s) * h, h);
                }
                row += bs;
                int t = o.cuSeqlens()[bs];
                for (int tok = 0; tok < t; tok++) {
                    double m = 0;
                    for (int c = 0; c < h; c++) {
                        m = Math.max(m, Math.abs(o.hidden()[tok * h + c] - r.hidden()[tok * h + c]));
                    }
                    maxAbs = Math.max(maxAbs, m);
                    tokenMaxSum += m;
                    tokenCount++;
                }
            }
            double spearman = Metrics.spearman(Metrics.pairwiseSimilarities(ours, n, h),
                    Metrics.pairwiseSimilarities(ref, n, h));
            long bytes = encoder.linearWeightBytes();
            long peak = bytes + 4L * (weights.totalParameters() - weights.linearParameters())
                    + encoder.activationBytes(maxBatchTokens);
            PrecisionResult result = new PrecisionResult(precision, describe(plan), bytes,
                    (double) bytes / weights.linearParameters(), peak, cosSum / n, cosMin, maxAbs,
                    tokenMaxSum / tokenCount, spearman, best);
            log.printf(Locale.ROOT, "%-9s %6.2f MiB  cos mean %.6f min %.6f  spearman %.5f  %.1f ms/batch "
                            + "(quantized in %.1f s)%n", precision, bytes / 1048576.0, result.meanCosine(),
                    result.minCosine(), spearman, best, quantS);
            return result;
        }
    }

    /** The same sentences batched in order of length, so that each batch pads least. */
    static List<List<int[]>> sortedBatches(List<int[]> ids, int batchSize) {
        List<int[]> sorted = new ArrayList<>(ids);
        sorted.sort((a, b) -> Integer.compare(a.length, b.length));
        List<List<int[]>> out = new ArrayList<>();
        for (int b = 0; b < sorted.size(); b += batchSize) {
            out.add(sorted.subList(b, Math.min(sorted.size(), b + batchSize)));
        }
        return out;
    }

    private static double timeOrt(OrtReference ort, List<List<int[]>> batches, int passes) throws OrtException {
        double best = passes == 0 ? Double.NaN : Double.MAX_VALUE;
        for (int p = 0; p < passes; p++) {
            long s = System.nanoTime();
            for (List<int[]> batch : batches) {
                ort.run(batch);
            }
            best = Math.min(best, (System.nanoTime() - s) / 1e6 / batches.size());
        }
        return best;
    }

    /** Inputs of every linear layer on the first {@code count} sentences, FP32 model, by layer name. */
    static Map<String, float[]> calibrate(MiniLmWeights weights, List<int[]> ids, int count) {
        List<int[]> batch = ids.subList(0, Math.min(count, ids.size()));
        Map<String, float[]> acts = new LinkedHashMap<>();
        try (MiniLmEncoder fp32 = new MiniLmEncoder(weights, lin -> QuantLinear.of(lin, QuantFormat.FP32),
                Kernels.attention())) {
            fp32.encode(batch, (name, x, rows, in) -> acts.put(name, Arrays.copyOf(x, rows * in)));
        }
        return acts;
    }

    private static String describe(Map<String, QuantFormat> plan) {
        Map<String, Integer> counts = new java.util.TreeMap<>();
        for (QuantFormat f : plan.values()) {
            counts.merge(f.name(), 1, Integer::sum);
        }
        if (counts.size() == 1) {
            return counts.keySet().iterator().next();
        }
        StringBuilder b = new StringBuilder();
        counts.forEach((k, v) -> b.append(b.isEmpty() ? "" : " + ").append(v).append("×").append(k));
        return b.toString();
    }

    private static String machine() {
        return String.format(Locale.ROOT, "%s %s, %d CPUs, Java %s, vector %s", System.getProperty("os.name"),
                System.getProperty("os.arch"), Runtime.getRuntime().availableProcessors(),
                System.getProperty("java.version"),
                VectorSupport.ENABLED ? VectorSupport.preferredVectorBits() + "-bit" : "off (scalar)");
    }
}
