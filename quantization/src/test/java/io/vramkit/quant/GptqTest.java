package io.vramkit.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** GPTQ against round-to-nearest on output error, format validity and bad input. */
class GptqTest {

    /** Correlated activations: Gaussian factors mixed by a random matrix, a few channels scaled up (outliers). */
    private static float[] activations(int n, int cols, long seed) {
        Random rnd = new Random(seed);
        int k = Math.max(4, cols / 4);
        double[] mix = new double[k * cols];
        for (int i = 0; i < mix.length; i++) {
            mix[i] = rnd.nextGaussian();
        }
        float[] x = new float[n * cols];
        double[] z = new double[k];
        for (int s = 0; s < n; s++) {
            for (int i = 0; i < k; i++) {
                z[i] = rnd.nextGaussian();
            }
            for (int c = 0; c < cols; c++) {
                double v = 0.3 * rnd.nextGaussian();
                for (int i = 0; i < k; i++) {
                    v += z[i] * mix[i * cols + c];
                }
                x[s * cols + c] = (float) (v / Math.sqrt(k) * (c % 17 == 0 ? 5 : 1));
            }
        }
        return x;
    }

    /** ‖X·Wᵀ − X·Ŵᵀ‖_F in float64, Ŵ the tensor's dequantized weights. */
    private static double outputError(float[] x, int n, float[] w, QuantizedTensor t) {
        int rows = t.rows();
        int cols = t.cols();
        float[] dq = t.dequantize();
        double e = 0;
        for (int s = 0; s < n; s++) {
            for (int r = 0; r < rows; r++) {
                double d = 0;
                for (int c = 0; c < cols; c++) {
                    d += (double) x[s * cols + c] * ((double) w[r * cols + c] - dq[r * cols + c]);
                }
                e += d * d;
            }
        }
        return Math.sqrt(e);
    }

    @Test
    void lowerOutputErrorThanRoundToNearest() {
        int[][] shapes = {{48, 128}, {64, 256}, {24, 384}, {16, 512}};
        List<QuantFormat> formats = List.of(QuantFormat.INT4_G32, QuantFormat.INT4_G64, QuantFormat.INT4_G128,
                QuantFormat.INT4_ASYM_G64, QuantFormat.NF4_B64, QuantFormat.INT8, QuantFormat.INT8_G64);
        long seed = 11;
        for (int[] sh : shapes) {
            int rows = sh[0];
            int cols = sh[1];
            float[] w = TestData.gaussian(rows * cols, 0.05, seed++);
            int n = 2 * cols;
            float[] all = activations(n + 256, cols, seed++);
            float[] x = java.util.Arrays.copyOf(all, n * cols);
            float[] test = java.util.Arrays.copyOfRange(all, n * cols, all.length);
            for (boolean actOrder : new boolean[] {false, true}) {
                Gptq.Calibration cal = Gptq.calibrate("x", x, n, cols, actOrder);
                assertEquals(cols, cal.cols());
                assertEquals(n, cal.samples());
                assertEquals(actOrder, cal.actOrder());
                assertTrue(cal.damping() > 0);
                for (QuantFormat f : formats) {
                    try (QuantizedTensor rtn = Quantizer.quantize("w", w, rows, cols, f);
                         QuantizedTensor gptq = Gptq.quantize("w", w, rows, cols, f, cal)) {
                        double eRtn = outputError(x, n, w, rtn);
                        double eGptq = outputError(x, n, w, gptq);
                        assertTrue(eGptq < 0.9 * eRtn,
                                f + " " + rows + "x" + cols + ": GPTQ " + eGptq + " vs RTN " + eRtn);
                        // Held-out tokens from the same distribution: the gain generalizes.
                        double hRtn = outputError(test, 256, w, rtn);
                        double hGptq = outputError(test, 256, w, gptq);
                        assertTrue(hGptq < hRtn, f + " held out: GPTQ " + hGptq + " vs RTN " + hRtn);
                    }
            }
            }
        }
    }

    @Test
    void producesAValidTensorOfTheRequestedFormat() {
        int rows = 32;
        int cols = 128;
        float[] w = TestData.gaussian(rows * cols, 0.05, 3);
        float[] x = activations(200, cols, 4);
        for (QuantFormat f : List.of(QuantFormat.INT4_G32, QuantFormat.INT4_ASYM_G32, QuantFormat.NF4_B64,
                QuantFormat.INT8)) {
            for (boolean actOrder : new boolean[] {false, true}) {
                try (QuantizedTensor t = Gptq.quantize("layer", w, rows, cols, f,
                        Gptq.calibrate("x", x, 200, cols, actOrder))) {
                    assertEquals(f, t.format());
                    assertEquals("layer", t.name());
                    assertEquals(rows, t.rows());
                    assertEquals(cols, t.cols());
                    assertEquals(f.storageBytes(rows, cols), t.byteSize());
                    float[] dq = t.dequantize();
                    int g = f.groupSize() == QuantFormat.PER_CHANNEL ? cols : f.groupSize();
                    for (int r = 0; r < rows; r++) {
                        for (int c = 0; c < cols; c++) {
                            float s = t.scale(r, c / g);
                            float v = dq[r * cols + c];
                            assertTrue(Float.isFinite(v));
                            if (f.scheme() == QuantFormat.Scheme.INT4_SYM) {
                                double q = v / s;
                                assertEquals(Math.rint(q), q, 1e-4, "code of " + r + "," + c);
                                assertTrue(q >= -8 - 1e-4 && q <= 7 + 1e-4, "INT4 code " + q);
                            } else if (f.scheme() == QuantFormat.Scheme.INT8) {
                                double q = v / s;
                                assertEquals(Math.rint(q), q, 1e-3);
                                assertTrue(Math.abs(q) <= 127 + 1e-3);
                            } else if (f.scheme() == QuantFormat.Scheme.NF4) {
                                assertTrue(Math.abs(v) <= Math.abs(s) * 1.0001f);
                            } else {
                                int z = t.zero(r, c / g);
                                double q = v / s + z;
                                assertTrue(q >= -1e-3 && q <= 15 + 1e-3, "ASYM code " + q);
                            }
                        }
                    }
                    // The matmul kernels read GPTQ's tensor like any other: y = x·Ŵᵀ.
                    float[] y = new float[3 * rows];
                    QuantizedMatmul.matmul(java.util.Arrays.copyOf(x, 3 * cols), 3, t, y);
                    for (int s = 0; s < 3; s++) {
                        for (int r = 0; r < rows; r++) {
                            double ref = 0;
                            for (int c = 0; c < cols; c++) {
                                ref += (double) x[s * cols + c] * dq[r * cols + c];
                            }
                            assertEquals(ref, y[s * rows + r], 1e-3 * (1 + Math.abs(ref)));
                        }
                    }
            }
            }
        }
    }

    @Test
    void dampingIsRelativeToTheHessianDiagonalAndValidated() {
        int cols = 64;
        // More rows than one FP32 GEMM block of the Hessian (2048), so the blocked double accumulation is exercised.
        int n = 4500;
        float[] x = activations(n, cols, 12);
        double meanDiag = 0;
        for (int i = 0; i < cols; i++) {
            double d = 0;
            for (int r = 0; r < n; r++) {
                d += (double) x[r * cols + i] * x[r * cols + i];
            }
            meanDiag += 2.0 * d / n;
        }
        meanDiag /= cols;
        for (double damping : new double[] {0.01, 0.1, 1.0}) {
            Gptq.Calibration c = Gptq.calibrate("x", x, n, cols, true, damping);
            assertEquals(damping * meanDiag, c.damping(), 1e-5 * damping * meanDiag, "damping " + damping);
            assertEquals(n, c.samples());
            assertTrue(c.actOrder());
        }
        assertEquals(Gptq.DAMPING * meanDiag, Gptq.calibrate("x", x, n, cols).damping(), 1e-5 * meanDiag);
        for (double bad : new double[] {0, -0.1, Double.NaN, Double.POSITIVE_INFINITY, 1e4}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Gptq.calibrate("lay", x, n, cols, false, bad));
            assertTrue(e.getMessage().contains("damping") && e.getMessage().contains(String.valueOf(bad))
                    && e.getMessage().contains("lay"), e.getMessage());
        }
    }

    @Test
    void rankDeficientAndDeadCalibrationIsHandledByDampening() {
        int rows = 16;
        int cols = 64;
        float[] w = TestData.gaussian(rows * cols, 0.05, 7);
        // 4 tokens for 64 channels: XᵀX has rank 4; the dampening makes it positive definite.
        float[] x = activations(4, cols, 8);
        try (QuantizedTensor t = Gptq.quantize("few", w, rows, cols, QuantFormat.INT4_G32, x, 4)) {
            for (float v : t.dequantize()) {
                assertTrue(Float.isFinite(v));
            }
        }
        // All-zero activations: every channel is dead; GPTQ degenerates to round-to-nearest's grid.
        float[] zeros = new float[10 * cols];
        try (QuantizedTensor t = Gptq.quantize("dead", w, rows, cols, QuantFormat.INT4_G32, zeros, 10);
             QuantizedTensor rtn = Quantizer.quantize("dead", w, rows, cols, QuantFormat.INT4_G32)) {
            assertArrayEquals(rtn.dequantize(), t.dequantize());
        }
    }

    @Test
    void badInputIsRejectedByNameAndLeavesInputsUntouched() {
        int rows = 8;
        int cols = 64;
        float[] w = TestData.gaussian(rows * cols, 0.05, 9);
        float[] x = activations(80, cols, 10);
        float[] w0 = w.clone();
        float[] x0 = x.clone();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Gptq.quantize("t", w, rows, cols + 2, QuantFormat.INT4_G32, x, 80));
        assertTrue(e.getMessage().contains("cols"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Gptq.quantize("t", w, rows + 1, cols, QuantFormat.INT4_G32, x, 80));
        assertTrue(e.getMessage().contains("weights.length = " + w.length), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Gptq.quantize("t", w, rows, cols, QuantFormat.INT4_G32, x, 81));
        assertTrue(e.getMessage().contains("calibration.length = " + x.length), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Gptq.quantize("t", w, rows, cols, QuantFormat.INT4_G32, x, 0));
        assertTrue(e.getMessage().contains("calibRows must be >= 1, got 0"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Gptq.quantize("t", w, rows, cols, QuantFormat.FP16, x, 80));
        assertTrue(e.getMessage().contains("FP16"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Gptq.quantize("t", w, rows, cols, QuantFormat.NF4_B64_DQ, x, 80));
        assertTrue(e.getMessage().contains("NF4_B64_DQ"), e.getMessage());
        float[] wn = w.clone();
        wn[77] = Float.NaN;
        e = assertThrows(IllegalArgumentException.class,
                () -> Gptq.quantize("t", wn, rows, cols, QuantFormat.INT4_G32, x, 80));
        assertTrue(e.getMessage().contains("index 77") && e.getMessage().contains("NaN"), e.getMessage());
        float[] xn = x.clone();
        xn[3 * cols + 5] = Float.POSITIVE_INFINITY;
        e = assertThrows(IllegalArgumentException.class,
                () -> Gptq.quantize("t", w, rows, cols, QuantFormat.INT4_G32, xn, 80));
        assertTrue(e.getMessage().contains("row 3, column 5"), e.getMessage());
        Gptq.Calibration cal = Gptq.calibrate("x", x, 80, cols);
        e = assertThrows(IllegalArgumentException.class,
                () -> Gptq.quantize("t", java.util.Arrays.copyOf(w, rows * 2 * cols), rows, 2 * cols,
                        QuantFormat.INT4_G32, cal));
        assertTrue(e.getMessage().contains("calibration.cols() = " + cols), e.getMessage());
        assertArrayEquals(w0, w);
        assertArrayEquals(x0, x);
        // Nothing was left corrupted: the same inputs still quantize, identically to a fresh run.
        try (QuantizedTensor a = Gptq.quantize("t", w, rows, cols, QuantFormat.INT4_G32, x, 80);
             QuantizedTensor b = Gptq.quantize("t", w, rows, cols, QuantFormat.INT4_G32, cal)) {
            assertArrayEquals(a.dequantize(), b.dequantize());
        }
    }

    /** {@code H = (2/n)·XᵀX} in float64. */
    private static double[] hessian(float[] x, int n, int cols) {
        double[] h = new double[cols * cols];
        for (int s = 0; s < n; s++) {
            for (int i = 0; i < cols; i++) {
                double xi = x[s * cols + i];
                for (int j = 0; j < cols; j++) {
                    h[i * cols + j] += 2.0 / n * xi * x[s * cols + j];
                }
            }
        }
        return h;
    }

    /** {@code Σ_r (w_r − ŵ_r)ᵀ(H + λI)(w_r − ŵ_r)} in float64: the error GPTQ minimizes. */
    private static double hessianError(double[] h, float[] w, QuantizedTensor t, double lambda) {
        int rows = t.rows();
        int cols = t.cols();
        float[] dq = t.dequantize();
        double e = 0;
        for (int r = 0; r < rows; r++) {
            for (int i = 0; i < cols; i++) {
                double di = (double) w[r * cols + i] - dq[r * cols + i];
                for (int j = 0; j < cols; j++) {
                    double dj = (double) w[r * cols + j] - dq[r * cols + j];
                    e += di * (h[i * cols + j] + (i == j ? lambda : 0)) * dj;
                }
            }
        }
        return e;
    }

    @Test
    void scaleRefitNeverRaisesTheHessianErrorAndLowersItForAsymmetricGroups() {
        int[][] shapes = {{32, 128}, {16, 256}, {8, 384}};
        List<QuantFormat> formats = List.of(QuantFormat.INT4_ASYM_G64, QuantFormat.INT4_ASYM_G32, QuantFormat.INT4_G64,
                QuantFormat.NF4_B64, QuantFormat.INT8, QuantFormat.INT8_G64);
        long seed = 31;
        for (int[] sh : shapes) {
            int rows = sh[0];
            int cols = sh[1];
            float[] w = TestData.gaussian(rows * cols, 0.05, seed++);
            int n = 2 * cols;
            float[] x = activations(n, cols, seed++);
            double[] h = hessian(x, n, cols);
            for (boolean actOrder : new boolean[] {false, true}) {
                Gptq.Calibration cal = Gptq.calibrate("x", x, n, cols, actOrder, 0.1);
                for (QuantFormat f : formats) {
                    try (QuantizedTensor q0 = Gptq.quantize("w", w, rows, cols, f, cal);
                         QuantizedTensor q1 = Gptq.quantize("w", w, rows, cols, f, cal, 1);
                         QuantizedTensor q2 = Gptq.quantize("w", w, rows, cols, f, cal, 2)) {
                        assertEquals(f, q1.format());
                        double e0 = hessianError(h, w, q0, cal.damping());
                        double e1 = hessianError(h, w, q1, cal.damping());
                        double e2 = hessianError(h, w, q2, cal.damping());
                        String what = f + " " + rows + "x" + cols + " actOrder " + actOrder;
                        // each row keeps its refit only where it lowers the error (up to float64 rounding)
                        assertTrue(e1 <= e0 * (1 + 1e-6), what + ": refit " + e1 + " vs plain " + e0);
                        assertTrue(e2 <= e1 * (1 + 1e-6), what + ": two rounds " + e2 + " vs one " + e1);
                        if (f.scheme() == QuantFormat.Scheme.INT4_ASYM) {
                            assertTrue(e1 < 0.98 * e0, what + ": refit " + e1 + " vs plain " + e0);
                        }
                    }
                }
            }
        }
    }

    @Test
    void refitRoundsAreValidated() {
        int rows = 8;
        int cols = 64;
        float[] w = TestData.gaussian(rows * cols, 0.05, 41);
        float[] x = activations(100, cols, 42);
        Gptq.Calibration cal = Gptq.calibrate("x", x, 100, cols, true);
        for (int bad : new int[] {-1, Gptq.MAX_REFITS + 1}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Gptq.quantize("t", w, rows, cols, QuantFormat.INT4_ASYM_G64, cal, bad));
            assertTrue(e.getMessage().contains("refits") && e.getMessage().contains("got " + bad), e.getMessage());
        }
        try (QuantizedTensor a = Gptq.quantize("t", w, rows, cols, QuantFormat.INT4_ASYM_G64, cal, 1);
             QuantizedTensor b = Gptq.quantize("t", w, rows, cols, QuantFormat.INT4_ASYM_G64, cal, 1)) {
            assertArrayEquals(a.dequantize(), b.dequantize());
        }
    }
}
