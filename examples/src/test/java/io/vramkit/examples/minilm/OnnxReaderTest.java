package io.vramkit.examples.minilm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The protobuf reader on hand-encoded messages and on the real model file. */
class OnnxReaderTest {

    /** A minimal protobuf writer for building test messages. */
    private static final class Pb {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();

        Pb varint(long v) {
            while ((v & ~0x7FL) != 0) {
                out.write((int) ((v & 0x7F) | 0x80));
                v >>>= 7;
            }
            out.write((int) v);
            return this;
        }

        Pb tag(int field, int wire) {
            return varint((long) field << 3 | wire);
        }

        Pb bytes(int field, byte[] b) {
            tag(field, 2).varint(b.length);
            out.writeBytes(b);
            return this;
        }

        Pb string(int field, String s) {
            return bytes(field, s.getBytes(StandardCharsets.UTF_8));
        }

        Pb msg(int field, Pb m) {
            return bytes(field, m.out.toByteArray());
        }

        byte[] done() {
            return out.toByteArray();
        }
    }

    private static Pb floatTensor(String name, long[] dims, float[] v, boolean raw, boolean packedDims) {
        Pb t = new Pb();
        if (packedDims) {
            Pb d = new Pb();
            for (long x : dims) {
                d.varint(x);
            }
            t.bytes(1, d.done());
        } else {
            for (long x : dims) {
                t.tag(1, 0).varint(x);
            }
        }
        t.tag(2, 0).varint(1);
        if (raw) {
            ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
            for (float f : v) {
                b.putFloat(f);
            }
            t.string(8, name).bytes(9, b.array());
        } else {
            ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
            for (float f : v) {
                b.putFloat(f);
            }
            t.bytes(4, b.array()).string(8, name);
        }
        return t;
    }

    @Test
    void readsHandEncodedGraphs() throws Exception {
        Random rnd = new Random(11);
        for (int trial = 0; trial < 20; trial++) {
            int rows = 1 + rnd.nextInt(5);
            int cols = 1 + rnd.nextInt(7);
            float[] w = new float[rows * cols];
            for (int i = 0; i < w.length; i++) {
                w[i] = (float) rnd.nextGaussian();
            }
            boolean raw = rnd.nextBoolean();
            Pb node = new Pb().string(1, "x").string(1, "W").string(2, "y").string(3, "mm").string(4, "MatMul")
                    .msg(5, new Pb().string(1, "axis").tag(3, 0).varint(3));
            Pb constant = new Pb().string(2, "c").string(4, "Constant")
                    .msg(5, new Pb().string(1, "value").msg(5, new Pb().tag(2, 0).varint(7)
                            .bytes(7, new Pb().varint(5).varint(9).done())
                            .tag(1, 0).varint(2)));
            Pb graph = new Pb().msg(1, node).msg(1, constant).string(2, "g")
                    .msg(5, floatTensor("W", new long[] {rows, cols}, w, raw, rnd.nextBoolean()))
                    .msg(11, new Pb().string(1, "x")).msg(11, new Pb().string(1, "W")).msg(12, new Pb().string(1, "y"));
            byte[] model = new Pb().tag(1, 0).varint(8).string(2, "test").msg(7, graph)
                    .msg(8, new Pb().tag(2, 0).varint(17)).done();
            OnnxModel m = OnnxReader.read(new ByteArrayInputStream(model));
            assertEquals(List.of("x"), m.inputs(), "initializers listed as inputs are not inputs");
            assertEquals(List.of("y"), m.outputs());
            assertEquals(2, m.nodes().size());
            assertEquals("MatMul", m.nodes().get(0).opType());
            assertEquals(List.of("x", "W"), m.nodes().get(0).inputs());
            assertEquals(3.0, m.nodes().get(0).attributes().get("axis"));
            assertArrayEquals(new long[] {rows, cols}, m.initializer("W").dims());
            assertArrayEquals(w, m.initializer("W").floats());
            assertArrayEquals(new long[] {5, 9}, m.initializer("c").longs());
            assertArrayEquals(new long[] {2}, m.initializer("c").dims());
        }
    }

    @Test
    void readsTheRealModel() throws Exception {
        OnnxModel m;
        try (var in = MiniLmModel.open(MiniLmModel.ONNX_RESOURCE)) {
            m = OnnxReader.read(in);
        }
        assertEquals(List.of("input_ids", "attention_mask", "token_type_ids"), m.inputs());
        assertEquals(List.of("last_hidden_state"), m.outputs());
        assertArrayEquals(new long[] {30522, 384}, m.initializer("embeddings.word_embeddings.weight").dims());
        assertArrayEquals(new long[] {512, 384}, m.initializer("embeddings.position_embeddings.weight").dims());
        long matmuls = m.nodes().stream().filter(n -> n.opType().equals("MatMul")).count();
        assertEquals(6 * 8, matmuls, "6 per layer for the linears + 2 for attention");
        MiniLmWeights w = MiniLmWeights.from(m);
        assertEquals(6, w.layers().size());
        assertEquals(1536, w.intermediate());
        assertEquals(1e-12f, w.layerNormEps());
        assertEquals(6L * (4 * 384 * 384 + 2 * 384 * 1536), w.linearParameters());
        // The query weight is stored [in, out] in ONNX and transposed to [out, in] here.
        float[] onnxQ = m.initializer(m.nodes().stream()
                .filter(n -> n.outputs().contains("/encoder/layer.0/attention/self/query/MatMul_output_0"))
                .findFirst().orElseThrow().inputs().get(1)).floats();
        MiniLmWeights.Linear q = w.layers().get(0).query();
        assertEquals(onnxQ[5 * 384 + 17], q.weight()[17 * 384 + 5]);
        assertTrue(Arrays.stream(new int[] {0, 1}).allMatch(i -> Float.isFinite(q.bias()[i])));
    }

    @Test
    void rejectsMalformedInput() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> OnnxReader.read(new ByteArrayInputStream(new Pb().tag(1, 0).varint(8).done())));
        assertTrue(e.getMessage().contains("no graph"), e.getMessage());
        // A graph whose declared length runs past the end of the stream.
        byte[] truncated = Arrays.copyOf(new Pb().msg(7, new Pb().string(2, "graph-name")).done(), 6);
        assertThrows(EOFException.class, () -> OnnxReader.read(new ByteArrayInputStream(truncated)));
        byte[] zeroField = {0};
        e = assertThrows(IllegalArgumentException.class, () -> OnnxReader.read(new ByteArrayInputStream(zeroField)));
        assertTrue(e.getMessage().contains("field number 0"), e.getMessage());
        Pb badType = new Pb().tag(1, 0).varint(2).tag(2, 0).varint(10).string(8, "half").bytes(9, new byte[4]);
        e = assertThrows(IllegalArgumentException.class, () -> OnnxReader.read(new ByteArrayInputStream(
                new Pb().msg(7, new Pb().msg(5, badType)).done())));
        assertTrue(e.getMessage().contains("'half'") && e.getMessage().contains("10"), e.getMessage());
        Pb shortRaw = new Pb().tag(1, 0).varint(3).tag(2, 0).varint(1).string(8, "w").bytes(9, new byte[8]);
        e = assertThrows(IllegalArgumentException.class, () -> OnnxReader.read(new ByteArrayInputStream(
                new Pb().msg(7, new Pb().msg(5, shortRaw)).done())));
        assertTrue(e.getMessage().contains("'w'") && e.getMessage().contains("8 raw bytes"), e.getMessage());
        Pb external = new Pb().tag(1, 0).varint(1).tag(2, 0).varint(1).string(8, "ext").tag(14, 0).varint(1);
        e = assertThrows(IllegalArgumentException.class, () -> OnnxReader.read(new ByteArrayInputStream(
                new Pb().msg(7, new Pb().msg(5, external)).done())));
        assertTrue(e.getMessage().contains("'ext'") && e.getMessage().contains("external"), e.getMessage());
    }
}
