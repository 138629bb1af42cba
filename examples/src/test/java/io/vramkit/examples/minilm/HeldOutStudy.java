package io.vramkit.examples.minilm;

import io.vramkit.quant.QuantFormat;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * The held-out study that chose the 4-bit calibration's hyper-parameters ({@link LayerCalibration.Settings}): the
 * calibration sentences are split, every fifth one held out (82 of 411), the rest (329) calibrate the model, and the
 * INT4-g64 model is scored by the mean cosine of its pooled embeddings against the FP32 vramkit model (which equals
 * ONNX Runtime's to 1e-7) on the held-out sentences. The evaluated sentences ({@link SentenceSet#defaults()}) play no
 * part in the choice; {@code --eval} also prints their figure, for the record.
 *
 * <p>A developer tool, not a test: run it from the test classpath, e.g.
 * {@code java --add-modules jdk.incubator.vector -cp examples/target/test-classes:examples/target/vramkit-examples.jar
 * io.vramkit.examples.minilm.HeldOutStudy --rotation 512 --alpha-by gptq --refits 0,1}. Options (defaults are the
 * demo's settings): {@code --damping D}, {@code --alphas A,B,...}, {@code --alpha-by rtn|gptq}, {@code --refits
 * K,...} (each scored on the same calibration), {@code --rotation N} (0 for none), {@code --only REGEX,...} (for each
 * regular expression, quantize only the layers whose name it matches a part of, e.g. {@code [0-9]\.output} for the
 * FFN down projections, the rest FP32), {@code --eval}.
 */
public final class HeldOutStudy {

    private HeldOutStudy() {
    }

    /**
     * Runs the study and prints one line per refit count.
     *
     * @param args the options above
     * @throws IllegalArgumentException naming an unknown option or a bad value
     */
    public static void main(String[] args) {
        LayerCalibration.Settings d = LayerCalibration.Settings.defaults();
        double damping = d.damping();
        double[] alphas = d.alphas();
        boolean byGptq = d.alphaByGptq();
        int[] refits = {d.refits()};
        int rotation = d.rotation();
        String only = "";
        boolean eval = false;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--damping" -> damping = Double.parseDouble(args[++i]);
                case "--alphas" -> alphas = Arrays.stream(args[++i].split(",")).mapToDouble(Double::parseDouble)
                        .toArray();
                case "--alpha-by" -> byGptq = switch (args[++i]) {
                    case "gptq" -> true;
                    case "rtn" -> false;
                    default -> throw new IllegalArgumentException("--alpha-by must be rtn or gptq, got " + args[i]);
                };
                case "--refits" -> refits = Arrays.stream(args[++i].split(",")).mapToInt(Integer::parseInt).toArray();
                case "--rotation" -> rotation = Integer.parseInt(args[++i]);
                case "--only" -> only = args[++i];
                case "--eval" -> eval = true;
                default -> throw new IllegalArgumentException("unknown option " + a);
            }
        }
        LayerCalibration.Settings settings = new LayerCalibration.Settings(damping, alphas, byGptq, 0, rotation);
        MiniLmWeights w = MiniLmModel.weights();
        WordPieceTokenizer tok = MiniLmModel.tokenizer();
        List<int[]> train = new ArrayList<>();
        List<int[]> held = new ArrayList<>();
        List<int[]> evaluated = new ArrayList<>();
        List<String> cal = CalibrationSet.sentences();
        for (int i = 0; i < cal.size(); i++) {
            (i % 5 == 4 ? held : train).add(tok.encode(cal.get(i)).ids());
        }
        for (String s : SentenceSet.defaults()) {
            evaluated.add(tok.encode(s).ids());
        }
        long t0 = System.nanoTime();
        LayerCalibration.Model m = LayerCalibration.calibrateAll(w, train, settings);
        System.out.printf(Locale.ROOT, "%s: calibrated on %d sentences in %.1f s, %d held out%n", settings, train.size(),
                (System.nanoTime() - t0) / 1e9, held.size());
        try (MiniLmEncoder fp = new MiniLmEncoder(w, l -> QuantLinear.of(l, QuantFormat.FP32), Kernels.attention())) {
            for (String filter : only.split(",", -1)) {
            for (int k : refits) {
                long q0 = System.nanoTime();
                try (MiniLmEncoder q = new MiniLmEncoder(w, l -> {
                    LayerCalibration c = m.layers().get(l.name());
                    return java.util.regex.Pattern.compile(filter).matcher(l.name()).find()
                            ? QuantLinear.gptq(l, QuantFormat.INT4_ASYM_G64,
                                    new LayerCalibration(c.inputScale(), c.gptq(), k, c.rotation()))
                            : QuantLinear.of(l, QuantFormat.FP32);
                }, Kernels.attention())) {
                    double quantS = (System.nanoTime() - q0) / 1e9;
                    MiniLmEncoder e = q.withFinalShift(LayerCalibration.finalShift(q.encode(m.ids(), null), m.fp32()));
                    String ev = eval ? String.format(Locale.ROOT, ", evaluated %.6f", meanCosine(e, fp, evaluated)) : "";
                    System.out.printf(Locale.ROOT, "%srefits %d: quantized in %.1f s, held-out mean cosine %.6f%s%n",
                            filter.isEmpty() ? "" : filter + ", ", k, quantS, meanCosine(e, fp, held), ev);
                }
            }
            }
        }
    }

    private static double meanCosine(MiniLmEncoder q, MiniLmEncoder fp, List<int[]> ids) {
        double sum = 0;
        for (int b = 0; b < ids.size(); b += 32) {
            List<int[]> batch = ids.subList(b, Math.min(ids.size(), b + 32));
            MiniLmEncoder.Output o = q.encode(batch, null);
            MiniLmEncoder.Output r = fp.encode(batch, null);
            int h = o.pooled().length / batch.size();
            for (int s = 0; s < batch.size(); s++) {
                sum += Metrics.cosine(o.pooled(), r.pooled(), s * h, h);
            }
        }
        return sum / ids.size();
    }
}
