package io.vramkit.core.kv;

import io.vramkit.core.DType;
import io.vramkit.core.memory.Buffer;
import io.vramkit.core.memory.MemoryResource;
import io.vramkit.core.memory.Stream;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Objects;

/**
 * A paged KV cache: a pool of fixed-size blocks carved from a {@link MemoryResource}, block tables per sequence, prefix
 * sharing through hash-chained full blocks with reference counts and copy-on-write, LRU eviction of cached blocks no
 * one references, sliding-window reclamation, swap to a host pool, and compression of cold blocks under pressure.
 *
 * {@snippet :
 * KvCacheConfig cfg = KvCacheConfig.builder().numLayers(2).kvHeads(2).headDim(64).numBlocks(256).build();
 * try (PagedKvCache cache = new PagedKvCache(cfg, new HostMemoryResource())) {
 *     int seq = cache.newSequence(0);
 *     int cached = cache.append(seq, promptTokens, 0, promptTokens.length); // tokens whose K/V are already there
 *     for (int t = cached; t < promptTokens.length; t++) {
 *         for (int layer = 0; layer < 2; layer++) {
 *             cache.write(seq, layer, t, k, v);
 *         }
 *     }
 *     KvSequenceView view = cache.view(seq, 0); // for paged attention
 *     cache.free(seq);
 * }
 * }
 *
 * <p>Layout (see {@code docs/kv-cache.md}): per layer, K and V caches {@code [numBlocks, blockSize, kvHeads, headDim]}
 * of the configured dtype, FP32 scales {@code [numBlocks, kvHeads]} for INT8/FP8 codes. Created with no resource, the
 * cache runs in <b>accounting-only</b> mode: the same block logic, no memory; content operations then throw.
 *
 * <p>Content operations (write, read, copy-on-write, swap, compression) touch memory through
 * {@link Buffer#segment()} and so need host-accessible memory, except copies, which go through the
 * {@link BlockCopier}. Not thread-safe: one scheduler thread owns the cache. Errors leave it unchanged.
 */
public final class PagedKvCache implements AutoCloseable {

    private static final long ALIGN = 256;
    private static final int RECLAIMED = -1;

    private final KvCacheConfig config;
    private final KvBlockPool pool;
    private final MemoryResource resource;
    private final BlockCopier copier;
    private final boolean content;
    private final int bs;
    private final int rowElems;
    private final int ratio;
    private final long pageBytes;
    private final long compBlockBytes;
    private final boolean fp8Primary;
    private final boolean fp8Compressed;
    private final Buffer[] kData;
    private final Buffer[] vData;
    private final Buffer[] kScale;
    private final Buffer[] vScale;
    private final Buffer[] kcScale;
    private final Buffer[] vcScale;
    private final MemorySegment[] segs;

    // Sequence ids are slot | generation << SLOT_BITS: slots are reused so a long-running server's tables stay
    // bounded, and the generation makes a freed id fail cleanly instead of reaching the slot's next owner.
    private static final int SLOT_BITS = 20;
    private static final int SLOT_MASK = (1 << SLOT_BITS) - 1;
    private static final int GEN_MASK = (1 << (31 - SLOT_BITS)) - 1;
    private Seq[] seqs = new Seq[64];
    private int[] gens = new int[64];
    private int[] freeSlots = new int[64];
    private int freeSlotTop;
    private int highWater;
    private int liveCount;
    private boolean closed;
    private long compressions;
    private long cowCopies;
    private long reclaimedBlocks;
    private long prefixHitTokens;
    private double bandwidth;

    /**
     * An accounting-only cache: the full block logic without any memory.
     *
     * @param config the configuration
     * @throws IllegalArgumentException if {@code config} is null
     */
    public PagedKvCache(KvCacheConfig config) {
        this(config, null, BlockCopier.HOST);
    }

    /**
     * A cache whose blocks live in {@code resource}, which it borrows (closing the cache returns the memory, not the
     * resource).
     *
     * @param config   the configuration
     * @param resource where the blocks live
     * @throws IllegalArgumentException if an argument is null
     * @throws io.vramkit.core.memory.OutOfMemoryException if the resource cannot hold
     *         {@link KvCacheConfig#reservedBytes()}; nothing stays allocated
     */
    public PagedKvCache(KvCacheConfig config, MemoryResource resource) {
        this(config, Objects.requireNonNull(resource, "resource"), BlockCopier.HOST);
    }

    /**
     * A cache with a custom copier (for device memory).
     *
     * @param config   the configuration
     * @param resource where the blocks live, or null for accounting-only
     * @param copier   how block bytes are copied
     * @throws IllegalArgumentException if {@code config} or {@code copier} is null
     */
    public PagedKvCache(KvCacheConfig config, MemoryResource resource, BlockCopier copier) {
        if (config == null) {
            throw new IllegalArgumentException("config must not be null");
        }
        if (copier == null) {
            throw new IllegalArgumentException("copier must not be null");
        }
        this.config = config;
        this.resource = resource;
        this.copier = copier;
        this.content = resource != null;
        this.bs = config.blockSize();
        this.rowElems = config.kvHeads() * config.headDim();
        this.ratio = config.compressionRatio();
        this.pageBytes = config.blockDataBytes();
        this.compBlockBytes = pageBytes / ratio;
        this.fp8Primary = config.dtype() == DType.FP8_E4M3;
        this.fp8Compressed = config.compressedDType() == DType.FP8_E4M3;
        this.pool = new KvBlockPool(config.numBlocks(), bs, ratio, config.bytesPerBlock());
        int l = config.numLayers();
        kData = new Buffer[l];
        vData = new Buffer[l];
        kScale = new Buffer[l];
        vScale = new Buffer[l];
        kcScale = new Buffer[l];
        vcScale = new Buffer[l];
        segs = new MemorySegment[6 * l];
        if (content) {
            try {
                long nb = config.numBlocks();
                for (int i = 0; i < l; i++) {
                    kData[i] = Buffer.allocate(resource, nb * pageBytes, ALIGN, Stream.HOST);
                    vData[i] = Buffer.allocate(resource, nb * pageBytes, ALIGN, Stream.HOST);
                    if (config.quantized()) {
                        kScale[i] = Buffer.allocate(resource, nb * config.blockScaleBytes(), ALIGN, Stream.HOST);
                        vScale[i] = Buffer.allocate(resource, nb * config.blockScaleBytes(), ALIGN, Stream.HOST);
                    }
                    if (ratio > 1) {
                        long cs = nb * ratio * config.kvHeads() * Float.BYTES;
                        kcScale[i] = Buffer.allocate(resource, cs, ALIGN, Stream.HOST);
                        vcScale[i] = Buffer.allocate(resource, cs, ALIGN, Stream.HOST);
                    }
                }
            } catch (RuntimeException e) {
                closeBuffers();
                throw e;
            }
            if (resource.kind().hostAccessible()) {
                for (int i = 0; i < l; i++) {
                    segs[6 * i] = kData[i].segment();
                    segs[6 * i + 1] = vData[i].segment();
                    segs[6 * i + 2] = kScale[i] == null ? null : kScale[i].segment();
                    segs[6 * i + 3] = vScale[i] == null ? null : vScale[i].segment();
                    segs[6 * i + 4] = kcScale[i] == null ? null : kcScale[i].segment();
                    segs[6 * i + 5] = vcScale[i] == null ? null : vcScale[i].segment();
                }
            }
        }
    }

    /** Per-sequence state. */
    private static final class Seq {
        final int id;
        final long salt;
        int[] table;
        int nBlocks;
        int[] tokens;
        int nTokens;
        long lastHash = BlockHash.ROOT;
        boolean prefixMatching = true;
        int reclaimed;
        SwapEntry swap;

        Seq(int id, long salt) {
            this.id = id;
            this.salt = salt;
            table = new int[8];
            tokens = new int[64];
        }

        Seq(int id, Seq from) {
            this.id = id;
            this.salt = from.salt;
            table = Arrays.copyOf(from.table, Math.max(8, from.nBlocks));
            nBlocks = from.nBlocks;
            tokens = Arrays.copyOf(from.tokens, Math.max(64, from.nTokens));
            nTokens = from.nTokens;
            lastHash = from.lastHash;
            prefixMatching = false;
            reclaimed = from.reclaimed;
        }

        void pushBlock(int h) {
            if (nBlocks == table.length) {
                table = Arrays.copyOf(table, table.length * 2);
            }
            table[nBlocks++] = h;
        }

        void pushToken(int t) {
            if (nTokens == tokens.length) {
                tokens = Arrays.copyOf(tokens, tokens.length * 2);
            }
            tokens[nTokens++] = t;
        }
    }

    private record SwapEntry(SwapSpace space, Buffer buffer, byte[] kinds, long bytes) {
    }

    /** The configuration. */
    public KvCacheConfig config() {
        return config;
    }

    /** Whether this cache holds memory (false in accounting-only mode). */
    public boolean hasMemory() {
        return content;
    }

    /** Bytes this cache holds from its resource (0 in accounting-only mode). */
    public long reservedBytes() {
        return content ? config.reservedBytes() : 0;
    }

    // ---------------------------------------------------------------- sequences

    /**
     * Starts an empty sequence.
     *
     * @param salt tenant salt for prefix sharing: only sequences with equal salts share cached blocks
     * @return the new sequence id
     * @throws IllegalStateException if the cache is closed
     */
    public int newSequence(long salt) {
        checkOpen();
        return register(new Seq(allocateId(), salt));
    }

    private int allocateId() {
        int slot;
        if (freeSlotTop > 0) {
            slot = freeSlots[--freeSlotTop];
        } else {
            if (highWater > SLOT_MASK) {
                throw new IllegalStateException("too many live sequences: at most " + (SLOT_MASK + 1));
            }
            slot = highWater++;
            if (slot == seqs.length) {
                seqs = Arrays.copyOf(seqs, seqs.length * 2);
                gens = Arrays.copyOf(gens, gens.length * 2);
                freeSlots = Arrays.copyOf(freeSlots, freeSlots.length * 2);
            }
        }
        return slot | gens[slot] << SLOT_BITS;
    }

    private int register(Seq s) {
        seqs[s.id & SLOT_MASK] = s;
        liveCount++;
        return s.id;
    }

    private Seq seq(int id) {
        checkOpen();
        int slot = id & SLOT_MASK;
        if (id < 0 || slot >= highWater) {
            throw new IllegalArgumentException("seqId " + id + " is not a sequence of this cache");
        }
        Seq s = seqs[slot];
        if (s == null || s.id != id) {
            throw new IllegalStateException("sequence " + id + " is finished: it was freed, so it cannot be used");
        }
        return s;
    }

    private Seq resident(int id) {
        Seq s = seq(id);
        if (s.swap != null) {
            throw new IllegalStateException("sequence " + id + " is swapped out; swap it in first");
        }
        return s;
    }

    /** Live sequences (running or swapped out). */
    public int liveSequences() {
        return liveCount;
    }

    /** Tokens in a sequence. @throws IllegalArgumentException or IllegalStateException for a bad or freed id */
    public int numTokens(int seqId) {
        return seq(seqId).nTokens;
    }

    /** Logical blocks of a sequence, including reclaimed and compressed ones. */
    public int numBlocks(int seqId) {
        return seq(seqId).nBlocks;
    }

    /** Whether a sequence is swapped out. */
    public boolean isSwappedOut(int seqId) {
        return seq(seqId).swap != null;
    }

    /** A copy of a sequence's token ids. */
    public int[] tokens(int seqId) {
        Seq s = seq(seqId);
        return Arrays.copyOf(s.tokens, s.nTokens);
    }

    /**
     * A copy of a sequence's primary block table: physical block ids, -1 for compressed or reclaimed blocks.
     *
     * @throws IllegalStateException if the sequence is swapped out or freed
     */
    public int[] blockTable(int seqId) {
        Seq s = resident(seqId);
        int[] t = new int[s.nBlocks];
        for (int i = 0; i < s.nBlocks; i++) {
            t[i] = s.table[i] >= 0 ? s.table[i] : -1;
        }
        return t;
    }

    /** A copy of a sequence's compressed block table: compressed block ids, -1 elsewhere. */
    public int[] compressedBlockTable(int seqId) {
        Seq s = resident(seqId);
        int[] t = new int[s.nBlocks];
        for (int i = 0; i < s.nBlocks; i++) {
            t[i] = s.table[i] <= -2 ? -(s.table[i] + 2) : -1;
        }
        return t;
    }

    /**
     * New blocks appending {@code count} tokens would take, counting a copy-on-write of a shared last block and
     * ignoring prefix hits.
     *
     * @throws IllegalArgumentException if {@code count} is negative
     */
    public int blocksNeeded(int seqId, int count) {
        Seq s = seq(seqId);
        if (count < 0) {
            throw new IllegalArgumentException("count must be >= 0, got " + count);
        }
        return blocksNeeded(s, s.nTokens, count);
    }

    private int blocksNeeded(Seq s, int nTokens, int count) {
        if (count == 0) {
            return 0;
        }
        int slot = nTokens % bs;
        int need = 0;
        int room = 0;
        if (slot != 0) {
            room = bs - slot;
            if (s.swap == null && pool.refCount(s.table[s.nBlocks - 1]) > 1) {
                need++;
            }
        }
        int beyond = count - room;
        if (beyond > 0) {
            need += (beyond + bs - 1) / bs;
        }
        return need;
    }

    /**
     * How many leading tokens of a new sequence's prompt the prefix cache already holds, without changing anything:
     * the tokens {@link #append(int, int[], int, int)} on an empty sequence with this salt would report as cached.
     *
     * @param salt   the tenant salt
     * @param tokens the prompt
     * @param offset its first index
     * @param length its length
     * @return cached tokens, a multiple of the block size, less than {@code length}
     * @throws IndexOutOfBoundsException if the range is outside {@code tokens}
     */
    public int cachedPrefixTokens(long salt, int[] tokens, int offset, int length) {
        checkOpen();
        Objects.checkFromIndexSize(offset, length, tokens.length);
        if (!config.prefixCaching() || length == 0) {
            return 0;
        }
        int maxHits = (length - 1) / bs;
        long parent = BlockHash.ROOT;
        int hits = 0;
        while (hits < maxHits) {
            int at = offset + hits * bs;
            long h = BlockHash.of(parent, salt, tokens, at, bs);
            if (pool.lookup(h, parent, salt, tokens, at) < 0) {
                break;
            }
            parent = h;
            hits++;
        }
        return hits * bs;
    }

    /**
     * Appends one token, taking a block when the last one is full and copying a shared last block first
     * (copy-on-write). The hot path of decoding.
     *
     * @throws KvCacheFullException   if a block is needed and none is free or evictable; nothing changes
     * @throws IllegalStateException  if the sequence is finished or swapped out
     */
    public void append(int seqId, int token) {
        appendOne(resident(seqId), token);
    }

    /**
     * Appends tokens. While the sequence is empty or has only matched cached blocks so far, whole blocks of
     * {@code tokens} that are already in the prefix cache (same salt, same preceding tokens) are shared instead of
     * allocated; the block holding the last given token is never matched, so the caller always computes at least one
     * token.
     *
     * @return how many leading tokens of this call already have their K/V in the cache (prefix hits)
     * @throws KvCacheFullException      if the blocks needed are not available; nothing changes
     * @throws IndexOutOfBoundsException if the range is outside {@code tokens}
     * @throws IllegalStateException     if the sequence is finished or swapped out
     */
    public int append(int seqId, int[] tokens, int offset, int length) {
        Seq s = resident(seqId);
        Objects.checkFromIndexSize(offset, length, tokens.length);
        if (length == 0) {
            return 0;
        }
        int hits = 0;
        int evictableHits = 0;
        long parent = s.lastHash;
        int[] hitBlocks = null;
        long[] hitHashes = null;
        if (config.prefixCaching() && s.prefixMatching && s.nTokens % bs == 0) {
            int maxHits = (length - 1) / bs;
            hitBlocks = new int[maxHits];
            hitHashes = new long[maxHits];
            while (hits < maxHits) {
                int at = offset + hits * bs;
                long h = BlockHash.of(parent, s.salt, tokens, at, bs);
                int b = pool.lookup(h, parent, s.salt, tokens, at);
                if (b < 0) {
                    break;
                }
                if (pool.isEvictable(b)) {
                    evictableHits++;
                }
                hitBlocks[hits] = b;
                hitHashes[hits] = h;
                hits++;
                parent = h;
            }
        }
        int need = blocksNeeded(s, s.nTokens + hits * bs, length - hits * bs);
        int available = pool.availableBlocks() - evictableHits;
        if (need > available) {
            throw new KvCacheFullException(String.format(
                    "KV cache cannot append %d tokens to sequence %d: needs %d blocks, %d free and %d evictable "
                            + "(after %d prefix hits); %d of %d blocks in use", length, s.id, need,
                    pool.freeBlocks(), pool.evictableBlocks() - evictableHits, hits, pool.blocksInUse(),
                    pool.numBlocks()), need, available, config.bytesPerBlock());
        }
        for (int i = 0; i < hits; i++) {
            pool.retain(hitBlocks[i]);
            s.pushBlock(hitBlocks[i]);
            for (int j = 0; j < bs; j++) {
                s.pushToken(tokens[offset + i * bs + j]);
            }
            s.lastHash = hitHashes[i];
        }
        prefixHitTokens += (long) hits * bs;
        s.prefixMatching = false;
        reclaim(s);
        for (int i = hits * bs; i < length; i++) {
            appendOne(s, tokens[offset + i]);
        }
        return hits * bs;
    }

    private void appendOne(Seq s, int token) {
        int pos = s.nTokens;
        int bi = pos / bs;
        int slot = pos - bi * bs;
        int page;
        if (slot == 0) {
            page = pool.allocate();
            s.pushBlock(page);
            if (content && config.quantized()) {
                zeroScales(page);
            }
        } else {
            page = s.table[bi];
            if (pool.refCount(page) > 1) {
                page = copyOnWrite(s, bi);
            }
        }
        s.pushToken(token);
        pool.addToken(page);
        s.prefixMatching = false;
        if (slot == bs - 1 && config.prefixCaching()) {
            long h = BlockHash.of(s.lastHash, s.salt, s.tokens, bi * bs, bs);
            pool.register(page, h, s.lastHash, s.salt, s.tokens, bi * bs);
            s.lastHash = h;
        }
        if (config.slidingWindow() > 0) {
            reclaim(s);
        }
    }

    private int copyOnWrite(Seq s, int bi) {
        int old = s.table[bi];
        int fresh = pool.allocate();
        if (content) {
            for (int l = 0; l < config.numLayers(); l++) {
                copier.copy(kData[l], old * pageBytes, kData[l], fresh * pageBytes, pageBytes);
                copier.copy(vData[l], old * pageBytes, vData[l], fresh * pageBytes, pageBytes);
                if (config.quantized()) {
                    long sb = config.blockScaleBytes();
                    copier.copy(kScale[l], old * sb, kScale[l], fresh * sb, sb);
                    copier.copy(vScale[l], old * sb, vScale[l], fresh * sb, sb);
                }
            }
        }
        pool.setFill(fresh, pool.fill(old));
        pool.release(old);
        s.table[bi] = fresh;
        cowCopies++;
        return fresh;
    }

    private void reclaim(Seq s) {
        int w = config.slidingWindow();
        if (w <= 0) {
            return;
        }
        // A block is dead once every token in it is at least w positions behind the newest token, so no current or
        // later query in any layer's window can read it.
        while ((long) (s.reclaimed + 1) * bs <= (long) s.nTokens - w) {
            releaseHandle(s.table[s.reclaimed]);
            s.table[s.reclaimed] = RECLAIMED;
            s.reclaimed++;
            reclaimedBlocks++;
        }
    }

    private void releaseHandle(int h) {
        if (h >= 0) {
            pool.release(h);
        } else if (h <= -2) {
            pool.releaseCompressed(-(h + 2));
        }
    }

    /**
     * Forks a sequence (beam search, parallel sampling): the child shares every block of the parent, reference
     * counted; the first append to a shared, partly filled last block copies it.
     *
     * @return the child's id
     * @throws IllegalStateException if the parent is finished or swapped out
     */
    public int fork(int seqId) {
        Seq parent = resident(seqId);
        Seq child = new Seq(allocateId(), parent);
        for (int i = 0; i < child.nBlocks; i++) {
            int h = child.table[i];
            if (h >= 0) {
                pool.retain(h);
            } else if (h <= -2) {
                pool.retainCompressed(-(h + 2));
            }
        }
        return register(child);
    }

    /**
     * Frees a finished sequence: drops its references (last block first, so the tail of a cached prefix is evicted
     * before its head) and discards its swapped copy, if any.
     *
     * @throws IllegalStateException if it was already freed
     */
    public void free(int seqId) {
        Seq s = seq(seqId);
        if (s.swap != null) {
            discardSwap(s);
        } else {
            for (int i = s.nBlocks - 1; i >= 0; i--) {
                releaseHandle(s.table[i]);
            }
        }
        int slot = seqId & SLOT_MASK;
        seqs[slot] = null;
        gens[slot] = (gens[slot] + 1) & GEN_MASK;
        freeSlots[freeSlotTop++] = slot;
        liveCount--;
    }

    // ---------------------------------------------------------------- content

    /**
     * Writes one token's K and V for a layer.
     *
     * @param seqId    the sequence
     * @param layer    the layer
     * @param position the token position, already appended
     * @param key      {@code [kvHeads × headDim]} values
     * @param value    {@code [kvHeads × headDim]} values
     * @throws IllegalArgumentException  for a bad layer, position or array length, naming it
     * @throws IllegalStateException     in accounting-only mode, or if the position's block is shared, compressed or
     *                                   reclaimed
     */
    public void write(int seqId, int layer, int position, float[] key, float[] value) {
        Seq s = resident(seqId);
        checkContent();
        checkLayer(layer);
        checkRow("key", key);
        checkRow("value", value);
        int h = handleAt(s, position);
        if (h < 0) {
            throw new IllegalStateException("position " + position + " of sequence " + s.id + " is "
                    + (h == RECLAIMED ? "reclaimed by the sliding window" : "compressed") + " and read-only");
        }
        if (pool.refCount(h) > 1) {
            throw new IllegalStateException("position " + position + " of sequence " + s.id + " lies in block " + h
                    + " shared by " + pool.refCount(h) + " sequences; its K/V are already cached");
        }
        int slot = position % bs;
        writeRow(layer, 0, h, slot, key);
        writeRow(layer, 1, h, slot, value);
    }

    /**
     * Reads one token's K and V for a layer, decoding codes and compressed blocks to float.
     *
     * @throws IllegalArgumentException for a bad layer, position or array length
     * @throws IllegalStateException    in accounting-only mode, or if the position was reclaimed
     */
    public void read(int seqId, int layer, int position, float[] key, float[] value) {
        Seq s = resident(seqId);
        checkContent();
        checkLayer(layer);
        checkRow("key", key);
        checkRow("value", value);
        int h = handleAt(s, position);
        if (h == RECLAIMED) {
            throw new IllegalStateException("position " + position + " of sequence " + s.id
                    + " was reclaimed by the sliding window");
        }
        int slot = position % bs;
        readRow(layer, 0, h, slot, key);
        readRow(layer, 1, h, slot, value);
    }

    private int handleAt(Seq s, int position) {
        if (position < 0 || position >= s.nTokens) {
            throw new IllegalArgumentException("position must be in 0.." + (s.nTokens - 1) + " for sequence " + s.id
                    + ", got " + position);
        }
        return s.table[position / bs];
    }

    private void writeRow(int layer, int kv, int page, int slot, float[] x) {
        MemorySegment data = segs[6 * layer + kv];
        long base = page * pageBytes + (long) slot * rowElems * config.dtype().byteSize();
        int hd = config.headDim();
        switch (config.dtype()) {
            case FP32 -> MemorySegment.copy(x, 0, data, ValueLayout.JAVA_FLOAT_UNALIGNED, base, rowElems);
            case FP16 -> {
                for (int i = 0; i < rowElems; i++) {
                    data.set(ValueLayout.JAVA_SHORT_UNALIGNED, base + 2L * i, Float.floatToFloat16(x[i]));
                }
            }
            case BF16 -> {
                for (int i = 0; i < rowElems; i++) {
                    data.set(ValueLayout.JAVA_SHORT_UNALIGNED, base + 2L * i, KvQuant.toBf16(x[i]));
                }
            }
            default -> {
                MemorySegment scales = segs[6 * layer + 2 + kv];
                for (int head = 0; head < config.kvHeads(); head++) {
                    long so = ((long) page * config.kvHeads() + head) * Float.BYTES;
                    float scale = scales.get(ValueLayout.JAVA_FLOAT_UNALIGNED, so);
                    float absmax = 0f;
                    for (int d = 0; d < hd; d++) {
                        absmax = Math.max(absmax, Math.abs(x[head * hd + d]));
                    }
                    float need = KvQuant.scaleFor(absmax, fp8Primary);
                    if (need > scale) {
                        // The block's scale must cover its largest value: re-encode the slots written so far.
                        rescale(data, page, head, slot, scale, need);
                        scales.set(ValueLayout.JAVA_FLOAT_UNALIGNED, so, need);
                        scale = need;
                    }
                    long o = base + (long) head * hd;
                    for (int d = 0; d < hd; d++) {
                        data.set(ValueLayout.JAVA_BYTE, o + d, encode(x[head * hd + d], scale, fp8Primary));
                    }
                }
            }
        }
    }

    private void rescale(MemorySegment data, int page, int head, int slots, float oldScale, float newScale) {
        int hd = config.headDim();
        for (int sl = 0; sl < slots; sl++) {
            long o = page * pageBytes + ((long) sl * rowElems + (long) head * hd);
            for (int d = 0; d < hd; d++) {
                float v = decode(data.get(ValueLayout.JAVA_BYTE, o + d), oldScale, fp8Primary);
                data.set(ValueLayout.JAVA_BYTE, o + d, encode(v, newScale, fp8Primary));
            }
        }
    }

    private static byte encode(float v, float scale, boolean fp8) {
        if (scale == 0f) {
            return 0;
        }
        return fp8 ? KvQuant.toE4M3(v / scale) : KvQuant.toInt8(v, scale);
    }

    private static float decode(byte code, float scale, boolean fp8) {
        return (fp8 ? KvQuant.fromE4M3(code) : code) * scale;
    }

    private void readRow(int layer, int kv, int h, int slot, float[] out) {
        MemorySegment data = segs[6 * layer + kv];
        int hd = config.headDim();
        if (h <= -2) {
            int c = -(h + 2);
            MemorySegment scales = segs[6 * layer + 4 + kv];
            long base = c * compBlockBytes + (long) slot * rowElems;
            for (int head = 0; head < config.kvHeads(); head++) {
                float scale = scales.get(ValueLayout.JAVA_FLOAT_UNALIGNED, ((long) c * config.kvHeads() + head) * 4);
                for (int d = 0; d < hd; d++) {
                    out[head * hd + d] = decode(data.get(ValueLayout.JAVA_BYTE, base + (long) head * hd + d), scale,
                            fp8Compressed);
                }
            }
            return;
        }
        long base = h * pageBytes + (long) slot * rowElems * config.dtype().byteSize();
        switch (config.dtype()) {
            case FP32 -> MemorySegment.copy(data, ValueLayout.JAVA_FLOAT_UNALIGNED, base, out, 0, rowElems);
            case FP16 -> {
                for (int i = 0; i < rowElems; i++) {
                    out[i] = Float.float16ToFloat(data.get(ValueLayout.JAVA_SHORT_UNALIGNED, base + 2L * i));
                }
            }
            case BF16 -> {
                for (int i = 0; i < rowElems; i++) {
                    out[i] = KvQuant.fromBf16(data.get(ValueLayout.JAVA_SHORT_UNALIGNED, base + 2L * i));
                }
            }
            default -> {
                MemorySegment scales = segs[6 * layer + 2 + kv];
                for (int head = 0; head < config.kvHeads(); head++) {
                    float scale = scales.get(ValueLayout.JAVA_FLOAT_UNALIGNED,
                            ((long) h * config.kvHeads() + head) * 4);
                    for (int d = 0; d < hd; d++) {
                        out[head * hd + d] = decode(data.get(ValueLayout.JAVA_BYTE, base + (long) head * hd + d),
                                scale, fp8Primary);
                    }
                }
            }
        }
    }

    private void zeroScales(int page) {
        if (segs[2] == null) {
            return;
        }
        long sb = config.blockScaleBytes();
        for (int l = 0; l < config.numLayers(); l++) {
            segs[6 * l + 2].asSlice(page * sb, sb).fill((byte) 0);
            segs[6 * l + 3].asSlice(page * sb, sb).fill((byte) 0);
        }
    }

    /**
     * The segments and block tables a paged attention kernel needs for one sequence and layer.
     *
     * @throws IllegalStateException in accounting-only mode, or for device memory (use the buffers' addresses)
     */
    public KvSequenceView view(int seqId, int layer) {
        Seq s = resident(seqId);
        checkContent();
        checkLayer(layer);
        return new KvSequenceView(layer, config.dtype(), segs[6 * layer], segs[6 * layer + 1], segs[6 * layer + 2],
                segs[6 * layer + 3], bs, s.nTokens, blockTable(seqId), config.compressedDType(),
                segs[6 * layer + 4], segs[6 * layer + 5], compressedBlockTable(seqId));
    }

    /** Base address of a layer's K cache (device or host), for kernels; 0 in accounting-only mode. */
    public long keyCacheAddress(int layer) {
        checkLayer(layer);
        return content ? kData[layer].address() : 0;
    }

    /** Base address of a layer's V cache (device or host), for kernels; 0 in accounting-only mode. */
    public long valueCacheAddress(int layer) {
        checkLayer(layer);
        return content ? vData[layer].address() : 0;
    }

    // ---------------------------------------------------------------- compression

    /**
     * Re-quantizes cold blocks (oldest positions first, across all resident sequences) to the compressed code type
     * until at least {@code targetAvailable} blocks are free or evictable, or no block qualifies. A block qualifies
     * when it is full, primary, not the sequence's last block, and referenced by that sequence only. Each compressed
     * block takes {@code 1 / compressionRatio} of a physical block.
     *
     * @param targetAvailable the free-plus-evictable blocks wanted
     * @return blocks compressed
     * @throws IllegalStateException if compression is not configured
     */
    public int compressColdBlocks(int targetAvailable) {
        checkOpen();
        if (ratio == 1) {
            throw new IllegalStateException("compression is off: set KvCacheConfig.compressedDType");
        }
        int done = 0;
        int maxBlocks = 0;
        for (int i = 0; i < highWater; i++) {
            if (seqs[i] != null) {
                maxBlocks = Math.max(maxBlocks, seqs[i].nBlocks);
            }
        }
        for (int r = 0; r < maxBlocks - 1; r++) {
            for (int i = 0; i < highWater; i++) {
                if (pool.availableBlocks() >= targetAvailable) {
                    return done;
                }
                Seq s = seqs[i];
                if (s == null || s.swap != null || r >= s.nBlocks - 1) {
                    continue;
                }
                int h = s.table[r];
                if (h < 0 || pool.refCount(h) != 1) {
                    continue;
                }
                if (!pool.hasPartialSlab() && pool.availableBlocks() == 0) {
                    return done;
                }
                compressBlock(s, r, h);
                done++;
            }
        }
        return done;
    }

    private void compressBlock(Seq s, int bi, int page) {
        int c = pool.allocateCompressed();
        if (content) {
            int hd = config.headDim();
            float[] row = new float[rowElems];
            float[][] vals = new float[bs][];
            for (int l = 0; l < config.numLayers(); l++) {
                for (int kv = 0; kv < 2; kv++) {
                    for (int sl = 0; sl < bs; sl++) {
                        readRow(l, kv, page, sl, row);
                        vals[sl] = row.clone();
                    }
                    MemorySegment data = segs[6 * l + kv];
                    MemorySegment scales = segs[6 * l + 4 + kv];
                    for (int head = 0; head < config.kvHeads(); head++) {
                        float absmax = 0f;
                        for (int sl = 0; sl < bs; sl++) {
                            for (int d = 0; d < hd; d++) {
                                absmax = Math.max(absmax, Math.abs(vals[sl][head * hd + d]));
                            }
                        }
                        float scale = KvQuant.scaleFor(absmax, fp8Compressed);
                        scales.set(ValueLayout.JAVA_FLOAT_UNALIGNED, ((long) c * config.kvHeads() + head) * 4, scale);
                        for (int sl = 0; sl < bs; sl++) {
                            long o = c * compBlockBytes + (long) sl * rowElems + (long) head * hd;
                            for (int d = 0; d < hd; d++) {
                                data.set(ValueLayout.JAVA_BYTE, o + d,
                                        encode(vals[sl][head * hd + d], scale, fp8Compressed));
                            }
                        }
                    }
                }
            }
        }
        // The primary block keeps its bytes: if it was cached it stays a valid (evictable) prefix-cache entry.
        pool.release(page);
        s.table[bi] = -(c + 2);
        compressions++;
    }

    // ---------------------------------------------------------------- swap

    /** Bytes a swap of this sequence would copy each way. */
    public long swapBytes(int seqId) {
        Seq s = seq(seqId);
        if (s.swap != null) {
            return s.swap.bytes();
        }
        long primary = 0;
        long compressed = 0;
        for (int i = 0; i < s.nBlocks; i++) {
            if (s.table[i] >= 0) {
                primary++;
            } else if (s.table[i] <= -2) {
                compressed++;
            }
        }
        return primary * config.bytesPerBlock()
                + compressed * 2L * config.numLayers() * (compBlockBytes + (long) config.kvHeads() * Float.BYTES);
    }

    /**
     * Copies a sequence's blocks to {@code space} and releases them here. Shared blocks are copied too and keep their
     * other references.
     *
     * @return bytes copied
     * @throws IllegalStateException if the sequence is finished or already swapped out
     * @throws io.vramkit.core.memory.OutOfMemoryException if the swap space cannot hold it; nothing changes
     */
    public long swapOut(int seqId, SwapSpace space) {
        Seq s = resident(seqId);
        if (space == null) {
            throw new IllegalArgumentException("space must not be null");
        }
        long bytes = swapBytes(seqId);
        Buffer buf = null;
        if (content && space.resource() != null && bytes > 0) {
            buf = Buffer.allocate(space.resource(), bytes, ALIGN, Stream.HOST);
        }
        byte[] kinds = new byte[s.nBlocks];
        long t0 = System.nanoTime();
        long off = 0;
        for (int i = 0; i < s.nBlocks; i++) {
            int h = s.table[i];
            kinds[i] = (byte) (h >= 0 ? 0 : h == RECLAIMED ? 2 : 1);
            if (h != RECLAIMED && buf != null) {
                off = copyBlock(h, buf, off, true);
            }
        }
        measure(buf == null ? 0 : bytes, System.nanoTime() - t0);
        for (int i = s.nBlocks - 1; i >= 0; i--) {
            releaseHandle(s.table[i]);
            s.table[i] = RECLAIMED;
        }
        s.swap = new SwapEntry(space, buf, kinds, bytes);
        space.onSwapOut(bytes);
        return bytes;
    }

    /** Blocks a swap-in of this sequence would take at most. */
    public int blocksToSwapIn(int seqId) {
        Seq s = seq(seqId);
        if (s.swap == null) {
            return 0;
        }
        int primary = 0;
        int compressed = 0;
        for (byte k : s.swap.kinds()) {
            if (k == 0) {
                primary++;
            } else if (k == 1) {
                compressed++;
            }
        }
        return primary + (compressed + ratio - 1) / ratio;
    }

    /**
     * Brings a swapped-out sequence back into fresh blocks, bit-exact. Swapped-in blocks are not re-entered in the
     * prefix cache.
     *
     * @return bytes copied
     * @throws KvCacheFullException  if the blocks are not available; nothing changes
     * @throws IllegalStateException if the sequence is not swapped out
     */
    public long swapIn(int seqId) {
        Seq s = seq(seqId);
        SwapEntry e = s.swap;
        if (e == null) {
            throw new IllegalStateException("sequence " + seqId + " is not swapped out");
        }
        int need = blocksToSwapIn(seqId);
        if (need > pool.availableBlocks()) {
            throw new KvCacheFullException(String.format(
                    "KV cache cannot swap in sequence %d: needs %d blocks, %d free and %d evictable", seqId, need,
                    pool.freeBlocks(), pool.evictableBlocks()), need, pool.availableBlocks(),
                    config.bytesPerBlock());
        }
        long t0 = System.nanoTime();
        long off = 0;
        byte[] kinds = e.kinds();
        for (int i = 0; i < s.nBlocks; i++) {
            if (kinds[i] == 0) {
                int page = pool.allocate();
                pool.setFill(page, Math.min(bs, s.nTokens - i * bs));
                s.table[i] = page;
                if (e.buffer() != null) {
                    off = copyBlock(page, e.buffer(), off, false);
                }
            } else if (kinds[i] == 1) {
                int c = pool.allocateCompressed();
                s.table[i] = -(c + 2);
                if (e.buffer() != null) {
                    off = copyBlock(-(c + 2), e.buffer(), off, false);
                }
            }
        }
        measure(e.buffer() == null ? 0 : e.bytes(), System.nanoTime() - t0);
        if (e.buffer() != null) {
            e.buffer().close();
        }
        e.space().onSwapIn(e.bytes());
        s.swap = null;
        s.prefixMatching = false;
        return e.bytes();
    }

    private void discardSwap(Seq s) {
        SwapEntry e = s.swap;
        if (e.buffer() != null) {
            e.buffer().close();
        }
        e.space().onDiscard(e.bytes());
        s.swap = null;
    }

    private long copyBlock(int h, Buffer host, long off, boolean out) {
        boolean primary = h >= 0;
        int id = primary ? h : -(h + 2);
        long dataBytes = primary ? pageBytes : compBlockBytes;
        long scaleBytes = primary ? config.blockScaleBytes() : (long) config.kvHeads() * Float.BYTES;
        for (int l = 0; l < config.numLayers(); l++) {
            Buffer[] data = {kData[l], vData[l]};
            Buffer[] scales = primary ? new Buffer[] {kScale[l], vScale[l]} : new Buffer[] {kcScale[l], vcScale[l]};
            for (int kv = 0; kv < 2; kv++) {
                if (out) {
                    copier.copy(data[kv], id * dataBytes, host, off, dataBytes);
                } else {
                    copier.copy(host, off, data[kv], id * dataBytes, dataBytes);
                }
                off += dataBytes;
                if (scaleBytes > 0) {
                    if (out) {
                        copier.copy(scales[kv], id * scaleBytes, host, off, scaleBytes);
                    } else {
                        copier.copy(host, off, scales[kv], id * scaleBytes, scaleBytes);
                    }
                    off += scaleBytes;
                }
            }
        }
        return off;
    }

    private void measure(long bytes, long nanos) {
        if (bytes <= 0 || nanos <= 0) {
            return;
        }
        double bw = bytes * 1e9 / nanos;
        bandwidth = bandwidth == 0 ? bw : 0.8 * bandwidth + 0.2 * bw;
    }

    /** Copy bandwidth measured on swaps, bytes per second (moving average); 0 before any measured swap. */
    public double measuredCopyBandwidth() {
        return bandwidth;
    }

    // ---------------------------------------------------------------- statistics

    /** Physical blocks in the pool. */
    public int totalBlocks() {
        return pool.numBlocks();
    }

    /** Blocks on the free list. */
    public int freeBlocks() {
        return pool.freeBlocks();
    }

    /** Cached blocks no one references (evictable). */
    public int evictableBlocks() {
        return pool.evictableBlocks();
    }

    /** Free plus evictable blocks. */
    public int availableBlocks() {
        return pool.availableBlocks();
    }

    /** Physical blocks referenced by sequences, counting slab pages of compressed blocks. */
    public int usedBlocks() {
        return pool.blocksInUse() + pool.slabBlocks();
    }

    /** Token slots in referenced blocks. */
    public long allocatedSlots() {
        return pool.allocatedSlots();
    }

    /** Token slots holding tokens (shared blocks counted once). */
    public long usedSlots() {
        return pool.usedSlots();
    }

    /** Fraction of allocated slots that hold no token: internal fragmentation of the last blocks. 0 when empty. */
    public double wasteFraction() {
        long a = pool.allocatedSlots();
        return a == 0 ? 0 : (double) (a - pool.usedSlots()) / a;
    }

    /** The reference count of a physical block (diagnostics and tests). */
    public int refCount(int block) {
        return pool.refCount(block);
    }

    /** Whether a physical block is in the prefix cache. */
    public boolean isCached(int block) {
        return pool.isCached(block);
    }

    /** Evictable blocks in eviction order, least recently released first. */
    public int[] evictionOrder() {
        return pool.evictionOrder();
    }

    /** Blocks evicted from the prefix cache so far. */
    public long evictions() {
        return pool.evictions();
    }

    /** Blocks compressed so far. */
    public long compressions() {
        return compressions;
    }

    /** Copy-on-write copies so far. */
    public long copyOnWrites() {
        return cowCopies;
    }

    /** Blocks released by the sliding window so far. */
    public long reclaimedBlocks() {
        return reclaimedBlocks;
    }

    /** Tokens served from the prefix cache so far. */
    public long prefixHitTokens() {
        return prefixHitTokens;
    }

    /**
     * Checks every invariant: the pool's own consistency, and reference counts equal to the references held by live
     * resident sequences' block tables.
     *
     * @throws IllegalStateException describing the first violation
     */
    public void checkInvariants() {
        pool.checkConsistency();
        int[] refs = new int[pool.numBlocks()];
        int[] crefs = new int[pool.numBlocks() * ratio];
        for (int i = 0; i < highWater; i++) {
            Seq s = seqs[i];
            if (s == null || s.swap != null) {
                continue;
            }
            if (s.nBlocks != (s.nTokens + bs - 1) / bs) {
                throw new IllegalStateException("sequence " + s.id + " has " + s.nBlocks + " blocks for " + s.nTokens
                        + " tokens");
            }
            for (int b = 0; b < s.nBlocks; b++) {
                int h = s.table[b];
                if (h >= 0) {
                    refs[h]++;
                } else if (h <= -2) {
                    crefs[-(h + 2)]++;
                }
            }
        }
        for (int b = 0; b < refs.length; b++) {
            if (refs[b] != pool.refCount(b)) {
                throw new IllegalStateException("block " + b + " has reference count " + pool.refCount(b) + " but "
                        + refs[b] + " sequences reference it");
            }
        }
        for (int c = 0; ratio > 1 && c < crefs.length; c++) {
            if (crefs[c] != pool.compressedRefCount(c)) {
                throw new IllegalStateException("compressed block " + c + " has reference count "
                        + pool.compressedRefCount(c) + " but " + crefs[c] + " sequences reference it");
            }
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("KV cache is closed");
        }
    }

    private void checkContent() {
        if (!content) {
            throw new IllegalStateException("this KV cache is accounting-only (no memory); K/V cannot be read or "
                    + "written");
        }
        if (segs[0] == null) {
            throw new IllegalStateException("KV memory of kind " + resource.kind()
                    + " is not host-accessible; use the cache addresses from a kernel");
        }
    }

    private void checkLayer(int layer) {
        if (layer < 0 || layer >= config.numLayers()) {
            throw new IllegalArgumentException("layer must be in 0.." + (config.numLayers() - 1) + ", got " + layer);
        }
    }

    private void checkRow(String name, float[] x) {
        if (x == null || x.length != rowElems) {
            throw new IllegalArgumentException(name + " must have kvHeads x headDim = " + rowElems + " elements, got "
                    + (x == null ? "null" : x.length));
        }
    }

    /**
     * Returns all memory to the resource, including swapped copies. Live sequences become unusable.
     *
     * @throws IllegalStateException if already closed
     */
    @Override
    public void close() {
        checkOpen();
        for (int i = 0; i < highWater; i++) {
            if (seqs[i] != null && seqs[i].swap != null) {
                discardSwap(seqs[i]);
            }
        }
        closed = true;
        closeBuffers();
    }

    private void closeBuffers() {
        for (Buffer[] arr : new Buffer[][] {kData, vData, kScale, vScale, kcScale, vcScale}) {
            for (int i = 0; i < arr.length; i++) {
                if (arr[i] != null && arr[i].isOpen()) {
                    arr[i].close();
                }
                arr[i] = null;
            }
        }
    }
}
