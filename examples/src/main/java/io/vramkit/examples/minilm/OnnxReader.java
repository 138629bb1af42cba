package io.vramkit.examples.minilm;

import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A small streaming protobuf reader for ONNX model files: {@code ModelProto → GraphProto → NodeProto, TensorProto,
 * ValueInfoProto}. It reads the stream once, front to back, and never holds the whole file in memory: each
 * initializer's {@code raw_data} is decoded straight into a {@code float[]} (or {@code long[]}).
 *
 * <p>Supported: initializers stored inline as {@code raw_data}, {@code float_data}, {@code int32_data} or
 * {@code int64_data} with types FLOAT, INT32 and INT64; {@code Constant} nodes whose {@code value} attribute is such a
 * tensor (they are returned as initializers named after the node's output); integer and float node attributes.
 * Tensors stored in external files and other data types raise an exception naming the tensor. Protobuf wire format:
 * <a href="https://protobuf.dev/programming-guides/encoding/">protobuf.dev encoding</a>; field numbers from
 * {@code onnx.proto3}.
 *
 * <p>Stateless; each call reads its own stream. Thread-safe.
 */
public final class OnnxReader {

    private static final int WIRE_VARINT = 0;
    private static final int WIRE_FIXED64 = 1;
    private static final int WIRE_LEN = 2;
    private static final int WIRE_FIXED32 = 5;

    private OnnxReader() {
    }

    /**
     * Reads an ONNX model from a stream. The stream is read to its end but not closed.
     *
     * @param in the serialized {@code ModelProto}
     * @return the graph's nodes, initializers, inputs and outputs
     * @throws IOException              if the stream fails or ends inside a message
     * @throws IllegalArgumentException if the bytes are not a well-formed ONNX model, have no graph, or use a tensor
     *                                  encoding this reader does not support (the message names the tensor)
     */
    public static OnnxModel read(InputStream in) throws IOException {
        Wire w = new Wire(in instanceof BufferedInputStream ? in : new BufferedInputStream(in, 1 << 16));
        OnnxModel model = null;
        int tag;
        while ((tag = w.tag(Long.MAX_VALUE)) != 0) {
            if (tag >>> 3 == 7 && (tag & 7) == WIRE_LEN) {
                long len = w.varint();
                model = graph(w, w.pos + len);
            } else {
                w.skip(tag);
            }
        }
        if (model == null) {
            throw new IllegalArgumentException("not an ONNX model: no graph (ModelProto field 7) in the stream");
        }
        return model;
    }

    private static OnnxModel graph(Wire w, long end) throws IOException {
        List<OnnxModel.Node> nodes = new ArrayList<>();
        Map<String, OnnxModel.Tensor> inits = new LinkedHashMap<>();
        Set<String> inputs = new LinkedHashSet<>();
        List<String> outputs = new ArrayList<>();
        int tag;
        while ((tag = w.tag(end)) != 0) {
            int field = tag >>> 3;
            if ((tag & 7) != WIRE_LEN) {
                w.skip(tag);
                continue;
            }
            long len = w.varint();
            long sub = w.pos + len;
            switch (field) {
                case 1 -> {
                    NodeAndConstant nc = node(w, sub);
                    nodes.add(nc.node);
                    if (nc.constant != null) {
                        inits.put(nc.constant.name(), nc.constant);
                    }
                }
                case 5 -> {
                    OnnxModel.Tensor t = tensor(w, sub, null);
                    inits.put(t.name(), t);
                }
                case 11 -> inputs.add(valueInfoName(w, sub));
                case 12 -> outputs.add(valueInfoName(w, sub));
                default -> w.skipBytes(len);
            }
            w.expectAt(sub);
        }
        inputs.removeAll(inits.keySet());
        return new OnnxModel(nodes, inits, new ArrayList<>(inputs), outputs);
    }

    private record NodeAndConstant(OnnxModel.Node node, OnnxModel.Tensor constant) {
    }

    private static NodeAndConstant node(Wire w, long end) throws IOException {
        List<String> inputs = new ArrayList<>();
        List<String> outputs = new ArrayList<>();
        String name = "";
        String op = "";
        String domain = "";
        Map<String, Double> attrs = new HashMap<>();
        OnnxModel.Tensor value = null;
        int tag;
        while ((tag = w.tag(end)) != 0) {
            int field = tag >>> 3;
            if ((tag & 7) != WIRE_LEN) {
                w.skip(tag);
                continue;
            }
            long len = w.varint();
            long sub = w.pos + len;
            switch (field) {
                case 1 -> inputs.add(w.string(len));
                case 2 -> outputs.add(w.string(len));
                case 3 -> name = w.string(len);
                case 4 -> op = w.string(len);
                case 7 -> domain = w.string(len);
                case 5 -> {
                    OnnxModel.Tensor t = attribute(w, sub, attrs);
                    if (t != null) {
                        value = t;
                    }
                }
                default -> w.skipBytes(len);
            }
            w.expectAt(sub);
        }
        OnnxModel.Tensor constant = null;
        if (op.equals("Constant") && value != null && outputs.size() == 1) {
            OnnxModel.Tensor v = value;
            constant = new OnnxModel.Tensor(outputs.get(0), v.dims(), v.dataType(), v.floats(), v.longs());
        }
        return new NodeAndConstant(new OnnxModel.Node(name, op, domain, inputs, outputs, attrs), constant);
    }

    /** Reads an AttributeProto; int and float values go into {@code attrs}; returns its tensor, if any. */
    private static OnnxModel.Tensor attribute(Wire w, long end, Map<String, Double> attrs) throws IOException {
        String name = "";
        Double value = null;
        OnnxModel.Tensor tensor = null;
        int tag;
        while ((tag = w.tag(end)) != 0) {
            int field = tag >>> 3;
            int wire = tag & 7;
            if (field == 1 && wire == WIRE_LEN) {
                name = w.string(w.varint());
            } else if (field == 2 && wire == WIRE_FIXED32) {
                value = (double) Float.intBitsToFloat(w.fixed32());
            } else if (field == 3 && wire == WIRE_VARINT) {
                value = (double) w.varint();
            } else if (field == 5 && wire == WIRE_LEN) {
                long len = w.varint();
                long sub = w.pos + len;
                tensor = tensor(w, sub, "attribute tensor");
                w.expectAt(sub);
            } else {
                w.skip(tag);
            }
        }
        if (value != null) {
            attrs.put(name, value);
        }
        return tensor;
    }

    private static String valueInfoName(Wire w, long end) throws IOException {
        String name = "";
        int tag;
        while ((tag = w.tag(end)) != 0) {
            if (tag >>> 3 == 1 && (tag & 7) == WIRE_LEN) {
                name = w.string(w.varint());
            } else {
                w.skip(tag);
            }
        }
        return name;
    }

    private static OnnxModel.Tensor tensor(Wire w, long end, String fallbackName) throws IOException {
        List<Long> dims = new ArrayList<>();
        int type = 0;
        String name = fallbackName;
        byte[] raw = null;
        List<Float> floatData = new ArrayList<>();
        List<Long> intData = new ArrayList<>();
        boolean external = false;
        int tag;
        while ((tag = w.tag(end)) != 0) {
            int field = tag >>> 3;
            int wire = tag & 7;
            switch (field) {
                case 1 -> w.repeatedVarint(wire, dims);
                case 2 -> type = (int) w.varint();
                case 4 -> {
                    if (wire == WIRE_LEN) {
                        long len = w.varint();
                        long stop = w.pos + len;
                        while (w.pos < stop) {
                            floatData.add(Float.intBitsToFloat(w.fixed32()));
                        }
                    } else {
                        floatData.add(Float.intBitsToFloat(w.fixed32()));
                    }
                }
                case 5, 7 -> w.repeatedVarint(wire, intData);
                case 8 -> name = w.string(w.varint());
                case 9 -> raw = w.bytes(w.varint());
                case 13 -> {
                    external = true;
                    w.skip(tag);
                }
                case 14 -> external |= w.varint() == 1;
                default -> w.skip(tag);
            }
        }
        String label = name == null ? "<unnamed>" : name;
        if (external) {
            throw new IllegalArgumentException("tensor '" + label + "' is stored in an external file; "
                    + "only inline tensors are supported");
        }
        long[] shape = dims.stream().mapToLong(Long::longValue).toArray();
        long count = 1;
        for (long d : shape) {
            count = Math.multiplyExact(count, d);
        }
        int n = Math.toIntExact(count);
        switch (type) {
            case OnnxModel.FLOAT -> {
                float[] v = new float[n];
                if (raw != null) {
                    checkRaw(label, raw, n, 4);
                    ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(v);
                } else {
                    checkCount(label, floatData.size(), n);
                    for (int i = 0; i < n; i++) {
                        v[i] = floatData.get(i);
                    }
                }
                return new OnnxModel.Tensor(label, shape, type, v, null);
            }
            case OnnxModel.INT64, OnnxModel.INT32 -> {
                long[] v = new long[n];
                if (raw != null) {
                    int width = type == OnnxModel.INT64 ? 8 : 4;
                    checkRaw(label, raw, n, width);
                    ByteBuffer b = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
                    for (int i = 0; i < n; i++) {
                        v[i] = width == 8 ? b.getLong() : b.getInt();
                    }
                } else {
                    checkCount(label, intData.size(), n);
                    for (int i = 0; i < n; i++) {
                        v[i] = intData.get(i);
                    }
                }
                return new OnnxModel.Tensor(label, shape, type, null, v);
            }
            default -> throw new IllegalArgumentException("tensor '" + label + "' has ONNX data type " + type
                    + "; only FLOAT (1), INT32 (6) and INT64 (7) are supported");
        }
    }

    private static void checkRaw(String name, byte[] raw, int n, int width) {
        if (raw.length != (long) n * width) {
            throw new IllegalArgumentException("tensor '" + name + "' has " + raw.length + " raw bytes, expected "
                    + n + " x " + width);
        }
    }

    private static void checkCount(String name, int have, int n) {
        if (have != n) {
            throw new IllegalArgumentException("tensor '" + name + "' has " + have + " values, expected " + n);
        }
    }

    /** Protobuf wire decoding over a buffered stream, tracking the byte position for nested-message limits. */
    private static final class Wire {
        private final InputStream in;
        private long pos;

        Wire(InputStream in) {
            this.in = in;
        }

        /** The next tag, or 0 at {@code end} or at a clean end of stream. */
        int tag(long end) throws IOException {
            if (pos >= end) {
                if (pos > end) {
                    throw new IllegalArgumentException("malformed protobuf: field overruns its message at byte " + pos);
                }
                return 0;
            }
            int first = in.read();
            if (first < 0) {
                if (end != Long.MAX_VALUE) {
                    throw new EOFException("ONNX stream ended at byte " + pos + " inside a message ending at " + end);
                }
                return 0;
            }
            pos++;
            long v = first & 0x7f;
            if ((first & 0x80) != 0) {
                v = continueVarint(v, 7);
            }
            if (v >>> 3 == 0) {
                throw new IllegalArgumentException("malformed protobuf: field number 0 at byte " + (pos - 1));
            }
            return (int) v;
        }

        long varint() throws IOException {
            return continueVarint(0, 0);
        }

        private long continueVarint(long value, int shift) throws IOException {
            long v = value;
            for (int s = shift; s < 64; s += 7) {
                int b = readByte();
                v |= (long) (b & 0x7f) << s;
                if ((b & 0x80) == 0) {
                    return v;
                }
            }
            throw new IllegalArgumentException("malformed protobuf: varint longer than 10 bytes at byte " + pos);
        }

        int fixed32() throws IOException {
            int a = readByte();
            int b = readByte();
            int c = readByte();
            int d = readByte();
            return a | b << 8 | c << 16 | d << 24;
        }

        void repeatedVarint(int wire, List<Long> into) throws IOException {
            if (wire == WIRE_LEN) {
                long len = varint();
                long stop = pos + len;
                while (pos < stop) {
                    into.add(varint());
                }
                expectAt(stop);
            } else {
                into.add(varint());
            }
        }

        byte[] bytes(long len) throws IOException {
            if (len < 0 || len > Integer.MAX_VALUE - 8) {
                throw new IllegalArgumentException("malformed protobuf: length " + len + " at byte " + pos);
            }
            byte[] b = in.readNBytes((int) len);
            if (b.length != len) {
                throw new EOFException("ONNX stream ended at byte " + (pos + b.length) + ", inside a " + len
                        + "-byte field");
            }
            pos += len;
            return b;
        }

        String string(long len) throws IOException {
            return new String(bytes(len), StandardCharsets.UTF_8);
        }

        void skipBytes(long len) throws IOException {
            long left = len;
            while (left > 0) {
                long k = in.skip(left);
                if (k <= 0) {
                    if (in.read() < 0) {
                        throw new EOFException("ONNX stream ended at byte " + pos + " while skipping a field");
                    }
                    k = 1;
                }
                left -= k;
                pos += k;
            }
        }

        void skip(int tag) throws IOException {
            switch (tag & 7) {
                case WIRE_VARINT -> varint();
                case WIRE_FIXED64 -> skipBytes(8);
                case WIRE_LEN -> skipBytes(varint());
                case WIRE_FIXED32 -> skipBytes(4);
                default -> throw new IllegalArgumentException("malformed protobuf: unsupported wire type "
                        + (tag & 7) + " for field " + (tag >>> 3) + " at byte " + pos);
            }
        }

        void expectAt(long end) {
            if (pos != end) {
                throw new IllegalArgumentException("malformed protobuf: message should end at byte " + end
                        + " but the reader is at byte " + pos);
            }
        }

        private int readByte() throws IOException {
            int b = in.read();
            if (b < 0) {
                throw new EOFException("ONNX stream ended at byte " + pos + " inside a field");
            }
            pos++;
            return b;
        }
    }
}
