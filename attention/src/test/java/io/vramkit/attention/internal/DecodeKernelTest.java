package io.vramkit.attention.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vramkit.core.DType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The {@link DecodeKernel} contract on its own: both kernels, called once or resumed over several calls on the same
 * scratch state, give the float64 softmax of the cache's dequantized values, for FP32, BF16 and INT8 caches with
 * scattered blocks, tiles that span blocks and ranges that end mid-tile.
 */
class DecodeKernelTest {

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;
    private static final DecodeKernel[] KERNELS = {new ScalarDecodeKernel(), new PanamaDecodeKernel()};

    @Test
    void resumedCallsMatchFloat64() {
        // {kvHeads, group, headDim, blockSize, tokens, kvLocal}
        int[][] shapes = {{2, 4, 128, 16, 100, 2}, {1, 3, 64, 5, 37, 1}, {3, 1, 128, 17, 70, 2}, {2, 6, 59, 1, 19, 2}};
        Random rnd = new Random(7);
        for (DType type : new DType[] {DType.FP32, DType.BF16, DType.INT8}) {
            for (int[] s : shapes) {
                int kvHeads = s[0];
                int group = s[1];
                int d = s[2];
                int bs = s[3];
                int tokens = s[4];
                int kvLocal = s[5];
                check(rnd, type, kvHeads, group, d, bs, tokens, kvLocal);
            }
        }
    }

    private static void check(Random rnd, DType type, int kvHeads, int group, int d, int bs, int tokens,
                              int kvLocal) {
        int blocks = (tokens + bs - 1) / bs + 3;
        long elems = (long) blocks * bs * kvHeads * d;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment k = arena.allocate(elems * type.byteSize(), 64);
            MemorySegment v = arena.allocate(elems * type.byteSize(), 64);
            MemorySegment ks = null;
            MemorySegment vs = null;
            if (type == DType.INT8) {
                for (long i = 0; i < elems; i++) {
                    k.set(ValueLayout.JAVA_BYTE, i, (byte) (rnd.nextInt(255) - 127));
                    v.set(ValueLayout.JAVA_BYTE, i, (byte) (rnd.nextInt(255) - 127));
                }
                ks = arena.allocate((long) blocks * kvHeads * 4, 64);
                vs = arena.allocate((long) blocks * kvHeads * 4, 64);
                for (int i = 0; i < blocks * kvHeads; i++) {
                    ks.setAtIndex(F, i, 0.004f + 0.01f * rnd.nextFloat());
                    vs.setAtIndex(F, i, 0.005f + 0.01f * rnd.nextFloat());
                }
            } else {
                for (long i = 0; i < elems; i++) {
                    Elements.set(k, type, i, (float) rnd.nextGaussian());
                    Elements.set(v, type, i, (float) rnd.nextGaussian());
                }
            }
            List<Integer> ids = new ArrayList<>();
            for (int i = 0; i < blocks; i++) {
                ids.add(i);
            }
            Collections.shuffle(ids, rnd);
            int[] table = ids.stream().mapToInt(Integer::intValue).toArray();
            DecodeProblem p = new DecodeProblem(k, v, type, null, ks, vs, kvHeads, d, bs, group, 0f, kvLocal);
            float[][] q = new float[kvHeads * group][d];
            for (float[] row : q) {
                for (int c = 0; c < d; c++) {
                    row[c] = (float) (rnd.nextGaussian() * 0.3);
                }
            }
            int lo = Math.min(3, tokens - 1);
            int[] cuts = {lo, lo + (tokens - lo) / 3, lo + (tokens - lo) / 3 + 1, tokens};
            for (DecodeKernel kernel : KERNELS) {
                MemorySegment w = arena.allocate(kernel.scratchFloats(p) * 4L, 64);
                for (int kv0 = 0; kv0 < kvHeads; kv0 += kvLocal) {
                    int kvCount = Math.min(kvLocal, kvHeads - kv0);
                    for (boolean resumed : new boolean[] {false, true}) {
                        init(p, w, q, kv0, kvCount);
                        if (resumed) {
                            for (int c = 0; c + 1 < cuts.length; c++) {
                                kernel.attend(p, table, cuts[c], cuts[c + 1], kv0, kvCount, w);
                            }
                        } else {
                            kernel.attend(p, table, lo, tokens, kv0, kvCount, w);
                        }
                        compare(p, w, q, table, lo, tokens, kv0, kvCount,
                                kernel.getClass().getSimpleName() + " " + type + " kvHeads " + kvHeads + " group "
                                        + group + " d " + d + " bs " + bs + " resumed " + resumed);
                    }
                }
            }
        }
    }

    private static void init(DecodeProblem p, MemorySegment w, float[][] q, int kv0, int kvCount) {
        w.fill((byte) 0);
        for (int r = 0; r < kvCount * p.groupPad; r++) {
            w.setAtIndex(F, p.offM + r, Float.NEGATIVE_INFINITY);
        }
        for (int local = 0; local < kvCount; local++) {
            for (int i = 0; i < p.group; i++) {
                float[] row = q[(kv0 + local) * p.group + i];
                MemorySegment.copy(row, 0, w, F, p.row(p.offQ, local, i) * 4L, row.length);
            }
        }
    }

    private static double element(DecodeProblem p, MemorySegment seg, MemorySegment scales, int[] table, int t,
                                  int kvh, int c) {
        int block = table[t / p.blockSize];
        long e = (((long) block * p.blockSize + t % p.blockSize) * p.kvHeads + kvh) * p.headDim + c;
        if (p.type == DType.INT8) {
            return seg.get(ValueLayout.JAVA_BYTE, e) * (double) scales.getAtIndex(F, (long) block * p.kvHeads + kvh);
        }
        return Elements.get(seg, p.type, e, null);
    }

    private static void compare(DecodeProblem p, MemorySegment w, float[][] q, int[] table, int lo, int hi, int kv0,
                                int kvCount, String what) {
        int d = p.headDim;
        for (int local = 0; local < kvCount; local++) {
            int kvh = kv0 + local;
            for (int i = 0; i < p.group; i++) {
                float[] qr = q[kvh * p.group + i];
                double[] s = new double[hi - lo];
                double max = Double.NEGATIVE_INFINITY;
                for (int t = lo; t < hi; t++) {
                    double dot = 0;
                    for (int c = 0; c < d; c++) {
                        dot += qr[c] * element(p, p.keys, p.keyScales, table, t, kvh, c);
                    }
                    s[t - lo] = dot;
                    max = Math.max(max, dot);
                }
                double sum = 0;
                double[] o = new double[d];
                double absSum = 0;
                for (int t = lo; t < hi; t++) {
                    double e = Math.exp(s[t - lo] - max);
                    sum += e;
                    for (int c = 0; c < d; c++) {
                        double x = element(p, p.values, p.valueScales, table, t, kvh, c);
                        o[c] += e * x;
                        absSum += e * Math.abs(x);
                    }
                }
                int r = local * p.groupPad + i;
                float m = w.getAtIndex(F, p.offM + r);
                float l = w.getAtIndex(F, p.offL + r);
                assertEquals(max, m, 1e-5 * (1 + Math.abs(max)), what + ": max of head " + i);
                assertEquals(sum, l, 1e-5 * sum, what + ": sum of head " + i);
                // FP32 accumulation of the same products in another order: relative to the magnitudes summed.
                double tol = 1e-5 * (absSum / sum) + 1e-6;
                int orow = p.row(p.offO, local, i);
                for (int c = 0; c < d; c++) {
                    double got = w.getAtIndex(F, orow + c) / l;
                    assertEquals(o[c] / sum, got, tol, what + ": head " + i + " column " + c);
                }
                for (int c = d; c < p.dimPad; c++) {
                    float pad = w.getAtIndex(F, orow + c);
                    assertTrue(pad == 0f, what + ": padding column " + c + " = " + pad);
                }
            }
        }
    }
}
