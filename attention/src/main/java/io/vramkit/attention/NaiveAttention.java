package io.vramkit.attention;

import io.vramkit.core.cpu.ParallelExecutor;
import java.util.Objects;

/**
 * Textbook attention in FP32 that materializes the full {@code [Lq, Lk]} score matrix of each (sequence, head)
 * and normalizes it with a three-pass softmax (max, exp-sum, divide), the way most JVM inference engines do.
 *
 * <p>It exists as the baseline that {@link FlashAttention} is measured against (speed in the benchmarks, accuracy
 * in the tests: "no worse than 2× the naive FP32 error"); its memory grows with {@code Lq·Lk}. Same arguments,
 * masks and results as {@link FlashAttention#forward}, parallel over (sequence, head). Stateless and thread-safe.
 */
public final class NaiveAttention {

    /** Creates the baseline (stateless). */
    public NaiveAttention() {
    }

    /**
     * Computes attention like {@link FlashAttention#forward}, with the same validation.
     *
     * @return the logsumexp {@code [heads, totalQ]} when requested, else {@code null}
     * @throws IllegalArgumentException on bad arguments (see {@link FlashAttention#forward})
     */
    public float[] forward(HeadTensor q, HeadTensor k, HeadTensor v, int[] cuSeqlensQ, int[] cuSeqlensK,
                           AttentionParams params, HeadTensor out) {
        AttentionParams p = params == null ? AttentionParams.defaults() : params;
        Objects.requireNonNull(q, "q");
        Objects.requireNonNull(k, "k");
        Objects.requireNonNull(v, "v");
        Objects.requireNonNull(out, "out");
        Validation.checkHeads(q.heads(), k.heads());
        if (k.headDim() != q.headDim() || !v.sameShape(k) || !out.sameShape(q)) {
            throw new IllegalArgumentException("shapes disagree: q " + q + ", k " + k + ", v " + v + ", out " + out);
        }
        int batch = Validation.checkCuSeqlens("cuSeqlensQ", cuSeqlensQ, q.tokens(), -1);
        Validation.checkCuSeqlens("cuSeqlensK", cuSeqlensK, k.tokens(), batch);
        int heads = q.heads();
        int group = heads / k.heads();
        int d = q.headDim();
        float scale = p.scaleFor(d);
        float[] lse = p.returnLse() ? new float[heads * q.tokens()] : null;
        BlockMask mask = p.blockMask();
        ParallelExecutor.parallelFor(0, batch * heads, 1, (from, to) -> {
            for (int item = from; item < to; item++) {
                int b = item / heads;
                int h = item % heads;
                int kvh = h / group;
                int qs = cuSeqlensQ[b];
                int lq = cuSeqlensQ[b + 1] - qs;
                int ks = cuSeqlensK[b];
                int lk = cuSeqlensK[b + 1] - ks;
                float[] s = new float[lq * lk];
                float[] qa = q.array();
                float[] ka = k.array();
                for (int i = 0; i < lq; i++) {
                    for (int j = 0; j < lk; j++) {
                        float dot = 0f;
                        if (qa != null && ka != null) {
                            int qi = ((qs + i) * heads + h) * d;
                            int kj = ((ks + j) * k.heads() + kvh) * d;
                            for (int c = 0; c < d; c++) {
                                dot += qa[qi + c] * ka[kj + c];
                            }
                        } else {
                            for (int c = 0; c < d; c++) {
                                dot += q.get(qs + i, h, c) * k.get(ks + j, kvh, c);
                            }
                        }
                        float x = dot * scale;
                        if (p.softcap() > 0f) {
                            x = p.softcap() * (float) Math.tanh(x / p.softcap());
                        }
                        s[i * lk + j] = visible(p, mask, i, j, lq, lk) ? x : Float.NEGATIVE_INFINITY;
                    }
                }
                float[] o = new float[d];
                for (int i = 0; i < lq; i++) {
                    float m = Float.NEGATIVE_INFINITY;
                    for (int j = 0; j < lk; j++) {
                        m = Math.max(m, s[i * lk + j]);
                    }
                    float sum = 0f;
                    if (m != Float.NEGATIVE_INFINITY) {
                        for (int j = 0; j < lk; j++) {
                            float e = (float) Math.exp(s[i * lk + j] - m);
                            s[i * lk + j] = e;
                            sum += e;
                        }
                    }
                    java.util.Arrays.fill(o, 0f);
                    if (sum > 0f) {
                        for (int j = 0; j < lk; j++) {
                            float pr = s[i * lk + j] / sum;
                            if (pr == 0f) {
                                continue;
                            }
                            for (int c = 0; c < d; c++) {
                                o[c] += pr * v.get(ks + j, kvh, c);
                            }
                        }
                    }
                    for (int c = 0; c < d; c++) {
                        out.set(qs + i, h, c, o[c]);
                    }
                    if (lse != null) {
                        lse[h * q.tokens() + qs + i] = sum > 0f ? m + (float) Math.log(sum)
                                : Float.NEGATIVE_INFINITY;
                    }
                }
            }
        });
        return lse;
    }

    /** The element-wise mask of {@link AttentionParams} for query {@code i}, key {@code j}. */
    static boolean visible(AttentionParams p, BlockMask mask, int i, int j, int lq, int lk) {
        long pos = (long) i + lk - lq;
        if (p.causal() && j > pos) {
            return false;
        }
        if (p.windowLeft() >= 0 && j < pos - p.windowLeft()) {
            return false;
        }
        if (p.windowRight() >= 0 && j > pos + p.windowRight()) {
            return false;
        }
        return mask == null || mask.allowed(i / mask.rowBlock(), j / mask.colBlock());
    }
}
