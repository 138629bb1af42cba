package io.vramkit.core.safetensors;

import io.vramkit.core.json.Json;
import io.vramkit.core.DType;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * Builds a safetensors file (format in {@link SafetensorsReader}): add tensors as raw little-endian bytes or
 * as {@code float[]} converted to F32/F16/BF16, add {@code __metadata__} entries, then {@link #write}. The header is
 * padded with spaces to a multiple of 8 bytes so that every tensor starts 8-byte aligned.
 *
 * <p>Tensors added as segments are referenced, not copied, until {@link #write}; they must stay alive until then.
 * Not thread-safe.
 */
public final class SafetensorsWriter {

    private record Pending(DType dtype, long[] shape, MemorySegment bytes) {
    }

    private final Map<String, Pending> tensors = new LinkedHashMap<>();
    private final Map<String, String> metadata = new LinkedHashMap<>();

    /** Creates an empty writer. */
    public SafetensorsWriter() {
    }

    /**
     * Adds a tensor from raw bytes in the file's byte order (little-endian).
     *
     * @param name  unique tensor name, not {@code __metadata__}
     * @param dtype element type
     * @param shape dimensions (each &ge; 0)
     * @param bytes exactly {@code product(shape) × dtype.byteSize()} bytes
     * @return this writer
     * @throws IllegalArgumentException naming the tensor if the name is taken or reserved, a dimension is negative,
     *                                  or the byte count does not match the shape
     */
    public SafetensorsWriter add(String name, DType dtype, long[] shape, MemorySegment bytes) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(dtype, "dtype");
        Objects.requireNonNull(bytes, "bytes");
        if (name.equals("__metadata__") || tensors.containsKey(name)) {
            throw new IllegalArgumentException("tensor name '" + name + "' is reserved or already added");
        }
        long count = 1;
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("tensor '" + name + "' has a negative dimension in shape "
                        + Arrays.toString(shape));
            }
            count = Math.multiplyExact(count, d);
        }
        if (count * dtype.byteSize() != bytes.byteSize()) {
            throw new IllegalArgumentException("tensor '" + name + "': shape " + Arrays.toString(shape) + " of "
                    + dtype + " needs " + count * dtype.byteSize() + " bytes, got " + bytes.byteSize());
        }
        tensors.put(name, new Pending(dtype, shape.clone(), bytes));
        return this;
    }

    /**
     * Adds a float tensor, converting to FP32, FP16 or BF16 (round to nearest even).
     *
     * @param name   unique tensor name
     * @param dtype  FP32, FP16 or BF16
     * @param shape  dimensions whose product is {@code values.length}
     * @param values the values (copied now)
     * @return this writer
     * @throws IllegalArgumentException naming the tensor if the dtype is not FP32/FP16/BF16 or the shape does not
     *                                  match
     */
    public SafetensorsWriter addFloats(String name, DType dtype, long[] shape, float[] values) {
        MemorySegment seg = MemorySegment.ofArray(new byte[values.length * dtype.byteSize()]);
        switch (dtype) {
            case FP32 -> MemorySegment.copy(values, 0, seg,
                    ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0, values.length);
            case FP16, BF16 -> {
                var layout = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
                for (int i = 0; i < values.length; i++) {
                    short h;
                    if (dtype == DType.FP16) {
                        h = Float.floatToFloat16(values[i]);
                    } else {
                        int bits = Float.floatToRawIntBits(values[i]);
                        h = Float.isNaN(values[i]) ? (short) 0x7FC0
                                : (short) ((bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16);
                    }
                    seg.setAtIndex(layout, i, h);
                }
            }
            default -> throw new IllegalArgumentException("tensor '" + name + "': addFloats converts to FP32, FP16 "
                    + "or BF16, not " + dtype);
        }
        return add(name, dtype, shape, seg);
    }

    /**
     * Sets a {@code __metadata__} entry.
     *
     * @param key   key
     * @param value value
     * @return this writer
     */
    public SafetensorsWriter metadata(String key, String value) {
        metadata.put(Objects.requireNonNull(key, "key"), Objects.requireNonNull(value, "value"));
        return this;
    }

    /**
     * Writes the file, replacing any existing one.
     *
     * @param file destination
     * @throws IOException if writing fails
     */
    public void write(Path file) throws IOException {
        StringBuilder b = new StringBuilder("{");
        boolean first = true;
        if (!metadata.isEmpty()) {
            b.append("\"__metadata__\":{");
            for (Map.Entry<String, String> e : metadata.entrySet()) {
                if (!first) {
                    b.append(',');
                }
                first = false;
                Json.quote(e.getKey(), b);
                b.append(':');
                Json.quote(e.getValue(), b);
            }
            b.append('}');
            first = false;
        }
        long offset = 0;
        for (Map.Entry<String, Pending> e : tensors.entrySet()) {
            if (!first) {
                b.append(',');
            }
            first = false;
            Pending p = e.getValue();
            Json.quote(e.getKey(), b);
            b.append(":{\"dtype\":\"").append(SafetensorsDTypes.name(p.dtype())).append("\",\"shape\":[");
            for (int i = 0; i < p.shape().length; i++) {
                b.append(i == 0 ? "" : ",").append(p.shape()[i]);
            }
            long end = offset + p.bytes().byteSize();
            b.append("],\"data_offsets\":[").append(offset).append(',').append(end).append("]}");
            offset = end;
        }
        b.append('}');
        byte[] header = b.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (header.length + 7) & ~7;
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded).put(header);
        while (head.hasRemaining()) {
            head.put((byte) ' ');
        }
        head.flip();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            while (head.hasRemaining()) {
                ch.write(head);
            }
            // copied through a bounded chunk: works for native, mapped and any heap array segment of any size
            byte[] chunk = new byte[1 << 20];
            MemorySegment chunkSeg = MemorySegment.ofArray(chunk);
            for (Pending p : tensors.values()) {
                long size = p.bytes().byteSize();
                for (long off = 0; off < size; off += chunk.length) {
                    int len = (int) Math.min(chunk.length, size - off);
                    MemorySegment.copy(p.bytes(), off, chunkSeg, 0, len);
                    ByteBuffer buf = ByteBuffer.wrap(chunk, 0, len);
                    while (buf.hasRemaining()) {
                        ch.write(buf);
                    }
                }
            }
        }
    }
}
