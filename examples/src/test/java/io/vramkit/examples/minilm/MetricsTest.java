package io.vramkit.examples.minilm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** Metrics against direct float64 definitions on random inputs. */
class MetricsTest {

    /** Spearman by its textbook definition for distinct values: 1 − 6 Σ d² / (n (n² − 1)). */
    private static double spearmanNoTies(double[] a, double[] b) {
        int n = a.length;
        double d2 = 0;
        for (int i = 0; i < n; i++) {
            int ra = 1;
            int rb = 1;
            for (int j = 0; j < n; j++) {
                ra += a[j] < a[i] ? 1 : 0;
                rb += b[j] < b[i] ? 1 : 0;
            }
            d2 += (double) (ra - rb) * (ra - rb);
        }
        return 1 - 6 * d2 / ((double) n * ((double) n * n - 1));
    }

    @Test
    void spearmanMatchesTheDefinition() {
        Random rnd = new Random(3);
        for (int n : new int[] {2, 3, 10, 257}) {
            double[] a = new double[n];
            double[] b = new double[n];
            for (int i = 0; i < n; i++) {
                a[i] = rnd.nextGaussian();
                b[i] = a[i] + 0.5 * rnd.nextGaussian();
            }
            assertEquals(spearmanNoTies(a, b), Metrics.spearman(a, b), 1e-12, "n = " + n);
        }
        assertEquals(1.0, Metrics.spearman(new double[] {1, 2, 3}, new double[] {10, 20, 300}), 1e-15);
        assertEquals(-1.0, Metrics.spearman(new double[] {1, 2, 3}, new double[] {3, 2, 1}), 1e-15);
        assertTrue(Double.isNaN(Metrics.spearman(new double[] {1, 1}, new double[] {1, 2})));
        assertTrue(Double.isNaN(Metrics.spearman(new double[] {1}, new double[] {1})));
    }

    @Test
    void ranksAverageTies() {
        double[] r = Metrics.ranks(new double[] {5, 1, 5, 3});
        assertEquals(3.5, r[0]);
        assertEquals(1.0, r[1]);
        assertEquals(3.5, r[2]);
        assertEquals(2.0, r[3]);
    }

    @Test
    void cosineAndPairwiseMatchFloat64() {
        Random rnd = new Random(5);
        int n = 7;
        int h = 13;
        float[] e = new float[n * h];
        for (int i = 0; i < e.length; i++) {
            e[i] = (float) rnd.nextGaussian();
        }
        double[] p = Metrics.pairwiseSimilarities(e, n, h);
        assertEquals(n * (n - 1) / 2, p.length);
        int k = 0;
        for (int i = 0; i < n; i++) {
            for (int j = i + 1; j < n; j++) {
                double dot = 0;
                double ni = 0;
                double nj = 0;
                for (int c = 0; c < h; c++) {
                    dot += (double) e[i * h + c] * e[j * h + c];
                    ni += (double) e[i * h + c] * e[i * h + c];
                    nj += (double) e[j * h + c] * e[j * h + c];
                }
                assertEquals(dot / Math.sqrt(ni * nj), p[k++], 1e-12);
            }
        }
        assertEquals(1.0, Metrics.cosine(e, e, h, h), 1e-12);
        assertEquals(0.0, Metrics.cosine(new float[3], e, 0, 3));
    }

    @Test
    void badShapesAreNamed() {
        IllegalArgumentException ex = assertThrows(IllegalArgumentException.class,
                () -> Metrics.pairwiseSimilarities(new float[10], 3, 4));
        assertTrue(ex.getMessage().contains("10") && ex.getMessage().contains("3 × 4"), ex.getMessage());
        ex = assertThrows(IllegalArgumentException.class, () -> Metrics.spearman(new double[2], new double[3]));
        assertTrue(ex.getMessage().contains("a.length = 2"), ex.getMessage());
        ex = assertThrows(IllegalArgumentException.class, () -> Metrics.cosine(new float[4], new float[4], 2, 3));
        assertTrue(ex.getMessage().contains("[2, 5)"), ex.getMessage());
    }
}
