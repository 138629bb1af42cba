package io.vramkit.attention;

import java.util.Arrays;

/**
 * A block-sparse attention mask: the query and key axes of a sequence are cut into blocks of {@code rowBlock} and
 * {@code colBlock} tokens, and each (query block, key block) pair is either allowed or skipped entirely (its keys
 * and values are never read). The same mask applies to every head and to every sequence of a batch, in
 * sequence-local coordinates; it must cover the longest sequence.
 *
 * <p>Inside allowed blocks the element-wise masks of {@link AttentionParams} (causal, window) still apply, so a
 * causal or sliding-window mask is expressed exactly as {@link #causal} / {@link #window} (the blocks that touch
 * the visible region) plus in-block masking. Immutable and thread-safe.
 */
public final class BlockMask {

    private final int rowBlock;
    private final int colBlock;
    private final int rowBlocks;
    private final int colBlocks;
    private final boolean[] allowed;

    private BlockMask(int rowBlock, int colBlock, int rowBlocks, int colBlocks, boolean[] allowed) {
        this.rowBlock = rowBlock;
        this.colBlock = colBlock;
        this.rowBlocks = rowBlocks;
        this.colBlocks = colBlocks;
        this.allowed = allowed;
    }

    /**
     * A mask from an explicit table.
     *
     * @param rowBlock query tokens per block, 1..1024
     * @param colBlock key tokens per block, 1..1024
     * @param allowed  {@code allowed[qb][kb]}; rectangular, copied
     * @throws IllegalArgumentException if a block size is out of range or the table is empty or ragged
     */
    public static BlockMask of(int rowBlock, int colBlock, boolean[][] allowed) {
        checkBlock("rowBlock", rowBlock);
        checkBlock("colBlock", colBlock);
        if (allowed == null || allowed.length == 0 || allowed[0] == null || allowed[0].length == 0) {
            throw new IllegalArgumentException("allowed must be a non-empty table");
        }
        int cols = allowed[0].length;
        boolean[] flat = new boolean[allowed.length * cols];
        for (int r = 0; r < allowed.length; r++) {
            if (allowed[r] == null || allowed[r].length != cols) {
                throw new IllegalArgumentException("allowed[" + r + "] must have " + cols + " entries, got "
                        + (allowed[r] == null ? "null" : allowed[r].length));
            }
            System.arraycopy(allowed[r], 0, flat, r * cols, cols);
        }
        return new BlockMask(rowBlock, colBlock, allowed.length, cols, flat);
    }

    /**
     * The blocks that touch the bottom-right-aligned causal region of an {@code lq × lk} attention.
     *
     * @throws IllegalArgumentException if a block size is out of range or a length is below 1
     */
    public static BlockMask causal(int rowBlock, int colBlock, int lq, int lk) {
        return window(rowBlock, colBlock, lq, lk, -1, 0);
    }

    /**
     * The blocks that touch a sliding-window region ({@link AttentionParams} semantics, bottom-right aligned) of
     * an {@code lq × lk} attention.
     *
     * @param left  window left extent, {@code -1} unbounded
     * @param right window right extent, {@code -1} unbounded
     * @throws IllegalArgumentException if a block size, length or extent is out of range
     */
    public static BlockMask window(int rowBlock, int colBlock, int lq, int lk, int left, int right) {
        checkBlock("rowBlock", rowBlock);
        checkBlock("colBlock", colBlock);
        if (lq < 1) {
            throw new IllegalArgumentException("lq must be >= 1, got " + lq);
        }
        if (lk < 1) {
            throw new IllegalArgumentException("lk must be >= 1, got " + lk);
        }
        if (left < -1) {
            throw new IllegalArgumentException("left must be -1 (unbounded) or >= 0, got " + left);
        }
        if (right < -1) {
            throw new IllegalArgumentException("right must be -1 (unbounded) or >= 0, got " + right);
        }
        int rows = (lq + rowBlock - 1) / rowBlock;
        int cols = (lk + colBlock - 1) / colBlock;
        boolean[] flat = new boolean[rows * cols];
        long offset = (long) lk - lq;
        for (int r = 0; r < rows; r++) {
            long firstPos = (long) r * rowBlock + offset;
            long lastPos = Math.min((long) (r + 1) * rowBlock, lq) - 1 + offset;
            long lo = left < 0 ? 0 : Math.max(0, firstPos - left);
            long hi = right < 0 ? lk - 1 : Math.min(lk - 1, lastPos + right);
            for (int c = 0; c < cols; c++) {
                long k0 = (long) c * colBlock;
                long k1 = Math.min((long) (c + 1) * colBlock, lk) - 1;
                flat[r * cols + c] = k1 >= lo && k0 <= hi;
            }
        }
        return new BlockMask(rowBlock, colBlock, rows, cols, flat);
    }

    private static void checkBlock(String name, int size) {
        if (size < 1 || size > 1024) {
            throw new IllegalArgumentException(name + " must be in 1..1024, got " + size);
        }
    }

    /** Query tokens per block. */
    public int rowBlock() {
        return rowBlock;
    }

    /** Key tokens per block. */
    public int colBlock() {
        return colBlock;
    }

    /** Number of query blocks. */
    public int rowBlocks() {
        return rowBlocks;
    }

    /** Number of key blocks. */
    public int colBlocks() {
        return colBlocks;
    }

    /**
     * Whether query block {@code qb} may see key block {@code kb}.
     *
     * @throws IndexOutOfBoundsException if an index is out of range
     */
    public boolean allowed(int qb, int kb) {
        java.util.Objects.checkIndex(qb, rowBlocks);
        java.util.Objects.checkIndex(kb, colBlocks);
        return allowed[qb * colBlocks + kb];
    }

    /** Fraction of allowed blocks, in [0, 1]. */
    public double density() {
        int n = 0;
        for (boolean b : allowed) {
            n += b ? 1 : 0;
        }
        return (double) n / allowed.length;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof BlockMask m && m.rowBlock == rowBlock && m.colBlock == colBlock
                && m.rowBlocks == rowBlocks && m.colBlocks == colBlocks && Arrays.equals(m.allowed, allowed);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(allowed) * 31 + rowBlock * 17 + colBlock;
    }

    @Override
    public String toString() {
        return String.format("BlockMask[%dx%d blocks of %dx%d tokens, density %.3f]", rowBlocks, colBlocks,
                rowBlock, colBlock, density());
    }
}
