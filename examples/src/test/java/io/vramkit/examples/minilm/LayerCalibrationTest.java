package io.vramkit.examples.minilm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vramkit.quant.Gptq;
import io.vramkit.quant.QuantFormat;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The 4-bit rows' calibration pieces: the AWQ-style input scale keeps a layer's FP32 math (only the rounding moves),
 * the final bias correction is the sentence-weighted mean drift, and the encoder applies it; bad arguments are named.
 */
class LayerCalibrationTest {

    private static float[] gaussian(int n, double sd, long seed) {
        Random rnd = new Random(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) (rnd.nextGaussian() * sd);
        }
        return a;
    }

    @Test
    void inputScaleLeavesTheLayerOutputUnchangedUpToRounding() {
        int out = 24;
        int in = 128;
        int rows = 300;
        MiniLmWeights.Linear lin = new MiniLmWeights.Linear("l", gaussian(out * in, 0.05, 1), gaussian(out, 0.1, 2),
                out, in);
        float[] x = gaussian(rows * in, 1, 3);
        for (int r = 0; r < rows; r++) {
            // two salient input channels, as BERT's LayerNorm outputs have
            x[r * in + 5] *= 12;
            x[r * in + 77] *= 8;
        }
        float[] s = new float[in];
        for (int i = 0; i < in; i++) {
            s[i] = (float) (0.5 + (i * 37 % 11) / 10.0);
        }
        float[] xs = x.clone();
        for (int r = 0; r < rows; r++) {
            for (int i = 0; i < in; i++) {
                xs[r * in + i] /= s[i];
            }
        }
        float[] ref = new float[rows * out];
        for (int r = 0; r < rows; r++) {
            for (int o = 0; o < out; o++) {
                double acc = lin.bias()[o];
                for (int i = 0; i < in; i++) {
                    acc += (double) x[r * in + i] * lin.weight()[o * in + i];
                }
                ref[r * out + o] = (float) acc;
            }
        }
        LayerCalibration scaled = new LayerCalibration(s, Gptq.calibrate("l", xs, rows, in, true, 0.1));
        LayerCalibration plain = new LayerCalibration(null, Gptq.calibrate("l", x, rows, in, true, 0.1));
        // INT8 is nearly lossless: the scaled layer must reproduce x·Wᵀ + b, which it can only do if the scale is
        // undone on the input.
        try (QuantLinear a = QuantLinear.gptq(lin, QuantFormat.INT8, scaled);
             QuantLinear b = QuantLinear.gptq(lin, QuantFormat.INT8, plain)) {
            float[] ya = new float[rows * out];
            float[] yb = new float[rows * out];
            a.apply(x, rows, ya);
            b.apply(x, rows, yb);
            double refSq = 0;
            double errA = 0;
            double errB = 0;
            for (int i = 0; i < ya.length; i++) {
                refSq += (double) ref[i] * ref[i];
                errA += (ya[i] - ref[i]) * (double) (ya[i] - ref[i]);
                errB += (yb[i] - ref[i]) * (double) (yb[i] - ref[i]);
            }
            // A scale that were not undone on the input would be off by tens of percent.
            assertTrue(Math.sqrt(errA / refSq) < 0.01, "scaled: relative RMS error " + Math.sqrt(errA / refSq));
            assertTrue(Math.sqrt(errB / refSq) < 0.01, "plain: relative RMS error " + Math.sqrt(errB / refSq));
            assertEquals(b.weightBytes() + 4L * in, a.weightBytes(), "the FP32 scale is counted");
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> QuantLinear.gptq(lin,
                QuantFormat.INT4_ASYM_G64, new LayerCalibration(new float[in - 1], plain.gptq())));
        assertTrue(e.getMessage().contains("inputScale.length = " + (in - 1)) && e.getMessage().contains("l"),
                e.getMessage());
        assertThrows(NullPointerException.class, () -> new LayerCalibration(s, null));
    }

    @Test
    void finalShiftIsTheSentenceWeightedMeanDrift() {
        int[] cu = {0, 1, 4};
        float[] fp = {1, 2, /* sentence 1 */ 3, 4, 5, 6, 7, 8};
        float[] q = {0, 0, /* sentence 1 */ 3, 3, 5, 5, 7, 7};
        MiniLmEncoder.Output f = new MiniLmEncoder.Output(fp, cu, new float[4]);
        MiniLmEncoder.Output z = new MiniLmEncoder.Output(q, cu, new float[4]);
        float[] d = LayerCalibration.finalShift(z, f);
        // sentence 0 drifts by (1, 2), sentence 1 by (0, 1) on average; each sentence weighs one half
        assertArrayEquals(new float[] {0.5f, 1.5f}, d, 1e-7f);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LayerCalibration.finalShift(
                new MiniLmEncoder.Output(q, new int[] {0, 2, 4}, new float[4]), f));
        assertTrue(e.getMessage().contains("different sequences"), e.getMessage());
    }

    @Test
    void theEncoderAddsTheFinalShiftToEveryTokenAndChecksIt() {
        MiniLmWeights w = MiniLmModel.weights();
        List<int[]> batch = List.of(new int[] {101, 7592, 2088, 102}, new int[] {101, 2748, 102});
        float[] shift = gaussian(w.hidden(), 0.2, 4);
        try (MiniLmEncoder enc = new MiniLmEncoder(w, lin -> QuantLinear.of(lin, QuantFormat.FP32),
                Kernels.attention())) {
            MiniLmEncoder shifted = enc.withFinalShift(shift);
            MiniLmEncoder.Output a = enc.encode(batch, null);
            MiniLmEncoder.Output b = shifted.encode(batch, null);
            // Two runs may differ in the last bits (the parallel GEMM's reduction order), hence the tolerance.
            for (int i = 0; i < a.hidden().length; i++) {
                assertEquals(a.hidden()[i] + shift[i % w.hidden()], b.hidden()[i], 2e-5, "element " + i);
            }
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> enc.withFinalShift(new float[3]));
            assertTrue(e.getMessage().contains("shift.length = 3"), e.getMessage());
            float[] bad = shift.clone();
            bad[9] = Float.NaN;
            e = assertThrows(IllegalArgumentException.class, () -> enc.withFinalShift(bad));
            assertTrue(e.getMessage().contains("shift[9] = NaN"), e.getMessage());
            // the view shares the layers: the original still encodes the same after the failed calls
            assertArrayEquals(a.hidden(), enc.encode(batch, null).hidden(), 2e-5f);
        }
    }

    /** The Sylvester Hadamard matrix of order {@code n} (a power of two), entries ±1, in float64. */
    private static double[][] sylvester(int n) {
        double[][] h = {{1}};
        for (int m = 1; m < n; m *= 2) {
            double[][] next = new double[2 * m][2 * m];
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < m; j++) {
                    next[i][j] = h[i][j];
                    next[i][j + m] = h[i][j];
                    next[i + m][j] = h[i][j];
                    next[i + m][j + m] = -h[i][j];
                }
            }
            h = next;
        }
        return h;
    }

    @Test
    void hadamardIsTheOrthonormalBlockTransformAndItsOwnInverse() {
        Random rnd = new Random(5);
        for (int block : new int[] {2, 8, 64, 128, 512}) {
            for (int blocks : new int[] {1, 3}) {
                int n = block * blocks;
                double[][] h = sylvester(block);
                float[] a = gaussian(n + 7, 1, rnd.nextLong());
                float[] orig = a.clone();
                LayerCalibration.hadamard(a, 7, n, block);
                for (int i = 0; i < 7; i++) {
                    assertEquals(orig[i], a[i], "element " + i + " before the range is untouched");
                }
                for (int b = 0; b < blocks; b++) {
                    for (int i = 0; i < block; i++) {
                        double ref = 0;
                        for (int j = 0; j < block; j++) {
                            ref += h[i][j] * orig[7 + b * block + j];
                        }
                        ref /= Math.sqrt(block);
                        assertEquals(ref, a[7 + b * block + i], 1e-5 * Math.sqrt(block),
                                "block " + block + " × " + blocks + ", element " + (b * block + i));
                    }
                }
                LayerCalibration.hadamard(a, 7, n, block);
                assertArrayEquals(orig, a, 1e-5f, "applied twice, block " + block);
            }
        }
    }

    @Test
    void rotatedAndScaledLayerKeepsItsOutputAndCountsItsBytes() {
        int out = 16;
        int in = 256;
        int rows = 400;
        MiniLmWeights.Linear lin = new MiniLmWeights.Linear("r", gaussian(out * in, 0.05, 6), gaussian(out, 0.1, 7),
                out, in);
        float[] x = gaussian(rows * in, 1, 8);
        for (int r = 0; r < rows; r++) {
            x[r * in + 3] *= 15;
        }
        float[] s = LayerCalibration.signs(in);
        for (int i = 0; i < in; i++) {
            s[i] *= (float) (0.5 + (i * 29 % 13) / 12.0);
        }
        for (int rotation : new int[] {64, 256}) {
            float[] xt = LayerCalibration.transformInput(x, rows, in, LayerCalibration.inverse(s), rotation);
            float[] wt = LayerCalibration.transformWeight(lin.weight(), out, in, s, rotation);
            // exact in float64: (x ⊘ s)·R · (W·diag(s)·R)ᵀ = x·Wᵀ
            for (int r = 0; r < 5; r++) {
                for (int o = 0; o < out; o++) {
                    double ref = 0;
                    double got = 0;
                    for (int i = 0; i < in; i++) {
                        ref += (double) x[r * in + i] * lin.weight()[o * in + i];
                        got += (double) xt[r * in + i] * wt[o * in + i];
                    }
                    assertEquals(ref, got, 1e-4 * (1 + Math.abs(ref)), "row " + r + ", output " + o);
                }
            }
            LayerCalibration cal = new LayerCalibration(s, Gptq.calibrate("r", xt, rows, in, true, 0.1), 1, rotation);
            float[] ref = new float[rows * out];
            float[] y = new float[rows * out];
            try (QuantLinear f = QuantLinear.of(lin, QuantFormat.FP32);
                 QuantLinear q = QuantLinear.gptq(lin, QuantFormat.INT8, cal)) {
                f.apply(x, rows, ref);
                q.apply(x, rows, y);
                double refSq = 0;
                double err = 0;
                for (int i = 0; i < y.length; i++) {
                    refSq += (double) ref[i] * ref[i];
                    err += (y[i] - ref[i]) * (double) (y[i] - ref[i]);
                }
                assertTrue(Math.sqrt(err / refSq) < 0.01, "rotation " + rotation + ": relative RMS error "
                        + Math.sqrt(err / refSq));
                try (QuantLinear plain = QuantLinear.of(lin, QuantFormat.INT8)) {
                    assertEquals(plain.weightBytes() + 4L * in, q.weightBytes(), "the FP32 scale is counted");
                }
            }
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> QuantLinear.gptq(
                new MiniLmWeights.Linear("odd", new float[out * 96], new float[out], out, 96), QuantFormat.INT8,
                new LayerCalibration(null, Gptq.calibrate("odd", new float[10 * 96], 10, 96), 0, 64)));
        assertTrue(e.getMessage().contains("rotation = 64") && e.getMessage().contains("in = 96"), e.getMessage());
    }

    @Test
    void settingsAndCalibrationRejectBadValuesByName() {
        Gptq.Calibration g = Gptq.calibrate("c", gaussian(64 * 8, 1, 9), 64, 8);
        double[] alphas = {0, 0.5};
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new LayerCalibration(null, g, -1, 0));
        assertTrue(e.getMessage().contains("refits") && e.getMessage().contains("-1"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new LayerCalibration(null, g, 0, 48));
        assertTrue(e.getMessage().contains("rotation") && e.getMessage().contains("48"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> new LayerCalibration.Settings(0, alphas, false, 0, 0));
        assertTrue(e.getMessage().contains("damping") && e.getMessage().contains("0.0"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> new LayerCalibration.Settings(0.1, new double[0], false, 0, 0));
        assertTrue(e.getMessage().contains("alphas"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> new LayerCalibration.Settings(0.1, new double[] {0, -0.5}, false, 0, 0));
        assertTrue(e.getMessage().contains("alphas") && e.getMessage().contains("-0.5"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> new LayerCalibration.Settings(0.1, alphas, false, Gptq.MAX_REFITS + 1, 0));
        assertTrue(e.getMessage().contains("refits") && e.getMessage().contains("" + (Gptq.MAX_REFITS + 1)),
                e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> new LayerCalibration.Settings(0.1, alphas, false, 0, 100));
        assertTrue(e.getMessage().contains("rotation") && e.getMessage().contains("100"), e.getMessage());
        LayerCalibration.Settings ok = new LayerCalibration.Settings(0.1, alphas, true, 1, 128);
        alphas[1] = 7;
        assertArrayEquals(new double[] {0, 0.5}, ok.alphas(), "the settings copy the exponents");
        ok.alphas()[0] = 3;
        assertArrayEquals(new double[] {0, 0.5}, ok.alphas(), "and hand out copies");
    }
}
