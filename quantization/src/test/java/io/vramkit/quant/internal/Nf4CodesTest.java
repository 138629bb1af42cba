package io.vramkit.quant.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The vector NF4 encoder (binary search over the midpoints) against the scalar midpoint count, bit for bit. */
class Nf4CodesTest {

    private static final ScalarQuantKernels SCALAR = new ScalarQuantKernels();
    private static final ScalarQuantKernels PANAMA = new PanamaQuantKernels();

    /** Every midpoint, its neighbouring floats, the codebook ends, signed zeros, out-of-range values and NaN. */
    private static float[] edgeValues() {
        List<Float> v = new ArrayList<>();
        for (float m : Layouts.NF4_MIDPOINTS) {
            v.add(m);
            v.add(Math.nextUp(m));
            v.add(Math.nextDown(m));
        }
        for (float c : Layouts.NF4) {
            v.add(c);
        }
        v.addAll(List.of(0f, -0f, 2f, -2f, 1e-30f, -1e-30f, Float.NaN, 1.0000001f, -1.0000001f));
        Random rnd = new Random(4);
        while (v.size() % 64 != 0) {
            v.add((float) (rnd.nextDouble() * 2.2 - 1.1));
        }
        float[] w = new float[v.size()];
        for (int i = 0; i < w.length; i++) {
            w[i] = v.get(i);
        }
        return w;
    }

    @Test
    void codesEqualTheScalarMidpointCountBitForBit() {
        float[] w = edgeValues();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment a = arena.allocate(w.length / 2);
            MemorySegment b = arena.allocate(w.length / 2);
            for (float inv : new float[] {1f, 0.5f, 3f}) {
                SCALAR.quantizeNf4(w, 0, w.length, inv, a, 0);
                PANAMA.quantizeNf4(w, 0, w.length, inv, b, 0);
                assertArrayEquals(a.toArray(ValueLayout.JAVA_BYTE), b.toArray(ValueLayout.JAVA_BYTE), "inv " + inv);
            }
            for (int i = 0; i < w.length; i++) {
                int code = (a.get(ValueLayout.JAVA_BYTE, i / 2) >> (4 * (i & 1))) & 0xF;
                assertEquals(Layouts.nf4Code(w[i] * 3f), code, "value " + w[i]);
            }
        }
    }

    @Test
    void squaredErrorMatchesScalarToSummationOrder() {
        Random rnd = new Random(9);
        float[] w = new float[4096];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) (0.02 * rnd.nextGaussian());
        }
        for (int n : new int[] {64, 128, 4096}) {
            for (float a : new float[] {0.05f, 0.08f, 0.2f}) {
                float s = SCALAR.nf4SqError(w, 0, n, a);
                float p = PANAMA.nf4SqError(w, 0, n, a);
                assertEquals(s, p, s * 1e-5, "n = " + n + ", a = " + a);
            }
        }
    }
}
