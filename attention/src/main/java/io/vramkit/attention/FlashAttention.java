package io.vramkit.attention;

import io.vramkit.attention.internal.TileOps;
import io.vramkit.core.cpu.ParallelExecutor;
import io.vramkit.core.memory.Buffer;
import io.vramkit.core.memory.HostMemoryResource;
import io.vramkit.core.memory.MemoryResource;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;

/**
 * Flash-attention forward pass (prefill) on the CPU: tiled, with an online softmax and FP32 accumulation, so that
 * working memory is bounded by the tile sizes and never by the sequence length (Dao et al. 2022, FlashAttention-2
 * loop order: each worker owns a query tile and streams key/value tiles past it).
 *
 * <p>Inputs are packed variable-length batches {@code [tokens, heads, headDim]} ({@link HeadTensor}) delimited by
 * cumulative offsets {@code cuSeqlensQ} and {@code cuSeqlensK} (length {@code batch + 1}, starting at 0,
 * non-decreasing, ending at the token count), as FlashAttention's varlen API. Query heads must be a multiple of
 * key/value heads (GQA; MQA when there is one KV head): query head {@code h} reads KV head
 * {@code h / (heads / kvHeads)}. Masks, scale, softcap and logsumexp follow {@link AttentionParams}.
 *
 * <p>Work is split over (sequence, query tile, KV head) on {@link ParallelExecutor}; the query heads of a GQA
 * group share each key/value tile that is loaded. Each parallel chunk takes one
 * scratch buffer of {@link #scratchBytes(int, int, int, int)} from the {@link MemoryResource} given at construction and returns it
 * when done; the hot loops allocate nothing. The scratch is viewed through a restricted
 * {@code MemorySegment.reinterpret} (no shared arena, whose close would stop every thread), so the JVM should grant
 * native access to this module ({@code --enable-native-access=io.vramkit.attention}, or {@code ALL-UNNAMED} on the
 * class path); without it the JDK prints a warning once. Kernels come from the Vector API when available (see
 * {@link io.vramkit.core.cpu.VectorSupport}), with a scalar fallback.
 *
 * <p>Instances are immutable and thread-safe; concurrent calls each take their own scratch.
 *
 * {@snippet :
 * var attention = new FlashAttention();
 * var params = AttentionParams.builder().causal(true).build();
 * attention.forward(HeadTensor.of(q, n, 32, 128), HeadTensor.of(k, n, 8, 128), HeadTensor.of(v, n, 8, 128),
 *         new int[] {0, n}, new int[] {0, n}, params, HeadTensor.of(out, n, 32, 128));
 * }
 */
public final class FlashAttention {

    /** Default query tile, in tokens. */
    public static final int DEFAULT_BLOCK_Q = 64;
    /** Default key/value tile, in tokens. */
    public static final int DEFAULT_BLOCK_K = 64;

    private static final MemoryResource SHARED_SCRATCH = new HostMemoryResource();

    private final MemoryResource scratch;
    private final int blockQ;
    private final int blockK;
    private final TileOps ops;

    /** Flash attention with default tiles and scratch from a process-wide {@link HostMemoryResource}. */
    public FlashAttention() {
        this(SHARED_SCRATCH, DEFAULT_BLOCK_Q, DEFAULT_BLOCK_K);
    }

    /**
     * Flash attention with explicit scratch memory and tile sizes.
     *
     * @param scratch host-accessible resource the per-worker tile scratch is taken from; not owned (not closed)
     * @param blockQ  query tile, 1..256 tokens
     * @param blockK  key/value tile, 1..512 tokens
     * @throws IllegalArgumentException if a tile size is out of range or the resource is not host-accessible
     */
    public FlashAttention(MemoryResource scratch, int blockQ, int blockK) {
        this(scratch, blockQ, blockK, TileOps.INSTANCE);
    }

    FlashAttention(MemoryResource scratch, int blockQ, int blockK, TileOps ops) {
        Objects.requireNonNull(scratch, "scratch");
        if (!scratch.kind().hostAccessible()) {
            throw new IllegalArgumentException("scratch must be host-accessible, got kind " + scratch.kind());
        }
        if (blockQ < 1 || blockQ > 256) {
            throw new IllegalArgumentException("blockQ must be in 1..256, got " + blockQ);
        }
        if (blockK < 1 || blockK > 512) {
            throw new IllegalArgumentException("blockK must be in 1..512, got " + blockK);
        }
        this.scratch = scratch;
        this.blockQ = blockQ;
        this.blockK = blockK;
        this.ops = ops;
    }

    /** The query tile in tokens. */
    public int blockQ() {
        return blockQ;
    }

    /** The key/value tile in tokens. */
    public int blockK() {
        return blockK;
    }

    /**
     * Scratch bytes one worker takes for a head dimension and tile sizes: the Q, K<sup>T</sup>, V, score and
     * output tiles plus per-row statistics, padded to 16-float vectors. Independent of sequence length.
     */
    public static long scratchBytes(int headDim, int blockQ, int blockK) {
        return scratchBytes(headDim, blockQ, blockK, 1);
    }

    /**
     * Scratch bytes one worker takes when {@code group} query heads share each KV head (GQA): the key and value
     * tiles are loaded once for the group, the query and output tiles are kept per head.
     */
    public static long scratchBytes(int headDim, int blockQ, int blockK, int group) {
        return Layout.of(headDim, blockQ, blockK, group).floats * 4L;
    }

    /**
     * Computes {@code out = softmax(mask(scale · q kᵀ)) v} for every sequence and query head.
     *
     * @param q          queries {@code [totalQ, heads, headDim]}
     * @param k          keys {@code [totalK, kvHeads, headDim]}
     * @param v          values {@code [totalK, kvHeads, headDim]}
     * @param cuSeqlensQ cumulative query offsets, length {@code batch + 1}
     * @param cuSeqlensK cumulative key offsets, length {@code batch + 1}
     * @param params     options; {@code null} for {@link AttentionParams#defaults()}
     * @param out        output {@code [totalQ, heads, headDim]}, written in full; must not alias the inputs
     * @return the logsumexp {@code [heads, totalQ]} (natural log, {@code -Infinity} for rows that see no key) when
     *         {@link AttentionParams#returnLse()} is set, else {@code null}; a new array owned by the caller
     * @throws IllegalArgumentException if shapes disagree, heads are not a multiple of KV heads, offsets are not
     *                                  monotonic or do not match the token counts, or the block mask is too small;
     *                                  nothing is written then
     * @throws io.vramkit.core.memory.OutOfMemoryException if the scratch resource cannot supply the tiles
     */
    public float[] forward(HeadTensor q, HeadTensor k, HeadTensor v, int[] cuSeqlensQ, int[] cuSeqlensK,
                           AttentionParams params, HeadTensor out) {
        AttentionParams p = params == null ? AttentionParams.defaults() : params;
        Objects.requireNonNull(q, "q");
        Objects.requireNonNull(k, "k");
        Objects.requireNonNull(v, "v");
        Objects.requireNonNull(out, "out");
        Validation.checkHeads(q.heads(), k.heads());
        if (k.headDim() != q.headDim()) {
            throw new IllegalArgumentException("k.headDim " + k.headDim() + " must equal q.headDim " + q.headDim());
        }
        if (!v.sameShape(k)) {
            throw new IllegalArgumentException("v " + v + " must have the shape of k " + k);
        }
        if (!out.sameShape(q)) {
            throw new IllegalArgumentException("out " + out + " must have the shape of q " + q);
        }
        int batch = Validation.checkCuSeqlens("cuSeqlensQ", cuSeqlensQ, q.tokens(), -1);
        Validation.checkCuSeqlens("cuSeqlensK", cuSeqlensK, k.tokens(), batch);
        BlockMask mask = p.blockMask();
        int tileQ = blockQ;
        int tileK = blockK;
        if (mask != null) {
            int maxQ = 0;
            int maxK = 0;
            for (int b = 0; b < batch; b++) {
                maxQ = Math.max(maxQ, cuSeqlensQ[b + 1] - cuSeqlensQ[b]);
                maxK = Math.max(maxK, cuSeqlensK[b + 1] - cuSeqlensK[b]);
            }
            if ((long) mask.rowBlocks() * mask.rowBlock() < maxQ || (long) mask.colBlocks() * mask.colBlock() < maxK) {
                throw new IllegalArgumentException("blockMask " + mask + " does not cover the longest sequence ("
                        + maxQ + " queries, " + maxK + " keys)");
            }
            // Tiles divide the mask blocks, so each (query tile, key tile) lies in exactly one mask block.
            tileQ = largestDivisorAtMost(mask.rowBlock(), blockQ);
            tileK = largestDivisorAtMost(mask.colBlock(), blockK);
        }
        float[] lse = p.returnLse() ? new float[q.heads() * q.tokens()] : null;

        int tiles = 0;
        for (int b = 0; b < batch; b++) {
            tiles += (cuSeqlensQ[b + 1] - cuSeqlensQ[b] + tileQ - 1) / tileQ;
        }
        int[] tileSeq = new int[tiles];
        int[] tileStart = new int[tiles];
        int t = 0;
        for (int b = 0; b < batch; b++) {
            int lq = cuSeqlensQ[b + 1] - cuSeqlensQ[b];
            for (int r0 = 0; r0 < lq; r0 += tileQ) {
                tileSeq[t] = b;
                tileStart[t++] = r0;
            }
        }
        Job job = new Job(q, k, v, out, cuSeqlensQ, cuSeqlensK, p, lse, tileSeq, tileStart, tileQ, tileK);
        int heads = q.heads();
        // One item per (query tile, KV head): the group's query heads share each loaded key/value tile.
        int kvHeads = k.heads();
        ParallelExecutor.parallelFor(0, tiles * kvHeads, 1, (from, to) -> job.run(from, to, kvHeads));
        return lse;
    }

    private static int largestDivisorAtMost(int n, int max) {
        for (int d = Math.min(n, max); d > 1; d--) {
            if (n % d == 0) {
                return d;
            }
        }
        return 1;
    }

    /** Float offsets of the tiles inside one worker's scratch. */
    /** Q, O, m and l are kept for each of the {@code g} heads of a KV group: head {@code gi} at {@code +gi·stride}. */
    private record Layout(int d, int dP, int br, int br4, int bc, int bcP, int g, int q, int kt, int v, int s, int o,
                          int m, int l, int tmp, int floats) {
        static Layout of(int d, int br, int bc, int g) {
            int dP = TileOps.pad(d);
            int bcP = TileOps.pad(bc);
            int br4 = (br + 3) / 4 * 4;
            int q = 0;
            int kt = q + g * br4 * dP;
            int v = kt + d * bcP;
            int s = v + bcP * dP;
            int o = s + br4 * bcP;
            int m = o + g * br4 * dP;
            int l = m + g * br4;
            int tmp = l + g * br4;
            int floats = tmp + dP;
            return new Layout(d, dP, br, br4, bc, bcP, g, q, kt, v, s, o, m, l, tmp, TileOps.pad(floats));
        }

        int tileStride() {
            return br4 * dP;
        }
    }

    private final class Job {
        private final HeadTensor q;
        private final HeadTensor k;
        private final HeadTensor v;
        private final HeadTensor out;
        private final int[] cuQ;
        private final int[] cuK;
        private final AttentionParams p;
        private final float[] lse;
        private final int[] tileSeq;
        private final int[] tileStart;
        private final Layout lay;
        private final int group;
        private final float scale;
        private final float softcap;
        private final BlockMask mask;
        // FP32 heap arrays behind q, k, v and out (null for segment-backed tensors): read and written with vector
        // loads, stores and gathers instead of one row copy at a time.
        private final float[] qa;
        private final float[] ka;
        private final float[] va;
        private final float[] oa;

        Job(HeadTensor q, HeadTensor k, HeadTensor v, HeadTensor out, int[] cuQ, int[] cuK, AttentionParams p,
            float[] lse, int[] tileSeq, int[] tileStart, int tileQ, int tileK) {
            this.q = q;
            this.k = k;
            this.v = v;
            this.out = out;
            this.cuQ = cuQ;
            this.cuK = cuK;
            this.p = p;
            this.lse = lse;
            this.tileSeq = tileSeq;
            this.tileStart = tileStart;
            this.lay = Layout.of(q.headDim(), tileQ, tileK, q.heads() / k.heads());
            this.group = q.heads() / k.heads();
            this.scale = p.scaleFor(q.headDim());
            this.softcap = p.softcap();
            this.mask = p.blockMask();
            this.qa = q.array();
            this.ka = k.array();
            this.va = v.array();
            this.oa = out.array();
        }

        void run(int from, int to, int kvHeads) {
            try (Buffer buf = Buffer.allocate(scratch, lay.floats * 4L)) {
                MemorySegment w = Scratch.view(buf);
                w.fill((byte) 0);
                int[] lo = new int[lay.br];
                int[] hi = new int[lay.br];
                int[] rowOffsets = new int[lay.bcP];
                for (int item = from; item < to; item++) {
                    tile(w, tileSeq[item / kvHeads], tileStart[item / kvHeads], item % kvHeads, lo, hi, rowOffsets);
                }
            }
        }

        private void tile(MemorySegment w, int b, int r0, int kvh, int[] lo, int[] hi, int[] rowOffsets) {
            final Layout y = lay;
            int qs = cuQ[b];
            int lq = cuQ[b + 1] - qs;
            int ks = cuK[b];
            int lk = cuK[b + 1] - ks;
            int rows = Math.min(y.br, lq - r0);
            int h0 = kvh * group;
            int ts = y.tileStride();
            long offset = (long) lk - lq;
            int wl = p.windowLeft();
            int wr = p.windowRight();
            int minLo = Integer.MAX_VALUE;
            int maxHi = Integer.MIN_VALUE;
            int maxLo = Integer.MIN_VALUE;
            int minHi = Integer.MAX_VALUE;
            for (int i = 0; i < rows; i++) {
                long pos = r0 + i + offset;
                long a = wl < 0 ? 0 : Math.max(0, pos - wl);
                long z = lk - 1;
                if (p.causal()) {
                    z = Math.min(z, pos);
                }
                if (wr >= 0) {
                    z = Math.min(z, pos + wr);
                }
                lo[i] = (int) Math.min(a, Integer.MAX_VALUE);
                hi[i] = (int) Math.max(z, -1);
                if (lo[i] <= hi[i]) {
                    minLo = Math.min(minLo, lo[i]);
                    maxHi = Math.max(maxHi, hi[i]);
                }
                maxLo = Math.max(maxLo, lo[i]);
                minHi = Math.min(minHi, hi[i]);
            }
            int d = y.d;
            int dP = y.dP;
            int bcP = y.bcP;
            for (int gi = 0; gi < group; gi++) {
                int qb = y.q + gi * ts;
                if (rows < y.br4) {
                    w.asSlice((qb + (long) rows * dP) * 4L, (long) (y.br4 - rows) * dP * 4L).fill((byte) 0);
                }
                for (int i = 0; i < rows; i++) {
                    if (qa != null) {
                        ops.loadArray(qa, ((qs + r0 + i) * q.heads() + h0 + gi) * d, scale, w, qb + i * dP, d);
                    } else {
                        q.readRow(ops, qs + r0 + i, h0 + gi, scale, w, qb + i * dP);
                    }
                    w.setAtIndex(ValueLayout.JAVA_FLOAT, y.m + gi * y.br4 + i, Float.NEGATIVE_INFINITY);
                    w.setAtIndex(ValueLayout.JAVA_FLOAT, y.l + gi * y.br4 + i, 0f);
                }
            }
            w.asSlice(y.o * 4L, (long) group * ts * 4L).fill((byte) 0);
            int maskRow = mask == null ? 0 : r0 / mask.rowBlock();
            if (minLo <= maxHi) {
                for (int kt = minLo / y.bc; kt <= maxHi / y.bc; kt++) {
                    int k0 = kt * y.bc;
                    if (mask != null && !mask.allowed(maskRow, k0 / mask.colBlock())) {
                        continue;
                    }
                    int valid = Math.min(y.bc, lk - k0);
                    // Scores and softmax run over the valid keys padded to whole vectors, not the full tile: short
                    // sequences (an encoder's 5-60 tokens) would otherwise pay for a mostly empty 64-key tile.
                    int width = TileOps.pad(valid);
                    if (ka != null) {
                        // Key row j of the tile, relative to row 0; past the valid rows, row 0 again (in bounds for
                        // the gather, masked off).
                        int stride = k.heads() * d;
                        for (int j = 0; j < width; j++) {
                            rowOffsets[j] = j < valid ? j * stride : 0;
                        }
                        ops.loadTransposed(ka, ((ks + k0) * k.heads() + kvh) * d, rowOffsets, valid, d, w, y.kt,
                                bcP);
                    } else {
                        for (int j = 0; j < valid; j++) {
                            k.readRow(ops, ks + k0 + j, kvh, 1f, w, y.tmp);
                            for (int c = 0; c < d; c++) {
                                w.setAtIndex(ValueLayout.JAVA_FLOAT, y.kt + c * bcP + j,
                                        w.getAtIndex(ValueLayout.JAVA_FLOAT, y.tmp + c));
                            }
                        }
                        if (valid < width) {
                            for (int c = 0; c < d; c++) {
                                w.asSlice((y.kt + (long) c * bcP + valid) * 4L, (long) (width - valid) * 4L)
                                        .fill((byte) 0);
                            }
                        }
                    }
                    for (int j = 0; j < valid; j++) {
                        if (va != null) {
                            ops.loadArray(va, ((ks + k0 + j) * v.heads() + kvh) * d, 1f, w, y.v + j * dP, d);
                        } else {
                            v.readRow(ops, ks + k0 + j, kvh, 1f, w, y.v + j * dP);
                        }
                    }
                    boolean full = maxLo <= k0 && minHi >= k0 + valid - 1;
                    for (int gi = 0; gi < group; gi++) {
                        ops.qkT(w, y.q + gi * ts, dP, y.kt, bcP, y.s, bcP, rows, d, width);
                        for (int i = 0; i < rows; i++) {
                            softmaxRow(w, gi, i, k0, valid, width, full, lo[i], hi[i]);
                        }
                        ops.pv(w, y.s, bcP, y.v, dP, y.o + gi * ts, dP, rows, valid, dP);
                    }
                }
            }
            int totalQ = q.tokens();
            for (int gi = 0; gi < group; gi++) {
                int h = h0 + gi;
                for (int i = 0; i < rows; i++) {
                    float l = w.getAtIndex(ValueLayout.JAVA_FLOAT, y.l + gi * y.br4 + i);
                    int token = qs + r0 + i;
                    if (l == 0f) {
                        out.zeroRow(token, h);
                        if (lse != null) {
                            lse[h * totalQ + token] = Float.NEGATIVE_INFINITY;
                        }
                    } else {
                        if (oa != null) {
                            ops.storeArray(w, y.o + gi * ts + i * dP, 1f / l, oa, (token * q.heads() + h) * d, d);
                        } else {
                            out.writeRow(token, h, 1f / l, w, y.o + gi * ts + i * dP);
                        }
                        if (lse != null) {
                            lse[h * totalQ + token] = w.getAtIndex(ValueLayout.JAVA_FLOAT, y.m + gi * y.br4 + i)
                                    + (float) Math.log(l);
                        }
                    }
                }
            }
        }

        /**
         * Online-softmax update of one score row (Milakov & Gimelshein 2018): rescale the running sums. The row
         * holds {@code width} scores (the valid keys padded to whole vectors); those past the last visible key are
         * masked to {@code -Infinity}.
         */
        private void softmaxRow(MemorySegment w, int gi, int i, int k0, int valid, int width, boolean full, int lo,
                                int hi) {
            final Layout y = lay;
            int si = y.s + i * y.bcP;
            if (softcap > 0f) {
                for (int j = 0; j < valid; j++) {
                    float s = w.getAtIndex(ValueLayout.JAVA_FLOAT, si + j);
                    w.setAtIndex(ValueLayout.JAVA_FLOAT, si + j, softcap * (float) Math.tanh(s / softcap));
                }
            }
            int first = full ? 0 : Math.max(0, lo - k0);
            int last = full ? valid - 1 : Math.min(valid - 1, hi - k0);
            if (first > last) {
                // No visible key in this tile: a zero probability row adds nothing in pv.
                w.asSlice(si * 4L, width * 4L).fill((byte) 0);
                return;
            }
            for (int j = 0; j < first; j++) {
                w.setAtIndex(ValueLayout.JAVA_FLOAT, si + j, Float.NEGATIVE_INFINITY);
            }
            for (int j = last + 1; j < width; j++) {
                w.setAtIndex(ValueLayout.JAVA_FLOAT, si + j, Float.NEGATIVE_INFINITY);
            }
            float rowMax = ops.max(w, si, width);
            int mi = y.m + gi * y.br4 + i;
            int li = y.l + gi * y.br4 + i;
            float mOld = w.getAtIndex(ValueLayout.JAVA_FLOAT, mi);
            float mNew = Math.max(mOld, rowMax);
            float sum = ops.expSub(w, si, width, mNew);
            float alpha = mOld == Float.NEGATIVE_INFINITY ? 0f : (float) Math.exp(mOld - mNew);
            float l = w.getAtIndex(ValueLayout.JAVA_FLOAT, li);
            w.setAtIndex(ValueLayout.JAVA_FLOAT, li, l * alpha + sum);
            // While the row has seen no key (mOld = -Infinity) its output row is still all zeros: nothing to rescale.
            if (alpha != 1f && mOld != Float.NEGATIVE_INFINITY) {
                ops.scale(w, y.o + gi * y.tileStride() + i * y.dP, y.dP, alpha);
            }
            w.setAtIndex(ValueLayout.JAVA_FLOAT, mi, mNew);
        }
    }

    @Override
    public String toString() {
        return "FlashAttention[blockQ=" + blockQ + ", blockK=" + blockK + ", ops=" + ops.getClass().getSimpleName()
                + "]";
    }
}
