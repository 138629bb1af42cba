package io.vramkit.core.kv;

/**
 * Block accounting of a paged KV cache: reference counts, the free list, the prefix-cache hash table, the LRU list of
 * cached blocks no one references, and a slab of compressed blocks carved out of whole blocks.
 *
 * <p>A physical block ("page") is in exactly one state:
 * <ul>
 *   <li><b>free</b>: on the free list;</li>
 *   <li><b>in use</b>: referenced by {@code refCount >= 1} sequences;</li>
 *   <li><b>evictable</b>: reference count 0 but registered in the prefix cache; it keeps its contents and sits on an
 *       LRU list until a prefix hit revives it or an allocation evicts it (least recently released first);</li>
 *   <li><b>slab</b>: split into {@code compressionRatio} compressed blocks, each with its own reference count.</li>
 * </ul>
 * Compressed block {@code c} lives in page {@code c / compressionRatio}.
 *
 * <p>Errors leave the pool unchanged: releasing a block whose count is already 0 (a double free) or retaining a free
 * block throws {@link IllegalStateException}, and an allocation with nothing free or evictable throws
 * {@link KvCacheFullException}. Not thread-safe: one scheduler thread owns it.
 */
public final class KvBlockPool {

    private static final byte FREE = 0;
    private static final byte IN_USE = 1;
    private static final byte EVICTABLE = 2;
    private static final byte SLAB = 3;

    private final int numBlocks;
    private final int blockSize;
    private final int ratio;
    private final long bytesPerBlock;

    private final int[] ref;
    private final byte[] state;
    private final int[] fill;
    private final int[] freeStack;
    private int freeTop;

    private final int[] lruPrev;
    private final int[] lruNext;
    private int lruHead = -1;
    private int lruTail = -1;
    private int lruSize;

    private final boolean[] hashed;
    private final long[] hash;
    private final long[] parentHash;
    private final long[] salt;
    private final int[] blockTokens;
    private final LongIntMap byHash;

    private final int[] compRef;
    private final int[] slabUsed;
    private final boolean[] inPartial;
    private final int[] partialStack;
    private int partialTop;

    private int inUse;
    private int slabs;
    private int compressedInUse;
    private long usedSlots;
    private long evictions;

    /**
     * Creates a pool with every block free.
     *
     * @param numBlocks        physical blocks, {@code >= 1}
     * @param blockSize        tokens per block, {@code >= 1}
     * @param compressionRatio compressed blocks per physical block, {@code >= 1} (1 = no compressed tier)
     * @param bytesPerBlock    bytes one block stands for, used in error messages, {@code >= 0}
     * @throws IllegalArgumentException naming the bad argument
     */
    public KvBlockPool(int numBlocks, int blockSize, int compressionRatio, long bytesPerBlock) {
        if (numBlocks <= 0) {
            throw new IllegalArgumentException("numBlocks must be positive, got " + numBlocks);
        }
        if (blockSize <= 0) {
            throw new IllegalArgumentException("blockSize must be positive, got " + blockSize);
        }
        if (compressionRatio <= 0) {
            throw new IllegalArgumentException("compressionRatio must be positive, got " + compressionRatio);
        }
        if (bytesPerBlock < 0) {
            throw new IllegalArgumentException("bytesPerBlock must be >= 0, got " + bytesPerBlock);
        }
        if ((long) numBlocks * blockSize > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("numBlocks " + numBlocks + " x blockSize " + blockSize
                    + " exceeds 2^31 token slots");
        }
        this.numBlocks = numBlocks;
        this.blockSize = blockSize;
        this.ratio = compressionRatio;
        this.bytesPerBlock = bytesPerBlock;
        ref = new int[numBlocks];
        state = new byte[numBlocks];
        fill = new int[numBlocks];
        freeStack = new int[numBlocks];
        for (int i = 0; i < numBlocks; i++) {
            // lowest ids on top, so allocation order is 0, 1, 2, ...
            freeStack[i] = numBlocks - 1 - i;
        }
        freeTop = numBlocks;
        lruPrev = new int[numBlocks];
        lruNext = new int[numBlocks];
        hashed = new boolean[numBlocks];
        hash = new long[numBlocks];
        parentHash = new long[numBlocks];
        salt = new long[numBlocks];
        blockTokens = new int[numBlocks * blockSize];
        byHash = new LongIntMap(numBlocks);
        compRef = new int[ratio > 1 ? numBlocks * ratio : 0];
        slabUsed = new int[ratio > 1 ? numBlocks : 0];
        inPartial = new boolean[ratio > 1 ? numBlocks : 0];
        partialStack = new int[ratio > 1 ? numBlocks : 0];
    }

    /** Physical blocks in the pool. */
    public int numBlocks() {
        return numBlocks;
    }

    /** Tokens per block. */
    public int blockSize() {
        return blockSize;
    }

    /** Compressed blocks per physical block (1 when there is no compressed tier). */
    public int compressionRatio() {
        return ratio;
    }

    /** Blocks on the free list. */
    public int freeBlocks() {
        return freeTop;
    }

    /** Cached blocks that no one references, evictable in LRU order. */
    public int evictableBlocks() {
        return lruSize;
    }

    /** Blocks an allocation can still get: free plus evictable. */
    public int availableBlocks() {
        return freeTop + lruSize;
    }

    /** Blocks referenced by at least one sequence (not counting slab pages). */
    public int blocksInUse() {
        return inUse;
    }

    /** Physical blocks split into compressed blocks. */
    public int slabBlocks() {
        return slabs;
    }

    /** Compressed blocks referenced by at least one sequence. */
    public int compressedBlocksInUse() {
        return compressedInUse;
    }

    /** Blocks evicted from the prefix cache so far. */
    public long evictions() {
        return evictions;
    }

    /** Token slots in referenced blocks (full and compressed), i.e. allocated KV slots. */
    public long allocatedSlots() {
        return ((long) inUse + compressedInUse) * blockSize;
    }

    /** Token slots holding a token, over referenced blocks (each physical block counted once). */
    public long usedSlots() {
        return usedSlots;
    }

    /** The reference count of a physical block. @throws IndexOutOfBoundsException for a bad id */
    public int refCount(int block) {
        return ref[checkBlock(block)];
    }

    /** The tokens held by a physical block. */
    public int fill(int block) {
        return fill[checkBlock(block)];
    }

    /** Whether a physical block is registered in the prefix cache. */
    public boolean isCached(int block) {
        return hashed[checkBlock(block)];
    }

    /** The reference count of a compressed block. */
    public int compressedRefCount(int compressedBlock) {
        return compRef[java.util.Objects.checkIndex(compressedBlock, compRef.length)];
    }

    /**
     * Takes a block with reference count 1 and fill 0: from the free list, or else by evicting the least recently
     * released cached block (which leaves the prefix cache).
     *
     * @return the block id
     * @throws KvCacheFullException when nothing is free or evictable; the pool is unchanged
     */
    public int allocate() {
        int b = takeRaw();
        state[b] = IN_USE;
        ref[b] = 1;
        fill[b] = 0;
        inUse++;
        return b;
    }

    private int takeRaw() {
        if (freeTop > 0) {
            return freeStack[--freeTop];
        }
        if (lruHead >= 0) {
            int b = lruHead;
            lruRemove(b);
            unregister(b);
            evictions++;
            state[b] = FREE;
            return b;
        }
        throw new KvCacheFullException(String.format(
                "KV cache is full: all %d blocks are referenced (%d in use, %d split into compressed blocks) and "
                        + "none is evictable; free or swap out a sequence, or configure more blocks",
                numBlocks, inUse, slabs), 1, 0, bytesPerBlock);
    }

    /**
     * Adds a reference to a block in use, or revives an evictable cached block (removing it from the LRU list).
     *
     * @throws IllegalStateException if the block is free or a slab page
     */
    public void retain(int block) {
        checkBlock(block);
        switch (state[block]) {
            case IN_USE -> ref[block]++;
            case EVICTABLE -> {
                lruRemove(block);
                state[block] = IN_USE;
                ref[block] = 1;
                inUse++;
                usedSlots += fill[block];
            }
            default -> throw new IllegalStateException("block " + block + " cannot be retained: it is "
                    + stateName(block));
        }
    }

    /**
     * Drops one reference. At zero, a cached block becomes evictable (most recently released, so evicted last) and
     * any other block returns to the free list.
     *
     * @throws IllegalStateException if the reference count is already 0 (freed twice); the pool is unchanged
     */
    public void release(int block) {
        checkBlock(block);
        if (state[block] != IN_USE || ref[block] <= 0) {
            throw new IllegalStateException("block " + block + " freed twice: its reference count is already 0 ("
                    + stateName(block) + ")");
        }
        if (--ref[block] == 0) {
            inUse--;
            usedSlots -= fill[block];
            if (hashed[block]) {
                state[block] = EVICTABLE;
                lruAppend(block);
            } else {
                state[block] = FREE;
                fill[block] = 0;
                freeStack[freeTop++] = block;
            }
        }
    }

    /**
     * Sets how many tokens a block in use holds, keeping {@link #usedSlots()} exact.
     *
     * @throws IllegalArgumentException if {@code tokens} is outside 0..blockSize
     * @throws IllegalStateException    if the block is not in use
     */
    public void setFill(int block, int tokens) {
        checkBlock(block);
        if (tokens < 0 || tokens > blockSize) {
            throw new IllegalArgumentException("tokens must be in 0.." + blockSize + ", got " + tokens);
        }
        if (state[block] != IN_USE) {
            throw new IllegalStateException("block " + block + " is " + stateName(block) + ", not in use");
        }
        usedSlots += tokens - fill[block];
        fill[block] = tokens;
    }

    /** Adds one token to a block in use; the hot path of appends, so it checks only in the state it relies on. */
    void addToken(int block) {
        fill[block]++;
        usedSlots++;
    }

    /**
     * Finds a cached block for a hash-chain link, checking its content (parent hash, salt and token ids) so a hash
     * collision is a miss, never a wrong hit.
     *
     * @return the block id, or -1 on a miss
     */
    public int lookup(long blockHash, long parent, long saltValue, int[] tokens, int offset) {
        int p = byHash.get(blockHash);
        if (p < 0) {
            return -1;
        }
        if (parentHash[p] != parent || salt[p] != saltValue) {
            return -1;
        }
        int base = p * blockSize;
        for (int i = 0; i < blockSize; i++) {
            if (blockTokens[base + i] != tokens[offset + i]) {
                return -1;
            }
        }
        return p;
    }

    /** Whether a block found by {@link #lookup} would come off the evictable list (rather than be shared). */
    public boolean isEvictable(int block) {
        return state[checkBlock(block)] == EVICTABLE;
    }

    /**
     * Registers a full block in use in the prefix cache. Does nothing if the hash is already taken (another block
     * holds the same content) or the block is already registered.
     *
     * @return whether the block was registered
     * @throws IllegalStateException if the block is not in use or not full
     */
    public boolean register(int block, long blockHash, long parent, long saltValue, int[] tokens, int offset) {
        checkBlock(block);
        if (state[block] != IN_USE || fill[block] != blockSize) {
            throw new IllegalStateException("only a full block in use can be cached; block " + block + " is "
                    + stateName(block) + " with " + fill[block] + " of " + blockSize + " tokens");
        }
        if (hashed[block] || !byHash.putIfAbsent(blockHash, block)) {
            return false;
        }
        hashed[block] = true;
        hash[block] = blockHash;
        parentHash[block] = parent;
        salt[block] = saltValue;
        System.arraycopy(tokens, offset, blockTokens, block * blockSize, blockSize);
        return true;
    }

    private void unregister(int b) {
        if (hashed[b]) {
            byHash.remove(hash[b], b);
            hashed[b] = false;
        }
        fill[b] = 0;
    }

    /**
     * Removes a block in use from the prefix cache, for when its contents are about to change.
     *
     * @throws IllegalStateException if the block is not in use
     */
    public void uncache(int block) {
        checkBlock(block);
        if (state[block] != IN_USE) {
            throw new IllegalStateException("block " + block + " is " + stateName(block) + ", not in use");
        }
        if (hashed[block]) {
            byHash.remove(hash[block], block);
            hashed[block] = false;
        }
    }

    /** Whether a compressed block could be had now without taking a whole block: a slab page has a free slot. */
    public boolean hasPartialSlab() {
        prunePartial();
        return partialTop > 0;
    }

    /**
     * Takes a compressed block with reference count 1, from a partly used slab page or else from a newly split
     * block.
     *
     * @return the compressed block id
     * @throws IllegalStateException when the pool has no compressed tier
     * @throws KvCacheFullException  when no slab slot and no block is available; the pool is unchanged
     */
    public int allocateCompressed() {
        if (ratio == 1) {
            throw new IllegalStateException("this pool has no compressed tier (compressionRatio 1)");
        }
        prunePartial();
        int page;
        if (partialTop > 0) {
            page = partialStack[partialTop - 1];
        } else {
            page = takeRaw();
            state[page] = SLAB;
            slabUsed[page] = 0;
            slabs++;
            inPartial[page] = true;
            partialStack[partialTop++] = page;
        }
        int base = page * ratio;
        for (int c = base; c < base + ratio; c++) {
            if (compRef[c] == 0) {
                compRef[c] = 1;
                slabUsed[page]++;
                compressedInUse++;
                usedSlots += blockSize;
                return c;
            }
        }
        throw new IllegalStateException("slab page " + page + " listed as partial but full");
    }

    /** Adds a reference to a compressed block. @throws IllegalStateException if it is not allocated */
    public void retainCompressed(int c) {
        java.util.Objects.checkIndex(c, compRef.length);
        if (compRef[c] <= 0) {
            throw new IllegalStateException("compressed block " + c + " cannot be retained: it is free");
        }
        compRef[c]++;
    }

    /**
     * Drops one reference to a compressed block; a slab page whose slots are all free returns to the free list.
     *
     * @throws IllegalStateException if its count is already 0 (freed twice); the pool is unchanged
     */
    public void releaseCompressed(int c) {
        java.util.Objects.checkIndex(c, compRef.length);
        if (compRef[c] <= 0) {
            throw new IllegalStateException("compressed block " + c
                    + " freed twice: its reference count is already 0");
        }
        if (--compRef[c] == 0) {
            int page = c / ratio;
            compressedInUse--;
            usedSlots -= blockSize;
            if (--slabUsed[page] == 0) {
                state[page] = FREE;
                slabs--;
                freeStack[freeTop++] = page;
            } else if (!inPartial[page]) {
                inPartial[page] = true;
                partialStack[partialTop++] = page;
            }
        }
    }

    private void prunePartial() {
        while (partialTop > 0) {
            int p = partialStack[partialTop - 1];
            if (state[p] == SLAB && slabUsed[p] < ratio) {
                return;
            }
            inPartial[p] = false;
            partialTop--;
        }
    }

    /** The evictable blocks in eviction order (least recently released first); a copy, for diagnostics and tests. */
    public int[] evictionOrder() {
        int[] out = new int[lruSize];
        int i = 0;
        for (int b = lruHead; b >= 0; b = lruNext[b]) {
            out[i++] = b;
        }
        return out;
    }

    /**
     * Checks the pool's internal consistency: every block in exactly one state, counts matching, the free and LRU
     * lists holding exactly the free and evictable blocks, and the hash table pointing at registered blocks.
     *
     * @throws IllegalStateException describing the first inconsistency found
     */
    public void checkConsistency() {
        int free = 0;
        int used = 0;
        int evict = 0;
        int slab = 0;
        int comp = 0;
        long slots = 0;
        boolean[] onFree = new boolean[numBlocks];
        for (int i = 0; i < freeTop; i++) {
            if (onFree[freeStack[i]]) {
                throw new IllegalStateException("block " + freeStack[i] + " is twice on the free list");
            }
            onFree[freeStack[i]] = true;
        }
        for (int b = 0; b < numBlocks; b++) {
            switch (state[b]) {
                case FREE -> {
                    free++;
                    require(onFree[b], "free block " + b + " is not on the free list");
                    require(ref[b] == 0 && !hashed[b], "free block " + b + " has references or a hash");
                }
                case IN_USE -> {
                    used++;
                    require(ref[b] > 0, "block " + b + " in use has reference count " + ref[b]);
                    slots += fill[b];
                }
                case EVICTABLE -> {
                    evict++;
                    require(ref[b] == 0 && hashed[b], "evictable block " + b + " must be cached with no reference");
                }
                case SLAB -> {
                    slab++;
                    int n = 0;
                    for (int c = b * ratio; c < (b + 1) * ratio; c++) {
                        if (compRef[c] > 0) {
                            n++;
                        }
                    }
                    require(n == slabUsed[b] && n > 0, "slab block " + b + " counts " + slabUsed[b]
                            + " used slots but has " + n);
                    comp += n;
                    slots += (long) n * blockSize;
                }
                default -> throw new IllegalStateException("block " + b + " has unknown state " + state[b]);
            }
            if (state[b] != FREE) {
                require(!onFree[b], "block " + b + " is on the free list but " + stateName(b));
            }
        }
        int lru = 0;
        for (int b = lruHead; b >= 0; b = lruNext[b]) {
            require(state[b] == EVICTABLE, "block " + b + " on the LRU list is " + stateName(b));
            lru++;
        }
        require(free == freeTop, "free count " + free + " != free list size " + freeTop);
        require(evict == lruSize && lru == lruSize, "evictable " + evict + " vs LRU size " + lruSize);
        require(used == inUse, "in-use count " + used + " != tracked " + inUse);
        require(slab == slabs, "slab count " + slab + " != tracked " + slabs);
        require(comp == compressedInUse, "compressed count " + comp + " != tracked " + compressedInUse);
        require(slots == usedSlots, "used slots " + slots + " != tracked " + usedSlots);
        require(free + used + evict + slab == numBlocks, "states do not add up to numBlocks");
        require(byHash.allMatch((key, b) -> hashed[b] && hash[b] == key), "a hash table entry is stale");
        int cached = 0;
        for (int b = 0; b < numBlocks; b++) {
            if (hashed[b]) {
                cached++;
            }
        }
        require(cached == byHash.size(), "cached blocks " + cached + " != hash table size " + byHash.size());
    }

    private static void require(boolean ok, String what) {
        if (!ok) {
            throw new IllegalStateException("KV block pool inconsistent: " + what);
        }
    }

    private int checkBlock(int block) {
        if (block < 0 || block >= numBlocks) {
            throw new IndexOutOfBoundsException("block must be in 0.." + (numBlocks - 1) + ", got " + block);
        }
        return block;
    }

    private String stateName(int b) {
        return switch (state[b]) {
            case FREE -> "free";
            case IN_USE -> "in use";
            case EVICTABLE -> "evictable";
            default -> "a compressed-block slab";
        };
    }

    private void lruAppend(int b) {
        lruPrev[b] = lruTail;
        lruNext[b] = -1;
        if (lruTail >= 0) {
            lruNext[lruTail] = b;
        } else {
            lruHead = b;
        }
        lruTail = b;
        lruSize++;
    }

    private void lruRemove(int b) {
        int p = lruPrev[b];
        int n = lruNext[b];
        if (p >= 0) {
            lruNext[p] = n;
        } else {
            lruHead = n;
        }
        if (n >= 0) {
            lruPrev[n] = p;
        } else {
            lruTail = p;
        }
        lruSize--;
    }
}
