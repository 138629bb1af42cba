package io.vramkit.core.kv;

import io.vramkit.core.DType;

import java.lang.foreign.MemorySegment;

/**
 * What a paged attention kernel needs to read one sequence's KV for one layer, as described in
 * {@code docs/kv-cache.md}.
 *
 * <p>{@code keyCache} and {@code valueCache} are the whole layer's caches, {@code [numBlocks, blockSize, kvHeads,
 * headDim]} of {@code dtype}. Token {@code t} lives in block {@code blockTable[t / blockSize]}, slot
 * {@code t % blockSize}. An entry of -1 means the block is not in the primary tier: it is either in the compressed
 * tier ({@code compressedTable[i] >= 0}) or was reclaimed by the sliding window (both -1). For one-byte code types
 * {@code keyScales}/{@code valueScales} are FP32 {@code [numBlocks, kvHeads]}, else null.
 *
 * <p>The compressed tier reads the same bytes as one-byte codes {@code [numBlocks × ratio, blockSize, kvHeads,
 * headDim]} of {@code compressedDType}, with FP32 scales {@code [numBlocks × ratio, kvHeads]}; its fields are null
 * when compression is off.
 *
 * <p>Segments stay valid until the cache closes; tables are copies owned by the caller. The view is a snapshot: any
 * later append, fork, free, swap or compression of the cache may change the tables.
 *
 * @param layer                 the layer
 * @param dtype                 the primary element type
 * @param keyCache              the layer's K cache
 * @param valueCache            the layer's V cache
 * @param keyScales             K scales, or null
 * @param valueScales           V scales, or null
 * @param blockSize             tokens per block
 * @param numTokens             tokens in the sequence
 * @param blockTable            primary block ids per logical block, -1 where not primary
 * @param compressedDType       compressed code type, or null
 * @param keyCompressedScales   compressed-tier K scales, or null
 * @param valueCompressedScales compressed-tier V scales, or null
 * @param compressedTable       compressed block ids per logical block, -1 where not compressed
 */
public record KvSequenceView(int layer, DType dtype, MemorySegment keyCache, MemorySegment valueCache,
                             MemorySegment keyScales, MemorySegment valueScales, int blockSize, int numTokens,
                             int[] blockTable, DType compressedDType, MemorySegment keyCompressedScales,
                             MemorySegment valueCompressedScales, int[] compressedTable) {
}
