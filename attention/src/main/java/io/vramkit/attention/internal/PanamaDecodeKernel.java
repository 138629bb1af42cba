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
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector API {@link DecodeKernel}. Loaded reflectively by {@link io.vramkit.core.cpu.VectorSupport}; never
 * referenced by name from code that must run without {@code jdk.incubator.vector}.
 *
 * <p>Tokens are taken a tile of {@code L} (vector lanes) at a time:
 * <ol>
 *   <li><b>Touch</b>: one load per cache line of the tile's K and V rows, in memory order ({@link #touch}), so
 *       that the tile arrives from DRAM with many misses in flight before the compute loops read it.</li>
 *   <li><b>Scores</b>, 4 query heads × 4 tokens per call: each K chunk is loaded (and widened) once for
 *       the 4 heads and the 16 accumulators stay in registers; before they are stored, each head's 4 token
 *       accumulators are folded in registers by two blend-and-swap steps into one vector (lane {@code l} holds token
 *       {@code l mod 4}'s sum over its group of 4 lanes), so a call stores 4 vectors, not 16.</li>
 *   <li><b>Online softmax</b> per query head: the last fold steps (in registers) give one score vector (lane
 *       {@code j} = token {@code j}); key scale, softcap and tail mask lane-wise; the max is reduced, and {@code O}
 *       rescaled, only when some score exceeds the running max (a lane compare, rare after the first tiles); the
 *       sum stays lane-wise in scratch until the call returns; a polynomial {@code exp}; the value scale is folded
 *       into the probabilities.</li>
 *   <li><b>Values</b>, 4 query heads × 4 output vectors in registers across all the tile's value rows; each V chunk
 *       is loaded once for the 4 heads, and the outputs are loaded and stored once per tile.</li>
 * </ol>
 * Scores walk the tile in memory order: 4 tokens, then every KV head of the item for those tokens (adjacent rows
 * in the layout). No vector crosses a call that C2 might not inline (it would be boxed), so each kernel loads,
 * computes and stores within one method.
 * <p>Widening is cheap and shared by the 4 query heads: INT8 codes are sign-extended and converted 16 lanes at a
 * time; BF16 elements are sign-extended to 32 bits and shifted into the high half, which is their float bit pattern.
 * FP32, BF16 and INT8 caches in native memory with a head dimension that is a multiple of 64 are read in place;
 * other types and shapes are converted a tile at a time into FP32 scratch (zero-padded to a multiple of 64) and go
 * through the FP32 path.
 */
public final class PanamaDecodeKernel implements DecodeKernel {

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED.length() <= DecodeProblem.TILE
            ? FloatVector.SPECIES_PREFERRED : FloatVector.SPECIES_512;
    private static final int L = S.length();
    private static final VectorSpecies<Integer> IS = VectorSpecies.of(int.class, S.vectorShape());
    private static final VectorSpecies<Short> SH = VectorSpecies.of(short.class, VectorShape.forBitSize(L * 16));
    private static final VectorSpecies<Byte> BS = L >= 8
            ? VectorSpecies.of(byte.class, VectorShape.forBitSize(L * 8)) : null;
    private static final ByteOrder NO = ByteOrder.nativeOrder();
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;
    private static final ValueLayout.OfFloat SCALE = ValueLayout.JAVA_FLOAT_UNALIGNED;

    private static final VectorShuffle<Float> SWAP1 = swap(1);
    private static final VectorShuffle<Float> SWAP2 = swap(2);
    private static final VectorShuffle<Float> SWAP4 = swap(4);
    private static final VectorShuffle<Float> SWAP8 = swap(8);
    private static final VectorMask<Float> BIT1 = bit(1);
    private static final VectorMask<Float> BIT2 = bit(2);
    private static final VectorMask<Float> BIT4 = bit(4);
    private static final VectorMask<Float> BIT8 = bit(8);

    /** Partial score vectors per query head and tile: each covers 4 tokens. */
    private static final int GROUPS = L / 4;

    /** Where {@link #attend} publishes the sum of the words {@link #touch} read, so that C2 cannot drop the loads. */
    @SuppressWarnings("unused")
    private static volatile long touchSink;

    private static final int F32 = 0;
    private static final int BF16 = 1;
    private static final int I8 = 2;
    private static final int STAGED = 3;

    /** Creates the vector kernel (stateless). */
    public PanamaDecodeKernel() {
        if (L < 4) {
            throw new IllegalStateException("decode kernel needs at least 4 float lanes, the CPU offers " + L);
        }
    }

    private static VectorShuffle<Float> swap(int k) {
        return k < L ? VectorShuffle.fromOp(S, i -> i ^ k) : null;
    }

    private static VectorMask<Float> bit(int k) {
        boolean[] m = new boolean[L];
        for (int i = 0; i < L; i++) {
            m[i] = (i & k) != 0;
        }
        return k < L ? VectorMask.fromArray(S, m, 0) : null;
    }

    /**
     * Pairwise fold: lanes whose bit {@code k} is clear get {@code u[l] + u[l^k]}, the others {@code v[l] + v[l^k]}.
     * Folding 2^m vectors this way leaves lane {@code l} holding the lane sum of vector {@code l mod 2^m} over its
     * group of 2^m lanes.
     */
    private static FloatVector fold(FloatVector u, FloatVector v, VectorShuffle<Float> swap, VectorMask<Float> bit) {
        return u.blend(v, bit).add(v.blend(u, bit).rearrange(swap));
    }

    private static FloatVector ld(MemorySegment w, int idx) {
        return FloatVector.fromMemorySegment(S, w, idx * 4L, NO);
    }

    private static FloatVector i8(MemorySegment src, long byteOffset) {
        return (FloatVector) ((IntVector) ByteVector.fromMemorySegment(BS, src, byteOffset, NO)
                .convertShape(VectorOperators.B2I, IS, 0)).convert(VectorOperators.I2F, 0);
    }

    /** {@code L} BF16 elements at {@code byteOffset}, widened: sign-extended to 32 bits, shifted into the high half. */
    private static FloatVector bf16(MemorySegment src, long byteOffset) {
        return ((IntVector) ShortVector.fromMemorySegment(SH, src, byteOffset, NO)
                .convertShape(VectorOperators.S2I, IS, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    private static int kind(DecodeProblem p) {
        if (!p.keys.isNative() || !p.values.isNative() || p.headDim != p.dimPad) {
            return STAGED;
        }
        return switch (p.type) {
            case FP32 -> F32;
            case BF16 -> BF16;
            case INT8 -> BS != null ? I8 : STAGED;
            default -> STAGED;
        };
    }

    @Override
    public int scratchFloats(DecodeProblem p) {
        return kind(p) == STAGED ? p.floats : p.offStageK;
    }

    @Override
    public void attend(DecodeProblem p, int[] table, int lo, int hi, int kv0, int kvCount, MemorySegment w) {
        int kind = kind(p);
        int gP = p.groupPad;
        int dP = p.dimPad;
        int bs = p.blockSize;
        int tile = DecodeProblem.TILE;
        boolean quant = p.quantized();
        float[] prob = new float[kvCount * gP * L];
        if (kind == STAGED) {
            w.asSlice(p.offStageK * 4L, 2L * p.kvLocal * tile * dP * 4L).fill((byte) 0);
        }
        w.asSlice(p.offS * 4L, (long) kvCount * gP * GROUPS * L * 4L).fill((byte) 0);
        // Lane-wise running sums, lane 0 starting from the entry sum; reduced into L on return.
        w.asSlice(p.offLV * 4L, (long) kvCount * gP * tile * 4L).fill((byte) 0);
        for (int r = 0; r < kvCount * gP; r++) {
            w.setAtIndex(F, p.offLV + r * tile, w.getAtIndex(F, p.offL + r));
        }
        MemorySegment kSrc = kind == STAGED ? w : p.keys;
        MemorySegment vSrc = kind == STAGED ? w : p.values;
        long[] tok = new long[L];
        int[] blk = new int[L];
        // Row byte offsets [kvCount, L]: the K and V rows of local KV head l, token j, at index l·L + j.
        long[] kRows = new long[kvCount * L];
        // In place, a token's K and V rows sit at the same offsets of the two caches.
        long[] vRows = kind == STAGED ? new long[kvCount * L] : kRows;
        long touched = 0;
        for (int t0 = lo; t0 < hi; t0 += L) {
            int n = Math.min(L, hi - t0);
            // Lanes past the end repeat the last token, so every row read is a real one; their scores are masked.
            // Block and offset advance incrementally: no division per lane.
            int firstLogical = t0 / bs;
            int bi = firstLogical;
            int off = t0 - bi * bs;
            for (int j = 0; j < L; j++) {
                int b = table[bi];
                blk[j] = b;
                tok[j] = ((long) b * bs + off) * p.tokenBytes;
                if (j + 1 < n && ++off == bs) {
                    off = 0;
                    bi++;
                }
            }
            // One logical block (bi is now the last real token's): a block table may map two logical blocks of
            // the tile to the same physical block with a different one between them, so compare logical indexes.
            boolean oneBlock = bi == firstLogical;
            for (int local = 0; local < kvCount; local++) {
                int kvh = kv0 + local;
                if (kind == STAGED) {
                    stage(p, w, tok, n, kvh, local, kRows, vRows);
                } else {
                    long h = kvh * p.headBytes;
                    for (int j = 0; j < L; j++) {
                        kRows[local * L + j] = tok[j] + h;
                    }
                }
                if (quant) {
                    int ks = p.offKS + local * tile;
                    int vs = p.offVS + local * tile;
                    if (oneBlock) {
                        long si = (long) blk[0] * p.kvHeads + kvh;
                        FloatVector.broadcast(S, p.keyScales.getAtIndex(SCALE, si)).intoMemorySegment(w, ks * 4L, NO);
                        FloatVector.broadcast(S, p.valueScales.getAtIndex(SCALE, si))
                                .intoMemorySegment(w, vs * 4L, NO);
                    } else {
                        for (int j = 0; j < L; j++) {
                            long si = (long) blk[j] * p.kvHeads + kvh;
                            w.setAtIndex(F, ks + j, p.keyScales.getAtIndex(SCALE, si));
                            w.setAtIndex(F, vs + j, p.valueScales.getAtIndex(SCALE, si));
                        }
                    }
                }
            }
            if (kind != STAGED) {
                touched += touch(p.keys, p.values, tok, n, kv0 * p.headBytes, kvCount * p.headBytes);
            }
            // Scores in memory order: a few tokens at a time, all KV heads of each token (adjacent rows) in turn, so
            // the tile's keys stream in as a handful of sequential runs that the prefetchers follow.
            for (int j0 = 0; j0 < n; j0 += 4) {
                for (int local = 0; local < kvCount; local++) {
                    int qRow = p.row(p.offQ, local, 0);
                    int sRow = p.offS + local * gP * GROUPS * L;
                    for (int hb = 0; hb < gP; hb += 4) {
                        int q = qRow + hb * dP;
                        int s = sRow + (hb * GROUPS + j0 / 4) * L;
                        switch (kind) {
                            case BF16 -> scoresBf16(kSrc, kRows, local * L + j0, w, q, dP, s);
                            case I8 -> scoresI8(kSrc, kRows, local * L + j0, w, q, dP, s);
                            default -> scoresF32(kSrc, kRows, local * L + j0, w, q, dP, s);
                        }
                    }
                }
            }
            for (int local = 0; local < kvCount; local++) {
                softmax(p, w, local, n, quant, prob);
            }
            // Values: per KV head and 4L columns, the output vectors of 4 query heads stay in registers across all
            // the tile's tokens, so they are loaded and stored once per tile.
            for (int local = 0; local < kvCount; local++) {
                int oRow = p.row(p.offO, local, 0);
                for (int hb = 0; hb < gP; hb += 4) {
                    int pr = (local * gP + hb) * L;
                    int o = oRow + hb * dP;
                    for (int c = 0; c < dP; c += 4 * L) {
                        switch (kind) {
                            case BF16 -> valuesBf16(vSrc, vRows, local * L, n, prob, pr, w, o + c, dP, c);
                            case I8 -> valuesI8(vSrc, vRows, local * L, n, prob, pr, w, o + c, dP, c);
                            default -> valuesF32(vSrc, vRows, local * L, n, prob, pr, w, o + c, dP, c);
                        }
                    }
                }
            }
        }
        for (int r = 0; r < kvCount * gP; r++) {
            w.setAtIndex(F, p.offL + r, ld(w, p.offLV + r * tile).reduceLanes(VectorOperators.ADD));
        }
        touchSink = touched;
    }

    /**
     * Reads one word of every 64-byte line of a tile's K and V rows ({@code n} tokens at byte offsets
     * {@code tok[j] + h0}, {@code len} bytes each), K and V lines alternating, in memory order; returns their sum,
     * which the caller publishes so that C2 keeps the loads.
     *
     * <p>Why: from DRAM the kernel is bound by memory latency, not bandwidth. Its loops hold so many instructions
     * per cache line (for INT8, about 50 per line of codes) that the reorder buffer keeps only a few misses in flight,
     * and the hardware prefetchers, seeing each block's rows read a few lines at a time in an interleaved order, run
     * little ahead. Java has no prefetch instruction; this tight loop of loads is the nearest thing: it has the
     * whole tile in flight at once (two sequential streams the prefetchers follow), and the tile is then computed
     * from L1/L2. Measured (paired A/B from DRAM, two threads, context 4096, against the kernel without it): FP32
     * +44%, BF16 +41%, INT8 +20%. Reading K's lines and then V's gained 11-22% less than alternating them; touching
     * every other line (leaving the rest to the adjacent-line prefetcher) lost 12-26%. The cost: when the cache is
     * already in the last-level cache (a short context decoded over and over, which a model's many layers rule
     * out) the extra pass is pure overhead, 9% (INT8, in L2) to 23% (FP32, in L3) on one thread.
     */
    private static long touch(MemorySegment keys, MemorySegment values, long[] tok, int n, long h0, long len) {
        long acc = 0;
        for (int j = 0; j < n; j++) {
            long base = tok[j] + h0;
            for (long o = 0; o < len; o += 64) {
                acc += keys.get(ValueLayout.JAVA_LONG_UNALIGNED, base + o)
                        ^ values.get(ValueLayout.JAVA_LONG_UNALIGNED, base + o);
            }
        }
        return acc;
    }

    /** Converts the tile's K and V rows of one KV head to FP32 scratch rows ({@code dimPad} apart). */
    private static void stage(DecodeProblem p, MemorySegment w, long[] tok, int n, int kvh, int local, long[] kRows,
                              long[] vRows) {
        int d = p.headDim;
        long esize = p.type.byteSize();
        int base = local * DecodeProblem.TILE * p.dimPad;
        for (int j = 0; j < L; j++) {
            int k = p.offStageK + base + Math.min(j, n - 1) * p.dimPad;
            int v = p.offStageV + base + Math.min(j, n - 1) * p.dimPad;
            kRows[local * L + j] = k * 4L;
            vRows[local * L + j] = v * 4L;
            if (j >= n) {
                continue;
            }
            long e = (tok[j] + kvh * p.headBytes) / esize;
            for (int c = 0; c < d; c++) {
                w.setAtIndex(F, k + c, Elements.get(p.keys, p.type, e + c, p.fp8Table));
                w.setAtIndex(F, v + c, Elements.get(p.values, p.type, e + c, p.fp8Table));
            }
        }
    }

    /**
     * Dot products of 4 query rows ({@code w[q + i·dP]}) with FP32 key rows {@code rows[j0 .. j0+3]}; query
     * {@code i}'s partial score vector for the 4 tokens (lane {@code l}: token {@code j0 + l mod 4}, summed over its
     * group of 4 lanes) goes to {@code w[s + i·GROUPS·L]}.
     */
    private static void scoresF32(MemorySegment src, long[] rows, int j0, MemorySegment w, int q, int dP, int s) {
        long r0 = rows[j0];
        long r1 = rows[j0 + 1];
        long r2 = rows[j0 + 2];
        long r3 = rows[j0 + 3];
        FloatVector a00 = FloatVector.zero(S);
        FloatVector a01 = a00, a02 = a00, a03 = a00, a10 = a00, a11 = a00, a12 = a00, a13 = a00;
        FloatVector a20 = a00, a21 = a00, a22 = a00, a23 = a00, a30 = a00, a31 = a00, a32 = a00, a33 = a00;
        for (int c = 0; c < dP; c += L) {
            long cb = c * 4L;
            FloatVector k0 = FloatVector.fromMemorySegment(S, src, r0 + cb, NO);
            FloatVector k1 = FloatVector.fromMemorySegment(S, src, r1 + cb, NO);
            FloatVector k2 = FloatVector.fromMemorySegment(S, src, r2 + cb, NO);
            FloatVector k3 = FloatVector.fromMemorySegment(S, src, r3 + cb, NO);
            FloatVector x = ld(w, q + c);
            a00 = x.fma(k0, a00);
            a01 = x.fma(k1, a01);
            a02 = x.fma(k2, a02);
            a03 = x.fma(k3, a03);
            x = ld(w, q + dP + c);
            a10 = x.fma(k0, a10);
            a11 = x.fma(k1, a11);
            a12 = x.fma(k2, a12);
            a13 = x.fma(k3, a13);
            x = ld(w, q + 2 * dP + c);
            a20 = x.fma(k0, a20);
            a21 = x.fma(k1, a21);
            a22 = x.fma(k2, a22);
            a23 = x.fma(k3, a23);
            x = ld(w, q + 3 * dP + c);
            a30 = x.fma(k0, a30);
            a31 = x.fma(k1, a31);
            a32 = x.fma(k2, a32);
            a33 = x.fma(k3, a33);
        }
        // Fold each head's 4 token accumulators in registers (steps k = 1, 2 of the pairwise fold, written out so
        // that no vector crosses a call): lane l then holds token (l mod 4)'s sum over its group of 4 lanes.
        long o = s * 4L;
        long h = (long) GROUPS * L * 4L;
        FloatVector u = a00.blend(a01, BIT1).add(a01.blend(a00, BIT1).rearrange(SWAP1));
        FloatVector v = a02.blend(a03, BIT1).add(a03.blend(a02, BIT1).rearrange(SWAP1));
        u.blend(v, BIT2).add(v.blend(u, BIT2).rearrange(SWAP2)).intoMemorySegment(w, o, NO);
        u = a10.blend(a11, BIT1).add(a11.blend(a10, BIT1).rearrange(SWAP1));
        v = a12.blend(a13, BIT1).add(a13.blend(a12, BIT1).rearrange(SWAP1));
        u.blend(v, BIT2).add(v.blend(u, BIT2).rearrange(SWAP2)).intoMemorySegment(w, o + h, NO);
        u = a20.blend(a21, BIT1).add(a21.blend(a20, BIT1).rearrange(SWAP1));
        v = a22.blend(a23, BIT1).add(a23.blend(a22, BIT1).rearrange(SWAP1));
        u.blend(v, BIT2).add(v.blend(u, BIT2).rearrange(SWAP2)).intoMemorySegment(w, o + 2 * h, NO);
        u = a30.blend(a31, BIT1).add(a31.blend(a30, BIT1).rearrange(SWAP1));
        v = a32.blend(a33, BIT1).add(a33.blend(a32, BIT1).rearrange(SWAP1));
        u.blend(v, BIT2).add(v.blend(u, BIT2).rearrange(SWAP2)).intoMemorySegment(w, o + 3 * h, NO);
    }

    /** As {@link #scoresF32} for INT8 codes (unscaled: the key scale is applied to the score vector). */
    private static void scoresI8(MemorySegment src, long[] rows, int j0, MemorySegment w, int q, int dP, int s) {
        long r0 = rows[j0];
        long r1 = rows[j0 + 1];
        long r2 = rows[j0 + 2];
        long r3 = rows[j0 + 3];
        FloatVector a00 = FloatVector.zero(S);
        FloatVector a01 = a00, a02 = a00, a03 = a00, a10 = a00, a11 = a00, a12 = a00, a13 = a00;
        FloatVector a20 = a00, a21 = a00, a22 = a00, a23 = a00, a30 = a00, a31 = a00, a32 = a00, a33 = a00;
        for (int c = 0; c < dP; c += L) {
            FloatVector k0 = i8(src, r0 + c);
            FloatVector k1 = i8(src, r1 + c);
            FloatVector k2 = i8(src, r2 + c);
            FloatVector k3 = i8(src, r3 + c);
            FloatVector x = ld(w, q + c);
            a00 = x.fma(k0, a00);
            a01 = x.fma(k1, a01);
            a02 = x.fma(k2, a02);
            a03 = x.fma(k3, a03);
            x = ld(w, q + dP + c);
            a10 = x.fma(k0, a10);
            a11 = x.fma(k1, a11);
            a12 = x.fma(k2, a12);
            a13 = x.fma(k3, a13);
            x = ld(w, q + 2 * dP + c);
            a20 = x.fma(k0, a20);
            a21 = x.fma(k1, a21);
            a22 = x.fma(k2, a22);
            a23 = x.fma(k3, a23);
            x = ld(w, q + 3 * dP + c);
            a30 = x.fma(k0, a30);
            a31 = x.fma(k1, a31);
            a32 = x.fma(k2, a32);
            a33 = x.fma(k3, a33);
        }
        // Fold each head's 4 token accumulators in registers (steps k = 1, 2 of the pairwise fold, written out so
        // that no vector crosses a call): lane l then holds token (l mod 4)'s sum over its group of 4 lanes.
        long o = s * 4L;
        long h = (long) GROUPS * L * 4L;
        FloatVector u = a00.blend(a01, BIT1).add(a01.blend(a00, BIT1).rearrange(SWAP1));
        FloatVector v = a02.blend(a03, BIT1).add(a03.blend(a02, BIT1).rearrange(SWAP1));
        u.blend(v, BIT2).add(v.blend(u, BIT2).rearrange(SWAP2)).intoMemorySegment(w, o, NO);
        u = a10.blend(a11, BIT1).add(a11.blend(a10, BIT1).rearrange(SWAP1));
        v = a12.blend(a13, BIT1).add(a13.blend(a12, BIT1).rearrange(SWAP1));
        u.blend(v, BIT2).add(v.blend(u, BIT2).rearrange(SWAP2)).intoMemorySegment(w, o + h, NO);
        u = a20.blend(a21, BIT1).add(a21.blend(a20, BIT1).rearrange(SWAP1));
        v = a22.blend(a23, BIT1).add(a23.blend(a22, BIT1).rearrange(SWAP1));
        u.blend(v, BIT2).add(v.blend(u, BIT2).rearrange(SWAP2)).intoMemorySegment(w, o + 2 * h, NO);
        u = a30.blend(a31, BIT1).add(a31.blend(a30, BIT1).rearrange(SWAP1));
        v = a32.blend(a33, BIT1).add(a33.blend(a32, BIT1).rearrange(SWAP1));
        u.blend(v, BIT2).add(v.blend(u, BIT2).rearrange(SWAP2)).intoMemorySegment(w, o + 3 * h, NO);
    }

    /** As {@link #scoresF32} for BF16 rows. */
    private static void scoresBf16(MemorySegment src, long[] rows, int j0, MemorySegment w, int q, int dP, int s) {
        long r0 = rows[j0];
        long r1 = rows[j0 + 1];
        long r2 = rows[j0 + 2];
        long r3 = rows[j0 + 3];
        FloatVector a00 = FloatVector.zero(S);
        FloatVector a01 = a00, a02 = a00, a03 = a00, a10 = a00, a11 = a00, a12 = a00, a13 = a00;
        FloatVector a20 = a00, a21 = a00, a22 = a00, a23 = a00, a30 = a00, a31 = a00, a32 = a00, a33 = a00;
        for (int c = 0; c < dP; c += L) {
            FloatVector k0 = bf16(src, r0 + c * 2L);
            FloatVector k1 = bf16(src, r1 + c * 2L);
            FloatVector k2 = bf16(src, r2 + c * 2L);
            FloatVector k3 = bf16(src, r3 + c * 2L);
            FloatVector x = ld(w, q + c);
            a00 = x.fma(k0, a00);
            a01 = x.fma(k1, a01);
            a02 = x.fma(k2, a02);
            a03 = x.fma(k3, a03);
            x = ld(w, q + dP + c);
            a10 = x.fma(k0, a10);
            a11 = x.fma(k1, a11);
            a12 = x.fma(k2, a12);
            a13 = x.fma(k3, a13);
            x = ld(w, q + 2 * dP + c);
            a20 = x.fma(k0, a20);
            a21 = x.fma(k1, a21);
            a22 = x.fma(k2, a22);
            a23 = x.fma(k3, a23);
            x = ld(w, q + 3 * dP + c);
            a30 = x.fma(k0, a30);
            a31 = x.fma(k1, a31);
            a32 = x.fma(k2, a32);
            a33 = x.fma(k3, a33);
        }
        // Fold each head's 4 token accumulators in registers (steps k = 1, 2 of the pairwise fold, written out so
        // that no vector crosses a call): lane l then holds token (l mod 4)'s sum over its group of 4 lanes.
        long o = s * 4L;
        long h = (long) GROUPS * L * 4L;
        FloatVector u = a00.blend(a01, BIT1).add(a01.blend(a00, BIT1).rearrange(SWAP1));
        FloatVector v = a02.blend(a03, BIT1).add(a03.blend(a02, BIT1).rearrange(SWAP1));
        u.blend(v, BIT2).add(v.blend(u, BIT2).rearrange(SWAP2)).intoMemorySegment(w, o, NO);
        u = a10.blend(a11, BIT1).add(a11.blend(a10, BIT1).rearrange(SWAP1));
        v = a12.blend(a13, BIT1).add(a13.blend(a12, BIT1).rearrange(SWAP1));
        u.blend(v, BIT2).add(v.blend(u, BIT2).rearrange(SWAP2)).intoMemorySegment(w, o + h, NO);
        u = a20.blend(a21, BIT1).add(a21.blend(a20, BIT1).rearrange(SWAP1));
        v = a22.blend(a23, BIT1).add(a23.blend(a22, BIT1).rearrange(SWAP1));
        u.blend(v, BIT2).add(v.blend(u, BIT2).rearrange(SWAP2)).intoMemorySegment(w, o + 2 * h, NO);
        u = a30.blend(a31, BIT1).add(a31.blend(a30, BIT1).rearrange(SWAP1));
        v = a32.blend(a33, BIT1).add(a33.blend(a32, BIT1).rearrange(SWAP1));
        u.blend(v, BIT2).add(v.blend(u, BIT2).rearrange(SWAP2)).intoMemorySegment(w, o + 3 * h, NO);
    }

    /**
     * Online-softmax update of local KV head {@code local}'s query rows from the tile's partial score vectors:
     * finishes folding each head's {@link #GROUPS} vectors into one score vector (lane {@code j} = token {@code j};
     * steps k = 4, 8 of the pairwise fold), applies key scale, softcap and the tail mask, updates {@code M}, the
     * lane-wise running sums at {@code offLV} and {@code O}, and writes the probabilities (times the value scales)
     * to {@code prob}. The max is reduced and {@code O} rescaled only when some score exceeds the running max, which
     * after the first tiles is rare.
     *
     * <p>Loads here call {@code FloatVector.fromMemorySegment} directly, not {@link #ld}: with {@code VectorMath.exp}
     * inlined this method is past C2's inlining budget, and a call to {@code ld} that C2 leaves out of line returns a
     * boxed vector (the running-sum update did, and cost INT8 and BF16 decode 10% of their in-cache rate).
     */
    private static void softmax(DecodeProblem p, MemorySegment w, int local, int n, boolean quant, float[] prob) {
        VectorMask<Float> valid = S.indexInRange(0, n);
        int tile = DecodeProblem.TILE;
        FloatVector ks = quant ? FloatVector.fromMemorySegment(S, w, (p.offKS + local * tile) * 4L, NO) : null;
        FloatVector vs = quant ? FloatVector.fromMemorySegment(S, w, (p.offVS + local * tile) * 4L, NO) : null;
        FloatVector negInf = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        float cap = p.softcap;
        for (int i = 0; i < p.groupPad; i++) {
            int r = local * p.groupPad + i;
            int s0 = p.offS + r * GROUPS * L;
            FloatVector sv = FloatVector.fromMemorySegment(S, w, s0 * 4L, NO);
            if (L >= 8) {
                FloatVector g1 = FloatVector.fromMemorySegment(S, w, (s0 + L) * 4L, NO);
                sv = sv.blend(g1, BIT4).add(g1.blend(sv, BIT4).rearrange(SWAP4));
                if (L >= 16) {
                    FloatVector g2 = FloatVector.fromMemorySegment(S, w, (s0 + 2 * L) * 4L, NO);
                    FloatVector g3 = FloatVector.fromMemorySegment(S, w, (s0 + 3 * L) * 4L, NO);
                    FloatVector y = g2.blend(g3, BIT4).add(g3.blend(g2, BIT4).rearrange(SWAP4));
                    sv = sv.blend(y, BIT8).add(y.blend(sv, BIT8).rearrange(SWAP8));
                }
            }
            if (quant) {
                sv = sv.mul(ks);
            }
            if (cap > 0f) {
                // c·tanh(s/c) with tanh(y) = 1 - 2/(e^{2y} + 1).
                FloatVector e2 = VectorMath.exp(sv.mul(2f / cap));
                sv = FloatVector.broadcast(S, 1f).sub(FloatVector.broadcast(S, 2f).div(e2.add(1f))).mul(cap);
            }
            sv = negInf.blend(sv, valid);
            int lv = p.offLV + r * tile;
            float m = w.getAtIndex(F, p.offM + r);
            if (sv.compare(VectorOperators.GT, m).anyTrue()) {
                float mNew = Math.max(m, sv.reduceLanes(VectorOperators.MAX));
                float alpha = m == Float.NEGATIVE_INFINITY ? 0f : (float) Math.exp(m - mNew);
                w.setAtIndex(F, p.offM + r, mNew);
                if (alpha != 1f) {
                    FloatVector.fromMemorySegment(S, w, lv * 4L, NO).mul(alpha).intoMemorySegment(w, lv * 4L, NO);
                    scaleRow(w, p.row(p.offO, local, i), p.dimPad, alpha);
                }
                m = mNew;
            }
            if (m == Float.NEGATIVE_INFINITY) {
                FloatVector.zero(S).intoArray(prob, r * L);
                continue;
            }
            FloatVector e = VectorMath.exp(sv.sub(m));
            FloatVector.fromMemorySegment(S, w, lv * 4L, NO).add(e).intoMemorySegment(w, lv * 4L, NO);
            (quant ? e.mul(vs) : e).intoArray(prob, r * L);
        }
    }

    /** Multiplies {@code w[o .. o+n)} by {@code f}; {@code n} is a multiple of {@code L}. */
    private static void scaleRow(MemorySegment w, int o, int n, float f) {
        for (int c = 0; c < n; c += L) {
            ld(w, o + c).mul(f).intoMemorySegment(w, (o + c) * 4L, NO);
        }
    }

    /**
     * Adds {@code Σ_j P[i][j] · V_j[c .. c+4L)} to the output rows of 4 query heads ({@code o}, rows {@code dP}
     * apart; probabilities at {@code pr + i·L}) over FP32 value rows {@code j < n}.
     */
    private static void valuesF32(MemorySegment src, long[] rows, int rb, int n, float[] prob, int pr,
                                  MemorySegment w, int o,
                                  int dP,
                                  int c) {
        FloatVector b00 = ld(w, o), b01 = ld(w, o + L), b02 = ld(w, o + 2 * L), b03 = ld(w, o + 3 * L);
        FloatVector b10 = ld(w, o + dP), b11 = ld(w, o + dP + L);
        FloatVector b12 = ld(w, o + dP + 2 * L), b13 = ld(w, o + dP + 3 * L);
        FloatVector b20 = ld(w, o + 2 * dP), b21 = ld(w, o + 2 * dP + L);
        FloatVector b22 = ld(w, o + 2 * dP + 2 * L), b23 = ld(w, o + 2 * dP + 3 * L);
        FloatVector b30 = ld(w, o + 3 * dP), b31 = ld(w, o + 3 * dP + L);
        FloatVector b32 = ld(w, o + 3 * dP + 2 * L), b33 = ld(w, o + 3 * dP + 3 * L);
        long cb = c * 4L;
        for (int j = 0; j < n; j++) {
            long r = rows[rb + j] + cb;
            FloatVector v0 = FloatVector.fromMemorySegment(S, src, r, NO);
            FloatVector v1 = FloatVector.fromMemorySegment(S, src, r + L * 4L, NO);
            FloatVector v2 = FloatVector.fromMemorySegment(S, src, r + 2 * L * 4L, NO);
            FloatVector v3 = FloatVector.fromMemorySegment(S, src, r + 3 * L * 4L, NO);
            FloatVector e = FloatVector.broadcast(S, prob[pr + j]);
            b00 = e.fma(v0, b00);
            b01 = e.fma(v1, b01);
            b02 = e.fma(v2, b02);
            b03 = e.fma(v3, b03);
            e = FloatVector.broadcast(S, prob[pr + L + j]);
            b10 = e.fma(v0, b10);
            b11 = e.fma(v1, b11);
            b12 = e.fma(v2, b12);
            b13 = e.fma(v3, b13);
            e = FloatVector.broadcast(S, prob[pr + 2 * L + j]);
            b20 = e.fma(v0, b20);
            b21 = e.fma(v1, b21);
            b22 = e.fma(v2, b22);
            b23 = e.fma(v3, b23);
            e = FloatVector.broadcast(S, prob[pr + 3 * L + j]);
            b30 = e.fma(v0, b30);
            b31 = e.fma(v1, b31);
            b32 = e.fma(v2, b32);
            b33 = e.fma(v3, b33);
        }
        long base = o * 4L;
        long row = dP * 4L;
        long v = L * 4L;
        b00.intoMemorySegment(w, base, NO);
        b01.intoMemorySegment(w, base + v, NO);
        b02.intoMemorySegment(w, base + 2 * v, NO);
        b03.intoMemorySegment(w, base + 3 * v, NO);
        b10.intoMemorySegment(w, base + row, NO);
        b11.intoMemorySegment(w, base + row + v, NO);
        b12.intoMemorySegment(w, base + row + 2 * v, NO);
        b13.intoMemorySegment(w, base + row + 3 * v, NO);
        b20.intoMemorySegment(w, base + 2 * row, NO);
        b21.intoMemorySegment(w, base + 2 * row + v, NO);
        b22.intoMemorySegment(w, base + 2 * row + 2 * v, NO);
        b23.intoMemorySegment(w, base + 2 * row + 3 * v, NO);
        b30.intoMemorySegment(w, base + 3 * row, NO);
        b31.intoMemorySegment(w, base + 3 * row + v, NO);
        b32.intoMemorySegment(w, base + 3 * row + 2 * v, NO);
        b33.intoMemorySegment(w, base + 3 * row + 3 * v, NO);
    }

    /** As {@link #valuesF32} for INT8 codes (the value scale is already in the probabilities). */
    private static void valuesI8(MemorySegment src, long[] rows, int rb, int n, float[] prob, int pr,
                                  MemorySegment w, int o,
                                  int dP,
                                 int c) {
        FloatVector b00 = ld(w, o), b01 = ld(w, o + L), b02 = ld(w, o + 2 * L), b03 = ld(w, o + 3 * L);
        FloatVector b10 = ld(w, o + dP), b11 = ld(w, o + dP + L);
        FloatVector b12 = ld(w, o + dP + 2 * L), b13 = ld(w, o + dP + 3 * L);
        FloatVector b20 = ld(w, o + 2 * dP), b21 = ld(w, o + 2 * dP + L);
        FloatVector b22 = ld(w, o + 2 * dP + 2 * L), b23 = ld(w, o + 2 * dP + 3 * L);
        FloatVector b30 = ld(w, o + 3 * dP), b31 = ld(w, o + 3 * dP + L);
        FloatVector b32 = ld(w, o + 3 * dP + 2 * L), b33 = ld(w, o + 3 * dP + 3 * L);
        for (int j = 0; j < n; j++) {
            long r = rows[rb + j] + c;
            FloatVector v0 = i8(src, r);
            FloatVector v1 = i8(src, r + L);
            FloatVector v2 = i8(src, r + 2 * L);
            FloatVector v3 = i8(src, r + 3 * L);
            FloatVector e = FloatVector.broadcast(S, prob[pr + j]);
            b00 = e.fma(v0, b00);
            b01 = e.fma(v1, b01);
            b02 = e.fma(v2, b02);
            b03 = e.fma(v3, b03);
            e = FloatVector.broadcast(S, prob[pr + L + j]);
            b10 = e.fma(v0, b10);
            b11 = e.fma(v1, b11);
            b12 = e.fma(v2, b12);
            b13 = e.fma(v3, b13);
            e = FloatVector.broadcast(S, prob[pr + 2 * L + j]);
            b20 = e.fma(v0, b20);
            b21 = e.fma(v1, b21);
            b22 = e.fma(v2, b22);
            b23 = e.fma(v3, b23);
            e = FloatVector.broadcast(S, prob[pr + 3 * L + j]);
            b30 = e.fma(v0, b30);
            b31 = e.fma(v1, b31);
            b32 = e.fma(v2, b32);
            b33 = e.fma(v3, b33);
        }
        long base = o * 4L;
        long row = dP * 4L;
        long v = L * 4L;
        b00.intoMemorySegment(w, base, NO);
        b01.intoMemorySegment(w, base + v, NO);
        b02.intoMemorySegment(w, base + 2 * v, NO);
        b03.intoMemorySegment(w, base + 3 * v, NO);
        b10.intoMemorySegment(w, base + row, NO);
        b11.intoMemorySegment(w, base + row + v, NO);
        b12.intoMemorySegment(w, base + row + 2 * v, NO);
        b13.intoMemorySegment(w, base + row + 3 * v, NO);
        b20.intoMemorySegment(w, base + 2 * row, NO);
        b21.intoMemorySegment(w, base + 2 * row + v, NO);
        b22.intoMemorySegment(w, base + 2 * row + 2 * v, NO);
        b23.intoMemorySegment(w, base + 2 * row + 3 * v, NO);
        b30.intoMemorySegment(w, base + 3 * row, NO);
        b31.intoMemorySegment(w, base + 3 * row + v, NO);
        b32.intoMemorySegment(w, base + 3 * row + 2 * v, NO);
        b33.intoMemorySegment(w, base + 3 * row + 3 * v, NO);
    }

    /** As {@link #valuesF32} for BF16 rows. */
    private static void valuesBf16(MemorySegment src, long[] rows, int rb, int n, float[] prob, int pr,
                                  MemorySegment w, int o,
                                  int dP,
                                 int c) {
        FloatVector b00 = ld(w, o), b01 = ld(w, o + L), b02 = ld(w, o + 2 * L), b03 = ld(w, o + 3 * L);
        FloatVector b10 = ld(w, o + dP), b11 = ld(w, o + dP + L);
        FloatVector b12 = ld(w, o + dP + 2 * L), b13 = ld(w, o + dP + 3 * L);
        FloatVector b20 = ld(w, o + 2 * dP), b21 = ld(w, o + 2 * dP + L);
        FloatVector b22 = ld(w, o + 2 * dP + 2 * L), b23 = ld(w, o + 2 * dP + 3 * L);
        FloatVector b30 = ld(w, o + 3 * dP), b31 = ld(w, o + 3 * dP + L);
        FloatVector b32 = ld(w, o + 3 * dP + 2 * L), b33 = ld(w, o + 3 * dP + 3 * L);
        for (int j = 0; j < n; j++) {
            long r = rows[rb + j] + c * 2L;
            FloatVector v0 = bf16(src, r);
            FloatVector v1 = bf16(src, r + 2 * L);
            FloatVector v2 = bf16(src, r + 4 * L);
            FloatVector v3 = bf16(src, r + 6 * L);
            FloatVector e = FloatVector.broadcast(S, prob[pr + j]);
            b00 = e.fma(v0, b00);
            b01 = e.fma(v1, b01);
            b02 = e.fma(v2, b02);
            b03 = e.fma(v3, b03);
            e = FloatVector.broadcast(S, prob[pr + L + j]);
            b10 = e.fma(v0, b10);
            b11 = e.fma(v1, b11);
            b12 = e.fma(v2, b12);
            b13 = e.fma(v3, b13);
            e = FloatVector.broadcast(S, prob[pr + 2 * L + j]);
            b20 = e.fma(v0, b20);
            b21 = e.fma(v1, b21);
            b22 = e.fma(v2, b22);
            b23 = e.fma(v3, b23);
            e = FloatVector.broadcast(S, prob[pr + 3 * L + j]);
            b30 = e.fma(v0, b30);
            b31 = e.fma(v1, b31);
            b32 = e.fma(v2, b32);
            b33 = e.fma(v3, b33);
        }
        long base = o * 4L;
        long row = dP * 4L;
        long v = L * 4L;
        b00.intoMemorySegment(w, base, NO);
        b01.intoMemorySegment(w, base + v, NO);
        b02.intoMemorySegment(w, base + 2 * v, NO);
        b03.intoMemorySegment(w, base + 3 * v, NO);
        b10.intoMemorySegment(w, base + row, NO);
        b11.intoMemorySegment(w, base + row + v, NO);
        b12.intoMemorySegment(w, base + row + 2 * v, NO);
        b13.intoMemorySegment(w, base + row + 3 * v, NO);
        b20.intoMemorySegment(w, base + 2 * row, NO);
        b21.intoMemorySegment(w, base + 2 * row + v, NO);
        b22.intoMemorySegment(w, base + 2 * row + 2 * v, NO);
        b23.intoMemorySegment(w, base + 2 * row + 3 * v, NO);
        b30.intoMemorySegment(w, base + 3 * row, NO);
        b31.intoMemorySegment(w, base + 3 * row + v, NO);
        b32.intoMemorySegment(w, base + 3 * row + 2 * v, NO);
        b33.intoMemorySegment(w, base + 3 * row + 3 * v, NO);
    }

}
