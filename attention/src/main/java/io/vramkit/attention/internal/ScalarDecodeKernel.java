package io.vramkit.attention.internal;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Plain-Java {@link DecodeKernel}: a token at a time, one online-softmax update per query head and token. The
 * fallback when the Vector API is absent, and the cross-check for {@link PanamaDecodeKernel}. Stateless and
 * thread-safe.
 */
public final class ScalarDecodeKernel implements DecodeKernel {

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;
    private static final ValueLayout.OfFloat SCALE = ValueLayout.JAVA_FLOAT_UNALIGNED;

    /** Creates the scalar kernel (stateless). */
    public ScalarDecodeKernel() {
    }

    @Override
    public int scratchFloats(DecodeProblem p) {
        return p.offStageK;
    }

    @Override
    public void attend(DecodeProblem p, int[] table, int lo, int hi, int kv0, int kvCount, MemorySegment w) {
        int d = p.headDim;
        float[] row = new float[d];
        float[] s = new float[p.group];
        for (int t = lo; t < hi; t++) {
            int block = table[t / p.blockSize];
            long token = (long) block * p.blockSize + t % p.blockSize;
            for (int local = 0; local < kvCount; local++) {
                int kvh = kv0 + local;
                long e = (token * p.kvHeads + kvh) * d;
                float ks = p.quantized() ? p.keyScales.getAtIndex(SCALE, (long) block * p.kvHeads + kvh) : 1f;
                float vs = p.quantized() ? p.valueScales.getAtIndex(SCALE, (long) block * p.kvHeads + kvh) : 1f;
                for (int c = 0; c < d; c++) {
                    row[c] = Elements.get(p.keys, p.type, e + c, p.fp8Table);
                }
                for (int i = 0; i < p.group; i++) {
                    int q = p.row(p.offQ, local, i);
                    float dot = 0f;
                    for (int c = 0; c < d; c++) {
                        dot = Math.fma(w.getAtIndex(F, q + c), row[c], dot);
                    }
                    s[i] = p.softcap > 0f ? p.softcap * (float) Math.tanh(dot * ks / p.softcap) : dot * ks;
                }
                for (int c = 0; c < d; c++) {
                    row[c] = Elements.get(p.values, p.type, e + c, p.fp8Table) * vs;
                }
                for (int i = 0; i < p.group; i++) {
                    int r = local * p.groupPad + i;
                    float mOld = w.getAtIndex(F, p.offM + r);
                    float mNew = Math.max(mOld, s[i]);
                    if (mNew == Float.NEGATIVE_INFINITY) {
                        continue;
                    }
                    float alpha = mOld == Float.NEGATIVE_INFINITY ? 0f : (float) Math.exp(mOld - mNew);
                    float pr = (float) Math.exp(s[i] - mNew);
                    w.setAtIndex(F, p.offL + r, w.getAtIndex(F, p.offL + r) * alpha + pr);
                    w.setAtIndex(F, p.offM + r, mNew);
                    int o = p.row(p.offO, local, i);
                    for (int c = 0; c < d; c++) {
                        w.setAtIndex(F, o + c, Math.fma(pr, row[c], w.getAtIndex(F, o + c) * alpha));
                    }
                }
            }
        }
    }
}
