package io.vramkit.core.kv;

import io.vramkit.core.DType;

/**
 * The shape and policy of a {@link PagedKvCache}.
 *
 * <p>Per layer, the K cache and the V cache are each one contiguous tensor {@code [numBlocks, blockSize, kvHeads,
 * headDim]} of {@link #dtype()}. For one-byte code types (INT8, FP8 E4M3) each cache also has FP32 scales
 * {@code [numBlocks, kvHeads]} (per block and per head; value = code × scale). With {@link #compressedDType()} set,
 * the same bytes can also be read as a compressed tier of {@code numBlocks × compressionRatio} one-byte blocks with
 * their own scales {@code [numBlocks × compressionRatio, kvHeads]}.
 *
 * <p>Immutable and thread-safe. Build one with {@link #builder()}.
 *
 * @param numLayers       transformer layers, {@code >= 1}
 * @param kvHeads         key/value heads per layer (GQA), {@code >= 1}
 * @param headDim         elements per head, {@code >= 1}
 * @param blockSize       tokens per block, {@code >= 1}
 * @param numBlocks       physical blocks in the pool, {@code >= 1}
 * @param dtype           element type: FP32, FP16, BF16, INT8 or FP8_E4M3
 * @param slidingWindow   attention window in tokens shared by every layer, or 0 for full attention (no
 *                        reclamation)
 * @param prefixCaching   whether full blocks are hash-chained and shared between sequences with equal prefixes
 * @param compressedDType INT8 or FP8_E4M3 for compression under pressure, or null to disable it; requires a
 *                        multi-byte {@code dtype}
 */
public record KvCacheConfig(int numLayers, int kvHeads, int headDim, int blockSize, int numBlocks, DType dtype,
                            int slidingWindow, boolean prefixCaching, DType compressedDType) {

    /**
     * Validates the configuration.
     *
     * @throws IllegalArgumentException naming the bad component and its value
     */
    public KvCacheConfig {
        positive("numLayers", numLayers);
        positive("kvHeads", kvHeads);
        positive("headDim", headDim);
        positive("blockSize", blockSize);
        positive("numBlocks", numBlocks);
        if (dtype == null) {
            throw new IllegalArgumentException("dtype must not be null");
        }
        switch (dtype) {
            case FP32, FP16, BF16, INT8, FP8_E4M3 -> { }
            default -> throw new IllegalArgumentException(
                    "dtype must be FP32, FP16, BF16, INT8 or FP8_E4M3 for the KV cache, got " + dtype);
        }
        if (slidingWindow < 0) {
            throw new IllegalArgumentException("slidingWindow must be >= 0 (0 = full attention), got " + slidingWindow);
        }
        if (compressedDType != null) {
            if (compressedDType != DType.INT8 && compressedDType != DType.FP8_E4M3) {
                throw new IllegalArgumentException(
                        "compressedDType must be INT8 or FP8_E4M3 (or null), got " + compressedDType);
            }
            if (dtype.byteSize() == 1) {
                throw new IllegalArgumentException("compressedDType " + compressedDType
                        + " needs a wider dtype to compress from, but dtype is " + dtype);
            }
        }
        long elems = (long) blockSize * kvHeads * headDim * dtype.byteSize();
        if (elems > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("one block of blockSize " + blockSize + " x kvHeads " + kvHeads
                    + " x headDim " + headDim + " x " + dtype.byteSize() + " bytes exceeds 2 GiB");
        }
    }

    private static void positive(String name, int v) {
        if (v <= 0) {
            throw new IllegalArgumentException(name + " must be positive, got " + v);
        }
    }

    /** Whether the element type stores one-byte codes with per-block-per-head scales. */
    public boolean quantized() {
        return dtype.byteSize() == 1;
    }

    /** Bytes of one block of one layer's K (or V) data, without scales. */
    public long blockDataBytes() {
        return (long) blockSize * kvHeads * headDim * dtype.byteSize();
    }

    /** Bytes of one block's scales for one layer's K (or V): {@code kvHeads × 4} for code types, else 0. */
    public long blockScaleBytes() {
        return quantized() ? (long) kvHeads * Float.BYTES : 0;
    }

    /** Compressed blocks per physical block: {@code dtype} bytes per element, or 1 when compression is off. */
    public int compressionRatio() {
        return compressedDType == null ? 1 : dtype.byteSize();
    }

    /** Bytes one block holds across all layers, K and V, scales included (compressed-tier scales excluded). */
    public long bytesPerBlock() {
        return 2L * numLayers * (blockDataBytes() + blockScaleBytes());
    }

    /** KV bytes per token across all layers, K and V, without scales or block rounding. */
    public long bytesPerToken() {
        return 2L * numLayers * kvHeads * headDim * dtype.byteSize();
    }

    /**
     * Bytes the cache reserves from its memory resource: data, scales and compressed-tier scales, all layers, K and
     * V.
     */
    public long reservedBytes() {
        long perCache = (long) numBlocks * (blockDataBytes() + blockScaleBytes());
        if (compressedDType != null) {
            perCache += (long) numBlocks * compressionRatio() * kvHeads * Float.BYTES;
        }
        return 2L * numLayers * perCache;
    }

    /** A builder with defaults: FP16, block size 16, no window, prefix caching on, no compression. */
    public static Builder builder() {
        return new Builder();
    }

    /** A copy with another number of blocks. */
    public KvCacheConfig withNumBlocks(int blocks) {
        return new KvCacheConfig(numLayers, kvHeads, headDim, blockSize, blocks, dtype, slidingWindow, prefixCaching,
                compressedDType);
    }

    /** Mutable builder of {@link KvCacheConfig}; not thread-safe. */
    public static final class Builder {
        private int numLayers = 1;
        private int kvHeads = 1;
        private int headDim = 64;
        private int blockSize = 16;
        private int numBlocks = 64;
        private DType dtype = DType.FP16;
        private int slidingWindow;
        private boolean prefixCaching = true;
        private DType compressedDType;

        private Builder() {
        }

        /** Sets the number of layers. */
        public Builder numLayers(int v) {
            numLayers = v;
            return this;
        }

        /** Sets the key/value heads per layer. */
        public Builder kvHeads(int v) {
            kvHeads = v;
            return this;
        }

        /** Sets the elements per head. */
        public Builder headDim(int v) {
            headDim = v;
            return this;
        }

        /** Sets the tokens per block. */
        public Builder blockSize(int v) {
            blockSize = v;
            return this;
        }

        /** Sets the number of physical blocks. */
        public Builder numBlocks(int v) {
            numBlocks = v;
            return this;
        }

        /** Sets the element type. */
        public Builder dtype(DType v) {
            dtype = v;
            return this;
        }

        /** Sets the sliding window in tokens shared by every layer (0 = full attention). */
        public Builder slidingWindow(int v) {
            slidingWindow = v;
            return this;
        }

        /**
         * Sets one attention window per layer (0 = full attention for that layer), for models that mix local and
         * global layers. A block is released only once it has left every layer's window, so the cache keeps the
         * largest window, and none at all if any layer attends globally.
         *
         * @throws IllegalArgumentException if {@code windows} is empty or holds a negative value, naming it
         */
        public Builder slidingWindows(int... windows) {
            if (windows == null || windows.length == 0) {
                throw new IllegalArgumentException("windows must name at least one layer's window");
            }
            int max = 0;
            for (int i = 0; i < windows.length; i++) {
                if (windows[i] < 0) {
                    throw new IllegalArgumentException("windows[" + i + "] must be >= 0, got " + windows[i]);
                }
                if (windows[i] == 0) {
                    slidingWindow = 0;
                    return this;
                }
                max = Math.max(max, windows[i]);
            }
            slidingWindow = max;
            return this;
        }

        /** Turns prefix caching on or off. */
        public Builder prefixCaching(boolean v) {
            prefixCaching = v;
            return this;
        }

        /** Sets the compressed tier's code type (INT8 or FP8_E4M3), or null for none. */
        public Builder compressedDType(DType v) {
            compressedDType = v;
            return this;
        }

        /**
         * Builds the configuration.
         *
         * @throws IllegalArgumentException naming the bad setting
         */
        public KvCacheConfig build() {
            return new KvCacheConfig(numLayers, kvHeads, headDim, blockSize, numBlocks, dtype, slidingWindow,
                    prefixCaching, compressedDType);
        }
    }
}
