package io.vramkit.core.safetensors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vramkit.core.DType;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsTest {

    @TempDir
    Path dir;

    @Test
    void roundTripsAllDtypesAndMetadata() throws IOException {
        Random rnd = new Random(1);
        float[] f = new float[3 * 5];
        for (int i = 0; i < f.length; i++) {
            f[i] = (float) rnd.nextGaussian();
        }
        byte[] raw = new byte[7];
        rnd.nextBytes(raw);
        Path file = dir.resolve("t.safetensors");
        SafetensorsWriter w = new SafetensorsWriter()
                .metadata("format", "pt").metadata("note", "quote \" and \\ and \n newline")
                .addFloats("a.f32", DType.FP32, new long[] {3, 5}, f)
                .addFloats("a.f16", DType.FP16, new long[] {15}, f)
                .addFloats("a.bf16", DType.BF16, new long[] {5, 3}, f)
                .add("raw.e4m3", DType.FP8_E4M3, new long[] {7}, MemorySegment.ofArray(raw))
                .add("raw.i8", DType.INT8, new long[] {7, 1}, MemorySegment.ofArray(raw))
                .add("empty", DType.INT32, new long[] {0, 4}, MemorySegment.ofArray(new byte[0]))
                .add("scalar", DType.INT64, new long[] {}, MemorySegment.ofArray(new long[] {42}));
        w.write(file);
        try (SafetensorsReader r = SafetensorsReader.open(file)) {
            assertEquals(Map.of("format", "pt", "note", "quote \" and \\ and \n newline"), r.metadata());
            assertEquals(7, r.names().size());
            assertArrayEquals(f, r.floats("a.f32"));
            float[] h = r.floats("a.f16");
            float[] b = r.floats("a.bf16");
            for (int i = 0; i < f.length; i++) {
                assertEquals(Float.float16ToFloat(Float.floatToFloat16(f[i])), h[i]);
                assertEquals(f[i], b[i], Math.abs(f[i]) * 0x1p-8);
            }
            assertArrayEquals(raw, r.segment("raw.e4m3").toArray(ValueLayout.JAVA_BYTE));
            assertEquals(DType.INT8, r.entry("raw.i8").dtype());
            assertArrayEquals(new long[] {7, 1}, r.entry("raw.i8").shape());
            assertEquals(0, r.segment("empty").byteSize());
            assertEquals(42L, r.segment("scalar").get(ValueLayout.JAVA_LONG_UNALIGNED, 0));
            assertTrue(r.segment("a.f32").isReadOnly());
            assertTrue(r.segment("a.f32").isMapped());
            var e = assertThrows(IllegalArgumentException.class, () -> r.floats("raw.i8"));
            assertTrue(e.getMessage().contains("raw.i8") && e.getMessage().contains("INT8"), e.getMessage());
            var e2 = assertThrows(IllegalArgumentException.class, () -> r.segment("nope"));
            assertTrue(e2.getMessage().contains("'nope'"), e2.getMessage());
        }
        // the header is padded so the data starts 8-byte aligned
        long n = ByteBuffer.wrap(Files.readAllBytes(file), 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, n % 8);
    }

    @Test
    void segmentsDieWithTheReader() throws IOException {
        Path file = dir.resolve("c.safetensors");
        new SafetensorsWriter().addFloats("x", DType.FP32, new long[] {2}, new float[] {1, 2}).write(file);
        MemorySegment s;
        SafetensorsReader r = SafetensorsReader.open(file);
        s = r.segment("x");
        r.close();
        r.close();
        assertFalse(s.scope().isAlive());
        assertThrows(IllegalStateException.class, () -> s.get(ValueLayout.JAVA_FLOAT_UNALIGNED, 0));
    }

    @Test
    void readsAFileWrittenByHand() throws IOException {
        // a header as the reference Python implementation writes it (no padding, metadata last)
        String json = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"__metadata__\":{\"format\":\"pt\"}}";
        byte[] h = json.getBytes(StandardCharsets.UTF_8);
        ByteBuffer buf = ByteBuffer.allocate(8 + h.length + 8).order(ByteOrder.LITTLE_ENDIAN);
        buf.putLong(h.length).put(h).putFloat(1.5f).putFloat(-2f);
        Path file = dir.resolve("hand.safetensors");
        Files.write(file, buf.array());
        try (SafetensorsReader r = SafetensorsReader.open(file)) {
            assertArrayEquals(new float[] {1.5f, -2f}, r.floats("w"));
            assertEquals("pt", r.metadata().get("format"));
        }
    }

    @Test
    void rejectsCorruptFilesNamingTheProblem() throws IOException {
        assertCorrupt(new byte[] {1, 2, 3}, "too short");
        assertCorrupt(header("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8), "needs 12");
        assertCorrupt(header("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,16]}}", 8), "outside");
        assertCorrupt(header("{\"w\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8), "'Q4'");
        assertCorrupt(header("{\"w\":{\"dtype\":\"F32\",\"shape\":[2]", 8), "malformed");
        assertCorrupt(header("[1,2]", 0), "not a JSON object");
        ByteBuffer big = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(1L << 40);
        assertCorrupt(big.array(), "header length");
    }

    @Test
    void writerRejectsBadInput() {
        SafetensorsWriter w = new SafetensorsWriter();
        w.add("a", DType.INT8, new long[] {2}, MemorySegment.ofArray(new byte[2]));
        var e = assertThrows(IllegalArgumentException.class,
                () -> w.add("a", DType.INT8, new long[] {2}, MemorySegment.ofArray(new byte[2])));
        assertTrue(e.getMessage().contains("'a'"));
        var e2 = assertThrows(IllegalArgumentException.class,
                () -> w.add("b", DType.FP32, new long[] {3}, MemorySegment.ofArray(new byte[8])));
        assertTrue(e2.getMessage().contains("'b'") && e2.getMessage().contains("12"), e2.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> w.add("c", DType.INT8, new long[] {-1}, MemorySegment.ofArray(new byte[0])));
        assertThrows(IllegalArgumentException.class,
                () -> w.addFloats("d", DType.INT8, new long[] {1}, new float[1]));
        assertThrows(IllegalArgumentException.class,
                () -> w.add("__metadata__", DType.INT8, new long[] {0}, MemorySegment.ofArray(new byte[0])));
    }

    private static byte[] header(String json, int dataBytes) {
        byte[] h = json.getBytes(StandardCharsets.UTF_8);
        ByteBuffer buf = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        buf.putLong(h.length).put(h);
        return buf.array();
    }

    private void assertCorrupt(byte[] bytes, String fragment) throws IOException {
        Path file = Files.createTempFile(dir, "bad", ".safetensors");
        Files.write(file, bytes);
        var e = assertThrows(IllegalArgumentException.class, () -> SafetensorsReader.open(file));
        assertTrue(e.getMessage().contains(fragment) && e.getMessage().contains(file.toString()), e.getMessage());
    }
}
