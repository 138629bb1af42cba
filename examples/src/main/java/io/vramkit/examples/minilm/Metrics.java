package io.vramkit.examples.minilm;

import java.util.Arrays;

/** Comparison metrics of the demo, computed in float64. Stateless and thread-safe. */
public final class Metrics {

    private Metrics() {
    }

    /**
     * Cosine similarity of {@code a[off .. off+n)} and {@code b[off .. off+n)}; 0 if either is all zeros.
     *
     * @throws IllegalArgumentException if the range is out of bounds
     */
    public static double cosine(float[] a, float[] b, int off, int n) {
        if (off < 0 || n < 0 || off + n > a.length || off + n > b.length) {
            throw new IllegalArgumentException("range [" + off + ", " + (off + n) + ") is outside arrays of "
                    + a.length + " and " + b.length);
        }
        double dot = 0;
        double na = 0;
        double nb = 0;
        for (int i = off; i < off + n; i++) {
            dot += (double) a[i] * b[i];
            na += (double) a[i] * a[i];
            nb += (double) b[i] * b[i];
        }
        return na == 0 || nb == 0 ? 0 : dot / Math.sqrt(na * nb);
    }

    /**
     * Cosine similarities of all pairs {@code i < j} of the {@code n} rows of {@code e} ({@code [n, h]}), in the
     * order (0,1), (0,2), …, (1,2), …
     *
     * @throws IllegalArgumentException if {@code e.length != n × h}
     */
    public static double[] pairwiseSimilarities(float[] e, int n, int h) {
        if ((long) n * h != e.length) {
            throw new IllegalArgumentException("e.length = " + e.length + " but n × h = " + n + " × " + h);
        }
        double[] norms = new double[n];
        for (int i = 0; i < n; i++) {
            double s = 0;
            for (int c = 0; c < h; c++) {
                s += (double) e[i * h + c] * e[i * h + c];
            }
            norms[i] = Math.sqrt(s);
        }
        double[] out = new double[n * (n - 1) / 2];
        int k = 0;
        for (int i = 0; i < n; i++) {
            for (int j = i + 1; j < n; j++) {
                double dot = 0;
                for (int c = 0; c < h; c++) {
                    dot += (double) e[i * h + c] * e[j * h + c];
                }
                double d = norms[i] * norms[j];
                out[k++] = d == 0 ? 0 : dot / d;
            }
        }
        return out;
    }

    /**
     * Spearman rank correlation: the Pearson correlation of the ranks, ties given their average rank. Returns NaN
     * when fewer than two values are given or a side is constant.
     *
     * @throws IllegalArgumentException if the lengths differ
     */
    public static double spearman(double[] a, double[] b) {
        if (a.length != b.length) {
            throw new IllegalArgumentException("a.length = " + a.length + " but b.length = " + b.length);
        }
        if (a.length < 2) {
            return Double.NaN;
        }
        return pearson(ranks(a), ranks(b));
    }

    /** Average ranks (1-based) of the values, ties sharing their mean rank. */
    static double[] ranks(double[] v) {
        Integer[] order = new Integer[v.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (x, y) -> Double.compare(v[x], v[y]));
        double[] r = new double[v.length];
        for (int i = 0; i < order.length; ) {
            int j = i;
            while (j + 1 < order.length && v[order[j + 1]] == v[order[i]]) {
                j++;
            }
            double rank = (i + j) / 2.0 + 1;
            for (int k = i; k <= j; k++) {
                r[order[k]] = rank;
            }
            i = j + 1;
        }
        return r;
    }

    static double pearson(double[] a, double[] b) {
        double ma = 0;
        double mb = 0;
        for (int i = 0; i < a.length; i++) {
            ma += a[i];
            mb += b[i];
        }
        ma /= a.length;
        mb /= b.length;
        double cov = 0;
        double va = 0;
        double vb = 0;
        for (int i = 0; i < a.length; i++) {
            cov += (a[i] - ma) * (b[i] - mb);
            va += (a[i] - ma) * (a[i] - ma);
            vb += (b[i] - mb) * (b[i] - mb);
        }
        return va == 0 || vb == 0 ? Double.NaN : cov / Math.sqrt(va * vb);
    }
}
