package io.vramkit.attention.internal;

import io.vramkit.core.DType;
import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * The constants of one paged-decode call that a {@link DecodeKernel} needs, and the layout of the per-worker scratch
 * segment the kernel works in.
 *
 * <p>Cache layout (see {@code io.vramkit.attention.KvCacheView}): K and V are {@code [numBlocks, blockSize, kvHeads,
 * headDim]} elements of {@link #type}; for INT8/FP8 the FP32 scales are {@code [numBlocks, kvHeads]}.
 *
 * <p>Scratch layout, in floats from the start of the segment, for up to {@link #kvLocal} KV heads per work item.
 * Query rows are grouped per KV head and padded to {@link #groupPad} rows (a multiple of 4) so that kernels always
 * work on 4 query heads at once; padding rows hold zeros and their outputs are discarded. Rows are {@link #dimPad}
 * floats (a multiple of 64), zero beyond {@link #headDim}.
 * <ul>
 *   <li>{@link #offQ}: queries {@code [kvLocal, groupPad, dimPad]}, already multiplied by the softmax scale;</li>
 *   <li>{@link #offO}: unnormalized outputs, same shape;</li>
 *   <li>{@link #offM}, {@link #offL}: running max and sum {@code [kvLocal · groupPad]};</li>
 *   <li>{@link #offS}: partial score vectors {@code [kvLocal, groupPad, TILE / 4, TILE]}, each covering 4 tokens of
 *       a tile, folded into one score vector per query head;</li>
 *   <li>{@link #offLV}: lane-wise running sums {@code [kvLocal · groupPad, TILE]}, for kernels that keep
 *       {@code L} as a vector until they return;</li>
 *   <li>{@link #offKS}, {@link #offVS}: per-token key and value scales of a tile {@code [kvLocal, TILE]};</li>
 *   <li>{@link #offStageK}, {@link #offStageV}: a tile of K and V rows converted to FP32
 *       {@code [kvLocal, TILE, dimPad]}, for kernels that cannot read the cache in place.</li>
 * </ul>
 * Immutable and thread-safe; the scratch itself belongs to one worker at a time.
 */
public final class DecodeProblem {

    /** Tokens per tile: the widest vector's float lanes. */
    public static final int TILE = 16;

    /** K cache. */
    public final MemorySegment keys;
    /** V cache. */
    public final MemorySegment values;
    /** Element type of the caches. */
    public final DType type;
    /** FP8 decode table, or {@code null}. */
    public final float[] fp8Table;
    /** Key scales {@code [numBlocks, kvHeads]} for INT8/FP8, else {@code null}. */
    public final MemorySegment keyScales;
    /** Value scales {@code [numBlocks, kvHeads]} for INT8/FP8, else {@code null}. */
    public final MemorySegment valueScales;
    /** KV heads in the cache. */
    public final int kvHeads;
    /** Elements per head. */
    public final int headDim;
    /** Tokens per cache block. */
    public final int blockSize;
    /** Query heads per KV head. */
    public final int group;
    /** {@link #group} rounded up to a multiple of 4. */
    public final int groupPad;
    /** {@link #headDim} rounded up to a multiple of 64. */
    public final int dimPad;
    /** Logit softcap, or 0 for none. */
    public final float softcap;
    /** Bytes of one head's row in the cache. */
    public final long headBytes;
    /** Bytes of one token (all KV heads) in the cache. */
    public final long tokenBytes;
    /** Most KV heads one work item covers. */
    public final int kvLocal;
    /** Scratch offsets in floats; see the class comment. */
    public final int offQ;
    /** Outputs. */
    public final int offO;
    /** Running maxima. */
    public final int offM;
    /** Running sums. */
    public final int offL;
    /** Partial scores. */
    public final int offS;
    /** Lane-wise running sums. */
    public final int offLV;
    /** Key scales of a tile. */
    public final int offKS;
    /** Value scales of a tile. */
    public final int offVS;
    /** Staged K tile. */
    public final int offStageK;
    /** Staged V tile. */
    public final int offStageV;
    /** Scratch size in floats. */
    public final int floats;

    /**
     * Describes a call.
     *
     * @param keys        K cache
     * @param values      V cache
     * @param type        element type
     * @param fp8Table    FP8 decode table, or {@code null}
     * @param keyScales   key scales for INT8/FP8, else {@code null}
     * @param valueScales value scales for INT8/FP8, else {@code null}
     * @param kvHeads     KV heads, >= 1
     * @param headDim     elements per head, >= 1
     * @param blockSize   tokens per block, >= 1
     * @param group       query heads per KV head, >= 1
     * @param softcap     logit softcap, 0 for none
     * @param kvLocal     most KV heads per work item, 1..kvHeads
     * @throws IllegalArgumentException if a count is out of range
     */
    public DecodeProblem(MemorySegment keys, MemorySegment values, DType type, float[] fp8Table,
                         MemorySegment keyScales, MemorySegment valueScales, int kvHeads, int headDim, int blockSize,
                         int group, float softcap, int kvLocal) {
        this.keys = Objects.requireNonNull(keys, "keys");
        this.values = Objects.requireNonNull(values, "values");
        this.type = Objects.requireNonNull(type, "type");
        if (kvHeads < 1 || headDim < 1 || blockSize < 1 || group < 1 || kvLocal < 1 || kvLocal > kvHeads) {
            throw new IllegalArgumentException("kvHeads " + kvHeads + ", headDim " + headDim + ", blockSize "
                    + blockSize + ", group " + group + " must be >= 1 and kvLocal " + kvLocal + " in 1..kvHeads");
        }
        this.fp8Table = fp8Table;
        this.keyScales = keyScales;
        this.valueScales = valueScales;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.blockSize = blockSize;
        this.group = group;
        this.groupPad = (group + 3) / 4 * 4;
        this.dimPad = (headDim + 63) / 64 * 64;
        this.softcap = softcap;
        this.headBytes = (long) headDim * type.byteSize();
        this.tokenBytes = headBytes * kvHeads;
        this.kvLocal = kvLocal;
        int rows = kvLocal * groupPad;
        this.offQ = 0;
        this.offO = offQ + rows * dimPad;
        this.offM = offO + rows * dimPad;
        this.offL = offM + pad16(rows);
        this.offS = offL + pad16(rows);
        this.offLV = offS + rows * TILE * TILE / 4;
        this.offKS = offLV + rows * TILE;
        this.offVS = offKS + kvLocal * TILE;
        this.offStageK = offVS + kvLocal * TILE;
        this.offStageV = offStageK + kvLocal * TILE * dimPad;
        this.floats = offStageV + kvLocal * TILE * dimPad;
    }

    private static int pad16(int n) {
        return (n + 15) / 16 * 16;
    }

    /** Whether the cache holds INT8/FP8 codes with scales. */
    public boolean quantized() {
        return keyScales != null;
    }

    /** Scratch index of query (or output, from {@code base}) row {@code i} of local KV head {@code local}. */
    public int row(int base, int local, int i) {
        return base + (local * groupPad + i) * dimPad;
    }
}
