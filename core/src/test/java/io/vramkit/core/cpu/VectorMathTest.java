package io.vramkit.core.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.junit.jupiter.api.Test;

class VectorMathTest {

    private static float[] exp(VectorSpecies<Float> s, float[] x) {
        float[] y = new float[x.length];
        for (int i = 0; i < x.length; i += s.length()) {
            VectorMath.exp(FloatVector.fromArray(s, x, i)).intoArray(y, i);
        }
        return y;
    }

    @Test
    void expIsWithinTwoUlpOfMathExpInEverySpecies() {
        Random rnd = new Random(3);
        float[] x = new float[4096];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (rnd.nextDouble() * 170 - 85);
        }
        for (VectorSpecies<Float> s : new VectorSpecies[] {FloatVector.SPECIES_128, FloatVector.SPECIES_256,
            FloatVector.SPECIES_512}) {
            float[] y = exp(s, x);
            for (int i = 0; i < x.length; i++) {
                double ref = Math.exp(x[i]);
                assertEquals(ref, y[i], 2 * Math.ulp((float) ref), s + " exp(" + x[i] + ")");
            }
        }
    }

    @Test
    void expEdgesUnderflowToZeroOverflowHighAndKeepNaN() {
        float[] x = new float[16];
        java.util.Arrays.fill(x, 0f);
        x[0] = Float.NEGATIVE_INFINITY;
        x[1] = -100f;
        x[2] = 200f;
        x[3] = Float.NaN;
        x[4] = 0f;
        float[] y = exp(FloatVector.SPECIES_512, x);
        assertEquals(0f, y[0]);
        assertEquals(0f, y[1]);
        assertTrue(y[2] > 3e38f, "overflows to the top of the float range: " + y[2]);
        assertTrue(Float.isNaN(y[3]), "NaN stays NaN: " + y[3]);
        assertEquals(1f, y[4]);
    }
}
