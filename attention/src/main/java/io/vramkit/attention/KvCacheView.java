package io.vramkit.attention;

import io.vramkit.core.DType;
import io.vramkit.quant.Fp8;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;

/**
 * A read view of one layer's paged KV cache, in the layout the KV-cache manager allocates:
 * <ul>
 *   <li>K cache and V cache, each {@code [numBlocks, blockSize, kvHeads, headDim]} contiguous, row-major, native
 *       byte order;</li>
 *   <li>element type FP32, FP16, BF16, or INT8 / FP8 (E4M3, E5M2) codes;</li>
 *   <li>for INT8 and FP8, FP32 scales {@code [numBlocks, kvHeads]} for each cache: value = code × scale (per block
 *       and per head; per-head scaling stores the same value in every block). INT8 codes are symmetric,
 *       −127..127;</li>
 *   <li>a sequence's block table is an {@code int[]} of physical block ids: token {@code t} lives in block
 *       {@code table[t / blockSize]}, slot {@code t % blockSize}.</li>
 * </ul>
 * The view neither owns nor copies the memory; the caller keeps the segments alive and unchanged during a call.
 * Immutable and thread-safe.
 */
public final class KvCacheView {

    private final MemorySegment keys;
    private final MemorySegment values;
    private final DType type;
    private final int numBlocks;
    private final int blockSize;
    private final int kvHeads;
    private final int headDim;
    private final MemorySegment keyScales;
    private final MemorySegment valueScales;
    private final float[] fp8Table;

    /**
     * Creates a view.
     *
     * @param keys        K cache, at least {@code numBlocks·blockSize·kvHeads·headDim} elements of {@code type}
     * @param values      V cache, same size
     * @param type        FP32, FP16, BF16, INT8, FP8_E4M3 or FP8_E5M2
     * @param numBlocks   physical blocks, >= 1
     * @param blockSize   tokens per block, >= 1
     * @param kvHeads     KV heads, >= 1
     * @param headDim     elements per head, 1..256
     * @param keyScales   FP32 {@code [numBlocks, kvHeads]} for INT8/FP8, else {@code null}
     * @param valueScales FP32 {@code [numBlocks, kvHeads]} for INT8/FP8, else {@code null}
     * @throws IllegalArgumentException if a size is out of range, a segment is too small, or scales are missing
     *                                  for a quantized type (or given for a float type)
     */
    public KvCacheView(MemorySegment keys, MemorySegment values, DType type, int numBlocks, int blockSize,
                       int kvHeads, int headDim, MemorySegment keyScales, MemorySegment valueScales) {
        Objects.requireNonNull(keys, "keys");
        Objects.requireNonNull(values, "values");
        Objects.requireNonNull(type, "type");
        if (numBlocks < 1) {
            throw new IllegalArgumentException("numBlocks must be >= 1, got " + numBlocks);
        }
        if (blockSize < 1) {
            throw new IllegalArgumentException("blockSize must be >= 1, got " + blockSize);
        }
        if (kvHeads < 1) {
            throw new IllegalArgumentException("kvHeads must be >= 1, got " + kvHeads);
        }
        if (headDim < 1 || headDim > HeadTensor.MAX_HEAD_DIM) {
            throw new IllegalArgumentException("headDim must be in 1.." + HeadTensor.MAX_HEAD_DIM + ", got "
                    + headDim);
        }
        boolean quantized = switch (type) {
            case FP32, FP16, BF16 -> false;
            case INT8, FP8_E4M3, FP8_E5M2 -> true;
            default -> throw new IllegalArgumentException(
                    "type must be FP32, FP16, BF16, INT8, FP8_E4M3 or FP8_E5M2, got " + type);
        };
        long bytes = (long) numBlocks * blockSize * kvHeads * headDim * type.byteSize();
        if (keys.byteSize() < bytes) {
            throw new IllegalArgumentException("keys holds " + keys.byteSize() + " bytes, less than the " + bytes
                    + " bytes of the cache");
        }
        if (values.byteSize() < bytes) {
            throw new IllegalArgumentException("values holds " + values.byteSize() + " bytes, less than the "
                    + bytes + " bytes of the cache");
        }
        long scaleBytes = (long) numBlocks * kvHeads * 4;
        if (quantized) {
            if (keyScales == null || keyScales.byteSize() < scaleBytes) {
                throw new IllegalArgumentException("keyScales must hold numBlocks*kvHeads = " + numBlocks * kvHeads
                        + " floats for " + type + ", got " + (keyScales == null ? "null" : keyScales.byteSize()
                        + " bytes"));
            }
            if (valueScales == null || valueScales.byteSize() < scaleBytes) {
                throw new IllegalArgumentException("valueScales must hold numBlocks*kvHeads = "
                        + numBlocks * kvHeads + " floats for " + type + ", got " + (valueScales == null ? "null"
                        : valueScales.byteSize() + " bytes"));
            }
        } else if (keyScales != null || valueScales != null) {
            throw new IllegalArgumentException("keyScales and valueScales must be null for " + type);
        }
        this.keys = keys;
        this.values = values;
        this.type = type;
        this.numBlocks = numBlocks;
        this.blockSize = blockSize;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.keyScales = keyScales;
        this.valueScales = valueScales;
        this.fp8Table = type == DType.FP8_E4M3 ? Fp8.decodeTable(true)
                : type == DType.FP8_E5M2 ? Fp8.decodeTable(false) : null;
    }

    /** A view of an unquantized (FP32, FP16 or BF16) cache. */
    public static KvCacheView of(MemorySegment keys, MemorySegment values, DType type, int numBlocks,
                                 int blockSize, int kvHeads, int headDim) {
        return new KvCacheView(keys, values, type, numBlocks, blockSize, kvHeads, headDim, null, null);
    }

    /** The K cache. */
    public MemorySegment keys() {
        return keys;
    }

    /** The V cache. */
    public MemorySegment values() {
        return values;
    }

    /** Element type of the caches. */
    public DType type() {
        return type;
    }

    /** Physical blocks. */
    public int numBlocks() {
        return numBlocks;
    }

    /** Tokens per block. */
    public int blockSize() {
        return blockSize;
    }

    /** KV heads. */
    public int kvHeads() {
        return kvHeads;
    }

    /** Elements per head. */
    public int headDim() {
        return headDim;
    }

    /** Whether elements are INT8/FP8 codes with scales. */
    public boolean quantized() {
        return keyScales != null;
    }

    /** Byte offset of the row of {@code (block, slot, kvHead)} in either cache. */
    public long rowOffset(int block, int slot, int kvHead) {
        return (((long) block * blockSize + slot) * kvHeads + kvHead) * headDim * type.byteSize();
    }

    /** Bytes of one cache (K or V). */
    public long cacheBytes() {
        return (long) numBlocks * blockSize * kvHeads * headDim * type.byteSize();
    }

    float keyScale(int block, int kvHead) {
        return keyScales == null ? 1f : keyScales.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED,
                (long) block * kvHeads + kvHead);
    }

    float valueScale(int block, int kvHead) {
        return valueScales == null ? 1f : valueScales.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED,
                (long) block * kvHeads + kvHead);
    }

    /** Key scales {@code [numBlocks, kvHeads]}, or {@code null} for a float cache. */
    MemorySegment keyScaleSegment() {
        return keyScales;
    }

    /** Value scales {@code [numBlocks, kvHeads]}, or {@code null} for a float cache. */
    MemorySegment valueScaleSegment() {
        return valueScales;
    }

    float[] fp8Table() {
        return fp8Table;
    }

    @Override
    public String toString() {
        return "KvCacheView[" + numBlocks + " blocks x " + blockSize + " tokens x " + kvHeads + " heads x "
                + headDim + " " + type + "]";
    }
}
