package io.vramkit.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

class OutlierDecompositionTest {

    /** Gaussian activations with a few systematic outlier channels of magnitude 20–60, as LLM.int8() reports. */
    static float[] activations(int batch, int cols, int[] outlierCols, long seed) {
        Random rnd = new Random(seed);
        float[] x = new float[batch * cols];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        for (int b = 0; b < batch; b++) {
            for (int c : outlierCols) {
                x[b * cols + c] = (float) ((rnd.nextBoolean() ? 1 : -1) * (20 + 40 * rnd.nextDouble()));
            }
        }
        return x;
    }

    static double outputError(float[] x, int batch, float[] w, int rows, int cols, float[] y) {
        double[] ref = TestData.reference(x, batch, w, rows, cols);
        double num = 0;
        double den = 0;
        for (int i = 0; i < ref.length; i++) {
            num += (ref[i] - y[i]) * (ref[i] - y[i]);
            den += ref[i] * ref[i];
        }
        return Math.sqrt(num / den);
    }

    @Test
    void fiveTimesLowerOutputErrorThanPlainInt8WithOutlierChannels() {
        for (int[] sh : new int[][] {{128, 512}, {64, 1024}}) {
            int rows = sh[0];
            int cols = sh[1];
            int[] oc = {3, cols / 3, cols / 2 + 1, cols - 2};
            float[] w = TestData.heavyTailed(rows, cols, cols);
            float[] calib = activations(16, cols, oc, 1);
            float[] x = activations(24, cols, oc, 2);
            try (OutlierDecomposition d = OutlierDecomposition.of("w", w, rows, cols, calib, 16,
                    OutlierDecomposition.DEFAULT_THRESHOLD);
                 QuantizedTensor plain = Quantizer.quantize("w", w, rows, cols, QuantFormat.INT8)) {
                assertArrayEquals(oc, d.outlierColumns());
                float[] yd = new float[24 * rows];
                float[] yp = new float[24 * rows];
                d.matmul(x, 24, yd);
                QuantizedMatmul.w8a8(x, 24, plain, yp);
                double ed = outputError(x, 24, w, rows, cols, yd);
                double ep = outputError(x, 24, w, rows, cols, yp);
                assertTrue(ed * 5 <= ep, "decomposed " + ed + " vs plain INT8 " + ep);
                assertTrue(d.byteSize() < plain.byteSize() + 2L * rows * oc.length + 64);
            }
        }
    }

    @Test
    void withoutOutliersItIsPlainW8A8() {
        float[] w = TestData.gaussian(16 * 64, 0.02, 1);
        float[] x = TestData.gaussian(2 * 64, 1, 2);
        try (OutlierDecomposition d = OutlierDecomposition.of("w", w, 16, 64, x, 2, 6f);
             QuantizedTensor plain = Quantizer.quantize("w", w, 16, 64, QuantFormat.INT8)) {
            assertArrayEquals(new int[0], d.outlierColumns());
            float[] a = new float[32];
            float[] b = new float[32];
            d.matmul(x, 2, a);
            QuantizedMatmul.w8a8(x, 2, plain, b);
            assertArrayEquals(b, a, 1e-6f);
        }
    }

    @Test
    void rejectsBadArguments() {
        float[] w = new float[4 * 8];
        var e = assertThrows(IllegalArgumentException.class,
                () -> OutlierDecomposition.of("w", w, 4, 8, new float[7], 1, 6f));
        assertTrue(e.getMessage().contains("calibration.length = 7"), e.getMessage());
        var e2 = assertThrows(IllegalArgumentException.class,
                () -> OutlierDecomposition.of("w", w, 4, 8, new float[8], 1, 0f));
        assertTrue(e2.getMessage().contains("threshold"), e2.getMessage());
        var e3 = assertThrows(IllegalArgumentException.class,
                () -> OutlierDecomposition.of("w", w, 4, 9, new float[9], 1, 6f));
        assertTrue(e3.getMessage().contains("weights.length = 32"), e3.getMessage());
        try (OutlierDecomposition d = OutlierDecomposition.of("w", w, 4, 8, new float[8], 1, 6f)) {
            var e4 = assertThrows(IllegalArgumentException.class, () -> d.matmul(new float[7], 1, new float[4]));
            assertTrue(e4.getMessage().contains("x.length = 7"), e4.getMessage());
        }
    }
}
