package io.vramkit.attention;

/**
 * Float64 attention, materialized and simple: the oracle of the attention tests (never used by main code).
 * Masks follow {@link AttentionParams}; masked keys are never read.
 */
final class ReferenceAttention {

    /** Output {@code [totalQ, heads, headDim]} and logsumexp {@code [heads, totalQ]}. */
    record Result(double[] out, double[] lse) {
    }

    private ReferenceAttention() {
    }

    static Result forward(HeadTensor q, HeadTensor k, HeadTensor v, int[] cuQ, int[] cuK, AttentionParams p) {
        int heads = q.heads();
        int d = q.headDim();
        int group = heads / k.heads();
        double scale = p.scaleFor(d);
        double[] out = new double[q.tokens() * heads * d];
        double[] lse = new double[heads * q.tokens()];
        BlockMask mask = p.blockMask();
        for (int b = 0; b + 1 < cuQ.length; b++) {
            int qs = cuQ[b];
            int lq = cuQ[b + 1] - qs;
            int ks = cuK[b];
            int lk = cuK[b + 1] - ks;
            double[] s = new double[lk];
            boolean[] vis = new boolean[lk];
            for (int h = 0; h < heads; h++) {
                int kvh = h / group;
                for (int i = 0; i < lq; i++) {
                    double m = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < lk; j++) {
                        vis[j] = NaiveAttention.visible(p, mask, i, j, lq, lk);
                        if (!vis[j]) {
                            continue;
                        }
                        double dot = 0;
                        for (int c = 0; c < d; c++) {
                            dot += (double) q.get(qs + i, h, c) * k.get(ks + j, kvh, c);
                        }
                        double x = dot * scale;
                        if (p.softcap() > 0) {
                            x = p.softcap() * Math.tanh(x / p.softcap());
                        }
                        s[j] = x;
                        m = Math.max(m, x);
                    }
                    double sum = 0;
                    for (int j = 0; j < lk; j++) {
                        if (vis[j]) {
                            s[j] = Math.exp(s[j] - m);
                            sum += s[j];
                        }
                    }
                    int o = ((qs + i) * heads + h) * d;
                    if (sum > 0) {
                        for (int j = 0; j < lk; j++) {
                            if (!vis[j]) {
                                continue;
                            }
                            double pr = s[j] / sum;
                            for (int c = 0; c < d; c++) {
                                out[o + c] += pr * v.get(ks + j, kvh, c);
                            }
                        }
                    }
                    lse[h * q.tokens() + qs + i] = sum > 0 ? m + Math.log(sum) : Double.NEGATIVE_INFINITY;
                }
            }
        }
        return new Result(out, lse);
    }
}
