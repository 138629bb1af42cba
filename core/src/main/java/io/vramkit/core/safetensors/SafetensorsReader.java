package io.vramkit.core.safetensors;

import io.vramkit.core.json.Json;
import io.vramkit.core.DType;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Reads a <a href="https://github.com/huggingface/safetensors">safetensors</a> file by memory-mapping it through
 * FFM ({@link FileChannel#map(FileChannel.MapMode, long, long, Arena)}): tensors are returned as read-only
 * {@link MemorySegment} slices of the mapping, never copied.
 *
 * <p>Format: an unsigned little-endian 64-bit header length {@code N}, {@code N} bytes of UTF-8 JSON mapping each
 * tensor name to {@code {"dtype", "shape", "data_offsets": [begin, end]}} (offsets relative to the byte after the
 * header) plus an optional {@code "__metadata__"} string-to-string map, then the data. All dtypes of {@link DType}
 * are read; their bytes are little-endian.
 *
 * <p><b>Ownership and threads.</b> The reader owns the mapping; segments it hands out die when it is closed (then
 * using them throws {@link IllegalStateException}). The mapping is shared: any thread may read the segments while
 * the reader is open. {@link #close()} is idempotent.
 *
 * {@snippet :
 * try (SafetensorsReader r = SafetensorsReader.open(Path.of("model.safetensors"))) {
 *     float[] w = r.floats("encoder.layer.0.attention.self.query.weight");
 * }
 * }
 */
public final class SafetensorsReader implements AutoCloseable {

    /** Largest header accepted (100 MiB), as in the reference implementation; guards against corrupt files. */
    public static final long MAX_HEADER_BYTES = 100L << 20;

    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** One tensor entry of the header. */
    public record Entry(String name, DType dtype, long[] shape, long begin, long end) {
        /** Elements in the tensor (product of the shape; 1 for a scalar). */
        public long elementCount() {
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            return n;
        }
    }

    private final Path path;
    private final Arena arena;
    private final MemorySegment data;
    private final Map<String, Entry> entries;
    private final Map<String, String> metadata;

    private SafetensorsReader(Path path, Arena arena, MemorySegment data, Map<String, Entry> entries,
                              Map<String, String> metadata) {
        this.path = path;
        this.arena = arena;
        this.data = data;
        this.entries = entries;
        this.metadata = metadata;
    }

    /**
     * Opens and maps a file, and validates its header: every entry has a known dtype, its byte range matches its
     * shape and lies inside the file.
     *
     * @param path the file
     * @return an open reader owning the mapping
     * @throws IOException              if the file cannot be read
     * @throws IllegalArgumentException naming the file and the problem if the file is not valid safetensors
     */
    public static SafetensorsReader open(Path path) throws IOException {
        Objects.requireNonNull(path, "path");
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) {
                throw new IllegalArgumentException(path + ": " + size + " bytes is too short for a safetensors file");
            }
            MemorySegment all = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            long n = all.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
            if (n < 2 || n > MAX_HEADER_BYTES || 8 + n > size) {
                throw new IllegalArgumentException(path + ": header length " + Long.toUnsignedString(n)
                        + " is invalid for a file of " + size + " bytes");
            }
            String json = new String(all.asSlice(8, n).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
            MemorySegment data = all.asSlice(8 + n).asReadOnly();
            Map<String, Entry> entries = new LinkedHashMap<>();
            Map<String, String> meta = new LinkedHashMap<>();
            parseHeader(path, json, data.byteSize(), entries, meta);
            return new SafetensorsReader(path, arena, data, Collections.unmodifiableMap(entries),
                    Collections.unmodifiableMap(meta));
        } catch (IOException | RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private static void parseHeader(Path path, String json, long dataBytes, Map<String, Entry> entries,
                                    Map<String, String> meta) {
        Object root;
        try {
            root = Json.parse(json);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(path + ": malformed header JSON: " + e.getMessage(), e);
        }
        if (!(root instanceof Map<?, ?> map)) {
            throw new IllegalArgumentException(path + ": header is not a JSON object");
        }
        for (Map.Entry<?, ?> e : map.entrySet()) {
            String name = (String) e.getKey();
            if (name.equals("__metadata__")) {
                if (!(e.getValue() instanceof Map<?, ?> m)) {
                    throw new IllegalArgumentException(path + ": __metadata__ is not an object");
                }
                for (Map.Entry<?, ?> kv : m.entrySet()) {
                    if (!(kv.getValue() instanceof String v)) {
                        throw new IllegalArgumentException(path + ": __metadata__ value of '" + kv.getKey()
                                + "' is not a string");
                    }
                    meta.put((String) kv.getKey(), v);
                }
                continue;
            }
            entries.put(name, parseEntry(path, name, e.getValue(), dataBytes));
        }
    }

    private static Entry parseEntry(Path path, String name, Object value, long dataBytes) {
        if (!(value instanceof Map<?, ?> m) || !(m.get("dtype") instanceof String dt)
                || !(m.get("shape") instanceof List<?> shapeList)
                || !(m.get("data_offsets") instanceof List<?> offs) || offs.size() != 2) {
            throw new IllegalArgumentException(path + ": tensor '" + name
                    + "' needs dtype, shape and data_offsets [begin, end]");
        }
        DType dtype;
        try {
            dtype = SafetensorsDTypes.parse(dt, name);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(path + ": malformed header JSON: " + e.getMessage(), e);
        }
        long[] shape = new long[shapeList.size()];
        long count = 1;
        for (int i = 0; i < shape.length; i++) {
            if (!(shapeList.get(i) instanceof Long d) || d < 0) {
                throw new IllegalArgumentException(path + ": tensor '" + name + "' has a bad shape " + shapeList);
            }
            shape[i] = d;
            count = Math.multiplyExact(count, d);
        }
        if (!(offs.get(0) instanceof Long begin) || !(offs.get(1) instanceof Long end)) {
            throw new IllegalArgumentException(path + ": tensor '" + name + "' has bad data_offsets " + offs);
        }
        if (begin < 0 || end < begin || end > dataBytes) {
            throw new IllegalArgumentException(path + ": tensor '" + name + "' data_offsets [" + begin + ", " + end
                    + "] fall outside the " + dataBytes + " data bytes");
        }
        if (end - begin != count * dtype.byteSize()) {
            throw new IllegalArgumentException(path + ": tensor '" + name + "' has " + (end - begin)
                    + " bytes, but shape " + java.util.Arrays.toString(shape) + " of " + dt + " needs "
                    + count * dtype.byteSize());
        }
        return new Entry(name, dtype, shape, begin, end);
    }

    /** The file this reader maps. */
    public Path path() {
        return path;
    }

    /** Tensor names in header order (unmodifiable). */
    public Set<String> names() {
        return entries.keySet();
    }

    /** The {@code __metadata__} map, empty if the file has none (unmodifiable). */
    public Map<String, String> metadata() {
        return metadata;
    }

    /**
     * The header entry of a tensor.
     *
     * @throws IllegalArgumentException naming the tensor and the file if there is no such tensor
     */
    public Entry entry(String name) {
        Entry e = entries.get(name);
        if (e == null) {
            throw new IllegalArgumentException("no tensor '" + name + "' in " + path);
        }
        return e;
    }

    /**
     * The bytes of a tensor: a read-only slice of the mapping, valid until {@link #close()}.
     *
     * @throws IllegalArgumentException if there is no such tensor
     * @throws IllegalStateException    if the reader is closed
     */
    public MemorySegment segment(String name) {
        Entry e = entry(name);
        return data.asSlice(e.begin(), e.end() - e.begin());
    }

    /**
     * Copies a floating-point tensor (F32, F16 or BF16) into a new {@code float[]}, converting exactly.
     *
     * @throws IllegalArgumentException naming the tensor and its dtype if it is not F32/F16/BF16, or has more than
     *                                  {@code Integer.MAX_VALUE - 8} elements
     */
    public float[] floats(String name) {
        Entry e = entry(name);
        long n = e.elementCount();
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("tensor '" + name + "' has " + n + " elements, too many for float[]");
        }
        MemorySegment s = segment(name);
        float[] out = new float[(int) n];
        switch (e.dtype()) {
            case FP32 -> MemorySegment.copy(s, F32, 0, out, 0, out.length);
            case FP16 -> {
                for (int i = 0; i < out.length; i++) {
                    out[i] = Float.float16ToFloat(s.getAtIndex(I16, i));
                }
            }
            case BF16 -> {
                for (int i = 0; i < out.length; i++) {
                    out[i] = Float.intBitsToFloat(s.getAtIndex(I16, i) << 16);
                }
            }
            default -> throw new IllegalArgumentException("tensor '" + name + "' has dtype " + e.dtype()
                    + "; floats() reads FP32, FP16 and BF16 (use segment() for raw bytes)");
        }
        return out;
    }

    /** Unmaps the file; segments handed out become invalid. Idempotent. */
    @Override
    public void close() {
        synchronized (this) {
            if (!arena.scope().isAlive()) {
                return;
            }
            arena.close();
        }
    }
}
