package io.vramkit.attention.internal;

import io.vramkit.core.DType;
import io.vramkit.core.cpu.VectorSupport;
import java.lang.foreign.MemorySegment;

/**
 * The inner loops of the CPU attention kernels, on FP32 tiles kept in one scratch segment.
 *
 * <p>All tile arguments are float indices into the scratch segment {@code w} (native, 64-byte aligned, owned by the
 * caller). Column counts and widths passed to {@link #qkT} and {@link #pv} are multiples of {@link #PAD}, so
 * vectorized implementations need no tail handling; callers zero-pad the tiles. Implementations are stateless and
 * thread-safe; two threads must not write the same scratch region at once.
 */
public interface TileOps {

    /** Tile widths are padded to a multiple of this many floats (one 512-bit vector). */
    int PAD = 16;

    /** The implementation this JVM uses: Vector API when available, else scalar. */
    TileOps INSTANCE = VectorSupport.load(TileOps.class, "io.vramkit.attention.internal.PanamaTileOps",
            ScalarTileOps::new);

    /** {@code n} rounded up to a multiple of {@link #PAD}. */
    static int pad(int n) {
        return (n + PAD - 1) / PAD * PAD;
    }

    /**
     * Score tile: {@code s[i*ldS + j] = Σ_c q[i*ldQ + c] · kt[c*ldK + j]} for {@code i < rows}, {@code j < cols},
     * {@code c < depth}. {@code cols} is a multiple of {@link #PAD}.
     */
    void qkT(MemorySegment w, int q, int ldQ, int kt, int ldK, int s, int ldS, int rows, int depth, int cols);

    /**
     * Accumulates a probability-weighted value tile: {@code o[i*ldO + c] += Σ_j p[i*ldP + j] · v[j*ldV + c]} for
     * {@code i < rows}, {@code j < inner}, {@code c < width}. {@code width} is a multiple of {@link #PAD}.
     */
    void pv(MemorySegment w, int p, int ldP, int v, int ldV, int o, int ldO, int rows, int inner, int width);

    /** The largest of {@code w[x .. x+n)}; {@code -Infinity} when {@code n == 0}. */
    float max(MemorySegment w, int x, int n);

    /**
     * Replaces {@code w[x+j]} by {@code exp(w[x+j] - sub)} for {@code j < n} and returns their sum. {@code n} is a
     * multiple of {@link #PAD}; {@code -Infinity} entries become 0.
     */
    float expSub(MemorySegment w, int x, int n, float sub);

    /** Multiplies {@code w[x .. x+n)} by {@code f}. */
    void scale(MemorySegment w, int x, int n, float f);

    /** {@code Σ_c w[x+c] · w[y+c]} for {@code c < n}. */
    float dot(MemorySegment w, int x, int y, int n);

    /** {@code w[y+c] += a · w[x+c]} for {@code c < n}. */
    void axpy(MemorySegment w, float a, int x, int y, int n);

    /**
     * Loads {@code rows} rows of an FP32 heap array into a transposed tile: {@code w[dst + c·ld + j] =
     * src[off + rowOffsets[j] + c]} for {@code j < rows}, {@code c < n}; the columns {@code rows .. pad(rows)} of the
     * tile are zeroed. {@code rowOffsets} holds at least {@code pad(rows)} entries, and those past {@code rows} must
     * also be in bounds for {@code src} (a vector gather may read them; their values are discarded).
     */
    void loadTransposed(float[] src, int off, int[] rowOffsets, int rows, int n, MemorySegment w, int dst, int ld);

    /** {@code w[dst + c] = src[off + c] · scale} for {@code c < n}, from an FP32 heap array. */
    void loadArray(float[] src, int off, float scale, MemorySegment w, int dst, int n);

    /** {@code dst[off + c] = w[src + c] · factor} for {@code c < n}, into an FP32 heap array. */
    void storeArray(MemorySegment w, int src, float factor, float[] dst, int off, int n);

    /**
     * Converts {@code n} elements of {@code type} read from {@code src} at byte offset {@code byteOffset} to FP32,
     * multiplies them by {@code scale}, and stores them at {@code w[dst ..]}.
     *
     * @param fp8Table the 256-entry decode table when {@code type} is an FP8 type, else ignored
     */
    void load(MemorySegment src, long byteOffset, DType type, float scale, float[] fp8Table, MemorySegment w,
              int dst, int n);
}
