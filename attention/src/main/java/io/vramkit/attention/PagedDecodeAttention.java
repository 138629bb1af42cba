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
 * Decode attention (one new query token per sequence) over a paged KV cache ({@link KvCacheView}), on the CPU.
 *
 * <p>Each sequence's query sits at position {@code contextLens[b] - 1} and sees keys {@code 0 .. contextLens[b]-1}
 * (its own included), narrowed by {@link AttentionParams#windowLeft()} when set; the softcap and scale of the
 * params apply, a block mask is not supported. Keys are found through the sequence's block table; INT8/FP8 codes
 * are dequantized with their per-block, per-head scales inside the kernel, a row at a time.
 *
 * <p><b>GQA packing.</b> One pass over a KV head serves all {@code heads / kvHeads} query heads that share it, so
 * the cache is read once per KV head. Keys and values are taken a chunk of tokens at a time per KV head: scores
 * for the whole chunk, one max/exp/rescale pass per query row, then the value rows with the GQA group's output
 * rows held in registers across the chunk (value scales folded into the probabilities). <b>Split-KV.</b> A long
 * context is cut into splits of {@code splitTokens}
 * keys processed in parallel; each yields a partial (max, sum, unnormalized output) and the partials are merged
 * with a logsumexp merge. Work is spread over (sequence, split, KV heads) on {@link ParallelExecutor}; scratch
 * comes from the {@link MemoryResource} given at construction (viewed as in {@link FlashAttention}: grant native
 * access to this module).
 *
 * <p>Instances are immutable and thread-safe.
 */
public final class PagedDecodeAttention {

    /** Default keys per split. */
    public static final int DEFAULT_SPLIT_TOKENS = 2048;

    private static final MemoryResource SHARED_SCRATCH = new HostMemoryResource();
    private static final int CHUNK = TileOps.PAD * 4;
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;

    private final MemoryResource scratch;
    private final int splitTokens;
    private final TileOps ops;

    /** Decode attention with {@link #DEFAULT_SPLIT_TOKENS} and scratch from a process-wide host resource. */
    public PagedDecodeAttention() {
        this(SHARED_SCRATCH, DEFAULT_SPLIT_TOKENS);
    }

    /**
     * Decode attention with explicit scratch memory and split size.
     *
     * @param scratch     host-accessible resource for per-worker scratch and split partials; not owned
     * @param splitTokens keys per split, >= 1
     * @throws IllegalArgumentException if {@code splitTokens < 1} or the resource is not host-accessible
     */
    public PagedDecodeAttention(MemoryResource scratch, int splitTokens) {
        this(scratch, splitTokens, TileOps.INSTANCE);
    }

    PagedDecodeAttention(MemoryResource scratch, int splitTokens, TileOps ops) {
        Objects.requireNonNull(scratch, "scratch");
        if (!scratch.kind().hostAccessible()) {
            throw new IllegalArgumentException("scratch must be host-accessible, got kind " + scratch.kind());
        }
        if (splitTokens < 1) {
            throw new IllegalArgumentException("splitTokens must be >= 1, got " + splitTokens);
        }
        this.scratch = scratch;
        this.splitTokens = splitTokens;
        this.ops = ops;
    }

    /** Keys per split. */
    public int splitTokens() {
        return splitTokens;
    }

    /**
     * Attends each sequence's query to its cached keys and values.
     *
     * @param q           queries {@code [batch, heads, headDim]}, one token per sequence
     * @param cache       the layer's paged K/V cache
     * @param blockTables per sequence, the physical block of each logical block; at least
     *                    {@code ceil(contextLens[b] / blockSize)} entries are read
     * @param contextLens per sequence, the number of cached tokens (0 gives a zero output)
     * @param params      scale, softcap and left window; {@code null} for defaults
     * @param out         output {@code [batch, heads, headDim]}
     * @return the logsumexp {@code [heads, batch]} when {@link AttentionParams#returnLse()} is set, else
     *         {@code null}
     * @throws IllegalArgumentException if shapes disagree, heads are not a multiple of KV heads, a block table
     *                                  is short or points outside the cache, a context length is negative, or a
     *                                  block mask is given; nothing is written then
     */
    public float[] decode(HeadTensor q, KvCacheView cache, int[][] blockTables, int[] contextLens,
                          AttentionParams params, HeadTensor out) {
        AttentionParams p = params == null ? AttentionParams.defaults() : params;
        Objects.requireNonNull(q, "q");
        Objects.requireNonNull(cache, "cache");
        Objects.requireNonNull(out, "out");
        Objects.requireNonNull(blockTables, "blockTables");
        Objects.requireNonNull(contextLens, "contextLens");
        Validation.checkHeads(q.heads(), cache.kvHeads());
        if (q.headDim() != cache.headDim()) {
            throw new IllegalArgumentException("q.headDim " + q.headDim() + " must equal cache.headDim "
                    + cache.headDim());
        }
        if (!out.sameShape(q)) {
            throw new IllegalArgumentException("out " + out + " must have the shape of q " + q);
        }
        int batch = q.tokens();
        if (contextLens.length != batch) {
            throw new IllegalArgumentException("contextLens.length " + contextLens.length
                    + " must equal the batch (q.tokens) " + batch);
        }
        if (blockTables.length != batch) {
            throw new IllegalArgumentException("blockTables.length " + blockTables.length
                    + " must equal the batch (q.tokens) " + batch);
        }
        if (p.blockMask() != null) {
            throw new IllegalArgumentException("blockMask is not supported by decode attention, got "
                    + p.blockMask());
        }
        int bs = cache.blockSize();
        int[] first = new int[batch];
        int[] splits = new int[batch];
        int[] splitBase = new int[batch + 1];
        for (int b = 0; b < batch; b++) {
            int ctx = contextLens[b];
            if (ctx < 0) {
                throw new IllegalArgumentException("contextLens[" + b + "] must be >= 0, got " + ctx);
            }
            int[] table = blockTables[b];
            int needed = (int) (((long) ctx + bs - 1) / bs);
            if (needed > 0 && (table == null || table.length < needed)) {
                throw new IllegalArgumentException("blockTables[" + b + "] must have at least " + needed
                        + " entries for contextLens[" + b + "] = " + ctx + ", got "
                        + (table == null ? "null" : table.length));
            }
            for (int i = 0; i < needed; i++) {
                if (table[i] < 0 || table[i] >= cache.numBlocks()) {
                    throw new IllegalArgumentException("blockTables[" + b + "][" + i + "] = " + table[i]
                            + " is outside the cache of " + cache.numBlocks() + " blocks");
                }
            }
            first[b] = p.windowLeft() < 0 ? 0 : Math.max(0, ctx - 1 - p.windowLeft());
            splits[b] = ctx == 0 ? 1 : (ctx - first[b] + splitTokens - 1) / splitTokens;
            splitBase[b + 1] = splitBase[b] + splits[b];
        }
        int heads = q.heads();
        int totalSplits = splitBase[batch];
        float[] lse = p.returnLse() ? new float[heads * batch] : null;
        Job job = new Job(q, cache, blockTables, contextLens, p, out, lse, first, splits, splitBase);
        int kvHeads = cache.kvHeads();
        boolean anySplit = totalSplits > batch;
        Buffer partials = anySplit ? Buffer.allocate(scratch, (long) totalSplits * heads * job.partialStride * 4L)
                : null;
        try {
            MemorySegment part = partials == null ? null : Scratch.view(partials);
            int[] itemSeq = new int[totalSplits];
            int[] itemSplit = new int[totalSplits];
            for (int b = 0; b < batch; b++) {
                for (int s = 0; s < splits[b]; s++) {
                    itemSeq[splitBase[b] + s] = b;
                    itemSplit[splitBase[b] + s] = s;
                }
            }
            // Items cover all KV heads of a split when there are enough splits, so that each token's K and V rows
            // (all heads, contiguous in the layout) are read in one sweep; otherwise KV heads are shared out too.
            int parts = totalSplits >= 2 * ParallelExecutor.THREADS ? 1
                    : Math.min(kvHeads, (2 * ParallelExecutor.THREADS + totalSplits - 1) / totalSplits);
            int perPart = (kvHeads + parts - 1) / parts;
            int kvParts = (kvHeads + perPart - 1) / perPart;
            ParallelExecutor.parallelFor(0, totalSplits * kvParts, 1, (from, to) -> job.run(from, to, kvParts,
                    perPart, itemSeq, itemSplit, part));
            if (anySplit) {
                ParallelExecutor.parallelFor(0, batch * heads, 16, (from, to) -> job.merge(from, to, part));
            }
        } finally {
            if (partials != null) {
                partials.close();
            }
        }
        return lse;
    }

    /**
     * Decode over per-sequence rolling buffers ({@link RollingKvLayout}): each sequence's buffer is one cache
     * block of {@code window} slots, and the query attends to the last {@code min(length, window)} positions.
     * Softmax is invariant under a permutation of the keys, so slots are read in slot order.
     *
     * @param blocks  per sequence, the cache block holding its rolling buffer
     * @param lengths per sequence, tokens written so far (positions {@code 0 .. length-1})
     * @param params  scale and softcap; the window must be unbounded or at least {@code window - 1} on the left
     * @throws IllegalArgumentException if the cache's block size is not the layout's window, or an argument is out
     *                                  of range (see {@link #decode})
     */
    public float[] decodeRolling(HeadTensor q, KvCacheView cache, RollingKvLayout layout, int[] blocks,
                                 long[] lengths, AttentionParams params, HeadTensor out) {
        AttentionParams p = params == null ? AttentionParams.defaults() : params;
        Objects.requireNonNull(layout, "layout");
        Objects.requireNonNull(blocks, "blocks");
        Objects.requireNonNull(lengths, "lengths");
        Objects.requireNonNull(cache, "cache");
        if (cache.blockSize() != layout.window()) {
            throw new IllegalArgumentException("cache.blockSize " + cache.blockSize()
                    + " must equal the rolling window " + layout.window());
        }
        if (p.windowLeft() >= 0 && p.windowLeft() < layout.window() - 1) {
            throw new IllegalArgumentException("windowLeft " + p.windowLeft()
                    + " must be -1 or >= window-1 = " + (layout.window() - 1) + " over a rolling buffer");
        }
        if (blocks.length != lengths.length) {
            throw new IllegalArgumentException("blocks.length " + blocks.length + " must equal lengths.length "
                    + lengths.length);
        }
        int[][] tables = new int[blocks.length][];
        int[] ctx = new int[blocks.length];
        for (int b = 0; b < blocks.length; b++) {
            tables[b] = new int[] {blocks[b]};
            if (lengths[b] < 0) {
                throw new IllegalArgumentException("lengths[" + b + "] must be >= 0, got " + lengths[b]);
            }
            ctx[b] = layout.validSlots(lengths[b]);
        }
        return decode(q, cache, tables, ctx, p.toBuilder().window(-1, -1).build(), out);
    }

    private final class Job {
        private final HeadTensor q;
        private final KvCacheView cache;
        private final int[][] tables;
        private final int[] ctx;
        private final HeadTensor out;
        private final float[] lse;
        private final int[] first;
        private final int[] splits;
        private final int[] splitBase;
        private final int group;
        private final int d;
        private final int dP;
        private final float scale;
        private final float softcap;
        final int partialStride;
        // Scratch layout (floats), for up to all query heads: Q [heads, dP], row [dP], S [heads, CHUNK],
        // O [heads, dP], M [heads], L [heads].
        private final int offRow;
        private final int offS;
        private final int offO;
        private final int offM;
        private final int offL;
        private final int floats;

        Job(HeadTensor q, KvCacheView cache, int[][] tables, int[] ctx, AttentionParams p, HeadTensor out,
            float[] lse, int[] first, int[] splits, int[] splitBase) {
            this.q = q;
            this.cache = cache;
            this.tables = tables;
            this.ctx = ctx;
            this.out = out;
            this.lse = lse;
            this.first = first;
            this.splits = splits;
            this.splitBase = splitBase;
            this.group = q.heads() / cache.kvHeads();
            this.d = q.headDim();
            this.dP = TileOps.pad(d);
            this.scale = p.scaleFor(d);
            this.softcap = p.softcap();
            this.partialStride = dP + 2;
            int heads = q.heads();
            this.offRow = heads * dP;
            this.offS = offRow + dP;
            this.offO = offS + heads * CHUNK;
            this.offM = offO + heads * dP;
            this.offL = offM + heads;
            this.floats = TileOps.pad(offL + heads);
        }

        void run(int from, int to, int kvParts, int perPart, int[] itemSeq, int[] itemSplit, MemorySegment part) {
            try (Buffer buf = Buffer.allocate(scratch, floats * 4L)) {
                MemorySegment w = Scratch.view(buf);
                w.fill((byte) 0);
                for (int item = from; item < to; item++) {
                    int split = item / kvParts;
                    int kv0 = (item % kvParts) * perPart;
                    item(w, itemSeq[split], itemSplit[split], kv0, Math.min(cache.kvHeads(), kv0 + perPart), part);
                }
            }
        }

        /** One split of one sequence, for KV heads {@code kv0 .. kv1-1} and their query heads (local rows). */
        private void item(MemorySegment w, int b, int split, int kv0, int kv1, MemorySegment part) {
            int h0 = kv0 * group;
            int rows = (kv1 - kv0) * group;
            for (int r = 0; r < rows; r++) {
                q.readRow(ops, b, h0 + r, scale, w, r * dP);
                w.setAtIndex(F, offM + r, Float.NEGATIVE_INFINITY);
                w.setAtIndex(F, offL + r, 0f);
            }
            w.asSlice(offO * 4L, (long) rows * dP * 4L).fill((byte) 0);
            int lo = first[b] + split * splitTokens;
            int hi = Math.min(ctx[b], lo + splitTokens);
            int[] table = tables[b];
            int bs = cache.blockSize();
            MemorySegment keys = cache.keys();
            MemorySegment values = cache.values();
            float[] fp8 = cache.fp8Table();
            boolean scaled = cache.quantized();
            // Batched per-KV-head rows measured faster for FP32 only; narrower types keep the per-token sweep
            // over all KV heads of a row.
            boolean batched = cache.type() == io.vramkit.core.DType.FP32;
            long[] offs = new long[CHUNK];
            float[] kScales = new float[CHUNK];
            for (int c0 = lo; c0 < hi; c0 += CHUNK) {
                int n = Math.min(CHUNK, hi - c0);
                if (!batched) {
                for (int j = 0; j < n; j++) {
                    int t = c0 + j;
                    int block = table[t / bs];
                    for (int kvh = kv0; kvh < kv1; kvh++) {
                        int r0 = (kvh - kv0) * group;
                        ops.scores(keys, cache.rowOffset(block, t % bs, kvh), cache.type(),
                                cache.keyScale(block, kvh), fp8, w, offRow, r0 * dP, dP, group, d,
                                offS + r0 * CHUNK + j, CHUNK);
                    }
                }
                } else {
                for (int kvh = kv0; kvh < kv1; kvh++) {
                    int r0 = (kvh - kv0) * group;
                    for (int j = 0; j < n; j++) {
                        int t = c0 + j;
                        int block = table[t / bs];
                        offs[j] = cache.rowOffset(block, t % bs, kvh);
                        kScales[j] = scaled ? cache.keyScale(block, kvh) : 1f;
                    }
                    ops.scoresRows(keys, offs, kScales, n, cache.type(), fp8, w, offRow, r0 * dP, dP, group, d,
                            offS + r0 * CHUNK, CHUNK);
                }
                }
                for (int r = 0; r < rows; r++) {
                    int si = offS + r * CHUNK;
                    if (softcap > 0f) {
                        for (int j = 0; j < n; j++) {
                            float s = w.getAtIndex(F, si + j);
                            w.setAtIndex(F, si + j, softcap * (float) Math.tanh(s / softcap));
                        }
                    }
                    for (int j = n; j < CHUNK; j++) {
                        w.setAtIndex(F, si + j, Float.NEGATIVE_INFINITY);
                    }
                    float mOld = w.getAtIndex(F, offM + r);
                    float mNew = Math.max(mOld, ops.max(w, si, CHUNK));
                    float sum = ops.expSub(w, si, CHUNK, mNew);
                    float alpha = mOld == Float.NEGATIVE_INFINITY ? 0f : (float) Math.exp(mOld - mNew);
                    w.setAtIndex(F, offL + r, w.getAtIndex(F, offL + r) * alpha + sum);
                    if (alpha != 1f) {
                        ops.scale(w, offO + r * dP, dP, alpha);
                    }
                    w.setAtIndex(F, offM + r, mNew);
                }
                if (!batched) {
                for (int j = 0; j < n; j++) {
                    int t = c0 + j;
                    int block = table[t / bs];
                    for (int kvh = kv0; kvh < kv1; kvh++) {
                        int r0 = (kvh - kv0) * group;
                        ops.accumulate(values, cache.rowOffset(block, t % bs, kvh), cache.type(),
                                cache.valueScale(block, kvh), fp8, w, offRow, offS + r0 * CHUNK + j, CHUNK, group,
                                offO + r0 * dP, dP, d);
                    }
                }
                } else {
                for (int kvh = kv0; kvh < kv1; kvh++) {
                    int r0 = (kvh - kv0) * group;
                    for (int j = 0; j < n; j++) {
                        int t = c0 + j;
                        int block = table[t / bs];
                        offs[j] = cache.rowOffset(block, t % bs, kvh);
                        if (scaled) {
                            // The value scale is folded into the probabilities (after their sum was taken), so
                            // the value rows are read as raw codes.
                            float vs = cache.valueScale(block, kvh);
                            for (int r = r0; r < r0 + group; r++) {
                                long idx = offS + (long) r * CHUNK + j;
                                w.setAtIndex(F, idx, w.getAtIndex(F, idx) * vs);
                            }
                        }
                    }
                    ops.accumulateRows(values, offs, n, cache.type(), fp8, w, offRow, offS + r0 * CHUNK, CHUNK,
                            group, offO + r0 * dP, dP, d);
                }
                }
            }
            int heads = q.heads();
            for (int r = 0; r < rows; r++) {
                int h = h0 + r;
                float m = w.getAtIndex(F, offM + r);
                float l = w.getAtIndex(F, offL + r);
                if (splits[b] > 1) {
                    long base = ((long) (splitBase[b] + split) * heads + h) * partialStride;
                    part.setAtIndex(F, base, m);
                    part.setAtIndex(F, base + 1, l);
                    MemorySegment.copy(w, (offO + (long) r * dP) * 4L, part, (base + 2) * 4L, d * 4L);
                } else {
                    finish(b, h, m, l, w, offO + r * dP);
                }
            }
        }

        private void finish(int b, int h, float m, float l, MemorySegment src, int srcIdx) {
            if (l == 0f) {
                out.zeroRow(b, h);
                if (lse != null) {
                    lse[h * q.tokens() + b] = Float.NEGATIVE_INFINITY;
                }
            } else {
                out.writeRow(b, h, 1f / l, src, srcIdx);
                if (lse != null) {
                    lse[h * q.tokens() + b] = m + (float) Math.log(l);
                }
            }
        }

        /** Logsumexp merge of the split partials of rows {@code (b, h)} in {@code [from, to)}. */
        void merge(int from, int to, MemorySegment part) {
            int heads = q.heads();
            try (Buffer buf = Buffer.allocate(scratch, (long) dP * 4L)) {
                MemorySegment acc = Scratch.view(buf);
                for (int r = from; r < to; r++) {
                    int b = r / heads;
                    int h = r % heads;
                    if (splits[b] <= 1) {
                        continue;
                    }
                    float mMax = Float.NEGATIVE_INFINITY;
                    for (int s = 0; s < splits[b]; s++) {
                        mMax = Math.max(mMax, part.getAtIndex(F, ((long) (splitBase[b] + s) * heads + h)
                                * partialStride));
                    }
                    acc.fill((byte) 0);
                    float lSum = 0f;
                    if (mMax != Float.NEGATIVE_INFINITY) {
                        for (int s = 0; s < splits[b]; s++) {
                            long base = ((long) (splitBase[b] + s) * heads + h) * partialStride;
                            float m = part.getAtIndex(F, base);
                            if (m == Float.NEGATIVE_INFINITY) {
                                continue;
                            }
                            float f = (float) Math.exp(m - mMax);
                            lSum += f * part.getAtIndex(F, base + 1);
                            for (int c = 0; c < d; c++) {
                                acc.setAtIndex(F, c, Math.fma(f, part.getAtIndex(F, base + 2 + c),
                                        acc.getAtIndex(F, c)));
                            }
                        }
                    }
                    finish(b, h, mMax, lSum, acc, 0);
                }
            }
        }
    }

    @Override
    public String toString() {
        return "PagedDecodeAttention[splitTokens=" + splitTokens + ", ops=" + ops.getClass().getSimpleName() + "]";
    }
}
