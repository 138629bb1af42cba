package io.vramkit.quant;

import io.vramkit.core.DType;
import io.vramkit.core.cpu.ParallelExecutor;
import io.vramkit.core.memory.Buffer;
import io.vramkit.core.memory.HostMemoryResource;
import io.vramkit.core.memory.MemoryResource;
import io.vramkit.core.memory.Stream;
import io.vramkit.core.safetensors.SafetensorsReader;
import io.vramkit.core.safetensors.SafetensorsWriter;
import io.vramkit.quant.internal.Layouts;
import io.vramkit.quant.internal.QuantKernels;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A weight matrix {@code [rows, cols] = [outFeatures, inFeatures]} stored in a {@link QuantFormat}: the packed codes
 * plus scales, zero-points and (for double-quantized NF4) second-level scales, all off-heap in
 * {@link MemorySegment}s with the byte layout of {@code docs/formats.md}.
 *
 * <p><b>Ownership.</b> A tensor made by {@link Quantizer} owns its memory (buffers from the {@link MemoryResource}
 * given to it, by default libc through a {@link HostMemoryResource}, so large tensors get transparent huge pages)
 * and returns it on {@link #close()}. A tensor
 * made by {@link #wrap} or {@link #load} borrows its segments (for example a memory-mapped safetensors file): it
 * stays valid while that memory does, and {@code close()} only marks it closed. Using a closed tensor throws
 * {@link IllegalStateException}.
 *
 * <p><b>Threads.</b> Immutable after construction: any number of threads may read, dequantize and multiply with it
 * concurrently. {@link #close()} must not race with those uses.
 *
 * {@snippet :
 * try (QuantizedTensor w = Quantizer.quantize("layer0.q_proj", weights, 4096, 4096, QuantFormat.INT4_G128)) {
 *     float[] y = new float[4096];
 *     QuantizedMatmul.matmul(x, 1, w, y);       // y = x · Wᵀ
 *     w.save(Path.of("q_proj.safetensors"));
 * }
 * }
 */
public final class QuantizedTensor implements AutoCloseable {

    /** Metadata key prefix under which {@link #save} records each tensor's format and shape. */
    public static final String METADATA_PREFIX = "vramkit.quant.";

    private final String name;
    private final QuantFormat format;
    private final int rows;
    private final int cols;
    private final MemorySegment codes;
    private final MemorySegment scales;
    private final MemorySegment zeros;
    private final MemorySegment scale2;
    private final float dqOffset;
    /** The allocations this tensor owns and frees on close; empty for borrowed memory. */
    private final List<Buffer> owned;
    private volatile boolean closed;

    /** Where {@link Quantizer#quantize(String, float[], int, int, QuantFormat)} takes storage from. */
    private static final MemoryResource DEFAULT_STORAGE = new HostMemoryResource();

    QuantizedTensor(String name, QuantFormat format, int rows, int cols, MemorySegment codes, MemorySegment scales,
                    MemorySegment zeros, MemorySegment scale2, float dqOffset, List<Buffer> owned) {
        this.name = name;
        this.format = format;
        this.rows = rows;
        this.cols = cols;
        this.codes = codes;
        this.scales = scales;
        this.zeros = zeros;
        this.scale2 = scale2;
        this.dqOffset = dqOffset;
        this.owned = owned;
    }

    /** Expected byte sizes of the four segments: codes, scales, zeros, second-level scales. */
    static long[] segmentSizes(QuantFormat f, int rows, int cols) {
        long n = (long) rows * cols;
        long groups = (long) rows * f.groupsPerRow(cols);
        long codes = n * f.codeBits() / 8;
        return switch (f.scheme()) {
            case FP32, FP16, BF16 -> new long[] {codes, 0, 0, 0};
            case INT8 -> new long[] {codes, f.groupSize() == QuantFormat.PER_CHANNEL ? 4L * rows : 2L * groups, 0, 0};
            case FP8_E4M3, FP8_E5M2 -> new long[] {codes, 4L * rows, 0, 0};
            case INT4_SYM -> new long[] {codes, 2L * groups, 0, 0};
            case INT4_ASYM -> new long[] {codes, 2L * groups, groups, 0};
            case NF4 -> f.doubleQuant()
                    ? new long[] {codes, groups,
                        0, 4L * ((groups + QuantFormat.DOUBLE_QUANT_BLOCK - 1) / QuantFormat.DOUBLE_QUANT_BLOCK)}
                    : new long[] {codes, 4L * groups, 0, 0};
        };
    }

    /** Allocates an owned, zeroed tensor for the quantizer from the default host storage. */
    static QuantizedTensor allocate(String name, QuantFormat format, int rows, int cols) {
        return allocate(name, format, rows, cols, DEFAULT_STORAGE);
    }

    /**
     * Allocates an owned, zeroed tensor for the quantizer: one 64-byte aligned buffer per non-empty segment from
     * {@code storage}, on {@link Stream#HOST}, zeroed in parallel (the first touch of fresh memory is its page
     * faults, which then run on every thread).
     *
     * @throws IllegalArgumentException naming {@code storage} and its kind if the memory is not host-accessible
     * @throws io.vramkit.core.memory.OutOfMemoryException if {@code storage} cannot provide it (nothing stays
     *                                                       allocated)
     */
    static QuantizedTensor allocate(String name, QuantFormat format, int rows, int cols, MemoryResource storage) {
        Objects.requireNonNull(storage, "storage");
        if (!storage.kind().hostAccessible()) {
            throw new IllegalArgumentException("storage for tensor '" + name + "' must be host-accessible, but "
                    + storage + " is " + storage.kind());
        }
        long[] sizes = segmentSizes(format, rows, cols);
        List<Buffer> buffers = new ArrayList<>(4);
        try {
            MemorySegment[] segs = new MemorySegment[4];
            for (int i = 0; i < 4; i++) {
                if (sizes[i] == 0) {
                    segs[i] = MemorySegment.NULL;
                } else {
                    Buffer b = Buffer.allocate(storage, sizes[i], 64, Stream.HOST);
                    buffers.add(b);
                    segs[i] = b.segment();
                    zero(segs[i]);
                }
            }
            return new QuantizedTensor(name, format, rows, cols, segs[0], segs[1], segs[2], segs[3], 0f,
                    List.copyOf(buffers));
        } catch (RuntimeException | Error e) {
            for (Buffer b : buffers) {
                b.close();
            }
            throw e;
        }
    }

    /** Zero-fills a segment, in 1 MiB slices over the shared executor. */
    private static void zero(MemorySegment s) {
        long slice = 1L << 20;
        int slices = (int) ((s.byteSize() + slice - 1) / slice);
        ParallelExecutor.parallelFor(0, slices, 4, (i0, i1) -> {
            long from = i0 * slice;
            long to = Math.min(s.byteSize(), i1 * slice);
            s.asSlice(from, to - from).fill((byte) 0);
        });
    }

    /** A tensor with the same memory and a new double-quantization offset (used once while quantizing). */
    QuantizedTensor withDqOffset(float offset) {
        return new QuantizedTensor(name, format, rows, cols, codes, scales, zeros, scale2, offset, owned);
    }

    /**
     * Wraps existing packed memory without copying. The caller keeps ownership of the segments, which must stay
     * alive while the tensor is used.
     *
     * @param name     tensor name (for messages)
     * @param format   the format
     * @param rows     output features
     * @param cols     input features
     * @param codes    packed codes, exactly the size {@code docs/formats.md} gives
     * @param scales   scales ({@link MemorySegment#NULL} for dense formats)
     * @param zeros    zero-points (INT4 asymmetric only, else {@code NULL})
     * @param scale2   second-level FP32 scales (double-quantized NF4 only, else {@code NULL})
     * @param dqOffset the double-quantization offset added to every dequantized absmax (else 0)
     * @return the borrowed tensor
     * @throws IllegalArgumentException naming the segment, its size and the expected size if a size is wrong, or
     *                                  as {@link QuantFormat#checkShape}
     */
    public static QuantizedTensor wrap(String name, QuantFormat format, int rows, int cols, MemorySegment codes,
                                       MemorySegment scales, MemorySegment zeros, MemorySegment scale2,
                                       float dqOffset) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(format, "format");
        format.checkShape(name, rows, cols);
        long[] want = segmentSizes(format, rows, cols);
        MemorySegment[] segs = {codes, scales, zeros, scale2};
        String[] what = {"codes", "scales", "zeros", "scale2"};
        for (int i = 0; i < 4; i++) {
            long have = segs[i] == null ? 0 : segs[i].byteSize();
            if (have != want[i]) {
                throw new IllegalArgumentException("tensor '" + name + "' (" + format + ", [" + rows + ", " + cols
                        + "]): " + what[i] + " segment has " + have + " bytes, expected " + want[i]);
            }
            if (segs[i] == null) {
                segs[i] = MemorySegment.NULL;
            }
        }
        if (!Float.isFinite(dqOffset)) {
            throw new IllegalArgumentException("tensor '" + name + "': dqOffset must be finite, got " + dqOffset);
        }
        return new QuantizedTensor(name, format, rows, cols, segs[0], segs[1], segs[2], segs[3], dqOffset,
                List.of());
    }

    /** The tensor name given at creation. */
    public String name() {
        return name;
    }

    /** The storage format. */
    public QuantFormat format() {
        return format;
    }

    /** Output features (rows of W). */
    public int rows() {
        return rows;
    }

    /** Input features (columns of W). */
    public int cols() {
        return cols;
    }

    /** Shape {@code [rows, cols]}, a new array. */
    public int[] shape() {
        return new int[] {rows, cols};
    }

    /** Weights per scale; {@link QuantFormat#PER_CHANNEL} for per-row or dense formats. */
    public int groupSize() {
        return format.groupSize();
    }

    /** Groups per row ({@code 1} for per-channel formats). */
    public int groupsPerRow() {
        return format.groupsPerRow(cols);
    }

    /** The packed codes (read-only view). @throws IllegalStateException if closed */
    public MemorySegment codes() {
        checkOpen();
        return codes.asReadOnly();
    }

    /** The stored scales as bytes (FP32, FP16 or INT8 codes, see docs/formats.md); {@code NULL} if none. */
    public MemorySegment scales() {
        checkOpen();
        return scales.asReadOnly();
    }

    /** The INT4 asymmetric zero-points, one unsigned byte per group; {@code NULL} for other formats. */
    public MemorySegment zeros() {
        checkOpen();
        return zeros.asReadOnly();
    }

    /** Double-quantized NF4: FP32 scales, one per 256 absmax codes; {@code NULL} otherwise. */
    public MemorySegment secondLevelScales() {
        checkOpen();
        return scale2.asReadOnly();
    }

    /** Double-quantized NF4: the offset added to every dequantized absmax; 0 otherwise. */
    public float doubleQuantOffset() {
        return dqOffset;
    }

    /** Writable views for the quantizer (package-private). */
    MemorySegment codesForWrite() {
        return codes;
    }

    MemorySegment scalesForWrite() {
        return scales;
    }

    MemorySegment zerosForWrite() {
        return zeros;
    }

    MemorySegment scale2ForWrite() {
        return scale2;
    }

    /**
     * The effective scale of a group as a float: the FP32 or FP16 scale, the NF4 absmax (double-quantized ones
     * reconstructed as {@code code × scale2 + offset}), or 1 for dense formats.
     *
     * @param row   row index
     * @param group group index within the row ({@code 0} for per-channel formats)
     * @return the scale
     * @throws IndexOutOfBoundsException if an index is out of range
     */
    public float scale(int row, int group) {
        Objects.checkIndex(row, rows);
        Objects.checkIndex(group, groupsPerRow());
        long idx = (long) row * groupsPerRow() + group;
        return switch (format.scheme()) {
            case FP32, FP16, BF16 -> 1f;
            case FP8_E4M3, FP8_E5M2 -> scales.getAtIndex(Layouts.F32, row);
            case INT8 -> format.groupSize() == QuantFormat.PER_CHANNEL
                    ? scales.getAtIndex(Layouts.F32, row)
                    : Float.float16ToFloat(scales.getAtIndex(Layouts.I16, idx));
            case INT4_SYM, INT4_ASYM -> Float.float16ToFloat(scales.getAtIndex(Layouts.I16, idx));
            case NF4 -> format.doubleQuant()
                    ? scales.get(Layouts.I8, idx)
                        * scale2.getAtIndex(Layouts.F32, idx / QuantFormat.DOUBLE_QUANT_BLOCK) + dqOffset
                    : scales.getAtIndex(Layouts.F32, idx);
        };
    }

    /**
     * The zero-point of a group: the stored value for INT4 asymmetric, 8 for INT4 symmetric (codes are stored as
     * {@code q + 8}), 0 otherwise.
     *
     * @param row   row index
     * @param group group index within the row
     * @return the zero-point in code units
     * @throws IndexOutOfBoundsException if an index is out of range
     */
    public int zero(int row, int group) {
        Objects.checkIndex(row, rows);
        Objects.checkIndex(group, groupsPerRow());
        return switch (format.scheme()) {
            case INT4_ASYM -> zeros.get(Layouts.I8, (long) row * groupsPerRow() + group) & 0xFF;
            case INT4_SYM -> 8;
            default -> 0;
        };
    }

    /** Total bytes held: codes, scales, zero-points and second-level scales (equals {@link QuantFormat#storageBytes}). */
    public long byteSize() {
        return codes.byteSize() + scales.byteSize() + zeros.byteSize() + scale2.byteSize()
                + (format.doubleQuant() ? 4 : 0);
    }

    /** Exact bits per weight including scales. */
    public double bitsPerWeight() {
        return 8.0 * byteSize() / ((double) rows * cols);
    }

    /**
     * Dequantizes the whole matrix.
     *
     * @return a new row-major {@code float[rows × cols]}
     * @throws IllegalStateException if closed, or if the matrix has more than {@code Integer.MAX_VALUE - 8} elements
     */
    public float[] dequantize() {
        checkOpen();
        long n = (long) rows * cols;
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalStateException("tensor '" + name + "' has " + n + " elements, too many for one float[]; "
                    + "use dequantizeRows");
        }
        float[] out = new float[(int) n];
        ParallelExecutor.parallelFor(0, rows, Math.max(1, 65536 / cols), (r0, r1) ->
                QuantKernels.INSTANCE.dequantizeRows(this, r0, r1, out, r0 * cols));
        return out;
    }

    /**
     * Dequantizes rows {@code [fromRow, toRow)} into {@code out}, row-major starting at {@code outOffset}.
     *
     * @throws IllegalArgumentException  naming the argument if the row range is invalid
     * @throws IndexOutOfBoundsException if {@code out} is too small
     * @throws IllegalStateException     if closed
     */
    public void dequantizeRows(int fromRow, int toRow, float[] out, int outOffset) {
        checkOpen();
        if (fromRow < 0 || toRow > rows || fromRow > toRow) {
            throw new IllegalArgumentException("row range [" + fromRow + ", " + toRow + ") is not inside [0, "
                    + rows + ") of tensor '" + name + "'");
        }
        Objects.checkFromIndexSize(outOffset, (toRow - fromRow) * cols, out.length);
        QuantKernels.INSTANCE.dequantizeRows(this, fromRow, toRow, out, outOffset);
    }

    /**
     * Saves this tensor alone to a safetensors file; see {@link #saveAll}.
     *
     * @param file destination, overwritten
     * @throws IOException if writing fails
     */
    public void save(Path file) throws IOException {
        saveAll(file, List.of(this));
    }

    /**
     * Saves tensors to one safetensors file. Tensor {@code n} becomes the entries {@code n.codes},
     * {@code n.scales}, {@code n.zeros} and {@code n.scale2} (those the format has), and the metadata key
     * {@code vramkit.quant.n} holds {@code format=<name>;rows=<r>;cols=<c>;dq_offset=<float bits hex>}.
     *
     * @param file    destination, overwritten
     * @param tensors tensors with distinct names
     * @throws IOException              if writing fails
     * @throws IllegalArgumentException if two tensors share a name
     */
    public static void saveAll(Path file, Collection<QuantizedTensor> tensors) throws IOException {
        SafetensorsWriter writer = new SafetensorsWriter();
        for (QuantizedTensor t : tensors) {
            t.checkOpen();
            String n = t.name;
            writer.metadata(METADATA_PREFIX + n, "format=" + t.format.name() + ";rows=" + t.rows + ";cols=" + t.cols
                    + ";dq_offset=" + Integer.toHexString(Float.floatToRawIntBits(t.dqOffset)));
            writer.add(n + ".codes", codesDType(t.format), codesShape(t), t.codes);
            if (t.scales.byteSize() > 0) {
                writer.add(n + ".scales", scalesDType(t.format), new long[] {t.rows, t.groupsPerRowForScales()},
                        t.scales);
            }
            if (t.zeros.byteSize() > 0) {
                writer.add(n + ".zeros", DType.UINT8, new long[] {t.rows, t.groupsPerRow()}, t.zeros);
            }
            if (t.scale2.byteSize() > 0) {
                writer.add(n + ".scale2", DType.FP32, new long[] {t.scale2.byteSize() / 4}, t.scale2);
            }
        }
        writer.write(file);
    }

    private int groupsPerRowForScales() {
        return format.scheme() == QuantFormat.Scheme.FP8_E4M3 || format.scheme() == QuantFormat.Scheme.FP8_E5M2
                ? 1 : groupsPerRow();
    }

    private static DType codesDType(QuantFormat f) {
        return switch (f.scheme()) {
            case FP32 -> DType.FP32;
            case FP16 -> DType.FP16;
            case BF16 -> DType.BF16;
            case INT8 -> DType.INT8;
            case FP8_E4M3 -> DType.FP8_E4M3;
            case FP8_E5M2 -> DType.FP8_E5M2;
            case INT4_SYM, INT4_ASYM, NF4 -> DType.UINT8;
        };
    }

    private static long[] codesShape(QuantizedTensor t) {
        return new long[] {t.rows, t.format.isFourBit() ? t.cols / 2 : t.cols};
    }

    private static DType scalesDType(QuantFormat f) {
        return switch (f.scheme()) {
            case INT8 -> f.groupSize() == QuantFormat.PER_CHANNEL ? DType.FP32 : DType.FP16;
            case INT4_SYM, INT4_ASYM -> DType.FP16;
            case NF4 -> f.doubleQuant() ? DType.INT8 : DType.FP32;
            default -> DType.FP32;
        };
    }

    /**
     * Loads one tensor saved by {@link #saveAll} from an open reader, without copying: the tensor borrows the
     * reader's memory-mapped segments and is valid until the reader is closed.
     *
     * @param reader an open safetensors file
     * @param name   the tensor name used when saving
     * @return the borrowed tensor
     * @throws IllegalArgumentException naming the tensor if it or its metadata is missing or inconsistent
     */
    public static QuantizedTensor load(SafetensorsReader reader, String name) {
        String meta = reader.metadata().get(METADATA_PREFIX + name);
        if (meta == null) {
            throw new IllegalArgumentException("no quantized tensor '" + name + "' in " + reader.path()
                    + " (metadata key " + METADATA_PREFIX + name + " is missing)");
        }
        Map<String, String> kv = new LinkedHashMap<>();
        for (String part : meta.split(";")) {
            int eq = part.indexOf('=');
            if (eq > 0) {
                kv.put(part.substring(0, eq), part.substring(eq + 1));
            }
        }
        try {
            QuantFormat format = QuantFormat.parse(kv.getOrDefault("format", "?"));
            int rows = Integer.parseInt(kv.getOrDefault("rows", "?"));
            int cols = Integer.parseInt(kv.getOrDefault("cols", "?"));
            float off = Float.intBitsToFloat(Integer.parseUnsignedInt(kv.getOrDefault("dq_offset", "0"), 16));
            return wrap(name, format, rows, cols, segment(reader, name + ".codes"), segment(reader, name + ".scales"),
                    segment(reader, name + ".zeros"), segment(reader, name + ".scale2"), off);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("tensor '" + name + "' has malformed metadata '" + meta + "'", e);
        }
    }

    private static MemorySegment segment(SafetensorsReader reader, String entry) {
        return reader.names().contains(entry) ? reader.segment(entry) : MemorySegment.NULL;
    }

    /**
     * Loads every quantized tensor of a file (those with a {@code vramkit.quant.} metadata key), borrowed from the
     * reader as in {@link #load}.
     *
     * @param reader an open safetensors file
     * @return tensors in metadata order
     */
    public static List<QuantizedTensor> loadAll(SafetensorsReader reader) {
        List<QuantizedTensor> out = new ArrayList<>();
        for (String key : reader.metadata().keySet()) {
            if (key.startsWith(METADATA_PREFIX)) {
                out.add(load(reader, key.substring(METADATA_PREFIX.length())));
            }
        }
        return out;
    }

    /** Whether {@link #close()} was called. */
    public boolean isClosed() {
        return closed;
    }

    /** Throws {@link IllegalStateException} naming the tensor if it is closed. */
    void checkOpen() {
        if (closed) {
            throw new IllegalStateException("quantized tensor '" + name + "' is closed");
        }
    }

    /**
     * Frees owned memory (borrowed memory is left to its owner). Idempotent: a second call does nothing, because a
     * tensor is a value holder and not a pool block.
     */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        for (Buffer b : owned) {
            b.close();
        }
    }

    @Override
    public String toString() {
        return "QuantizedTensor[" + name + ", " + format + ", [" + rows + ", " + cols + "], " + byteSize()
                + " bytes]";
    }
}
