package io.vramkit.attention;

import io.vramkit.attention.internal.Elements;
import io.vramkit.attention.internal.TileOps;
import io.vramkit.core.DType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;

/**
 * A view of a packed {@code [tokens, heads, headDim]} tensor, row-major, the layout attention reads queries, keys
 * and values in and writes outputs to. Sequences of a variable-length batch are concatenated along {@code tokens}
 * and delimited by cumulative offsets ({@code cuSeqlens}), as in FlashAttention's varlen API.
 *
 * <p>The storage is either a {@code float[]} (FP32) or a {@link MemorySegment} of FP32, FP16 or BF16 elements in
 * native byte order. The view does not own or copy the storage: the caller keeps it alive and must not modify it
 * while an attention call reads it. A view is immutable and may be shared between threads; concurrent writes to
 * the same elements are the caller's business.
 *
 * {@snippet :
 * float[] q = new float[tokens * heads * headDim];
 * HeadTensor view = HeadTensor.of(q, tokens, heads, headDim);
 * }
 */
public final class HeadTensor {

    /** The largest head dimension attention supports. */
    public static final int MAX_HEAD_DIM = 256;

    private final float[] array;
    private final MemorySegment segment;
    private final DType type;
    private final int tokens;
    private final int heads;
    private final int headDim;

    private HeadTensor(float[] array, MemorySegment segment, DType type, int tokens, int heads, int headDim) {
        this.array = array;
        this.segment = segment;
        this.type = type;
        this.tokens = tokens;
        this.heads = heads;
        this.headDim = headDim;
    }

    /**
     * Views an FP32 array as {@code [tokens, heads, headDim]}.
     *
     * @throws IllegalArgumentException if a dimension is out of range ({@code tokens >= 0}, {@code heads >= 1},
     *                                  {@code 1 <= headDim <= 256}) or {@code data.length} is not their product
     */
    public static HeadTensor of(float[] data, int tokens, int heads, int headDim) {
        Objects.requireNonNull(data, "data");
        long n = checkDims(tokens, heads, headDim);
        if (data.length != n) {
            throw new IllegalArgumentException("data.length must be tokens*heads*headDim = " + n + ", got "
                    + data.length);
        }
        return new HeadTensor(data, null, DType.FP32, tokens, heads, headDim);
    }

    /**
     * Views a memory segment of FP32, FP16 or BF16 elements (native byte order) as {@code [tokens, heads, headDim]}.
     *
     * @throws IllegalArgumentException if {@code type} is not FP32, FP16 or BF16, a dimension is out of range, or
     *                                  the segment is smaller than {@code tokens*heads*headDim} elements
     */
    public static HeadTensor of(MemorySegment data, DType type, int tokens, int heads, int headDim) {
        Objects.requireNonNull(data, "data");
        Objects.requireNonNull(type, "type");
        if (type != DType.FP32 && type != DType.FP16 && type != DType.BF16) {
            throw new IllegalArgumentException("type must be FP32, FP16 or BF16, got " + type);
        }
        long n = checkDims(tokens, heads, headDim);
        if (data.byteSize() < n * type.byteSize()) {
            throw new IllegalArgumentException("data holds " + data.byteSize() + " bytes, less than the " + n
                    * type.byteSize() + " bytes of " + tokens + "x" + heads + "x" + headDim + " " + type);
        }
        return new HeadTensor(null, data, type, tokens, heads, headDim);
    }

    private static long checkDims(int tokens, int heads, int headDim) {
        if (tokens < 0) {
            throw new IllegalArgumentException("tokens must be >= 0, got " + tokens);
        }
        if (heads < 1) {
            throw new IllegalArgumentException("heads must be >= 1, got " + heads);
        }
        if (headDim < 1 || headDim > MAX_HEAD_DIM) {
            throw new IllegalArgumentException("headDim must be in 1.." + MAX_HEAD_DIM + ", got " + headDim);
        }
        return (long) tokens * heads * headDim;
    }

    /** Number of tokens (all sequences of a packed batch together). */
    public int tokens() {
        return tokens;
    }

    /** Number of heads. */
    public int heads() {
        return heads;
    }

    /** Elements per head. */
    public int headDim() {
        return headDim;
    }

    /** Element type of the storage: FP32, FP16 or BF16. */
    public DType type() {
        return type;
    }

    /**
     * Reads one element as float.
     *
     * @throws IndexOutOfBoundsException if an index is out of range
     */
    public float get(int token, int head, int d) {
        long i = index(token, head, d);
        return array != null ? array[(int) i] : Elements.get(segment, type, i, null);
    }

    /**
     * Writes one element, rounded to nearest (even) in the storage type.
     *
     * @throws IndexOutOfBoundsException if an index is out of range
     */
    public void set(int token, int head, int d, float value) {
        long i = index(token, head, d);
        if (array != null) {
            array[(int) i] = value;
        } else {
            Elements.set(segment, type, i, value);
        }
    }

    private long index(int token, int head, int d) {
        Objects.checkIndex(token, tokens);
        Objects.checkIndex(head, heads);
        Objects.checkIndex(d, headDim);
        return ((long) token * heads + head) * headDim + d;
    }

    /** The backing FP32 array, or {@code null} for segment storage. */
    float[] array() {
        return array;
    }

    /** Whether the shapes match (token count, heads, head dimension). */
    boolean sameShape(HeadTensor o) {
        return tokens == o.tokens && heads == o.heads && headDim == o.headDim;
    }

    /** Copies row {@code (token, head)} into {@code w[dst .. dst+headDim)} as FP32 times {@code scale}. */
    void readRow(TileOps ops, int token, int head, float scale, MemorySegment w, int dst) {
        long i = ((long) token * heads + head) * headDim;
        if (array != null) {
            MemorySegment.copy(array, (int) i, w, ValueLayout.JAVA_FLOAT, dst * 4L, headDim);
            if (scale != 1f) {
                ops.scale(w, dst, headDim, scale);
            }
        } else {
            ops.load(segment, i * type.byteSize(), type, scale, null, w, dst, headDim);
        }
    }

    /** Writes {@code w[src .. src+headDim) × factor} to row {@code (token, head)}. */
    void writeRow(int token, int head, float factor, MemorySegment w, int src) {
        long i = ((long) token * heads + head) * headDim;
        if (array != null) {
            int a = (int) i;
            for (int c = 0; c < headDim; c++) {
                array[a + c] = w.getAtIndex(ValueLayout.JAVA_FLOAT, src + c) * factor;
            }
        } else {
            for (int c = 0; c < headDim; c++) {
                Elements.set(segment, type, i + c, w.getAtIndex(ValueLayout.JAVA_FLOAT, src + c) * factor);
            }
        }
    }

    /** Writes zeros to row {@code (token, head)}. */
    void zeroRow(int token, int head) {
        long i = ((long) token * heads + head) * headDim;
        if (array != null) {
            java.util.Arrays.fill(array, (int) i, (int) i + headDim, 0f);
        } else {
            segment.asSlice(i * type.byteSize(), (long) headDim * type.byteSize()).fill((byte) 0);
        }
    }

    @Override
    public String toString() {
        return "HeadTensor[" + tokens + "x" + heads + "x" + headDim + " " + type
                + (array != null ? " float[]" : " segment") + "]";
    }
}
