package io.vramkit.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vramkit.quant.internal.Layouts;
import io.vramkit.quant.internal.QuantKernels;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

class QuantizedMatmulTest {

    static List<QuantFormat> formats() {
        return QuantizerTest.allFormats();
    }

    /** Checks y against the float64 product with the dequantized weights, to FP32 summation accuracy. */
    static void assertMatches(float[] x, int batch, float[] deq, int rows, int cols, float[] y, String what) {
        double[] ref = TestData.reference(x, batch, deq, rows, cols);
        double[] mag = TestData.magnitude(x, batch, deq, rows, cols);
        for (int i = 0; i < ref.length; i++) {
            double tol = mag[i] * 2e-6 * Math.sqrt(cols) + 1e-30;
            assertEquals(ref[i], y[i], tol, what + " output " + i);
        }
    }

    @ParameterizedTest
    @MethodSource("formats")
    void gemvAndGemmMatchFloat64ReferenceOnBothPaths(QuantFormat f) {
        int[][] shapes = {{1, 64}, {17, 128}, {64, 512}, {5, 1024}, {3, 96}};
        int[] batches = {1, 2, 7, 16, 17, 40};
        for (int[] sh : shapes) {
            int rows = sh[0];
            int cols = sh[1];
            if (f.groupSize() != 0 && cols % f.groupSize() != 0) {
                continue;
            }
            float[] w = TestData.heavyTailed(rows, cols, rows + cols);
            try (QuantizedTensor q = Quantizer.quantize("w", w, rows, cols, f)) {
                float[] deq = q.dequantize();
                for (int batch : batches) {
                    float[] x = TestData.gaussian(batch * cols, 1, batch * 131L + cols);
                    for (QuantKernels k : List.of(QuantizerTest.SCALAR, QuantizerTest.PANAMA)) {
                        float[] y = new float[batch * rows];
                        QuantizedMatmul.matmulWith(k, x, batch, q, y);
                        assertMatches(x, batch, deq, rows, cols, y, f + " " + k.getClass().getSimpleName()
                                + " " + rows + "x" + cols + " batch " + batch);
                    }
                }
            }
        }
    }

    static List<QuantFormat> gemmFormats() {
        return List.of(QuantFormat.FP32, QuantFormat.BF16, QuantFormat.FP16, QuantFormat.INT8, QuantFormat.INT8_G32,
                QuantFormat.INT4_G32, QuantFormat.INT4_ASYM_G32, QuantFormat.nf4(32, true), QuantFormat.FP8_E4M3);
    }

    /**
     * The GEMM path on shapes that are not multiples of the tiles (48 weight rows, 6-row register blocks, 8/16/32
     * activation rows per panel): both kernels against float64, and against each other.
     */
    @ParameterizedTest
    @MethodSource("gemmFormats")
    void gemmOddShapesMatchFloat64AndScalarAgreesWithPanama(QuantFormat f) {
        int[][] shapes = {{1, 64}, {5, 96}, {47, 128}, {49, 64}, {101, 192}, {6, 320}};
        int[] batches = {17, 23, 31, 32, 33, 47, 65, 600};
        for (int[] sh : shapes) {
            int rows = sh[0];
            int cols = sh[1];
            float[] w = TestData.heavyTailed(rows, cols, 7L * rows + cols);
            try (QuantizedTensor q = Quantizer.quantize("w", w, rows, cols, f)) {
                float[] deq = q.dequantize();
                for (int batch : batches) {
                    if (batch == 600 && rows * cols > 100 * 192) {
                        continue;
                    }
                    float[] x = TestData.gaussian(batch * cols, 1, batch * 977L + rows);
                    double[] mag = TestData.magnitude(x, batch, deq, rows, cols);
                    float[] ys = new float[batch * rows];
                    float[] yp = new float[batch * rows];
                    String what = f + " " + rows + "x" + cols + " batch " + batch;
                    QuantizedMatmul.matmulWith(QuantizerTest.SCALAR, x, batch, q, ys);
                    QuantizedMatmul.matmulWith(QuantizerTest.PANAMA, x, batch, q, yp);
                    assertMatches(x, batch, deq, rows, cols, ys, what + " scalar");
                    assertMatches(x, batch, deq, rows, cols, yp, what + " panama");
                    for (int i = 0; i < ys.length; i++) {
                        assertEquals(ys[i], yp[i], mag[i] * 4e-6 * Math.sqrt(cols) + 1e-30, what + " scalar vs panama "
                                + i);
                    }
                }
            }
        }
    }

    /**
     * The GEMM path writes exactly {@code batch × rows} outputs, and per-thread scratch reused across calls of
     * different shapes (large, then small with a partial last panel) leaves no stale values in the result.
     */
    @Test
    void gemmWritesOnlyItsOutputsAndScratchReuseIsClean() {
        for (QuantKernels k : List.of(QuantizerTest.SCALAR, QuantizerTest.PANAMA, QuantKernels.INSTANCE)) {
            int[][] calls = {{300, 97, 256}, {19, 97, 256}, {40, 13, 64}, {17, 200, 128}, {18, 5, 512}};
            for (int[] call : calls) {
                int batch = call[0];
                int rows = call[1];
                int cols = call[2];
                float[] w = TestData.gaussian(rows * cols, 1, rows);
                try (QuantizedTensor q = Quantizer.quantize("w", w, rows, cols, QuantFormat.FP32)) {
                    float[] x = TestData.gaussian(batch * cols, 1, batch + cols);
                    float[] y = new float[batch * rows + 37];
                    Arrays.fill(y, -7.5f);
                    QuantizedMatmul.matmulWith(k, x, batch, q, y);
                    assertMatches(x, batch, w, rows, cols, Arrays.copyOf(y, batch * rows),
                            k.getClass().getSimpleName() + " " + batch + "x" + rows + "x" + cols);
                    for (int i = batch * rows; i < y.length; i++) {
                        assertEquals(-7.5f, y[i], "y[" + i + "] past batch × rows was written");
                    }
                }
            }
        }
    }

    /**
     * The GEMM path's tile decoder: the Panama INT8 and BF16 dequantizers give the scalar values bit for bit, for
     * partial row ranges, an output offset and groups with a vector tail.
     */
    @Test
    void panamaTileDecodeEqualsScalarBitForBit() {
        for (QuantFormat f : List.of(QuantFormat.INT8, QuantFormat.INT8_G32, QuantFormat.int8(6), QuantFormat.BF16)) {
            for (int[] sh : new int[][] {{9, 96}, {4, 390}, {1, 6}}) {
                int rows = sh[0];
                int cols = sh[1];
                if (f.groupSize() != 0 && cols % f.groupSize() != 0) {
                    continue;
                }
                float[] w = TestData.heavyTailed(rows, cols, rows + 3L * cols);
                try (QuantizedTensor q = Quantizer.quantize("w", w, rows, cols, f)) {
                    int r0 = rows / 3;
                    int n = (rows - r0) * cols;
                    float[] a = new float[n + 5];
                    float[] b = new float[n + 5];
                    QuantizerTest.SCALAR.dequantizeRows(q, r0, rows, a, 5);
                    QuantizerTest.PANAMA.dequantizeRows(q, r0, rows, b, 5);
                    assertArrayEquals(a, b, f + " " + rows + "x" + cols);
                    assertArrayEquals(Arrays.copyOfRange(q.dequantize(), r0 * cols, rows * cols),
                            Arrays.copyOfRange(b, 5, n + 5), f + " against dequantize()");
                }
            }
        }
    }

    /** Bad arguments on the GEMM path are rejected before any work, naming the argument; the tensor stays usable. */
    @Test
    void gemmBadShapesAreRejectedAndTheTensorStaysUsable() {
        int rows = 50;
        int cols = 64;
        float[] w = TestData.gaussian(rows * cols, 1, 5);
        try (QuantizedTensor q = Quantizer.quantize("attn.out", w, rows, cols, QuantFormat.INT8)) {
            float[] y = new float[40 * rows];
            Arrays.fill(y, 3f);
            var e = assertThrows(IllegalArgumentException.class,
                    () -> QuantizedMatmul.matmul(new float[40 * cols - 1], 40, q, y));
            assertTrue(e.getMessage().contains("x.length = " + (40 * cols - 1)) && e.getMessage().contains("attn.out"),
                    e.getMessage());
            var e2 = assertThrows(IllegalArgumentException.class,
                    () -> QuantizedMatmul.matmul(new float[41 * cols], 41, q, y));
            assertTrue(e2.getMessage().contains("y.length = " + y.length) && e2.getMessage().contains("rows = 50"),
                    e2.getMessage());
            for (float v : y) {
                assertEquals(3f, v, "output touched by a rejected call");
            }
            float[] x = TestData.gaussian(40 * cols, 1, 6);
            QuantizedMatmul.matmul(x, 40, q, y);
            assertMatches(x, 40, q.dequantize(), rows, cols, y, "after rejected calls");
        }
    }

    /**
     * The batch-1 4-bit GEMV (nibble-plane kernel where the block shape allows, the decode-and-dot path where it does
     * not) for every group size that tiles or spans its 128-column blocks, and for sizes that do neither, against
     * float64 and against the scalar kernel; activations include zeros, huge and tiny magnitudes.
     */
    @Test
    void fourBitGemvMatchesFloat64ForEveryGroupShape() {
        int[] groups = {8, 16, 32, 64, 128, 256, 512, 96, 2};
        int[][] shapes = {{1, 512}, {19, 1024}, {70, 768}, {3, 1536}};
        for (int g : groups) {
            for (QuantFormat f : List.of(QuantFormat.int4(g, true), QuantFormat.int4(g, false),
                    QuantFormat.nf4(g, false), QuantFormat.nf4(g, true))) {
                for (int[] sh : shapes) {
                    int rows = sh[0];
                    int cols = sh[1];
                    if (cols % g != 0) {
                        continue;
                    }
                    float[] w = TestData.heavyTailed(rows, cols, 31L * g + cols);
                    float[] x = TestData.gaussian(cols, 1, g + 7L * rows);
                    x[0] = 0f;
                    x[cols / 3] = 3.0e4f;
                    x[cols - 1] = -1.0e-20f;
                    try (QuantizedTensor q = Quantizer.quantize("w", w, rows, cols, f)) {
                        float[] deq = q.dequantize();
                        double[] mag = TestData.magnitude(x, 1, deq, rows, cols);
                        float[] ys = new float[rows];
                        float[] yp = new float[rows];
                        QuantizedMatmul.matmulWith(QuantizerTest.SCALAR, x, 1, q, ys);
                        QuantizedMatmul.matmulWith(QuantizerTest.PANAMA, x, 1, q, yp);
                        String what = f + " " + rows + "x" + cols;
                        assertMatches(x, 1, deq, rows, cols, ys, what + " scalar");
                        assertMatches(x, 1, deq, rows, cols, yp, what + " panama");
                        for (int i = 0; i < rows; i++) {
                            assertEquals(ys[i], yp[i], mag[i] * 4e-6 * Math.sqrt(cols) + 1e-30,
                                    what + " scalar vs panama, row " + i);
                        }
                    }
                }
            }
        }
    }

    @Test
    void bf16ActivationsEqualTheirFloatConversion() {
        int rows = 33;
        int cols = 256;
        float[] w = TestData.heavyTailed(rows, cols, 1);
        float[] xf = TestData.gaussian(3 * cols, 1, 2);
        short[] xb = new short[xf.length];
        float[] xr = new float[xf.length];
        for (int i = 0; i < xf.length; i++) {
            xb[i] = Layouts.toBf16(xf[i]);
            xr[i] = Layouts.fromBf16(xb[i]);
        }
        for (QuantFormat f : List.of(QuantFormat.INT4_G32, QuantFormat.BF16, QuantFormat.INT8)) {
            try (QuantizedTensor q = Quantizer.quantize("w", w, rows, cols, f)) {
                float[] a = new float[3 * rows];
                float[] b = new float[3 * rows];
                QuantizedMatmul.matmulBf16(xb, 3, q, a);
                QuantizedMatmul.matmul(xr, 3, q, b);
                assertArrayEquals(b, a, f.toString());
            }
        }
    }

    @Test
    void denseMatchesReference() {
        for (int[] sh : new int[][] {{1, 1}, {7, 33}, {64, 300}}) {
            float[] w = TestData.gaussian(sh[0] * sh[1], 1, sh[1]);
            for (int batch : new int[] {1, 5, 20}) {
                float[] x = TestData.gaussian(batch * sh[1], 1, batch);
                float[] y = new float[batch * sh[0]];
                QuantizedMatmul.dense(x, batch, w, sh[0], sh[1], y);
                assertMatches(x, batch, w, sh[0], sh[1], y, "dense " + sh[0] + "x" + sh[1]);
            }
        }
    }

    @Test
    void fp32FormatEqualsDense() {
        float[] w = TestData.gaussian(16 * 128, 1, 3);
        float[] x = TestData.gaussian(128, 1, 4);
        try (QuantizedTensor q = Quantizer.quantize("w", w, 16, 128, QuantFormat.FP32)) {
            float[] a = new float[16];
            float[] b = new float[16];
            QuantizedMatmul.matmul(x, 1, q, a);
            QuantizedMatmul.dense(x, 1, w, 16, 128, b);
            // equal up to FP32 summation order (the vector reduction order is the JIT's choice)
            assertMatches(x, 1, w, 16, 128, a, "FP32 format");
            assertMatches(x, 1, w, 16, 128, b, "dense");
        }
    }

    @Test
    void w8a8MatchesIntegerReference() {
        for (QuantFormat f : List.of(QuantFormat.INT8, QuantFormat.INT8_G32, QuantFormat.INT8_G128)) {
            int rows = 48;
            int cols = 256;
            float[] w = TestData.heavyTailed(rows, cols, 8);
            try (QuantizedTensor q = Quantizer.quantize("w", w, rows, cols, f)) {
                for (int batch : new int[] {1, 3, 33}) {
                    float[] x = TestData.gaussian(batch * cols, 1, batch);
                    byte[] xq = new byte[batch * cols];
                    float[] xs = new float[batch];
                    QuantizedMatmul.quantizeActivations(x, batch, cols, xq, xs);
                    float[] xdq = new float[x.length];
                    for (int i = 0; i < x.length; i++) {
                        xdq[i] = xq[i] * xs[i / cols];
                        assertTrue(Math.abs(xdq[i] - x[i]) <= xs[i / cols] * 0.5f * (1 + 1e-5f), "act " + i);
                    }
                    float[] deq = q.dequantize();
                    for (QuantKernels k : List.of(QuantizerTest.SCALAR, QuantizerTest.PANAMA)) {
                        float[] y = new float[batch * rows];
                        QuantizedMatmul.w8a8With(k, x, batch, q, y);
                        assertMatches(xdq, batch, deq, rows, cols, y, "w8a8 " + f);
                    }
                }
            }
        }
    }

    @Test
    void badShapesAreRejectedWithClearMessages() {
        try (QuantizedTensor q = Quantizer.quantize("mlp.up", new float[8 * 64], 8, 64, QuantFormat.INT4_G32)) {
            var e = assertThrows(IllegalArgumentException.class,
                    () -> QuantizedMatmul.matmul(new float[63], 1, q, new float[8]));
            assertTrue(e.getMessage().contains("x.length = 63") && e.getMessage().contains("cols = 64")
                    && e.getMessage().contains("mlp.up"), e.getMessage());
            var e2 = assertThrows(IllegalArgumentException.class,
                    () -> QuantizedMatmul.matmul(new float[128], 2, q, new float[15]));
            assertTrue(e2.getMessage().contains("y.length = 15") && e2.getMessage().contains("rows = 8"),
                    e2.getMessage());
            var e3 = assertThrows(IllegalArgumentException.class,
                    () -> QuantizedMatmul.matmul(new float[64], 0, q, new float[8]));
            assertTrue(e3.getMessage().contains("batch") && e3.getMessage().contains("0"), e3.getMessage());
            var e4 = assertThrows(IllegalArgumentException.class,
                    () -> QuantizedMatmul.w8a8(new float[64], 1, q, new float[8]));
            assertTrue(e4.getMessage().contains("INT8") && e4.getMessage().contains("INT4_G32"), e4.getMessage());
            var e5 = assertThrows(IllegalArgumentException.class,
                    () -> QuantizedMatmul.matmulBf16(new short[10], 1, q, new float[8]));
            assertTrue(e5.getMessage().contains("x.length = 10"), e5.getMessage());
            // the tensor is still usable after the failures
            float[] y = new float[8];
            QuantizedMatmul.matmul(new float[64], 1, q, y);
            assertArrayEquals(new float[8], y);
        }
        var e6 = assertThrows(IllegalArgumentException.class,
                () -> QuantizedMatmul.dense(new float[4], 1, new float[6], 2, 4, new float[2]));
        assertTrue(e6.getMessage().contains("w.length = 6"), e6.getMessage());
        try (QuantizedTensor q = Quantizer.quantize("w", new float[64], 1, 64, QuantFormat.INT8)) {
            float[] x = new float[64];
            x[9] = Float.NaN;
            var e7 = assertThrows(IllegalArgumentException.class, () -> QuantizedMatmul.w8a8(x, 1, q, new float[1]));
            assertTrue(e7.getMessage().contains("x[9]"), e7.getMessage());
        }
    }
}
