package io.vramkit.examples.minilm;

import io.vramkit.quant.QuantFormat;
import io.vramkit.quant.QuantizedTensor;
import io.vramkit.quant.Quantizer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Chooses a format per linear layer under a byte budget (the MIXED precision). Each layer's error in each candidate
 * format is the activation-weighted squared weight error {@code Σ_o Σ_i E[x_i²] (W_oi − Ŵ_oi)²}, relative to
 * {@code Σ_o Σ_i E[x_i²] W_oi²}, with {@code E[x_i²]} from calibration activations: the diagonal approximation of
 * the layer's output error. Starting from the smallest format everywhere, it repeatedly takes the upgrade with the
 * largest error reduction per extra byte that still fits. Stateless.
 */
final class MixedPlan {

    /** Candidate formats, smallest first. */
    static final List<QuantFormat> CANDIDATES =
            List.of(QuantFormat.INT4_G128, QuantFormat.INT4_G64, QuantFormat.NF4_B64, QuantFormat.INT4_G32,
                    QuantFormat.INT8, QuantFormat.FP16);

    private MixedPlan() {
    }

    /**
     * Plans every linear layer.
     *
     * @param weights     the model
     * @param calibration each layer's input activations {@code [rows, in]} by layer name
     * @param budgetBytes the most bytes all linear weights may take together
     * @return a format per layer name
     * @throws IllegalArgumentException naming the budget if even the smallest formats do not fit, or naming the layer
     *                                  if it has no calibration activations
     */
    static Map<String, QuantFormat> plan(MiniLmWeights weights, Map<String, float[]> calibration, long budgetBytes) {
        List<MiniLmWeights.Linear> layers = new ArrayList<>();
        for (MiniLmWeights.Layer l : weights.layers()) {
            layers.addAll(l.linears());
        }
        int n = layers.size();
        int m = CANDIDATES.size();
        double[][] err = new double[n][m];
        long[][] bytes = new long[n][m];
        for (int i = 0; i < n; i++) {
            MiniLmWeights.Linear lin = layers.get(i);
            float[] x = calibration.get(lin.name());
            if (x == null || x.length == 0 || x.length % lin.in() != 0) {
                throw new IllegalArgumentException("no calibration activations for layer " + lin.name());
            }
            double[] power = new double[lin.in()];
            int rows = x.length / lin.in();
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < lin.in(); c++) {
                    double v = x[r * lin.in() + c];
                    power[c] += v * v / rows;
                }
            }
            double ref = 0;
            float[] w = lin.weight();
            for (int o = 0; o < lin.out(); o++) {
                for (int c = 0; c < lin.in(); c++) {
                    ref += power[c] * w[o * lin.in() + c] * w[o * lin.in() + c];
                }
            }
            for (int k = 0; k < m; k++) {
                try (QuantizedTensor t = Quantizer.quantize(lin.name(), w, lin.out(), lin.in(), CANDIDATES.get(k))) {
                    float[] d = t.dequantize();
                    double e = 0;
                    for (int o = 0; o < lin.out(); o++) {
                        for (int c = 0; c < lin.in(); c++) {
                            double diff = w[o * lin.in() + c] - d[o * lin.in() + c];
                            e += power[c] * diff * diff;
                        }
                    }
                    err[i][k] = ref == 0 ? 0 : e / ref;
                    bytes[i][k] = t.byteSize();
                }
            }
        }
        int[] choice = new int[n];
        long used = 0;
        for (int i = 0; i < n; i++) {
            used += bytes[i][0];
        }
        if (used > budgetBytes) {
            throw new IllegalArgumentException("budgetBytes = " + budgetBytes + " is below the " + used
                    + " bytes of the smallest format for every layer");
        }
        while (true) {
            int bestLayer = -1;
            int bestFormat = -1;
            double bestGain = 0;
            for (int i = 0; i < n; i++) {
                for (int k = choice[i] + 1; k < m; k++) {
                    long extra = bytes[i][k] - bytes[i][choice[i]];
                    double gain = err[i][choice[i]] - err[i][k];
                    if (extra > 0 && gain > 0 && used + extra <= budgetBytes && gain / extra > bestGain) {
                        bestGain = gain / extra;
                        bestLayer = i;
                        bestFormat = k;
                    }
                }
            }
            if (bestLayer < 0) {
                break;
            }
            used += bytes[bestLayer][bestFormat] - bytes[bestLayer][choice[bestLayer]];
            choice[bestLayer] = bestFormat;
        }
        Map<String, QuantFormat> plan = new HashMap<>();
        for (int i = 0; i < n; i++) {
            plan.put(layers.get(i).name(), CANDIDATES.get(choice[i]));
        }
        return plan;
    }
}
