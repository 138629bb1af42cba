package io.vramkit.attention;

import io.vramkit.attention.internal.DecodeKernel;
import io.vramkit.attention.internal.DecodeProblem;
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
 * are dequantized with their per-block, per-head scales inside the kernel.
 *
 * <p><b>GQA packing.</b> One pass over a KV head serves all {@code heads / kvHeads} query heads that share it, so
 * the cache is read once per KV head. Tokens are taken a tile (16 with AVX-512) at a time: each K row is loaded
 * and widened once for 4 query heads at a time, the tile's scores land in one vector per head for a vectorized
 * online softmax, then each V row is loaded once for 4 query heads whose output vectors stay in registers across
 * the tile (key and value scales folded into the scores and probabilities). <b>Split-KV.</b> The visible keys of a
 * sequence are cut into splits of at most {@code splitTokens} keys, and into more, shorter splits (not below 256
 * keys) when the batch is too small to keep every thread busy; each split yields a partial (max, sum, unnormalized
 * output) and the partials are merged with a logsumexp merge. Work is spread over (sequence, split, KV heads) on
 * {@link ParallelExecutor}; scratch comes from the {@link MemoryResource} given at construction (viewed as in
 * {@link FlashAttention}: grant native access to this module).
 *
 * <p>Instances are immutable and thread-safe.
 */
public final class PagedDecodeAttention {

    /** Default keys per split. */
    public static final int DEFAULT_SPLIT_TOKENS = 2048;

    private static final MemoryResource SHARED_SCRATCH = new HostMemoryResource();
    private static final int MIN_SPLIT_TOKENS = 256;
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;

    private final MemoryResource scratch;
    private final int splitTokens;
    private final DecodeKernel kernel;

    /** Decode attention with {@link #DEFAULT_SPLIT_TOKENS} and scratch from a process-wide host resource. */
    public PagedDecodeAttention() {
        this(SHARED_SCRATCH, DEFAULT_SPLIT_TOKENS);
    }

    /**
     * Decode attention with explicit scratch memory and split size.
     *
     * @param scratch     host-accessible resource for per-worker scratch and split partials; not owned
     * @param splitTokens most keys per split, >= 1
     * @throws IllegalArgumentException if {@code splitTokens < 1} or the resource is not host-accessible
     */
    public PagedDecodeAttention(MemoryResource scratch, int splitTokens) {
        this(scratch, splitTokens, DecodeKernel.INSTANCE);
    }

    PagedDecodeAttention(MemoryResource scratch, int splitTokens, DecodeKernel kernel) {
        Objects.requireNonNull(scratch, "scratch");
        if (!scratch.kind().hostAccessible()) {
            throw new IllegalArgumentException("scratch must be host-accessible, got kind " + scratch.kind());
        }
        if (splitTokens < 1) {
            throw new IllegalArgumentException("splitTokens must be >= 1, got " + splitTokens);
        }
        this.scratch = scratch;
        this.splitTokens = splitTokens;
        this.kernel = Objects.requireNonNull(kernel, "kernel");
    }

    /** Most keys per split. */
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
        int heads = q.heads();
        int kvHeads = cache.kvHeads();
        int[] first = new int[batch];
        int[] splitLen = new int[batch];
        int[] splits = new int[batch];
        int[] splitBase = new int[batch + 1];
        // Enough splits per sequence that a small batch still feeds every thread, each at least MIN_SPLIT_TOKENS
        // long (and at most splitTokens), rounded to whole tiles.
        int wanted = (4 * ParallelExecutor.THREADS + batch - 1) / batch;
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
            int len = ctx - first[b];
            int n = Math.max((len + splitTokens - 1) / splitTokens,
                    Math.min(wanted, (len + MIN_SPLIT_TOKENS - 1) / MIN_SPLIT_TOKENS));
            int tile = DecodeProblem.TILE;
            splitLen[b] = n <= 1 ? Math.max(1, len)
                    : Math.min(splitTokens, ((len + n - 1) / n + tile - 1) / tile * tile);
            splits[b] = len == 0 ? 1 : (len + splitLen[b] - 1) / splitLen[b];
            splitBase[b + 1] = splitBase[b] + splits[b];
        }
        int totalSplits = splitBase[batch];
        // Items cover all KV heads of a split when there are enough splits, so that each tile of tokens is read as
        // whole rows of the layout; otherwise KV heads are shared out too.
        int parts = totalSplits >= 2 * ParallelExecutor.THREADS ? 1
                : Math.min(kvHeads, (2 * ParallelExecutor.THREADS + totalSplits - 1) / totalSplits);
        int kvLocal = (kvHeads + parts - 1) / parts;
        int kvParts = (kvHeads + kvLocal - 1) / kvLocal;
        DecodeProblem problem = new DecodeProblem(cache.keys(), cache.values(), cache.type(), cache.fp8Table(),
                cache.keyScaleSegment(), cache.valueScaleSegment(), kvHeads, cache.headDim(), bs, heads / kvHeads,
                p.softcap(), kvLocal);
        float[] lse = p.returnLse() ? new float[heads * batch] : null;
        Job job = new Job(q, problem, blockTables, contextLens, p, out, lse, first, splitLen, splits, splitBase);
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
            ParallelExecutor.parallelFor(0, totalSplits * kvParts, 1, (from, to) -> job.run(from, to, kvParts,
                    itemSeq, itemSplit, part));
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
        private final DecodeProblem problem;
        private final int[][] tables;
        private final int[] ctx;
        private final HeadTensor out;
        private final float[] lse;
        private final int[] first;
        private final int[] splitLen;
        private final int[] splits;
        private final int[] splitBase;
        private final int group;
        private final int d;
        private final float scale;
        final int partialStride;

        Job(HeadTensor q, DecodeProblem problem, int[][] tables, int[] ctx, AttentionParams p, HeadTensor out,
            float[] lse, int[] first, int[] splitLen, int[] splits, int[] splitBase) {
            this.q = q;
            this.problem = problem;
            this.tables = tables;
            this.ctx = ctx;
            this.out = out;
            this.lse = lse;
            this.first = first;
            this.splitLen = splitLen;
            this.splits = splits;
            this.splitBase = splitBase;
            this.group = problem.group;
            this.d = q.headDim();
            this.scale = p.scaleFor(d);
            this.partialStride = d + 2;
        }

        void run(int from, int to, int kvParts, int[] itemSeq, int[] itemSplit, MemorySegment part) {
            try (Buffer buf = Buffer.allocate(scratch, kernel.scratchFloats(problem) * 4L)) {
                MemorySegment w = Scratch.view(buf);
                for (int item = from; item < to; item++) {
                    int split = item / kvParts;
                    int kv0 = (item % kvParts) * problem.kvLocal;
                    item(w, itemSeq[split], itemSplit[split], kv0,
                            Math.min(problem.kvHeads, kv0 + problem.kvLocal) - kv0, part);
                }
            }
        }

        /** One split of one sequence, for KV heads {@code kv0 .. kv0+kvCount-1} and their query heads. */
        private void item(MemorySegment w, int b, int split, int kv0, int kvCount, MemorySegment part) {
            DecodeProblem pr = problem;
            long rowBytes = (long) kvCount * pr.groupPad * pr.dimPad * 4L;
            w.asSlice(pr.offQ * 4L, rowBytes).fill((byte) 0);
            w.asSlice(pr.offO * 4L, rowBytes).fill((byte) 0);
            for (int r = 0; r < kvCount * pr.groupPad; r++) {
                w.setAtIndex(F, pr.offM + r, Float.NEGATIVE_INFINITY);
                w.setAtIndex(F, pr.offL + r, 0f);
            }
            for (int local = 0; local < kvCount; local++) {
                for (int i = 0; i < group; i++) {
                    q.readRow(TileOps.INSTANCE, b, (kv0 + local) * group + i, scale, w, pr.row(pr.offQ, local, i));
                }
            }
            int lo = first[b] + split * splitLen[b];
            int hi = Math.min(ctx[b], lo + splitLen[b]);
            if (lo < hi) {
                kernel.attend(pr, tables[b], lo, hi, kv0, kvCount, w);
            }
            int heads = q.heads();
            for (int local = 0; local < kvCount; local++) {
                for (int i = 0; i < group; i++) {
                    int h = (kv0 + local) * group + i;
                    int r = local * pr.groupPad + i;
                    float m = w.getAtIndex(F, pr.offM + r);
                    float l = w.getAtIndex(F, pr.offL + r);
                    int o = pr.row(pr.offO, local, i);
                    if (splits[b] > 1) {
                        long base = ((long) (splitBase[b] + split) * heads + h) * partialStride;
                        part.setAtIndex(F, base, m);
                        part.setAtIndex(F, base + 1, l);
                        MemorySegment.copy(w, o * 4L, part, (base + 2) * 4L, d * 4L);
                    } else {
                        finish(b, h, m, l, w, o);
                    }
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
            try (Buffer buf = Buffer.allocate(scratch, (long) d * 4L)) {
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
        return "PagedDecodeAttention[splitTokens=" + splitTokens + ", kernel=" + kernel.getClass().getSimpleName() + "]";
    }
}
