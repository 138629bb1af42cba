package io.vramkit.quant.internal;

import io.vramkit.quant.QuantFormat;
import io.vramkit.quant.QuantizedTensor;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector API implementation of {@link QuantKernels}, loaded reflectively by
 * {@link io.vramkit.core.cpu.VectorSupport}. Quantization produces the same bytes as {@link ScalarQuantKernels}
 * (the same FP32 operations, with round-to-nearest-even done by the {@code 1.5 × 2^23} trick); dot products differ
 * from the scalar ones only in FP32 summation order.
 *
 * <p>The fused GEMV for 4-bit formats reads the packed layout of {@code docs/formats.md} (low nibble = even
 * column) as is, 128 columns per 64-byte int-vector load on 16-lane (AVX-512) hardware: lane {@code i} holds the
 * eight nibbles of columns {@code 8i .. 8i+7}, and the activation vector is rearranged once per call into eight
 * matching "nibble planes". Nibble {@code k} of all lanes becomes floats by one shift and one {@code selectFrom}
 * in a 16-entry codebook held in a register (NF4's, or {@code u − 8} for symmetric INT4, or {@code u} for
 * asymmetric INT4, which then subtracts its zero-point). Rows go two per pass (one for INT4 asymmetric with groups
 * smaller than a block), a row of the first half of the range with the matching row of the second half, so each
 * activation-plane load serves two rows and two long sequential weight streams are in flight; GEMV batches up to
 * 16 run it once per activation row. Other shapes
 * decode a row into permuted FP32 (even columns of every {@code 2L} block first) and take dot products.
 *
 * <p>Needs vectors of at least 256 bits; on narrower hardware every method falls back to the scalar code.
 * Stateless and thread-safe.
 */
public final class PanamaQuantKernels extends ScalarQuantKernels {

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length();
    private static final boolean WIDE = F.vectorBitSize() >= 256;
    private static final VectorSpecies<Byte> B =
            WIDE ? VectorSpecies.of(byte.class, VectorShape.forBitSize(F.vectorBitSize() / 4)) : null;
    private static final VectorSpecies<Short> S =
            WIDE ? VectorSpecies.of(short.class, VectorShape.forBitSize(F.vectorBitSize() / 2)) : null;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED;
    /** Full-width shorts of the W4A8 GEMV. */
    private static final VectorSpecies<Short> S_FULL =
            WIDE ? VectorSpecies.of(short.class, VectorShape.forBitSize(F.vectorBitSize())) : null;
    /** Shorts per W4A8 vector ({@code 2L}); a W4A8 block is {@code 4 × SL} columns, {@code 2 × SL} code bytes. */
    private static final int SL = 2 * L;
    /** Full-width bytes: a W4A8 block's activation codes are two of these. */
    private static final VectorSpecies<Byte> B_FULL =
            WIDE ? VectorSpecies.of(byte.class, VectorShape.forBitSize(F.vectorBitSize())) : null;
    /**
     * Two-vector permutes that gather a W4A8 block's activation codes for nibble {@code k}: lane {@code j} picks
     * byte {@code 4j + k} of the block (only the first {@code SL} lanes are used).
     */
    private static final byte[][] W4A8_GATHER = new byte[4][4 * L];
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final boolean NF4_LUT = L == 16 && I.length() == 16;
    /** A 16-entry codebook fits one vector: the nibble-plane GEMV applies. */
    private static final boolean LUT16 = NF4_LUT;
    private static final int[] NF4_BITS = new int[16];
    /** The 15 NF4 decision midpoints as float bits, padded with +∞ to one 16-lane vector. */
    private static final int[] NF4_MID_BITS = new int[16];
    /** INT4 symmetric codebook: code {@code u} means {@code u − 8}. */
    private static final int[] INT4_SYM_BITS = new int[16];
    /** INT4 asymmetric codebook: the raw code {@code u} (the zero-point is subtracted per group). */
    private static final int[] INT4_BITS = new int[16];
    /** Weight rows per GEMM register block. */
    private static final int GEMM_NR = 6;

    static {
        for (int k = 0; k < 4; k++) {
            for (int j = 0; j < 4 * L; j++) {
                W4A8_GATHER[k][j] = (byte) ((4 * j + k) % (8 * L));
            }
        }
        for (int i = 0; i < 16; i++) {
            NF4_BITS[i] = Float.floatToRawIntBits(Layouts.NF4[i]);
            NF4_MID_BITS[i] = Float.floatToRawIntBits(i < 15 ? Layouts.NF4_MIDPOINTS[i] : Float.POSITIVE_INFINITY);
            INT4_SYM_BITS[i] = Float.floatToRawIntBits(i - 8);
            INT4_BITS[i] = Float.floatToRawIntBits(i);
        }
    }

    /** Creates the kernels (stateless). */
    public PanamaQuantKernels() {
    }

    /** Whether the 4-bit fused path applies: vectors wide enough and groups made of whole {@code 2L} blocks. */
    private static boolean packedPath(QuantizedTensor t) {
        QuantFormat f = t.format();
        if (!WIDE || !f.isFourBit() || f.groupSize() % (2 * L) != 0) {
            return false;
        }
        return f.scheme() != QuantFormat.Scheme.NF4 || NF4_LUT;
    }

    @Override
    protected float absmax(float[] w, int base, int n) {
        if (!WIDE) {
            return super.absmax(w, base, n);
        }
        FloatVector m = FloatVector.zero(F);
        int i = 0;
        for (; i <= n - L; i += L) {
            m = m.max(FloatVector.fromArray(F, w, base + i).abs());
        }
        float r = m.reduceLanes(VectorOperators.MAX);
        for (; i < n; i++) {
            r = Math.max(r, Math.abs(w[base + i]));
        }
        return r;
    }

    @Override
    protected float groupSqError(float[] w, int base, int n, float s, float z, float qmin, float qmax) {
        if (!WIDE || n % L != 0) {
            return super.groupSqError(w, base, n, s, z, qmin, qmax);
        }
        float inv = s == 0f ? 0f : 1f / s;
        FloatVector acc = FloatVector.zero(F);
        for (int i = 0; i < n; i += L) {
            FloatVector v = FloatVector.fromArray(F, w, base + i);
            FloatVector q = v.mul(inv).add(Layouts.RINT_MAGIC).sub(Layouts.RINT_MAGIC).add(z).max(qmin).min(qmax);
            FloatVector d = q.sub(z).mul(s).sub(v);
            acc = d.fma(d, acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    @Override
    protected float nf4SqError(float[] w, int base, int n, float a) {
        if (!NF4_LUT || n % L != 0) {
            return super.nf4SqError(w, base, n, a);
        }
        float inv = 1f / a;
        IntVector lut = IntVector.fromArray(I, NF4_BITS, 0);
        IntVector mids = IntVector.fromArray(I, NF4_MID_BITS, 0);
        FloatVector acc = FloatVector.zero(F);
        for (int i = 0; i < n; i += L) {
            FloatVector v = FloatVector.fromArray(F, w, base + i);
            FloatVector d = nf4Codes(v.mul(inv), mids).selectFrom(lut).reinterpretAsFloats().mul(a).sub(v);
            acc = d.fma(d, acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    @Override
    protected void quantizeInt8(float[] w, int base, int n, float inv, MemorySegment codes, long codeOff) {
        if (!WIDE) {
            super.quantizeInt8(w, base, n, inv, codes, codeOff);
            return;
        }
        int i = 0;
        for (; i <= n - L; i += L) {
            FloatVector v = FloatVector.fromArray(F, w, base + i).mul(inv);
            v = v.add(Layouts.RINT_MAGIC).sub(Layouts.RINT_MAGIC).max(-127f).min(127f);
            ((ByteVector) v.convertShape(VectorOperators.F2B, B, 0)).intoMemorySegment(codes, codeOff + i, LE);
        }
        for (; i < n; i++) {
            float q = Math.min(127f, Math.max(-127f, rint(w[base + i] * inv)));
            codes.set(Layouts.I8, codeOff + i, (byte) (int) q);
        }
    }

    @Override
    protected void quantizeInt4(float[] w, int base, int n, float inv, int z, MemorySegment codes, long byteOff) {
        if (!WIDE || n % L != 0) {
            super.quantizeInt4(w, base, n, inv, z, codes, byteOff);
            return;
        }
        byte[] q = new byte[n];
        float zf = z;
        for (int i = 0; i < n; i += L) {
            FloatVector v = FloatVector.fromArray(F, w, base + i).mul(inv);
            v = v.add(Layouts.RINT_MAGIC).sub(Layouts.RINT_MAGIC).add(zf).max(0f).min(15f);
            ((ByteVector) v.convertShape(VectorOperators.F2B, B, 0)).intoArray(q, i);
        }
        pack(q, n, codes, byteOff);
    }

    @Override
    protected void quantizeNf4(float[] w, int base, int n, float inv, MemorySegment codes, long byteOff) {
        if (!WIDE || n % L != 0) {
            super.quantizeNf4(w, base, n, inv, codes, byteOff);
            return;
        }
        byte[] q = new byte[n];
        if (NF4_LUT) {
            IntVector mids = IntVector.fromArray(I, NF4_MID_BITS, 0);
            for (int i = 0; i < n; i += L) {
                IntVector code = nf4Codes(FloatVector.fromArray(F, w, base + i).mul(inv), mids);
                ((ByteVector) code.convertShape(VectorOperators.I2B, B, 0)).intoArray(q, i);
            }
        } else {
            for (int i = 0; i < n; i += L) {
                FloatVector v = FloatVector.fromArray(F, w, base + i).mul(inv);
                FloatVector code = FloatVector.zero(F);
                for (float mid : Layouts.NF4_MIDPOINTS) {
                    code = code.add(1f, v.compare(VectorOperators.GT, mid));
                }
                ((ByteVector) code.convertShape(VectorOperators.F2B, B, 0)).intoArray(q, i);
            }
        }
        pack(q, n, codes, byteOff);
    }

    /**
     * The NF4 code of every lane of normalized weights {@code nv}: the number of midpoints strictly below it (NaN:
     * 0), exactly {@link Layouts#nf4Code}. A 4-step binary search over the 15 ascending midpoints, each probe one
     * {@code selectFrom} in the midpoint vector {@code mids} (padded with +∞), instead of 15 compares.
     */
    private static IntVector nf4Codes(FloatVector nv, IntVector mids) {
        IntVector idx = IntVector.zero(I);
        for (int step = 8; step >= 1; step >>= 1) {
            FloatVector m = idx.add(step - 1).selectFrom(mids).reinterpretAsFloats();
            idx = idx.add(step, nv.compare(VectorOperators.GT, m).cast(I));
        }
        return idx;
    }

    /** Packs nibble codes two per byte, low nibble first. */
    private static void pack(byte[] q, int n, MemorySegment codes, long byteOff) {
        for (int i = 0; i < n; i += 2) {
            codes.set(Layouts.I8, byteOff + i / 2, (byte) (q[i] | (q[i + 1] << 4)));
        }
    }

    @Override
    public float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        if (!WIDE) {
            return super.dot(a, aOff, b, bOff, n);
        }
        FloatVector s0 = FloatVector.zero(F);
        FloatVector s1 = FloatVector.zero(F);
        int i = 0;
        for (; i <= n - 2 * L; i += 2 * L) {
            s0 = FloatVector.fromArray(F, a, aOff + i).fma(FloatVector.fromArray(F, b, bOff + i), s0);
            s1 = FloatVector.fromArray(F, a, aOff + i + L).fma(FloatVector.fromArray(F, b, bOff + i + L), s1);
        }
        for (; i <= n - L; i += L) {
            s0 = FloatVector.fromArray(F, a, aOff + i).fma(FloatVector.fromArray(F, b, bOff + i), s0);
        }
        float s = s0.add(s1).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            s += a[aOff + i] * b[bOff + i];
        }
        return s;
    }

    /** Two vectors of activation rows per panel ({@code 2L}); the scalar panel width on narrow hardware. */
    @Override
    public int gemmPanelRows() {
        return WIDE ? 2 * L : super.gemmPanelRows();
    }

    /**
     * Broadcast-FMA micro-kernel: a block of {@code 2L} activation rows × 6 weight rows keeps its
     * {@code 2 × 6} accumulators in vector registers across the whole inner dimension; per column it loads two
     * activation vectors (contiguous in the packed panel) and broadcasts six weights, so each load feeds six or two
     * FMAs. A last panel with at most {@code L} live rows takes the one-vector variant.
     */
    @Override
    public void gemmTile(float[] xp, int batch, int cols, float[] wt, int nr, float[] y, int rows, int r0,
                         int p0, int p1) {
        if (!WIDE) {
            super.gemmTile(xp, batch, cols, wt, nr, y, rows, r0, p0, p1);
            return;
        }
        int pr = 2 * L;
        float[] blk = new float[GEMM_NR * pr];
        for (int p = p0; p < p1; p++) {
            int b0 = p * pr;
            int nb = Math.min(pr, batch - b0);
            int xo = p * cols * pr;
            boolean two = nb > L;
            int j = 0;
            for (; j + GEMM_NR <= nr; j += GEMM_NR) {
                if (two) {
                    block2x6(xp, xo, cols, wt, j * cols, blk);
                } else {
                    block1x6(xp, xo, cols, wt, j * cols, blk);
                }
                storeBlock(blk, GEMM_NR, nb, y, rows, b0, r0 + j);
            }
            for (; j < nr; j++) {
                block1Row(xp, xo, cols, wt, j * cols, blk, two);
                storeBlock(blk, 1, nb, y, rows, b0, r0 + j);
            }
        }
    }

    /** Writes {@code blk[jj × 2L + i]} to {@code y[(b0 + i) × rows + r + jj]} for {@code i < nb}, {@code jj < nj}. */
    private static void storeBlock(float[] blk, int nj, int nb, float[] y, int rows, int b0, int r) {
        int pr = 2 * L;
        for (int i = 0; i < nb; i++) {
            int o = (b0 + i) * rows + r;
            for (int jj = 0; jj < nj; jj++) {
                y[o + jj] = blk[jj * pr + i];
            }
        }
    }

    private static void block2x6(float[] xp, int xo, int cols, float[] wt, int wo, float[] blk) {
        int pr = 2 * L;
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        FloatVector a2 = FloatVector.zero(F);
        FloatVector a3 = FloatVector.zero(F);
        FloatVector a4 = FloatVector.zero(F);
        FloatVector a5 = FloatVector.zero(F);
        FloatVector b0 = FloatVector.zero(F);
        FloatVector b1 = FloatVector.zero(F);
        FloatVector b2 = FloatVector.zero(F);
        FloatVector b3 = FloatVector.zero(F);
        FloatVector b4 = FloatVector.zero(F);
        FloatVector b5 = FloatVector.zero(F);
        int w0 = wo;
        int w1 = wo + cols;
        int w2 = wo + 2 * cols;
        int w3 = wo + 3 * cols;
        int w4 = wo + 4 * cols;
        int w5 = wo + 5 * cols;
        for (int c = 0; c < cols; c++) {
            int xi = xo + c * pr;
            FloatVector x0 = FloatVector.fromArray(F, xp, xi);
            FloatVector x1 = FloatVector.fromArray(F, xp, xi + L);
            FloatVector v = FloatVector.broadcast(F, wt[w0 + c]);
            a0 = x0.fma(v, a0);
            b0 = x1.fma(v, b0);
            v = FloatVector.broadcast(F, wt[w1 + c]);
            a1 = x0.fma(v, a1);
            b1 = x1.fma(v, b1);
            v = FloatVector.broadcast(F, wt[w2 + c]);
            a2 = x0.fma(v, a2);
            b2 = x1.fma(v, b2);
            v = FloatVector.broadcast(F, wt[w3 + c]);
            a3 = x0.fma(v, a3);
            b3 = x1.fma(v, b3);
            v = FloatVector.broadcast(F, wt[w4 + c]);
            a4 = x0.fma(v, a4);
            b4 = x1.fma(v, b4);
            v = FloatVector.broadcast(F, wt[w5 + c]);
            a5 = x0.fma(v, a5);
            b5 = x1.fma(v, b5);
        }
        a0.intoArray(blk, 0);
        b0.intoArray(blk, L);
        a1.intoArray(blk, pr);
        b1.intoArray(blk, pr + L);
        a2.intoArray(blk, 2 * pr);
        b2.intoArray(blk, 2 * pr + L);
        a3.intoArray(blk, 3 * pr);
        b3.intoArray(blk, 3 * pr + L);
        a4.intoArray(blk, 4 * pr);
        b4.intoArray(blk, 4 * pr + L);
        a5.intoArray(blk, 5 * pr);
        b5.intoArray(blk, 5 * pr + L);
    }

    private static void block1x6(float[] xp, int xo, int cols, float[] wt, int wo, float[] blk) {
        int pr = 2 * L;
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        FloatVector a2 = FloatVector.zero(F);
        FloatVector a3 = FloatVector.zero(F);
        FloatVector a4 = FloatVector.zero(F);
        FloatVector a5 = FloatVector.zero(F);
        for (int c = 0; c < cols; c++) {
            FloatVector x0 = FloatVector.fromArray(F, xp, xo + c * pr);
            a0 = x0.fma(FloatVector.broadcast(F, wt[wo + c]), a0);
            a1 = x0.fma(FloatVector.broadcast(F, wt[wo + cols + c]), a1);
            a2 = x0.fma(FloatVector.broadcast(F, wt[wo + 2 * cols + c]), a2);
            a3 = x0.fma(FloatVector.broadcast(F, wt[wo + 3 * cols + c]), a3);
            a4 = x0.fma(FloatVector.broadcast(F, wt[wo + 4 * cols + c]), a4);
            a5 = x0.fma(FloatVector.broadcast(F, wt[wo + 5 * cols + c]), a5);
        }
        a0.intoArray(blk, 0);
        a1.intoArray(blk, pr);
        a2.intoArray(blk, 2 * pr);
        a3.intoArray(blk, 3 * pr);
        a4.intoArray(blk, 4 * pr);
        a5.intoArray(blk, 5 * pr);
    }

    private static void block1Row(float[] xp, int xo, int cols, float[] wt, int wo, float[] blk, boolean two) {
        int pr = 2 * L;
        FloatVector a0 = FloatVector.zero(F);
        FloatVector b0 = FloatVector.zero(F);
        for (int c = 0; c < cols; c++) {
            int xi = xo + c * pr;
            FloatVector v = FloatVector.broadcast(F, wt[wo + c]);
            a0 = FloatVector.fromArray(F, xp, xi).fma(v, a0);
            if (two) {
                b0 = FloatVector.fromArray(F, xp, xi + L).fma(v, b0);
            }
        }
        a0.intoArray(blk, 0);
        b0.intoArray(blk, L);
    }

    @Override
    public int dotInt8(MemorySegment w, long wOff, byte[] x, int xOff, int n) {
        if (!WIDE) {
            return super.dotInt8(w, wOff, x, xOff, n);
        }
        IntVector acc = IntVector.zero(I);
        int i = 0;
        if (I.length() == L) {
            for (; i <= n - L; i += L) {
                IntVector a = (IntVector) ByteVector.fromMemorySegment(B, w, wOff + i, LE)
                        .convertShape(VectorOperators.B2I, I, 0);
                IntVector b = (IntVector) ByteVector.fromArray(B, x, xOff + i).convertShape(VectorOperators.B2I, I, 0);
                acc = a.mul(b).add(acc);
            }
        }
        int s = acc.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            s += w.get(Layouts.I8, wOff + i) * x[xOff + i];
        }
        return s;
    }

    /**
     * Vectorized for INT8 and BF16 (the bytes are widened and scaled with the same FP32 operations as the scalar
     * code, so the values are identical); every other format takes the scalar decoder.
     */
    @Override
    public void dequantizeRows(QuantizedTensor t, int r0, int r1, float[] out, int outOff) {
        QuantFormat f = t.format();
        boolean int8 = f.scheme() == QuantFormat.Scheme.INT8;
        boolean bf16 = f.scheme() == QuantFormat.Scheme.BF16 && I.length() == L;
        if (!WIDE || !(int8 || bf16)) {
            super.dequantizeRows(t, r0, r1, out, outOff);
            return;
        }
        int cols = t.cols();
        int g = f.groupSize() == QuantFormat.PER_CHANNEL ? cols : f.groupSize();
        int gpr = cols / g;
        MemorySegment codes = t.codes();
        for (int r = r0; r < r1; r++) {
            for (int gi = 0; gi < gpr; gi++) {
                long base = (long) r * cols + gi * g;
                int o = outOff + (r - r0) * cols + gi * g;
                int i = 0;
                if (int8) {
                    float s = t.scale(r, gi);
                    for (; i <= g - L; i += L) {
                        int8(codes, base + i).mul(s).intoArray(out, o + i);
                    }
                    for (; i < g; i++) {
                        out[o + i] = codes.get(Layouts.I8, base + i) * s;
                    }
                } else {
                    for (; i <= g - L; i += L) {
                        bf16(codes, 2 * (base + i)).intoArray(out, o + i);
                    }
                    for (; i < g; i++) {
                        out[o + i] = Layouts.fromBf16(codes.getAtIndex(Layouts.I16, base + i));
                    }
                }
            }
        }
    }

    /** Reorders {@code x[off, off + cols)} so every block of {@code 2L} columns holds its even columns first. */
    private static void permute(float[] x, int off, int cols, float[] out, int outOff) {
        for (int blk = 0; blk + 2 * L <= cols; blk += 2 * L) {
            for (int i = 0; i < L; i++) {
                out[outOff + blk + i] = x[off + blk + 2 * i];
                out[outOff + blk + L + i] = x[off + blk + 2 * i + 1];
            }
        }
    }

    @Override
    public void gemv(QuantizedTensor t, float[] x, int batch, float[] y, int r0, int r1) {
        if (!WIDE) {
            super.gemv(t, x, batch, y, r0, r1);
            return;
        }
        int cols = t.cols();
        int rows = t.rows();
        QuantFormat f = t.format();
        MemorySegment codes = t.codes();
        boolean packed = packedPath(t);
        if (batch > 1 && f.isFourBit() && nibblePlanePath(t)) {
            // one fused pass per activation row: the chunk's codes are re-read from cache, which still beats
            // decoding every row to FP32 and taking dot products
            for (int b = 0; b < batch; b++) {
                gemv4(t, codes, x, b * cols, y, b * rows, r0, r1);
            }
            return;
        }
        if (batch == 1) {
            switch (f.scheme()) {
                case FP32 -> {
                    for (int r = r0; r < r1; r++) {
                        y[r] = dotF32(codes, (long) r * cols * 4, x, cols);
                    }
                    return;
                }
                case BF16 -> {
                    for (int r = r0; r < r1; r++) {
                        y[r] = dotBf16(codes, (long) r * cols * 2, x, cols);
                    }
                    return;
                }
                case INT8 -> {
                    gemvInt8(t, codes, x, y, r0, r1);
                    return;
                }
                case INT4_SYM, INT4_ASYM, NF4 -> {
                    if (nibblePlanePath(t)) {
                        gemv4(t, codes, x, 0, y, 0, r0, r1);
                        return;
                    }
                }
                default -> {
                }
            }
        }
        float[] row = new float[cols];
        float[] xp = x;
        int xOff = 0;
        if (packed) {
            xp = new float[batch * cols];
            for (int b = 0; b < batch; b++) {
                permute(x, b * cols, cols, xp, b * cols);
            }
        }
        for (int r = r0; r < r1; r++) {
            if (packed) {
                decode4Permuted(t, codes, r, row);
            } else {
                dequantizeRows(t, r, r + 1, row, 0);
            }
            for (int b = 0; b < batch; b++) {
                y[b * rows + r] = dot(row, 0, xp, xOff + b * cols, cols);
            }
        }
    }

    private static float dotF32(MemorySegment w, long off, float[] x, int n) {
        FloatVector s0 = FloatVector.zero(F);
        FloatVector s1 = FloatVector.zero(F);
        int i = 0;
        for (; i <= n - 2 * L; i += 2 * L) {
            s0 = FloatVector.fromMemorySegment(F, w, off + 4L * i, LE).fma(FloatVector.fromArray(F, x, i), s0);
            s1 = FloatVector.fromMemorySegment(F, w, off + 4L * (i + L), LE)
                    .fma(FloatVector.fromArray(F, x, i + L), s1);
        }
        float s = s0.add(s1).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            s += w.get(Layouts.F32, off + 4L * i) * x[i];
        }
        return s;
    }

    private static FloatVector bf16(MemorySegment w, long off) {
        return ((IntVector) ShortVector.fromMemorySegment(S, w, off, LE).convertShape(VectorOperators.S2I, I, 0))
                .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    private static float dotBf16(MemorySegment w, long off, float[] x, int n) {
        FloatVector s0 = FloatVector.zero(F);
        FloatVector s1 = FloatVector.zero(F);
        int i = 0;
        if (I.length() == L) {
            for (; i <= n - 2 * L; i += 2 * L) {
                s0 = bf16(w, off + 2L * i).fma(FloatVector.fromArray(F, x, i), s0);
                s1 = bf16(w, off + 2L * (i + L)).fma(FloatVector.fromArray(F, x, i + L), s1);
            }
        }
        float s = s0.add(s1).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            s += Layouts.fromBf16(w.get(Layouts.I16, off + 2L * i)) * x[i];
        }
        return s;
    }

    private static FloatVector int8(MemorySegment w, long off) {
        return (FloatVector) ByteVector.fromMemorySegment(B, w, off, LE).convertShape(VectorOperators.B2F, F, 0);
    }

    private void gemvInt8(QuantizedTensor t, MemorySegment codes, float[] x, float[] y, int r0, int r1) {
        int cols = t.cols();
        int gpr = t.groupsPerRow();
        int g = cols / gpr;
        for (int r = r0; r < r1; r++) {
            long rowOff = (long) r * cols;
            FloatVector total = FloatVector.zero(F);
            float tail = 0f;
            for (int gi = 0; gi < gpr; gi++) {
                int c0 = gi * g;
                FloatVector acc0 = FloatVector.zero(F);
                FloatVector acc1 = FloatVector.zero(F);
                int c = c0;
                for (; c <= c0 + g - 2 * L; c += 2 * L) {
                    acc0 = int8(codes, rowOff + c).fma(FloatVector.fromArray(F, x, c), acc0);
                    acc1 = int8(codes, rowOff + c + L).fma(FloatVector.fromArray(F, x, c + L), acc1);
                }
                for (; c <= c0 + g - L; c += L) {
                    acc0 = int8(codes, rowOff + c).fma(FloatVector.fromArray(F, x, c), acc0);
                }
                float rest = 0f;
                for (; c < c0 + g; c++) {
                    rest += codes.get(Layouts.I8, rowOff + c) * x[c];
                }
                float s = t.scale(r, gi);
                total = acc0.add(acc1).fma(FloatVector.broadcast(F, s), total);
                tail += rest * s;
            }
            y[r] = total.reduceLanes(VectorOperators.ADD) + tail;
        }
    }

    /**
     * Fused GEMV for INT4 (both kinds) and NF4 of one activation row {@code x[xOff, xOff + cols)} into
     * {@code y[yOff + r]}, on the activations rearranged into nibble planes ({@link #nibblePlanes}), by
     * {@link #rowsLut} or {@link #rowsAsym}. Those walk the rows (mostly two at a time) and hand them to a kernel
     * ({@link #pairLut}, {@link #pairLutWide}, {@link #pairAsymWide}, {@link #rowAsym}) that holds the column loop
     * and is compiled on its own: inlined into a caller that also holds the other formats' kernels, the Vector API
     * code could outgrow the JIT's inlining budget and fall back to boxed vectors.
     */
    private void gemv4(QuantizedTensor t, MemorySegment codes, float[] x, int xOff, float[] y, int yOff, int r0,
                       int r1) {
        int cols = t.cols();
        int gpr = t.groupsPerRow();
        int g = cols / gpr;
        QuantFormat.Scheme scheme = t.format().scheme();
        float[] xq = new float[cols];
        nibblePlanes(x, xOff, cols, xq);
        // padded by L: a block's scale vector is L floats loaded from the block's first group
        float[] sc = new float[2 * (gpr + L)];
        int[] lanes = new int[L];
        for (int i = 0; i < L; i++) {
            lanes[i] = g >= 8 * L ? 0 : 8 * i / g;
        }
        if (scheme == QuantFormat.Scheme.INT4_ASYM) {
            rowsAsym(t, codes, xq, lanes, sc, new float[2 * (gpr + L)], y, yOff, r0, r1);
        } else {
            rowsLut(t, codes, xq, lanes, scheme == QuantFormat.Scheme.NF4 ? NF4_BITS : INT4_SYM_BITS, sc, y, yOff,
                    r0, r1);
        }
    }

    /**
     * {@inheritDoc} Vectorized per group when {@code g} is a multiple of {@code L}: the absmax, then
     * {@code x · (1/s)} rounded with the {@code 1.5·2^23} trick (half to even, as {@link Math#rint}) and clamped,
     * the same operations as the scalar code, so the codes are bit-identical. A non-finite group hands the call to
     * the scalar code, which names the index.
     */
    @Override
    public void quantizeActivationGroups(float[] x, int batch, int cols, int g, byte[] xq, float[] xs) {
        if (!WIDE || g % L != 0) {
            super.quantizeActivationGroups(x, batch, cols, g, xq, xs);
            return;
        }
        int gpr = cols / g;
        for (int j = 0; j < batch * gpr; j++) {
            int o = j * g;
            FloatVector mv = FloatVector.zero(F);
            for (int c = o; c < o + g; c += L) {
                mv = mv.max(FloatVector.fromArray(F, x, c).abs());
            }
            float m = mv.reduceLanes(VectorOperators.MAX);
            if (!Float.isFinite(m)) {
                super.quantizeActivationGroups(x, batch, cols, g, xq, xs);
                return;
            }
            float s = m / 127f;
            float inv = s == 0f ? 0f : 1f / s;
            xs[j] = s;
            for (int c = o; c < o + g; c += L) {
                FloatVector v = FloatVector.fromArray(F, x, c).mul(inv).add(Layouts.RINT_MAGIC)
                        .sub(Layouts.RINT_MAGIC).max(-127f).min(127f);
                ((ByteVector) v.convertShape(VectorOperators.F2B, B, 0)).intoArray(xq, c);
            }
        }
    }

    /**
     * Whether the vector W4A8 GEMV applies: INT4 symmetric, {@code cols} a multiple of the {@code 4·SL}-column block
     * (128 on AVX-512), and groups of whole blocks or of a whole number of int lanes ({@code g % 8 == 0}) that tile
     * a block.
     */
    private static boolean w4a8Path(QuantizedTensor t) {
        int g = t.format().groupSize();
        int blk = 4 * SL;
        return WIDE && I.length() == L && t.format().scheme() == QuantFormat.Scheme.INT4_SYM && t.cols() % blk == 0
                && g % 8 == 0 && (g % blk == 0 || blk % g == 0);
    }

    /**
     * W4A8 in 16-bit integer lanes, twice as many per vector as FP32 lanes and no codebook lookup. Per
     * {@code 4·SL}-column block and row: one {@code SL}-short load of the block's {@code 2·SL} code bytes (lane
     * {@code j} holds the four nibbles of columns {@code 4j .. 4j+3}), three shifts and three {@code and}s to split
     * them, four 16-bit multiplies with the activation codes (rearranged by {@link #w4a8Activations} so that each
     * lane meets its columns), the {@code 8 · Σ x} of the code offset subtracted per lane, then adjacent lanes
     * summed into ints, converted and scaled per group (a broadcast when groups span whole blocks, else a permute of
     * the block's scales). Every partial sum stays within 16 bits ({@code u·x ≤ 15 · 127}, four per lane, minus at
     * most {@code 8 · 4 · 127}), so the integer part is exact and only the per-group scaling rounds. Rows go two per
     * pass as in {@link #rowsLut}.
     */
    @Override
    public void gemvW4a8(QuantizedTensor t, byte[] xq, float[] xs, int batch, float[] y, int r0, int r1) {
        if (!w4a8Path(t)) {
            super.gemvW4a8(t, xq, xs, batch, y, r0, r1);
            return;
        }
        int cols = t.cols();
        int rows = t.rows();
        int gpr = t.groupsPerRow();
        int g = cols / gpr;
        boolean wide = g % (4 * SL) == 0;
        int[] lanes = new int[L];
        for (int i = 0; i < L; i++) {
            lanes[i] = wide ? 0 : 8 * i / g;
        }
        MemorySegment codes = t.codes();
        MemorySegment scales = t.scales();
        short[] xv = new short[cols];
        short[] corr = new short[cols / 4];
        // padded by L: a narrow block's scale vector is L floats loaded from the block's first group
        int s1 = gpr + L;
        float[] sc = new float[2 * s1];
        long rowBytes = cols / 2;
        int h = (r1 - r0) / 2;
        for (int b = 0; b < batch; b++) {
            w4a8Activations(xq, b * cols, cols, xv, corr);
            int xsOff = b * gpr;
            for (int i = 0; i < r1 - r0 - h; i++) {
                // row r0 + i pairs with r0 + i + h; the last row of an odd range pairs with itself (stride 0),
                // computed twice, stored twice
                int r = i < h ? r0 + i : r1 - 1;
                int r2 = i < h ? r + h : r;
                halfToFloat(scales, (long) r * gpr, gpr, sc, 0, xs, xsOff);
                halfToFloat(scales, (long) r2 * gpr, gpr, sc, s1, xs, xsOff);
                long off = r * rowBytes;
                long stride = (r2 - r) * rowBytes;
                if (wide) {
                    pairW4a8Wide(codes, off, stride, xv, corr, cols, g, sc, s1, y, b * rows + r, b * rows + r2);
                } else {
                    pairW4a8Narrow(codes, off, stride, xv, corr, cols, g, lanes, sc, s1, y, b * rows + r,
                            b * rows + r2);
                }
            }
        }
    }

    /**
     * The FP16 values {@code h[index, index + n)} of {@code halves} as floats into {@code out[outOff, outOff + n)},
     * each multiplied by {@code mul[mulOff + i]} when {@code mul} is not {@code null}. Exact for every FP16 value:
     * the magnitude bits shifted into a float's place read as the value times 2^-112 (subnormals included), a
     * multiply by 2^112 restores it, infinities and NaNs get the float exponent, and the sign is put back.
     */
    private static void halfToFloat(MemorySegment halves, long index, int n, float[] out, int outOff, float[] mul,
                                    int mulOff) {
        int i = 0;
        if (WIDE && S.length() == L && I.length() == L) {
            for (; i <= n - L; i += L) {
                IntVector h = (IntVector) ShortVector.fromMemorySegment(S, halves, 2 * (index + i), LE)
                        .convertShape(VectorOperators.ZERO_EXTEND_S2I, I, 0);
                IntVector mag = h.and(0x7FFF);
                IntVector shifted = mag.lanewise(VectorOperators.LSHL, 13);
                IntVector bits = shifted.reinterpretAsFloats().mul(0x1p112f).reinterpretAsInts()
                        .blend(shifted.or(0x7F800000), mag.compare(VectorOperators.GE, 0x7C00))
                        .or(h.and(0x8000).lanewise(VectorOperators.LSHL, 16));
                FloatVector f = bits.reinterpretAsFloats();
                if (mul != null) {
                    f = f.mul(FloatVector.fromArray(F, mul, mulOff + i));
                }
                f.intoArray(out, outOff + i);
            }
        }
        for (; i < n; i++) {
            float f = Float.float16ToFloat(halves.getAtIndex(Layouts.I16, index + i));
            out[outOff + i] = mul != null ? f * mul[mulOff + i] : f;
        }
    }

    /**
     * Rearranges activation codes {@code xq[xOff, xOff + cols)} for the W4A8 kernels: per {@code 4·SL}-column block
     * at {@code c}, lane {@code j} of the block's vector {@code k} ({@code k < 4}) holds column {@code c + 4j + k},
     * the column of nibble {@code k} of the block's short lane {@code j}; {@code corr[c/4 + j]} is
     * {@code 8 ·} the sum of those four columns.
     */
    private static void w4a8Activations(byte[] xq, int xOff, int cols, short[] xv, short[] corr) {
        ByteVector g0 = ByteVector.fromArray(B_FULL, W4A8_GATHER[0], 0);
        ByteVector g1 = ByteVector.fromArray(B_FULL, W4A8_GATHER[1], 0);
        ByteVector g2 = ByteVector.fromArray(B_FULL, W4A8_GATHER[2], 0);
        ByteVector g3 = ByteVector.fromArray(B_FULL, W4A8_GATHER[3], 0);
        for (int c = 0; c < cols; c += 4 * SL) {
            ByteVector lo = ByteVector.fromArray(B_FULL, xq, xOff + c);
            ByteVector hi = ByteVector.fromArray(B_FULL, xq, xOff + c + 2 * SL);
            ShortVector x0 = (ShortVector) g0.selectFrom(lo, hi).convertShape(VectorOperators.B2S, S_FULL, 0);
            ShortVector x1 = (ShortVector) g1.selectFrom(lo, hi).convertShape(VectorOperators.B2S, S_FULL, 0);
            ShortVector x2 = (ShortVector) g2.selectFrom(lo, hi).convertShape(VectorOperators.B2S, S_FULL, 0);
            ShortVector x3 = (ShortVector) g3.selectFrom(lo, hi).convertShape(VectorOperators.B2S, S_FULL, 0);
            x0.intoArray(xv, c);
            x1.intoArray(xv, c + SL);
            x2.intoArray(xv, c + 2 * SL);
            x3.intoArray(xv, c + 3 * SL);
            x0.add(x1).add(x2).add(x3).lanewise(VectorOperators.LSHL, 3).intoArray(corr, c / 4);
        }
    }

    /** Lanes {@code 2i} and {@code 2i + 1} of {@code d} summed into int lane {@code i}, as floats. */
    private static FloatVector pairSum(ShortVector d) {
        IntVector v = d.reinterpretAsInts();
        return (FloatVector) v.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                .add(v.lanewise(VectorOperators.ASHR, 16)).convert(VectorOperators.I2F, 0);
    }

    /**
     * {@code Σ (u − 8)·x} of one block and row, per short lane: {@code v} the row's codes, {@code x0..x3} the
     * activation vectors of nibbles 0..3, {@code k} the offset correction, {@code m} a vector of 15s.
     */
    private static ShortVector w4a8Block(ShortVector v, ShortVector x0, ShortVector x1, ShortVector x2,
                                         ShortVector x3, ShortVector k, ShortVector m) {
        return v.and(m).mul(x0).add(v.lanewise(VectorOperators.LSHR, 4).and(m).mul(x1))
                .add(v.lanewise(VectorOperators.LSHR, 8).and(m).mul(x2))
                .add(v.lanewise(VectorOperators.LSHR, 12).mul(x3)).sub(k);
    }

    /**
     * Two rows of {@link #gemvW4a8} with groups of whole blocks: codes at byte offsets {@code off} and
     * {@code off + stride}, combined scales {@code sc[0, gpr)} and {@code sc[s1, s1 + gpr)}.
     */
    private static void pairW4a8Wide(MemorySegment codes, long off, long stride, short[] xv, short[] corr, int cols,
                                     int g, float[] sc, int s1, float[] y, int y0, int y1) {
        ShortVector m = ShortVector.broadcast(S_FULL, (short) 15);
        FloatVector t0 = FloatVector.zero(F);
        FloatVector t1 = FloatVector.zero(F);
        for (int c = 0; c < cols; c += 4 * SL) {
            ShortVector x0 = ShortVector.fromArray(S_FULL, xv, c);
            ShortVector x1 = ShortVector.fromArray(S_FULL, xv, c + SL);
            ShortVector x2 = ShortVector.fromArray(S_FULL, xv, c + 2 * SL);
            ShortVector x3 = ShortVector.fromArray(S_FULL, xv, c + 3 * SL);
            ShortVector k = ShortVector.fromArray(S_FULL, corr, c / 4);
            ShortVector v0 = ShortVector.fromMemorySegment(S_FULL, codes, off + c / 2, LE);
            ShortVector v1 = ShortVector.fromMemorySegment(S_FULL, codes, off + stride + c / 2, LE);
            int gi = c / g;
            t0 = pairSum(w4a8Block(v0, x0, x1, x2, x3, k, m)).fma(FloatVector.broadcast(F, sc[gi]), t0);
            t1 = pairSum(w4a8Block(v1, x0, x1, x2, x3, k, m)).fma(FloatVector.broadcast(F, sc[s1 + gi]), t1);
        }
        y[y0] = t0.reduceLanes(VectorOperators.ADD);
        y[y1] = t1.reduceLanes(VectorOperators.ADD);
    }

    /**
     * {@link #pairW4a8Wide} for groups smaller than a block: int lane {@code i} covers columns {@code 8i .. 8i+7}, so
     * its scale is that of group {@code lanes[i]} of the block, one permute of the block's scales per row.
     */
    private static void pairW4a8Narrow(MemorySegment codes, long off, long stride, short[] xv, short[] corr,
                                       int cols, int g, int[] lanes, float[] sc, int s1, float[] y, int y0, int y1) {
        ShortVector m = ShortVector.broadcast(S_FULL, (short) 15);
        IntVector laneGroup = IntVector.fromArray(I, lanes, 0);
        FloatVector t0 = FloatVector.zero(F);
        FloatVector t1 = FloatVector.zero(F);
        for (int c = 0; c < cols; c += 4 * SL) {
            ShortVector x0 = ShortVector.fromArray(S_FULL, xv, c);
            ShortVector x1 = ShortVector.fromArray(S_FULL, xv, c + SL);
            ShortVector x2 = ShortVector.fromArray(S_FULL, xv, c + 2 * SL);
            ShortVector x3 = ShortVector.fromArray(S_FULL, xv, c + 3 * SL);
            ShortVector k = ShortVector.fromArray(S_FULL, corr, c / 4);
            ShortVector v0 = ShortVector.fromMemorySegment(S_FULL, codes, off + c / 2, LE);
            ShortVector v1 = ShortVector.fromMemorySegment(S_FULL, codes, off + stride + c / 2, LE);
            t0 = pairSum(w4a8Block(v0, x0, x1, x2, x3, k, m)).fma(blockValues(sc, 0, c, g, laneGroup), t0);
            t1 = pairSum(w4a8Block(v1, x0, x1, x2, x3, k, m)).fma(blockValues(sc, s1, c, g, laneGroup), t1);
        }
        y[y0] = t0.reduceLanes(VectorOperators.ADD);
        y[y1] = t1.reduceLanes(VectorOperators.ADD);
    }

    /**
     * Whether the nibble-plane GEMV applies: 16-lane vectors (the 16-entry codebook is one vector), {@code cols} a
     * multiple of the 128-column block, and groups that never split an int lane ({@code g % 8 == 0}) and either
     * tile a block or span whole blocks.
     */
    private static boolean nibblePlanePath(QuantizedTensor t) {
        QuantFormat f = t.format();
        int g = f.groupSize();
        int blk = 8 * L;
        return LUT16 && f.isFourBit() && t.cols() % blk == 0 && g % 8 == 0 && (blk % g == 0 || g % blk == 0);
    }

    /**
     * Rearranges {@code x[xOff, xOff + cols)} for the nibble-plane kernels. An {@code L}-lane int load of
     * {@code 4L} code bytes holds, in lane {@code i}, the eight nibbles of columns {@code 8i .. 8i+7} of its
     * {@code 8L}-column block (nibble {@code k} = bits {@code 4k .. 4k+3}; low nibble = even column, as
     * docs/formats.md packs them). Plane {@code k} of the output, {@code out[blk + kL + i] = x[xOff + blk + 8i + k]},
     * meets nibble {@code k} of every lane.
     */
    private static void nibblePlanes(float[] x, int xOff, int cols, float[] out) {
        int blk = 8 * L;
        for (int b = 0; b < cols; b += blk) {
            for (int k = 0; k < 8; k++) {
                for (int i = 0; i < L; i++) {
                    out[b + k * L + i] = x[xOff + b + 8 * i + k];
                }
            }
        }
    }

    /**
     * Per-lane values of the {@code 8L}-column block at column {@code c}: lane {@code i} gets
     * {@code v[base + (c + 8i)/g]}, one {@code L}-float load from the block's first group permuted by
     * {@code laneGroup}.
     */
    private static FloatVector blockValues(float[] v, int base, int c, int g, IntVector laneGroup) {
        return laneGroup.selectFrom(FloatVector.fromArray(F, v, base + c / g).reinterpretAsInts())
                .reinterpretAsFloats();
    }

    /**
     * Nibble {@code k} of every lane decoded through the codebook {@code lut}: {@code selectFrom} wraps the shifted
     * lane to its low four bits, the code (one shift and one vpermd on AVX-512).
     */
    private static FloatVector plane(IntVector v, int k, IntVector lut) {
        return v.lanewise(VectorOperators.LSHR, 4 * k).selectFrom(lut).reinterpretAsFloats();
    }

    /**
     * {@code y[yOff + r] = Σ_g s_g Σ_{c∈g} lut[u_c]·x_c} for rows {@code [r0, r1)} with codes {@code u} (INT4
     * symmetric: {@code lut[u] = u − 8}; NF4: the codebook), two rows per pass ({@link #pairLutWide} when every
     * group spans whole {@code 8L}-column blocks, {@link #pairLut} otherwise) and a last odd row on its own.
     * Row {@code r} of the first half of the range is paired with row {@code r + h} of the second half ({@code h} =
     * half the range), not with its neighbour: the pass then reads two long sequential streams, which the
     * hardware prefetchers follow across rows and pages, where two adjacent 2 KiB rows per pass would make many
     * short streams (measured from memory on two cores: neighbour pairs were slower than one row per pass, far
     * pairs faster).
     *
     * @param lanes   the group of each lane within a block, relative to the block's first group
     * @param lutBits the 16 codebook values as float bits
     * @param sc      scratch for two rows' scales, {@code 2 × (groupsPerRow + L)} floats
     */
    private static void rowsLut(QuantizedTensor t, MemorySegment codes, float[] xq, int[] lanes, int[] lutBits,
                                float[] sc, float[] y, int yOff, int r0, int r1) {
        int cols = t.cols();
        int gpr = t.groupsPerRow();
        int g = cols / gpr;
        int s1 = gpr + L;
        long rowBytes = cols / 2;
        boolean wide = g % (8 * L) == 0;
        int h = (r1 - r0) / 2;
        for (int r = r0; r < r0 + h; r++) {
            rowScales(t, r, gpr, sc, 0, null);
            rowScales(t, r + h, gpr, sc, s1, null);
            if (wide) {
                pairLutWide(codes, r * rowBytes, h * rowBytes, xq, cols, g, lutBits, sc, s1, y, yOff + r,
                        yOff + r + h);
            } else {
                pairLut(codes, r * rowBytes, h * rowBytes, xq, cols, g, lutBits, lanes, sc, s1, y, yOff + r,
                        yOff + r + h);
            }
        }
        if (r0 + 2 * h < r1) {
            // an odd last row is its own pair (stride 0): computed twice from cache, the same value stored twice
            int r = r1 - 1;
            rowScales(t, r, gpr, sc, 0, null);
            rowScales(t, r, gpr, sc, s1, null);
            pairLut(codes, r * rowBytes, 0, xq, cols, g, lutBits, lanes, sc, s1, y, yOff + r, yOff + r);
        }
    }

    /**
     * Two rows of {@link #rowsLut}: the codes at byte offsets {@code off} and {@code off + stride}, with scales
     * {@code sc[0, gpr)} and {@code sc[s1, s1 + gpr)}, into {@code y[y0]} and {@code y[y1]}. Per {@code 8L}-column
     * block, one 64-byte load per row feeds eight decode-FMA steps per row on two chains per row that restart every
     * block; each activation-plane load serves both rows, and the two rows are two independent memory streams.
     * Per row the operations and their order are those of a one-row pass.
     */
    private static void pairLut(MemorySegment codes, long off, long stride, float[] xq, int cols, int g,
                                int[] lutBits, int[] lanes, float[] sc, int s1, float[] y, int y0, int y1) {
        IntVector lut = IntVector.fromArray(I, lutBits, 0);
        IntVector laneGroup = IntVector.fromArray(I, lanes, 0);
        FloatVector t0 = FloatVector.zero(F);
        FloatVector t1 = FloatVector.zero(F);
        for (int c = 0; c < cols; c += 8 * L) {
            IntVector v0 = IntVector.fromMemorySegment(I, codes, off + c / 2, LE);
            IntVector v1 = IntVector.fromMemorySegment(I, codes, off + stride + c / 2, LE);
            FloatVector x = FloatVector.fromArray(F, xq, c);
            FloatVector p0 = v0.selectFrom(lut).reinterpretAsFloats().mul(x);
            FloatVector p1 = v1.selectFrom(lut).reinterpretAsFloats().mul(x);
            x = FloatVector.fromArray(F, xq, c + L);
            FloatVector q0 = plane(v0, 1, lut).mul(x);
            FloatVector q1 = plane(v1, 1, lut).mul(x);
            // a loop, not six copies: the JIT parses the body once (staying under its inlining node budget, past
            // which vectors are boxed) and unrolls it afterwards
            for (int k = 2; k < 8; k += 2) {
                x = FloatVector.fromArray(F, xq, c + k * L);
                p0 = plane(v0, k, lut).fma(x, p0);
                p1 = plane(v1, k, lut).fma(x, p1);
                x = FloatVector.fromArray(F, xq, c + (k + 1) * L);
                q0 = plane(v0, k + 1, lut).fma(x, q0);
                q1 = plane(v1, k + 1, lut).fma(x, q1);
            }
            t0 = p0.add(q0).fma(blockValues(sc, 0, c, g, laneGroup), t0);
            t1 = p1.add(q1).fma(blockValues(sc, s1, c, g, laneGroup), t1);
        }
        y[y0] = t0.reduceLanes(VectorOperators.ADD);
        y[y1] = t1.reduceLanes(VectorOperators.ADD);
    }

    /**
     * {@link #pairLut} for groups spanning whole {@code 8L}-column blocks: one scale per block, broadcast instead
     * of permuted (one permute fewer per block and row). Same operations and order per row.
     */
    private static void pairLutWide(MemorySegment codes, long off, long stride, float[] xq, int cols, int g,
                                    int[] lutBits, float[] sc, int s1, float[] y, int y0, int y1) {
        IntVector lut = IntVector.fromArray(I, lutBits, 0);
        FloatVector t0 = FloatVector.zero(F);
        FloatVector t1 = FloatVector.zero(F);
        for (int c = 0; c < cols; c += 8 * L) {
            IntVector v0 = IntVector.fromMemorySegment(I, codes, off + c / 2, LE);
            IntVector v1 = IntVector.fromMemorySegment(I, codes, off + stride + c / 2, LE);
            FloatVector x = FloatVector.fromArray(F, xq, c);
            FloatVector p0 = v0.selectFrom(lut).reinterpretAsFloats().mul(x);
            FloatVector p1 = v1.selectFrom(lut).reinterpretAsFloats().mul(x);
            x = FloatVector.fromArray(F, xq, c + L);
            FloatVector q0 = plane(v0, 1, lut).mul(x);
            FloatVector q1 = plane(v1, 1, lut).mul(x);
            for (int k = 2; k < 8; k += 2) {
                x = FloatVector.fromArray(F, xq, c + k * L);
                p0 = plane(v0, k, lut).fma(x, p0);
                p1 = plane(v1, k, lut).fma(x, p1);
                x = FloatVector.fromArray(F, xq, c + (k + 1) * L);
                q0 = plane(v0, k + 1, lut).fma(x, q0);
                q1 = plane(v1, k + 1, lut).fma(x, q1);
            }
            int gi = c / g;
            t0 = p0.add(q0).fma(FloatVector.broadcast(F, sc[gi]), t0);
            t1 = p1.add(q1).fma(FloatVector.broadcast(F, sc[s1 + gi]), t1);
        }
        y[y0] = t0.reduceLanes(VectorOperators.ADD);
        y[y1] = t1.reduceLanes(VectorOperators.ADD);
    }

    /**
     * {@link #rowsLut} for INT4 asymmetric: {@code y[r] = Σ_g s_g Σ_{c∈g} (u_c − z_g)·x_c}, the zero-point
     * subtracted from each decoded nibble (not folded into {@code Σ x}, which would cancel badly when one activation
     * dominates). When every group spans whole blocks, two rows per pass paired as in {@link #rowsLut}
     * ({@link #pairAsymWide}); otherwise one row per pass ({@link #rowAsym}): a two-row kernel with per-lane
     * zero-points outgrows the JIT's inlining node budget and runs on boxed vectors.
     *
     * @param sc scratch for two rows' scales, {@code 2 × (groupsPerRow + L)} floats
     * @param zc scratch for two rows' zero-points, {@code 2 × (groupsPerRow + L)} floats
     */
    private static void rowsAsym(QuantizedTensor t, MemorySegment codes, float[] xq, int[] lanes, float[] sc,
                                 float[] zc, float[] y, int yOff, int r0, int r1) {
        int cols = t.cols();
        int gpr = t.groupsPerRow();
        int g = cols / gpr;
        int s1 = gpr + L;
        long rowBytes = cols / 2;
        if (g % (8 * L) != 0) {
            for (int r = r0; r < r1; r++) {
                rowScales(t, r, gpr, sc, 0, zc);
                rowAsym(codes, r * rowBytes, xq, cols, g, lanes, sc, zc, y, yOff + r);
            }
            return;
        }
        int h = (r1 - r0) / 2;
        for (int r = r0; r < r0 + h; r++) {
            rowScales(t, r, gpr, sc, 0, zc);
            rowScales(t, r + h, gpr, sc, s1, zc);
            pairAsymWide(codes, r * rowBytes, h * rowBytes, xq, cols, g, sc, zc, s1, y, yOff + r, yOff + r + h);
        }
        if (r0 + 2 * h < r1) {
            int r = r1 - 1;
            rowScales(t, r, gpr, sc, 0, zc);
            rowScales(t, r, gpr, sc, s1, zc);
            pairAsymWide(codes, r * rowBytes, 0, xq, cols, g, sc, zc, s1, y, yOff + r, yOff + r);
        }
    }

    /**
     * Two rows of {@link #rowsAsym} for groups spanning whole blocks, as {@link #pairLutWide}: each block has one
     * zero-point per row, so it is taken out of the codebook once per block ({@code u − z}, exact in FP32) instead
     * of out of every decoded plane; the zero-points {@code zc} are laid out like the scales {@code sc}.
     */
    private static void pairAsymWide(MemorySegment codes, long off, long stride, float[] xq, int cols, int g,
                                     float[] sc, float[] zc, int s1, float[] y, int y0, int y1) {
        FloatVector codebook = IntVector.fromArray(I, INT4_BITS, 0).reinterpretAsFloats();
        FloatVector t0 = FloatVector.zero(F);
        FloatVector t1 = FloatVector.zero(F);
        for (int c = 0; c < cols; c += 8 * L) {
            int gi = c / g;
            IntVector lut0 = codebook.sub(zc[gi]).reinterpretAsInts();
            IntVector lut1 = codebook.sub(zc[s1 + gi]).reinterpretAsInts();
            IntVector v0 = IntVector.fromMemorySegment(I, codes, off + c / 2, LE);
            IntVector v1 = IntVector.fromMemorySegment(I, codes, off + stride + c / 2, LE);
            FloatVector x = FloatVector.fromArray(F, xq, c);
            FloatVector p0 = v0.selectFrom(lut0).reinterpretAsFloats().mul(x);
            FloatVector p1 = v1.selectFrom(lut1).reinterpretAsFloats().mul(x);
            x = FloatVector.fromArray(F, xq, c + L);
            FloatVector q0 = plane(v0, 1, lut0).mul(x);
            FloatVector q1 = plane(v1, 1, lut1).mul(x);
            for (int k = 2; k < 8; k += 2) {
                x = FloatVector.fromArray(F, xq, c + k * L);
                p0 = plane(v0, k, lut0).fma(x, p0);
                p1 = plane(v1, k, lut1).fma(x, p1);
                x = FloatVector.fromArray(F, xq, c + (k + 1) * L);
                q0 = plane(v0, k + 1, lut0).fma(x, q0);
                q1 = plane(v1, k + 1, lut1).fma(x, q1);
            }
            t0 = p0.add(q0).fma(FloatVector.broadcast(F, sc[gi]), t0);
            t1 = p1.add(q1).fma(FloatVector.broadcast(F, sc[s1 + gi]), t1);
        }
        y[y0] = t0.reduceLanes(VectorOperators.ADD);
        y[y1] = t1.reduceLanes(VectorOperators.ADD);
    }

    /**
     * One row of {@link #rowsAsym} at byte offset {@code off} into {@code y[yi]}, for groups smaller than a block:
     * the zero-points vary per lane and are subtracted from every decoded plane.
     */
    private static void rowAsym(MemorySegment codes, long off, float[] xq, int cols, int g, int[] lanes, float[] sc,
                                float[] zc, float[] y, int yi) {
        IntVector laneGroup = IntVector.fromArray(I, lanes, 0);
        IntVector lut = IntVector.fromArray(I, INT4_BITS, 0);
        FloatVector total = FloatVector.zero(F);
        for (int c = 0; c < cols; c += 8 * L) {
            IntVector v = IntVector.fromMemorySegment(I, codes, off + c / 2, LE);
            FloatVector z = blockValues(zc, 0, c, g, laneGroup);
            FloatVector p = v.selectFrom(lut).reinterpretAsFloats().sub(z).mul(FloatVector.fromArray(F, xq, c));
            FloatVector q = plane(v, 1, lut).sub(z).mul(FloatVector.fromArray(F, xq, c + L));
            for (int k = 2; k < 8; k += 2) {
                p = plane(v, k, lut).sub(z).fma(FloatVector.fromArray(F, xq, c + k * L), p);
                q = plane(v, k + 1, lut).sub(z).fma(FloatVector.fromArray(F, xq, c + (k + 1) * L), q);
            }
            total = p.add(q).fma(blockValues(sc, 0, c, g, laneGroup), total);
        }
        y[yi] = total.reduceLanes(VectorOperators.ADD);
    }

    /**
     * The effective scales of row {@code r} into {@code sc[off, off + gpr)} and, for INT4 asymmetric only, its
     * zero-points as floats into {@code zc[off, off + gpr)} ({@code zc} may be {@code null} for the other formats).
     */
    private static void rowScales(QuantizedTensor t, int r, int gpr, float[] sc, int off, float[] zc) {
        long base = (long) r * gpr;
        MemorySegment scales = t.scales();
        switch (t.format().scheme()) {
            case INT4_SYM -> halfToFloat(scales, base, gpr, sc, off, null, 0);
            case INT4_ASYM -> {
                MemorySegment zeros = t.zeros();
                for (int gi = 0; gi < gpr; gi++) {
                    sc[off + gi] = Float.float16ToFloat(scales.getAtIndex(Layouts.I16, base + gi));
                    zc[off + gi] = zeros.get(Layouts.I8, base + gi) & 0xFF;
                }
            }
            default -> {
                if (!t.format().doubleQuant()) {
                    MemorySegment.copy(scales, Layouts.F32, 4 * base, sc, off, gpr);
                } else {
                    for (int gi = 0; gi < gpr; gi++) {
                        sc[off + gi] = t.scale(r, gi);
                    }
                }
            }
        }
    }

    /** NF4 codebook lookup: an int-lane permute of the codebook's bit patterns (one vpermd on AVX-512). */
    private static FloatVector nf4Lookup(IntVector lutBits, ByteVector nibbles) {
        IntVector idx = (IntVector) nibbles.convertShape(VectorOperators.B2I, I, 0);
        return lutBits.rearrange(idx.toShuffle()).reinterpretAsFloats();
    }

    /** Decodes row {@code r} of a 4-bit tensor into {@code out} in the permuted column order of {@link #permute}. */
    private void decode4Permuted(QuantizedTensor t, MemorySegment codes, int r, float[] out) {
        int cols = t.cols();
        int gpr = t.groupsPerRow();
        int g = cols / gpr;
        boolean nf4 = t.format().scheme() == QuantFormat.Scheme.NF4;
        IntVector lut = nf4 ? IntVector.fromArray(I, NF4_BITS, 0) : null;
        long rowOff = (long) r * (cols / 2);
        for (int gi = 0; gi < gpr; gi++) {
            float s = t.scale(r, gi);
            float z = t.zero(r, gi);
            for (int c = gi * g; c < (gi + 1) * g; c += 2 * L) {
                ByteVector bv = ByteVector.fromMemorySegment(B, codes, rowOff + c / 2, LE);
                ByteVector lo = bv.and((byte) 0x0F);
                ByteVector hi = bv.lanewise(VectorOperators.LSHR, 4).and((byte) 0x0F);
                if (nf4) {
                    nf4Lookup(lut, lo).mul(s).intoArray(out, c);
                    nf4Lookup(lut, hi).mul(s).intoArray(out, c + L);
                } else {
                    ((FloatVector) lo.convertShape(VectorOperators.B2F, F, 0)).sub(z).mul(s).intoArray(out, c);
                    ((FloatVector) hi.convertShape(VectorOperators.B2F, F, 0)).sub(z).mul(s).intoArray(out, c + L);
                }
            }
        }
    }
}
