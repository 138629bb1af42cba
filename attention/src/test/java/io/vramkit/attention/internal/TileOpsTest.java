package io.vramkit.attention.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.vramkit.core.DType;
import io.vramkit.quant.Fp8;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Cross-checks the scalar and Vector API kernels against float64 on random tiles. */
class TileOpsTest {

    private static final TileOps[] IMPLS = {new ScalarTileOps(), new PanamaTileOps()};
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;

    private static void fill(MemorySegment w, Random rnd, int from, int n) {
        for (int i = 0; i < n; i++) {
            w.setAtIndex(F, from + i, (float) rnd.nextGaussian());
        }
    }

    @Test
    void scoreAndValueTilesMatchFloat64() {
        Random rnd = new Random(1);
        try (Arena arena = Arena.ofConfined()) {
            for (int[] shape : new int[][] {{1, 1, 16}, {4, 59, 64}, {7, 128, 48}, {64, 256, 64}, {13, 3, 32}}) {
                int rows = shape[0];
                int depth = shape[1];
                int cols = shape[2];
                int dP = TileOps.pad(depth);
                int q = 0;
                int kt = rows * dP;
                int s = kt + depth * cols;
                int v = s + rows * cols;
                int o = v + cols * dP;
                int n = o + rows * dP;
                for (TileOps ops : IMPLS) {
                    MemorySegment w = arena.allocate(n * 4L, 64);
                    fill(w, new Random(rows * 31 + depth), 0, n);
                    MemorySegment before = arena.allocate(n * 4L, 64);
                    before.copyFrom(w);
                    ops.qkT(w, q, dP, kt, cols, s, cols, rows, depth, cols);
                    for (int i = 0; i < rows; i++) {
                        for (int j = 0; j < cols; j++) {
                            double ref = 0;
                            for (int c = 0; c < depth; c++) {
                                ref += (double) before.getAtIndex(F, q + i * dP + c)
                                        * before.getAtIndex(F, kt + c * cols + j);
                            }
                            assertEquals(ref, w.getAtIndex(F, s + i * cols + j), 1e-5 * Math.sqrt(depth) + 1e-6,
                                    ops + " qkT " + i + "," + j);
                        }
                    }
                    ops.pv(w, s, cols, v, dP, o, dP, rows, cols, dP);
                    for (int i = 0; i < rows; i++) {
                        for (int c = 0; c < dP; c++) {
                            double ref = before.getAtIndex(F, o + i * dP + c);
                            for (int j = 0; j < cols; j++) {
                                ref += (double) w.getAtIndex(F, s + i * cols + j)
                                        * before.getAtIndex(F, v + j * dP + c);
                            }
                            assertEquals(ref, w.getAtIndex(F, o + i * dP + c), 1e-4 * Math.sqrt(cols * depth),
                                    ops + " pv " + i + "," + c);
                        }
                    }
                }
            }
        }
    }

    @Test
    void rowOpsMatchFloat64() {
        Random rnd = new Random(2);
        try (Arena arena = Arena.ofConfined()) {
            for (int n : new int[] {1, 15, 16, 33, 64, 250}) {
                for (TileOps ops : IMPLS) {
                    MemorySegment w = arena.allocate(3L * n * 4, 64);
                    fill(w, rnd, 0, 2 * n);
                    w.setAtIndex(F, n - 1, Float.NEGATIVE_INFINITY);
                    double max = Double.NEGATIVE_INFINITY;
                    double dot = 0;
                    for (int i = 0; i < n; i++) {
                        max = Math.max(max, w.getAtIndex(F, i));
                        if (i < n - 1) {
                            dot += (double) w.getAtIndex(F, i) * w.getAtIndex(F, n + i);
                        }
                    }
                    assertEquals((float) max, ops.max(w, 0, n), ops + " max");
                    w.setAtIndex(F, n - 1, 0f);
                    assertEquals(dot, ops.dot(w, 0, n, n), 1e-5 * n, ops + " dot");
                    w.setAtIndex(F, n - 1, Float.NEGATIVE_INFINITY);
                    float[] x = new float[n];
                    float[] y = new float[n];
                    for (int i = 0; i < n; i++) {
                        x[i] = w.getAtIndex(F, i);
                        y[i] = w.getAtIndex(F, n + i);
                    }
                    float sub = 0.5f;
                    double sum = 0;
                    for (float xi : x) {
                        sum += Math.exp(xi - sub);
                    }
                    assertEquals(sum, ops.expSub(w, 0, n, sub), 1e-5 * sum, ops + " expSub");
                    for (int i = 0; i < n; i++) {
                        assertEquals(Math.exp(x[i] - sub), w.getAtIndex(F, i), 2e-6 * Math.exp(x[i] - sub) + 1e-30,
                                ops + " exp " + i);
                    }
                    ops.axpy(w, 0.25f, 0, n, n);
                    for (int i = 0; i < n; i++) {
                        assertEquals(y[i] + 0.25 * w.getAtIndex(F, i), w.getAtIndex(F, n + i), 1e-5, ops + " axpy");
                    }
                    ops.scale(w, n, n, -2f);
                    assertEquals(-2 * (y[0] + 0.25 * w.getAtIndex(F, 0)), w.getAtIndex(F, n), 1e-5, ops + " scale");
                }
            }
        }
    }

    @Test
    void loadsEveryStorageTypeWithItsScale() {
        Random rnd = new Random(3);
        float[] e4 = Fp8.decodeTable(true);
        float[] e5 = Fp8.decodeTable(false);
        try (Arena arena = Arena.ofConfined()) {
            for (DType type : new DType[] {DType.FP32, DType.FP16, DType.BF16, DType.INT8, DType.FP8_E4M3,
                    DType.FP8_E5M2}) {
                for (int n : new int[] {1, 16, 59, 128, 256}) {
                    MemorySegment src = arena.allocate((n + 3L) * type.byteSize(), 64);
                    for (long i = 0; i < src.byteSize(); i++) {
                        src.set(ValueLayout.JAVA_BYTE, i, (byte) rnd.nextInt(256));
                    }
                    if (type == DType.FP32) {
                        for (int i = 0; i < n + 3; i++) {
                            src.setAtIndex(F, i, (float) rnd.nextGaussian());
                        }
                    }
                    if (type == DType.INT8) {
                        for (int i = 0; i < n + 3; i++) {
                            src.set(ValueLayout.JAVA_BYTE, i, (byte) (rnd.nextInt(255) - 127));
                        }
                    }
                    float[] table = type == DType.FP8_E4M3 ? e4 : type == DType.FP8_E5M2 ? e5 : null;
                    for (float scale : new float[] {1f, 0.037f}) {
                        long off = 3L * type.byteSize();
                        for (TileOps ops : IMPLS) {
                            MemorySegment w = arena.allocate(n * 4L, 64);
                            ops.load(src, off, type, scale, table, w, 0, n);
                            for (int i = 0; i < n; i++) {
                                float expect = Elements.get(src, type, 3 + i, table) * scale;
                                assertEquals(expect, w.getAtIndex(F, i), ops + " " + type + " n=" + n + " i=" + i);
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void halfPrecisionRounding() {
        assertEquals((short) 0x3F80, Elements.floatToBf16(1f));
        // 1 + 2^-8 is a tie between 1 and 1 + 2^-7: rounds to even (1).
        assertEquals((short) 0x3F80, Elements.floatToBf16(1f + 0x1p-8f));
        assertEquals((short) 0x3F82, Elements.floatToBf16(1f + 0x1p-7f + 0x1p-8f));
        assertEquals(true, Float.isNaN(Elements.bf16ToFloat(Elements.floatToBf16(Float.NaN))));
        assertEquals(1f, Elements.round(1.0001f, DType.BF16));
    }
}
