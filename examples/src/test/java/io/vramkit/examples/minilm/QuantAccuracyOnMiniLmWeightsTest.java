package io.vramkit.examples.minilm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vramkit.quant.ErrorMetrics;
import io.vramkit.quant.QuantFormat;
import io.vramkit.quant.QuantizedTensor;
import io.vramkit.quant.Quantizer;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Issue 4's accuracy bounds on real weights: the 36 linear layers of all-MiniLM-L6-v2 (6 layers × Q, K, V, attention
 * output, FFN up, FFN down; 384×384, 1536×384 and 384×1536), quantized by {@link Quantizer} and compared by relative
 * Frobenius error {@code ‖W − Ŵ‖/‖W‖} per layer.
 */
class QuantAccuracyOnMiniLmWeightsTest {

    private static List<MiniLmWeights.Linear> linears;

    @BeforeAll
    static void load() {
        linears = new ArrayList<>();
        for (MiniLmWeights.Layer layer : MiniLmModel.weights().layers()) {
            linears.addAll(layer.linears());
        }
    }

    /** Relative Frobenius error of every linear layer in {@code f}, in model order. */
    private static double[] errors(QuantFormat f) {
        double[] e = new double[linears.size()];
        for (int i = 0; i < e.length; i++) {
            MiniLmWeights.Linear lin = linears.get(i);
            try (QuantizedTensor q = Quantizer.quantize(lin.name(), lin.weight(), lin.out(), lin.in(), f)) {
                e[i] = ErrorMetrics.relativeFrobenius(lin.weight(), q.dequantize());
            }
        }
        return e;
    }

    private static double max(double[] e) {
        double m = 0;
        for (double v : e) {
            m = Math.max(m, v);
        }
        return m;
    }

    @Test
    void theModelHasThirtySixLinearLayersOfTheExpectedShapes() {
        assertEquals(36, linears.size());
        for (MiniLmWeights.Linear lin : linears) {
            assertTrue(lin.out() * lin.in() == 384 * 384 || lin.out() * lin.in() == 384 * 1536, lin.name());
        }
    }

    private static double mean(double[] e) {
        double m = 0;
        for (double v : e) {
            m += v / e.length;
        }
        return m;
    }

    /**
     * INT8 per-channel: 0.91% on average over the 36 layers, but 2.1% on {@code layer.0.output.dense}, whose rows
     * have an absmax near 9 times their RMS (no clipping level helps: cutting such a weight costs more than the
     * finer step saves). Groups of 128 bring every layer under 1% (at most 0.93%).
     */
    @Test
    void int8WithinOnePercentOnAverageAndGroupedOnEveryLayer() {
        double[] e = errors(QuantFormat.INT8);
        assertTrue(mean(e) <= 0.01, "INT8 per-channel mean error " + mean(e));
        for (int i = 0; i < e.length; i++) {
            assertTrue(e[i] <= 0.025, "INT8 per-channel error " + e[i] + " on " + linears.get(i).name());
        }
        double[] g = errors(QuantFormat.INT8_G128);
        for (int i = 0; i < g.length; i++) {
            assertTrue(g[i] <= 0.01, "INT8_G128 error " + g[i] + " on " + linears.get(i).name());
        }
    }

    /**
     * INT4 with groups of 128: symmetric 10.5% on average and at most 12.25% ({@code layer.1.output.dense}),
     * asymmetric at most 11.3%.
     */
    @Test
    void int4G128WithinTwelvePercent() {
        double[] sym = errors(QuantFormat.INT4_G128);
        assertTrue(mean(sym) <= 0.12, "INT4_G128 mean error " + mean(sym));
        for (int i = 0; i < sym.length; i++) {
            assertTrue(sym[i] <= 0.125, "INT4_G128 error " + sym[i] + " on " + linears.get(i).name());
        }
        double[] asym = errors(QuantFormat.INT4_ASYM_G128);
        for (int i = 0; i < asym.length; i++) {
            assertTrue(asym[i] <= 0.12, "INT4_ASYM_G128 error " + asym[i] + " on " + linears.get(i).name());
        }
    }

    @Test
    void nf4AtLeastAsAccurateAsInt4AtEqualGroupSize() {
        for (int g : new int[] {32, 64, 128}) {
            double[] nf4 = errors(QuantFormat.nf4(g, false));
            double[] int4 = errors(QuantFormat.int4(g, true));
            for (int i = 0; i < nf4.length; i++) {
                assertTrue(nf4[i] <= int4[i], "group " + g + ", " + linears.get(i).name() + ": NF4 " + nf4[i]
                        + " > INT4 " + int4[i]);
            }
            assertTrue(max(nf4) <= max(int4), "group " + g);
        }
    }
}
