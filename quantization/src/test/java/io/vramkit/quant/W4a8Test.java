package io.vramkit.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vramkit.quant.internal.QuantKernels;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** {@link QuantizedMatmul#w4a8}: INT4 symmetric weights with INT8 activations quantized per weight group. */
class W4a8Test {

    static List<QuantFormat> formats() {
        return List.of(QuantFormat.INT4_G32, QuantFormat.INT4_G64, QuantFormat.INT4_G128, QuantFormat.int4(256, true));
    }

    private static final List<QuantKernels> KERNELS = List.of(QuantizerTest.SCALAR, QuantizerTest.PANAMA);

    /** The activations as the kernel sees them: codes times their group's scale. */
    private static float[] dequantizedActivations(float[] x, int batch, int cols, int g) {
        byte[] xq = new byte[batch * cols];
        float[] xs = new float[batch * (cols / g)];
        QuantizerTest.SCALAR.quantizeActivationGroups(x, batch, cols, g, xq, xs);
        float[] xdq = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            float s = xs[(i / cols) * (cols / g) + (i % cols) / g];
            xdq[i] = xq[i] * s;
            assertTrue(Math.abs(xdq[i] - x[i]) <= s * 0.5f * (1 + 1e-5f), "activation " + i + " rounds too far");
        }
        return xdq;
    }

    /** The documented bound of the activations' rounding for output {@code (b, r)}: {@code Σ_g (xs/2)·Σ|W|}. */
    private static double roundingBound(float[] x, int b, float[] deq, int r, int cols, int g) {
        double bound = 0;
        for (int gi = 0; gi < cols / g; gi++) {
            double step = 0;
            double wsum = 0;
            for (int c = gi * g; c < (gi + 1) * g; c++) {
                step = Math.max(step, Math.abs(x[b * cols + c]) / 127);
                wsum += Math.abs(deq[r * cols + c]);
            }
            bound += step / 2 * wsum;
        }
        return bound;
    }

    /**
     * Both kernels against float64 on the dequantized activations (the integer part is exact, so only FP32 scaling
     * and summation may differ), and against float64 on the raw activations within the documented rounding bound.
     * Shapes cover the vector path (cols a multiple of 128), its scalar fallback (96, 160 columns), odd row counts
     * (the self-paired last row) and batches past the GEMV limit.
     */
    @ParameterizedTest
    @MethodSource("formats")
    void matchesFloat64OnBothKernels(QuantFormat f) {
        int[][] shapes = {{1, 256}, {2, 128}, {3, 512}, {17, 384}, {64, 1024}, {5, 96}, {4, 160}, {9, 4096}};
        for (int[] sh : shapes) {
            int rows = sh[0];
            int cols = sh[1];
            int g = f.groupSize();
            if (cols % g != 0) {
                continue;
            }
            float[] w = TestData.heavyTailed(rows, cols, 31L * rows + cols);
            try (QuantizedTensor q = Quantizer.quantize("w", w, rows, cols, f)) {
                float[] deq = q.dequantize();
                for (int batch : new int[] {1, 2, 16, 17}) {
                    float[] x = TestData.gaussian(batch * cols, 1.5, 977L * batch + cols);
                    // an outlier activation: its group's step grows, the other groups' do not
                    x[Math.min(cols - 1, 37)] = 900f;
                    float[] xdq = dequantizedActivations(x, batch, cols, g);
                    double[] exact = TestData.reference(x, batch, deq, rows, cols);
                    for (QuantKernels k : KERNELS) {
                        float[] y = new float[batch * rows];
                        QuantizedMatmul.w4a8With(k, x, batch, q, y);
                        String what = f + " " + k.getClass().getSimpleName() + " " + rows + "x" + cols + " batch "
                                + batch;
                        QuantizedMatmulTest.assertMatches(xdq, batch, deq, rows, cols, y, what);
                        for (int b = 0; b < batch; b++) {
                            for (int r = 0; r < rows; r++) {
                                double bound = roundingBound(x, b, deq, r, cols, g);
                                int i = b * rows + r;
                                assertEquals(exact[i], y[i], bound * (1 + 1e-4) + 1e-4 * Math.abs(exact[i]) + 1e-6,
                                        what + " output " + i + " against the raw activations");
                            }
                        }
                    }
                }
            }
        }
    }

    /**
     * Every code at an extreme (−8 or +7) against every activation code at ±127, signs chosen so that no partial sum
     * cancels: the 16-bit lanes hold their largest values. Checked against the exact integer sum.
     */
    @Test
    void extremeCodesStayExactIn16BitLanes() {
        int rows = 6;
        int cols = 512;
        for (QuantFormat f : formats()) {
            int g = f.groupSize();
            int gpr = cols / g;
            try (Arena arena = Arena.ofShared()) {
                MemorySegment codes = arena.allocate((long) rows * cols / 2);
                MemorySegment scales = arena.allocate((long) rows * gpr * 2);
                int[][] u = new int[rows][cols];
                Random rnd = new Random(g);
                for (int r = 0; r < rows; r++) {
                    for (int c = 0; c < cols; c++) {
                        u[r][c] = r % 2 == 0 ? (rnd.nextBoolean() ? 0 : 15) : (c % 2 == 0 ? 0 : 15);
                    }
                    for (int c = 0; c < cols; c += 2) {
                        codes.set(ValueLayout.JAVA_BYTE, ((long) r * cols + c) / 2,
                                (byte) (u[r][c] | u[r][c + 1] << 4));
                    }
                    for (int gi = 0; gi < gpr; gi++) {
                        scales.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, (long) r * gpr + gi,
                                Float.floatToFloat16(0.5f + 0.25f * ((r + gi) % 3)));
                    }
                }
                QuantizedTensor q = QuantizedTensor.wrap("extreme", f, rows, cols, codes, scales, MemorySegment.NULL,
                        MemorySegment.NULL, 0f);
                // activation codes ±127 exactly: every group's absmax is 127 · 2^-3
                float[] x = new float[cols];
                for (int c = 0; c < cols; c++) {
                    x[c] = (u[0][c] == 0 ? -127 : 127) / 8f;
                }
                for (QuantKernels k : KERNELS) {
                    float[] y = new float[rows];
                    QuantizedMatmul.w4a8With(k, x, 1, q, y);
                    for (int r = 0; r < rows; r++) {
                        double expect = 0;
                        for (int gi = 0; gi < gpr; gi++) {
                            long d = 0;
                            for (int c = gi * g; c < (gi + 1) * g; c++) {
                                d += (long) (u[r][c] - 8) * (x[c] > 0 ? 127 : -127);
                            }
                            expect += d * (double) q.scale(r, gi) / 8;
                        }
                        assertEquals(expect, y[r], Math.abs(expect) * 1e-6 + 1e-6,
                                f + " " + k.getClass().getSimpleName() + " row " + r);
                    }
                }
            }
        }
    }

    /**
     * The vectorized FP16 scale decoding (shared by the W4A8 and the FP32-activation INT4 kernels) on every kind of
     * FP16 value a scale can hold: zero, the smallest and largest subnormals, the smallest normal, 1 and the largest
     * finite value. Both kernels must agree with the scalar code's {@link Float#float16ToFloat}.
     */
    @Test
    void fp16ScalesOfEveryKindDecodeExactly() {
        short[] halves = {0x0000, 0x0001, 0x03FF, 0x0400, 0x3C00, 0x7BFF, 0x1234, 0x2F00};
        int rows = 8;
        int cols = 128 * 20;
        QuantFormat f = QuantFormat.INT4_G128;
        int gpr = cols / 128;
        try (Arena arena = Arena.ofShared()) {
            MemorySegment codes = arena.allocate((long) rows * cols / 2);
            MemorySegment scales = arena.allocate((long) rows * gpr * 2);
            Random rnd = new Random(3);
            for (long i = 0; i < codes.byteSize(); i++) {
                codes.set(ValueLayout.JAVA_BYTE, i, (byte) rnd.nextInt());
            }
            for (int i = 0; i < rows * gpr; i++) {
                // one kind per row: a wrongly decoded scale then shows in that whole row
                scales.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, halves[i / gpr]);
            }
            QuantizedTensor q = QuantizedTensor.wrap("scales", f, rows, cols, codes, scales, MemorySegment.NULL,
                    MemorySegment.NULL, 0f);
            float[] x = TestData.gaussian(cols, 1, 4);
            float[] deq = q.dequantize();
            double[] ref = TestData.reference(x, 1, deq, rows, cols);
            for (QuantKernels k : KERNELS) {
                float[] y = new float[rows];
                QuantizedMatmul.matmulWith(k, x, 1, q, y);
                QuantizedMatmulTest.assertMatches(x, 1, deq, rows, cols, y, "matmul " + k.getClass().getSimpleName());
                float[] z = new float[rows];
                QuantizedMatmul.w4a8With(k, x, 1, q, z);
                for (int r = 0; r < rows; r++) {
                    assertTrue(Float.isFinite(z[r]), "w4a8 row " + r + " is " + z[r]);
                    double bound = roundingBound(x, 0, deq, r, cols, 128);
                    assertEquals(ref[r], z[r], bound * (1 + 1e-4) + 1e-4 * Math.abs(ref[r]) + 1e-30,
                            "w4a8 " + k.getClass().getSimpleName() + " row " + r);
                }
            }
        }
    }

    /** The vector activation quantizer gives the scalar one's codes and scales bit for bit, NaN handling aside. */
    @Test
    void activationQuantizationIsBitIdenticalOnBothKernels() {
        for (int g : new int[] {16, 32, 64, 128, 24}) {
            int cols = 4 * 96;
            if (cols % g != 0) {
                continue;
            }
            int batch = 3;
            float[] x = TestData.gaussian(batch * cols, 3, g);
            x[5] = 0f;
            Arrays.fill(x, cols, cols + g, 0f); // an all-zero group
            x[2 * cols + 7] = 1e30f;
            x[2 * cols + 8] = -1e-30f;
            // this group's absmax is 127, so its scale is 1 and these are exact ties: half to even on both
            for (int i = 0; i < 8; i++) {
                x[cols + g + i] = i + 0.5f;
            }
            x[cols + g + 8] = 127f;
            byte[] qa = new byte[x.length];
            byte[] qb = new byte[x.length];
            float[] sa = new float[batch * cols / g];
            float[] sb = new float[sa.length];
            QuantizerTest.SCALAR.quantizeActivationGroups(x, batch, cols, g, qa, sa);
            QuantizerTest.PANAMA.quantizeActivationGroups(x, batch, cols, g, qb, sb);
            assertArrayEquals(qa, qb, "codes, g = " + g);
            assertArrayEquals(sa, sb, "scales, g = " + g);
            x[2 * cols + 9] = Float.NaN;
            for (QuantKernels k : KERNELS) {
                var e = assertThrows(IllegalArgumentException.class,
                        () -> k.quantizeActivationGroups(x, batch, cols, g, qa, sa));
                assertTrue(e.getMessage().contains("x[" + (2 * cols + 9) + "]"), e.getMessage());
            }
        }
    }

    /** Any sub-range of rows (as the executor hands out) gives the values of the whole call, odd ranges included. */
    @Test
    void rowRangesAgreeWithTheWholeCall() {
        int rows = 23;
        int cols = 256;
        float[] w = TestData.heavyTailed(rows, cols, 5);
        try (QuantizedTensor q = Quantizer.quantize("w", w, rows, cols, QuantFormat.INT4_G64)) {
            int batch = 2;
            float[] x = TestData.gaussian(batch * cols, 1, 6);
            byte[] xq = new byte[batch * cols];
            float[] xs = new float[batch * q.groupsPerRow()];
            QuantizerTest.SCALAR.quantizeActivationGroups(x, batch, cols, 64, xq, xs);
            for (QuantKernels k : KERNELS) {
                float[] whole = new float[batch * rows];
                k.gemvW4a8(q, xq, xs, batch, whole, 0, rows);
                int[][] ranges = {{0, 1}, {1, 4}, {4, 11}, {11, 12}, {12, 23}};
                float[] parts = new float[batch * rows];
                Arrays.fill(parts, Float.NaN);
                for (int[] rg : ranges) {
                    k.gemvW4a8(q, xq, xs, batch, parts, rg[0], rg[1]);
                }
                for (int i = 0; i < whole.length; i++) {
                    assertEquals(whole[i], parts[i], Math.abs(whole[i]) * 1e-6 + 1e-7,
                            k.getClass().getSimpleName() + " output " + i);
                }
            }
        }
    }

    @Test
    void badInputIsRejectedAndLeavesTheOutputAlone() {
        float[] y = new float[8];
        Arrays.fill(y, 42f);
        for (QuantFormat f : List.of(QuantFormat.INT4_ASYM_G32, QuantFormat.NF4_B64, QuantFormat.INT8)) {
            try (QuantizedTensor q = Quantizer.quantize("mlp.down", new float[8 * 128], 8, 128, f)) {
                var e = assertThrows(IllegalArgumentException.class,
                        () -> QuantizedMatmul.w4a8(new float[128], 1, q, y));
                assertTrue(e.getMessage().contains("INT4 symmetric") && e.getMessage().contains("mlp.down")
                        && e.getMessage().contains(f.toString()), e.getMessage());
            }
        }
        try (QuantizedTensor q = Quantizer.quantize("attn.q", new float[8 * 128], 8, 128, QuantFormat.INT4_G32)) {
            float[] x = new float[256];
            x[200] = Float.POSITIVE_INFINITY;
            var e = assertThrows(IllegalArgumentException.class, () -> QuantizedMatmul.w4a8(x, 2, q, new float[16]));
            assertTrue(e.getMessage().contains("x[200]") && e.getMessage().contains("row 1"), e.getMessage());
            x[200] = Float.NaN;
            float[] y2 = new float[16];
            Arrays.fill(y2, 42f);
            assertThrows(IllegalArgumentException.class, () -> QuantizedMatmul.w4a8(x, 2, q, y2));
            float[] untouched = new float[16];
            Arrays.fill(untouched, 42f);
            assertArrayEquals(untouched, y2, "a rejected call wrote to y");
            var e2 = assertThrows(IllegalArgumentException.class,
                    () -> QuantizedMatmul.w4a8(new float[127], 1, q, new float[8]));
            assertTrue(e2.getMessage().contains("x.length = 127"), e2.getMessage());
            var e3 = assertThrows(IllegalArgumentException.class,
                    () -> QuantizedMatmul.w4a8(new float[128], 0, q, new float[8]));
            assertTrue(e3.getMessage().contains("batch"), e3.getMessage());
            // still usable
            float[] ok = new float[8];
            QuantizedMatmul.w4a8(new float[128], 1, q, ok);
            assertArrayEquals(new float[8], ok);
            q.close();
            assertThrows(IllegalStateException.class, () -> QuantizedMatmul.w4a8(new float[128], 1, q, ok));
        }
    }
}
