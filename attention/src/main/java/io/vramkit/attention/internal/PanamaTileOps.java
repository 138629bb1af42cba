package io.vramkit.attention.internal;

import io.vramkit.core.cpu.VectorMath;
import io.vramkit.core.DType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector API {@link TileOps}. Loaded reflectively by {@link io.vramkit.core.cpu.VectorSupport}; never referenced by
 * name from code that must run without {@code jdk.incubator.vector}.
 *
 * <p>The score and value loops are register-blocked 4 rows × 2 vectors: each step loads two vectors of the
 * right-hand tile, broadcasts four left-hand scalars and issues eight FMAs, with no horizontal reductions.
 */
public final class PanamaTileOps implements TileOps {

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED.length() <= PAD
            ? FloatVector.SPECIES_PREFERRED : FloatVector.SPECIES_512;
    private static final int L = S.length();
    private static final VectorSpecies<Short> SH = VectorSpecies.of(short.class, VectorShape.forBitSize(L * 16));
    private static final VectorSpecies<Integer> IS = VectorSpecies.of(int.class, S.vectorShape());
    private static final VectorSpecies<Byte> BS = VectorSpecies.of(byte.class, VectorShape.forBitSize(L * 8));
    private static final ByteOrder NO = ByteOrder.nativeOrder();
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;
    private static final ScalarTileOps SCALAR = new ScalarTileOps();

    /** Creates the vector kernels (stateless). */
    public PanamaTileOps() {
    }

    private static FloatVector ld(MemorySegment w, int idx) {
        return FloatVector.fromMemorySegment(S, w, idx * 4L, NO);
    }

    private static float at(MemorySegment w, int idx) {
        return w.get(F, idx * 4L);
    }

    /**
     * The float at byte offset {@code base + 4·i}, broadcast. The inner loops of {@link #qkT} and {@link #pv} index
     * the scratch this way, a long base plus the loop variable times a constant or a loop-invariant long, because
     * C2 then hoists the range checks out of the loop; an int index widened after an addition
     * ({@code at(w, q0 + c)}) kept a check (5 instructions) on every load of the 4×2L kernels.
     */
    private static FloatVector bcast(MemorySegment w, long base, int i) {
        return FloatVector.broadcast(S, w.get(F, base + i * 4L));
    }

    @Override
    public void qkT(MemorySegment w, int q, int ldQ, int kt, int ldK, int s, int ldS, int rows, int depth,
                    int cols) {
        // Byte offsets as longs, a base plus the loop variable times a constant or a loop-invariant long, in every
        // inner loop (see bcast)
        long qStep = ldQ * 4L;
        long kStep = ldK * 4L;
        long step = ldS * 4L;
        long vl = L * 4L;
        int i = 0;
        for (; i + 4 <= rows; i += 4) {
            long qb0 = (q + (long) i * ldQ) * 4L;
            long qb1 = qb0 + qStep;
            long qb2 = qb1 + qStep;
            long qb3 = qb2 + qStep;
            long sb = (s + (long) i * ldS) * 4L;
            int j = 0;
            for (; j + 4 * L <= cols; j += 4 * L) {
                qkBlock4x4(w, qb0, qStep, (kt + j) * 4L, kStep, depth, sb + j * 4L, step);
            }
            for (; j + 2 * L <= cols; j += 2 * L) {
                FloatVector a00 = FloatVector.zero(S);
                FloatVector a01 = a00;
                FloatVector a10 = a00;
                FloatVector a11 = a00;
                FloatVector a20 = a00;
                FloatVector a21 = a00;
                FloatVector a30 = a00;
                FloatVector a31 = a00;
                long kb = (kt + j) * 4L;
                for (int c = 0; c < depth; c++) {
                    long ko = kb + c * kStep;
                    FloatVector k0 = FloatVector.fromMemorySegment(S, w, ko, NO);
                    FloatVector k1 = FloatVector.fromMemorySegment(S, w, ko + vl, NO);
                    FloatVector b0 = bcast(w, qb0, c);
                    FloatVector b1 = bcast(w, qb1, c);
                    FloatVector b2 = bcast(w, qb2, c);
                    FloatVector b3 = bcast(w, qb3, c);
                    a00 = b0.fma(k0, a00);
                    a01 = b0.fma(k1, a01);
                    a10 = b1.fma(k0, a10);
                    a11 = b1.fma(k1, a11);
                    a20 = b2.fma(k0, a20);
                    a21 = b2.fma(k1, a21);
                    a30 = b3.fma(k0, a30);
                    a31 = b3.fma(k1, a31);
                }
                long o = sb + j * 4L;
                a00.intoMemorySegment(w, o, NO);
                a01.intoMemorySegment(w, o + vl, NO);
                a10.intoMemorySegment(w, o + step, NO);
                a11.intoMemorySegment(w, o + step + vl, NO);
                a20.intoMemorySegment(w, o + 2 * step, NO);
                a21.intoMemorySegment(w, o + 2 * step + vl, NO);
                a30.intoMemorySegment(w, o + 3 * step, NO);
                a31.intoMemorySegment(w, o + 3 * step + vl, NO);
            }
            for (; j < cols; j += L) {
                FloatVector a0 = FloatVector.zero(S);
                FloatVector a1 = a0;
                FloatVector a2 = a0;
                FloatVector a3 = a0;
                long kb = (kt + j) * 4L;
                for (int c = 0; c < depth; c++) {
                    FloatVector k0 = FloatVector.fromMemorySegment(S, w, kb + c * kStep, NO);
                    a0 = bcast(w, qb0, c).fma(k0, a0);
                    a1 = bcast(w, qb1, c).fma(k0, a1);
                    a2 = bcast(w, qb2, c).fma(k0, a2);
                    a3 = bcast(w, qb3, c).fma(k0, a3);
                }
                long o = sb + j * 4L;
                a0.intoMemorySegment(w, o, NO);
                a1.intoMemorySegment(w, o + step, NO);
                a2.intoMemorySegment(w, o + 2 * step, NO);
                a3.intoMemorySegment(w, o + 3 * step, NO);
            }
        }
        for (; i < rows; i++) {
            long qb = (q + (long) i * ldQ) * 4L;
            for (int j = 0; j < cols; j += L) {
                FloatVector a0 = FloatVector.zero(S);
                long kb = (kt + j) * 4L;
                for (int c = 0; c < depth; c++) {
                    a0 = bcast(w, qb, c).fma(FloatVector.fromMemorySegment(S, w, kb + c * kStep, NO), a0);
                }
                a0.intoMemorySegment(w, (s + (long) i * ldS + j) * 4L, NO);
            }
        }
    }

    /**
     * Scores of 4 query rows (at byte offset {@code qb}, {@code qStep} apart) against {@code 4L} key columns (row
     * {@code c} of the transposed keys at {@code kb + c·kStep}) over {@code depth}, stored at {@code ob} (rows
     * {@code step} apart): 16 accumulators, so each step does 16 FMAs for 4 key loads and 4 broadcasts (the 4×2L
     * block does 8 for 2 and 4). A method of its own so that the vectors of {@link #qkT} and of this block are
     * compiled within the JIT's inlining budget.
     */
    private static void qkBlock4x4(MemorySegment w, long qb, long qStep, long kb, long kStep, int depth, long ob,
                                   long step) {
        FloatVector a00 = FloatVector.zero(S);
        FloatVector a01 = a00, a02 = a00, a03 = a00, a10 = a00, a11 = a00, a12 = a00, a13 = a00;
        FloatVector a20 = a00, a21 = a00, a22 = a00, a23 = a00, a30 = a00, a31 = a00, a32 = a00, a33 = a00;
        long qb1 = qb + qStep;
        long qb2 = qb1 + qStep;
        long qb3 = qb2 + qStep;
        long vl = L * 4L;
        for (int c = 0; c < depth; c++) {
            long ko = kb + c * kStep;
            FloatVector k0 = FloatVector.fromMemorySegment(S, w, ko, NO);
            FloatVector k1 = FloatVector.fromMemorySegment(S, w, ko + vl, NO);
            FloatVector k2 = FloatVector.fromMemorySegment(S, w, ko + 2 * vl, NO);
            FloatVector k3 = FloatVector.fromMemorySegment(S, w, ko + 3 * vl, NO);
            FloatVector b = bcast(w, qb, c);
            a00 = b.fma(k0, a00);
            a01 = b.fma(k1, a01);
            a02 = b.fma(k2, a02);
            a03 = b.fma(k3, a03);
            b = bcast(w, qb1, c);
            a10 = b.fma(k0, a10);
            a11 = b.fma(k1, a11);
            a12 = b.fma(k2, a12);
            a13 = b.fma(k3, a13);
            b = bcast(w, qb2, c);
            a20 = b.fma(k0, a20);
            a21 = b.fma(k1, a21);
            a22 = b.fma(k2, a22);
            a23 = b.fma(k3, a23);
            b = bcast(w, qb3, c);
            a30 = b.fma(k0, a30);
            a31 = b.fma(k1, a31);
            a32 = b.fma(k2, a32);
            a33 = b.fma(k3, a33);
        }
        a00.intoMemorySegment(w, ob, NO);
        a01.intoMemorySegment(w, ob + vl, NO);
        a02.intoMemorySegment(w, ob + 2 * vl, NO);
        a03.intoMemorySegment(w, ob + 3 * vl, NO);
        a10.intoMemorySegment(w, ob + step, NO);
        a11.intoMemorySegment(w, ob + step + vl, NO);
        a12.intoMemorySegment(w, ob + step + 2 * vl, NO);
        a13.intoMemorySegment(w, ob + step + 3 * vl, NO);
        a20.intoMemorySegment(w, ob + 2 * step, NO);
        a21.intoMemorySegment(w, ob + 2 * step + vl, NO);
        a22.intoMemorySegment(w, ob + 2 * step + 2 * vl, NO);
        a23.intoMemorySegment(w, ob + 2 * step + 3 * vl, NO);
        a30.intoMemorySegment(w, ob + 3 * step, NO);
        a31.intoMemorySegment(w, ob + 3 * step + vl, NO);
        a32.intoMemorySegment(w, ob + 3 * step + 2 * vl, NO);
        a33.intoMemorySegment(w, ob + 3 * step + 3 * vl, NO);
    }

    @Override
    public void pv(MemorySegment w, int p, int ldP, int v, int ldV, int o, int ldO, int rows, int inner,
                   int width) {
        // long byte offsets in every inner loop, as in qkT
        long pStep = ldP * 4L;
        long vStep = ldV * 4L;
        long step = ldO * 4L;
        long vl = L * 4L;
        int i = 0;
        for (; i + 4 <= rows; i += 4) {
            long pb0 = (p + (long) i * ldP) * 4L;
            long pb1 = pb0 + pStep;
            long pb2 = pb1 + pStep;
            long pb3 = pb2 + pStep;
            long obRow = (o + (long) i * ldO) * 4L;
            int c = 0;
            for (; c + 2 * L <= width; c += 2 * L) {
                long ob = obRow + c * 4L;
                FloatVector a00 = FloatVector.fromMemorySegment(S, w, ob, NO);
                FloatVector a01 = FloatVector.fromMemorySegment(S, w, ob + vl, NO);
                FloatVector a10 = FloatVector.fromMemorySegment(S, w, ob + step, NO);
                FloatVector a11 = FloatVector.fromMemorySegment(S, w, ob + step + vl, NO);
                FloatVector a20 = FloatVector.fromMemorySegment(S, w, ob + 2 * step, NO);
                FloatVector a21 = FloatVector.fromMemorySegment(S, w, ob + 2 * step + vl, NO);
                FloatVector a30 = FloatVector.fromMemorySegment(S, w, ob + 3 * step, NO);
                FloatVector a31 = FloatVector.fromMemorySegment(S, w, ob + 3 * step + vl, NO);
                long vb = (v + c) * 4L;
                for (int j = 0; j < inner; j++) {
                    long vo = vb + j * vStep;
                    FloatVector v0 = FloatVector.fromMemorySegment(S, w, vo, NO);
                    FloatVector v1 = FloatVector.fromMemorySegment(S, w, vo + vl, NO);
                    FloatVector b0 = bcast(w, pb0, j);
                    FloatVector b1 = bcast(w, pb1, j);
                    FloatVector b2 = bcast(w, pb2, j);
                    FloatVector b3 = bcast(w, pb3, j);
                    a00 = b0.fma(v0, a00);
                    a01 = b0.fma(v1, a01);
                    a10 = b1.fma(v0, a10);
                    a11 = b1.fma(v1, a11);
                    a20 = b2.fma(v0, a20);
                    a21 = b2.fma(v1, a21);
                    a30 = b3.fma(v0, a30);
                    a31 = b3.fma(v1, a31);
                }
                a00.intoMemorySegment(w, ob, NO);
                a01.intoMemorySegment(w, ob + vl, NO);
                a10.intoMemorySegment(w, ob + step, NO);
                a11.intoMemorySegment(w, ob + step + vl, NO);
                a20.intoMemorySegment(w, ob + 2 * step, NO);
                a21.intoMemorySegment(w, ob + 2 * step + vl, NO);
                a30.intoMemorySegment(w, ob + 3 * step, NO);
                a31.intoMemorySegment(w, ob + 3 * step + vl, NO);
            }
            for (; c < width; c += L) {
                long ob = obRow + c * 4L;
                FloatVector a0 = FloatVector.fromMemorySegment(S, w, ob, NO);
                FloatVector a1 = FloatVector.fromMemorySegment(S, w, ob + step, NO);
                FloatVector a2 = FloatVector.fromMemorySegment(S, w, ob + 2 * step, NO);
                FloatVector a3 = FloatVector.fromMemorySegment(S, w, ob + 3 * step, NO);
                long vb = (v + c) * 4L;
                for (int j = 0; j < inner; j++) {
                    FloatVector v0 = FloatVector.fromMemorySegment(S, w, vb + j * vStep, NO);
                    a0 = bcast(w, pb0, j).fma(v0, a0);
                    a1 = bcast(w, pb1, j).fma(v0, a1);
                    a2 = bcast(w, pb2, j).fma(v0, a2);
                    a3 = bcast(w, pb3, j).fma(v0, a3);
                }
                a0.intoMemorySegment(w, ob, NO);
                a1.intoMemorySegment(w, ob + step, NO);
                a2.intoMemorySegment(w, ob + 2 * step, NO);
                a3.intoMemorySegment(w, ob + 3 * step, NO);
            }
        }
        for (; i < rows; i++) {
            long pb = (p + (long) i * ldP) * 4L;
            for (int c = 0; c < width; c += L) {
                long ob = (o + (long) i * ldO + c) * 4L;
                FloatVector a0 = FloatVector.fromMemorySegment(S, w, ob, NO);
                long vb = (v + c) * 4L;
                for (int j = 0; j < inner; j++) {
                    a0 = bcast(w, pb, j).fma(FloatVector.fromMemorySegment(S, w, vb + j * vStep, NO), a0);
                }
                a0.intoMemorySegment(w, ob, NO);
            }
        }
    }

    @Override
    public float max(MemorySegment w, int x, int n) {
        int j = 0;
        float m = Float.NEGATIVE_INFINITY;
        if (n >= L) {
            FloatVector acc = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
            for (; j + L <= n; j += L) {
                acc = acc.max(ld(w, x + j));
            }
            m = acc.reduceLanes(VectorOperators.MAX);
        }
        for (; j < n; j++) {
            m = Math.max(m, at(w, x + j));
        }
        return m;
    }

    @Override
    public float expSub(MemorySegment w, int x, int n, float sub) {
        int j = 0;
        float sum = 0f;
        if (n >= L) {
            FloatVector acc = FloatVector.zero(S);
            FloatVector subV = FloatVector.broadcast(S, sub);
            for (; j + L <= n; j += L) {
                FloatVector e = VectorMath.exp(ld(w, x + j).sub(subV));
                e.intoMemorySegment(w, (x + j) * 4L, NO);
                acc = acc.add(e);
            }
            sum = acc.reduceLanes(VectorOperators.ADD);
        }
        for (; j < n; j++) {
            float e = (float) Math.exp(at(w, x + j) - sub);
            w.set(F, (x + j) * 4L, e);
            sum += e;
        }
        return sum;
    }

    @Override
    public void scale(MemorySegment w, int x, int n, float f) {
        int j = 0;
        for (; j + L <= n; j += L) {
            ld(w, x + j).mul(f).intoMemorySegment(w, (x + j) * 4L, NO);
        }
        for (; j < n; j++) {
            w.set(F, (x + j) * 4L, at(w, x + j) * f);
        }
    }

    @Override
    public float dot(MemorySegment w, int x, int y, int n) {
        int c = 0;
        float sum = 0f;
        if (n >= L) {
            FloatVector acc0 = FloatVector.zero(S);
            FloatVector acc1 = acc0;
            for (; c + 2 * L <= n; c += 2 * L) {
                acc0 = ld(w, x + c).fma(ld(w, y + c), acc0);
                acc1 = ld(w, x + c + L).fma(ld(w, y + c + L), acc1);
            }
            for (; c + L <= n; c += L) {
                acc0 = ld(w, x + c).fma(ld(w, y + c), acc0);
            }
            sum = acc0.add(acc1).reduceLanes(VectorOperators.ADD);
        }
        for (; c < n; c++) {
            sum = Math.fma(at(w, x + c), at(w, y + c), sum);
        }
        return sum;
    }

    @Override
    public void axpy(MemorySegment w, float a, int x, int y, int n) {
        int c = 0;
        FloatVector av = FloatVector.broadcast(S, a);
        for (; c + L <= n; c += L) {
            av.fma(ld(w, x + c), ld(w, y + c)).intoMemorySegment(w, (y + c) * 4L, NO);
        }
        for (; c < n; c++) {
            w.set(F, (y + c) * 4L, Math.fma(a, at(w, x + c), at(w, y + c)));
        }
    }

    @Override
    public void loadTransposed(float[] src, int off, int[] rowOffsets, int rows, int n, MemorySegment w, int dst,
                               int ld) {
        int width = TileOps.pad(rows);
        for (int j0 = 0; j0 < width; j0 += L) {
            // One gather per tile row c: lane j reads src[off + rowOffsets[j0 + j] + c]; lanes past the last row
            // are masked off (not read) and stored as the zero padding.
            VectorMask<Float> m = S.indexInRange(j0, rows);
            for (int c = 0; c < n; c++) {
                FloatVector.fromArray(S, src, off + c, rowOffsets, j0, m)
                        .intoMemorySegment(w, (dst + (long) c * ld + j0) * 4L, NO);
            }
        }
    }

    @Override
    public void loadArray(float[] src, int off, float scale, MemorySegment w, int dst, int n) {
        int c = 0;
        for (; c + L <= n; c += L) {
            FloatVector.fromArray(S, src, off + c).mul(scale).intoMemorySegment(w, (dst + (long) c) * 4L, NO);
        }
        for (; c < n; c++) {
            w.set(F, (dst + (long) c) * 4L, src[off + c] * scale);
        }
    }

    @Override
    public void storeArray(MemorySegment w, int src, float factor, float[] dst, int off, int n) {
        int c = 0;
        for (; c + L <= n; c += L) {
            FloatVector.fromMemorySegment(S, w, (src + (long) c) * 4L, NO).mul(factor).intoArray(dst, off + c);
        }
        for (; c < n; c++) {
            dst[off + c] = w.get(F, (src + (long) c) * 4L) * factor;
        }
    }

    @Override
    public void load(MemorySegment src, long byteOffset, DType type, float scale, float[] fp8Table, MemorySegment w,
                     int dst, int n) {
        if (type == DType.FP32 && scale == 1f) {
            MemorySegment.copy(src, byteOffset, w, dst * 4L, n * 4L);
            return;
        }
        if (!src.isNative() || (type != DType.FP32 && type != DType.BF16 && type != DType.INT8)) {
            SCALAR.load(src, byteOffset, type, scale, fp8Table, w, dst, n);
            return;
        }
        int c = 0;
        switch (type) {
            case FP32 -> {
                for (; c + L <= n; c += L) {
                    FloatVector.fromMemorySegment(S, src, byteOffset + c * 4L, NO).mul(scale)
                            .intoMemorySegment(w, (dst + c) * 4L, NO);
                }
            }
            case BF16 -> {
                for (; c + L <= n; c += L) {
                    IntVector iv = (IntVector) ShortVector.fromMemorySegment(SH, src, byteOffset + c * 2L, NO)
                            .convertShape(VectorOperators.S2I, IS, 0);
                    FloatVector f = iv.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
                    (scale == 1f ? f : f.mul(scale)).intoMemorySegment(w, (dst + c) * 4L, NO);
                }
            }
            case INT8 -> {
                for (; c + L <= n; c += L) {
                    row(src, byteOffset, type, c).mul(scale).intoMemorySegment(w, (dst + c) * 4L, NO);
                }
            }
            default -> throw new IllegalStateException("unreachable: " + type);
        }
        if (c < n) {
            SCALAR.load(src, byteOffset + (long) c * type.byteSize(), type, scale, fp8Table, w, dst + c, n - c);
        }
    }

    /** Loads {@code L} stored elements starting at element {@code c} as floats (codes unscaled). */
    private static FloatVector row(MemorySegment src, long byteOffset, DType type, int c) {
        return switch (type) {
            case FP32 -> FloatVector.fromMemorySegment(S, src, byteOffset + c * 4L, NO);
            case BF16 -> ((IntVector) ShortVector.fromMemorySegment(SH, src, byteOffset + c * 2L, NO)
                    .convertShape(VectorOperators.S2I, IS, 0)).lanewise(VectorOperators.LSHL, 16)
                    .reinterpretAsFloats();
            default -> (FloatVector) ((IntVector) ByteVector.fromMemorySegment(BS, src, byteOffset + c, NO)
                    .convertShape(VectorOperators.B2I, IS, 0)).convert(VectorOperators.I2F, 0);
        };
    }
}
