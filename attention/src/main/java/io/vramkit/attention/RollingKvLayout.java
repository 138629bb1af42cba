package io.vramkit.attention;

import io.vramkit.attention.internal.Elements;
import io.vramkit.core.DType;
import java.util.Objects;

/**
 * The rolling-buffer KV layout of sliding-window models (Mistral): a sequence keeps only the last {@code window}
 * positions, position {@code p} living in slot {@code p mod window}, so its KV memory stays bounded at the window
 * however long the sequence grows.
 *
 * <p>In vramkit a sequence's rolling buffer is one block of a {@link KvCacheView} whose block size is the window;
 * {@link PagedDecodeAttention#decodeRolling} attends over it. The layout owns no memory: {@link #write} stores a
 * token's K/V rows into a cache the KV-cache manager owns. Immutable and thread-safe.
 */
public final class RollingKvLayout {

    private final int window;

    /**
     * A rolling layout of {@code window} slots.
     *
     * @throws IllegalArgumentException if {@code window < 1}
     */
    public RollingKvLayout(int window) {
        if (window < 1) {
            throw new IllegalArgumentException("window must be >= 1, got " + window);
        }
        this.window = window;
    }

    /** Slots per sequence: the window, in tokens. */
    public int window() {
        return window;
    }

    /**
     * The slot holding a position: {@code position mod window}.
     *
     * @throws IllegalArgumentException if {@code position < 0}
     */
    public int slot(long position) {
        if (position < 0) {
            throw new IllegalArgumentException("position must be >= 0, got " + position);
        }
        return (int) (position % window);
    }

    /**
     * Slots holding live tokens after {@code length} tokens were written: {@code min(length, window)}.
     *
     * @throws IllegalArgumentException if {@code length < 0}
     */
    public int validSlots(long length) {
        if (length < 0) {
            throw new IllegalArgumentException("length must be >= 0, got " + length);
        }
        return (int) Math.min(length, window);
    }

    /**
     * Stores token {@code token} of {@code k} and {@code v} (all KV heads) as position {@code position} of the
     * rolling buffer in cache block {@code block}, overwriting the token {@code window} positions older.
     *
     * @throws IllegalArgumentException if the cache is quantized (its scales belong to the KV-cache manager), its
     *                                  block size is not the window, the block or position is out of range, or the
     *                                  shapes disagree
     */
    public void write(KvCacheView cache, int block, long position, HeadTensor k, HeadTensor v, int token) {
        Objects.requireNonNull(cache, "cache");
        Objects.requireNonNull(k, "k");
        Objects.requireNonNull(v, "v");
        if (cache.quantized()) {
            throw new IllegalArgumentException("cache type must be FP32, FP16 or BF16 to write rows, got "
                    + cache.type());
        }
        if (cache.blockSize() != window) {
            throw new IllegalArgumentException("cache.blockSize " + cache.blockSize() + " must equal window "
                    + window);
        }
        if (block < 0 || block >= cache.numBlocks()) {
            throw new IllegalArgumentException("block " + block + " is outside the cache of " + cache.numBlocks()
                    + " blocks");
        }
        if (k.heads() != cache.kvHeads() || k.headDim() != cache.headDim() || !k.sameShape(v)) {
            throw new IllegalArgumentException("k " + k + " and v " + v + " must be [tokens, " + cache.kvHeads()
                    + ", " + cache.headDim() + "]");
        }
        Objects.checkIndex(token, k.tokens());
        int s = slot(position);
        DType type = cache.type();
        for (int h = 0; h < cache.kvHeads(); h++) {
            long base = cache.rowOffset(block, s, h) / type.byteSize();
            for (int c = 0; c < cache.headDim(); c++) {
                Elements.set(cache.keys(), type, base + c, k.get(token, h, c));
                Elements.set(cache.values(), type, base + c, v.get(token, h, c));
            }
        }
    }

    @Override
    public String toString() {
        return "RollingKvLayout[window=" + window + "]";
    }
}
