package io.vramkit.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vramkit.quant.internal.QuantKernels;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The 4-bit nibble-plane GEMV runs two rows per pass, pairing row {@code r} of the first half of its row range with
 * row {@code r + h} of the second half (an odd last row on its own). Whatever the range, every row gets the same
 * operations in the same order, so the result may not depend on how the rows are split into ranges (threads,
 * chunks) nor on which row a row is paired with: equal to one row per call up to the last bit (the lane reduction's
 * order differs between the interpreter and compiled code, so a row computed before and after C2 compiled the kernel
 * can differ by an ulp; a row mixed up with another, or with another row's scales, is off by far more). Rows
 * outside the range stay untouched, and the values match float64.
 */
class FourBitGemvPairingTest {

    private static final QuantKernels PANAMA = QuantizerTest.PANAMA;

    static List<QuantFormat> formats() {
        return List.of(QuantFormat.INT4_G128, QuantFormat.int4(32, true), QuantFormat.int4(256, true),
                QuantFormat.int4(128, false), QuantFormat.int4(64, false), QuantFormat.NF4_B64,
                QuantFormat.nf4(128, true), QuantFormat.nf4(16, false));
    }

    @Test
    void everyRowRangeSplitGivesTheSameResultAsOneRowPerCall() {
        int[][] shapes = {{1, 256}, {2, 128}, {3, 512}, {7, 256}, {64, 1024}, {65, 384}};
        Random rnd = new Random(11);
        for (QuantFormat f : formats()) {
            for (int[] sh : shapes) {
                int rows = sh[0];
                int cols = sh[1];
                if (cols % f.groupSize() != 0) {
                    continue;
                }
                float[] w = TestData.heavyTailed(rows, cols, 7L * rows + cols + f.groupSize());
                try (QuantizedTensor q = Quantizer.quantize("w", w, rows, cols, f)) {
                    float[] deq = q.dequantize();
                    for (int batch : new int[] {1, 3}) {
                        float[] x = TestData.gaussian(batch * cols, 1, 31L * rows + batch);
                        x[cols / 2] = -2.5e4f;
                        double[] mag = TestData.magnitude(x, batch, deq, rows, cols);
                        String what = f + " " + rows + "x" + cols + " batch " + batch;
                        float[] single = new float[batch * rows];
                        for (int r = 0; r < rows; r++) {
                            PANAMA.gemv(q, x, batch, single, r, r + 1);
                        }
                        float[] whole = new float[batch * rows];
                        PANAMA.gemv(q, x, batch, whole, 0, rows);
                        assertSame(single, whole, mag, what + " whole range");
                        for (int trial = 0; trial < 4; trial++) {
                            int a = rnd.nextInt(rows + 1);
                            int b = a + rnd.nextInt(rows - a + 1);
                            float[] split = new float[batch * rows];
                            PANAMA.gemv(q, x, batch, split, 0, a);
                            PANAMA.gemv(q, x, batch, split, a, b);
                            PANAMA.gemv(q, x, batch, split, b, rows);
                            assertSame(single, split, mag, what + " split at " + a + ", " + b);
                        }
                        QuantizedMatmulTest.assertMatches(x, batch, deq, rows, cols, whole, what);
                    }
                }
            }
        }
    }

    @Test
    void rowsOutsideTheRangeAreNotWritten() {
        int rows = 37;
        int cols = 512;
        float[] w = TestData.heavyTailed(rows, cols, 5);
        for (QuantFormat f : formats()) {
            try (QuantizedTensor q = Quantizer.quantize("w", w, rows, cols, f)) {
                for (int batch : new int[] {1, 2}) {
                    float[] x = TestData.gaussian(batch * cols, 1, 9);
                    int[][] ranges = {{5, 6}, {5, 7}, {5, 8}, {10, 31}, {0, 37}, {36, 37}, {4, 4}};
                    for (int[] range : ranges) {
                        float[] y = new float[batch * rows];
                        Arrays.fill(y, Float.NaN);
                        PANAMA.gemv(q, x, batch, y, range[0], range[1]);
                        for (int b = 0; b < batch; b++) {
                            for (int r = 0; r < rows; r++) {
                                boolean inside = r >= range[0] && r < range[1];
                                float v = y[b * rows + r];
                                String what = f + " range " + Arrays.toString(range) + " batch row " + b + " row " + r;
                                if (inside) {
                                    assertTrue(Float.isFinite(v), what + " not written: " + v);
                                } else {
                                    assertTrue(Float.isNaN(v), what + " written outside the range: " + v);
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /** Equal up to rounding: within {@code 2e-6} of the row's magnitude {@code Σ|x·w|}. */
    private static void assertSame(float[] expected, float[] actual, double[] mag, String what) {
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], actual[i], mag[i] * 2e-6 + 1e-30, what + ", output " + i);
        }
    }
}
