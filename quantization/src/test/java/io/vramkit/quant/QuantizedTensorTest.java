package io.vramkit.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vramkit.core.safetensors.SafetensorsReader;
import io.vramkit.core.safetensors.SafetensorsWriter;
import io.vramkit.core.DType;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class QuantizedTensorTest {

    @TempDir
    Path dir;

    @Test
    void saveAndLoadEveryFormatWithoutCopying() throws Exception {
        List<QuantizedTensor> saved = new ArrayList<>();
        List<float[]> expected = new ArrayList<>();
        int i = 0;
        for (QuantFormat f : QuantizerTest.allFormats()) {
            int cols = f.groupSize() == 0 || 384 % f.groupSize() == 0 ? 384 : 96;
            float[] w = TestData.heavyTailed(5, cols, i);
            QuantizedTensor q = Quantizer.quantize("layer." + i++ + ".w", w, 5, cols, f);
            saved.add(q);
            expected.add(q.dequantize());
        }
        Path file = dir.resolve("q.safetensors");
        QuantizedTensor.saveAll(file, saved);
        try (SafetensorsReader r = SafetensorsReader.open(file)) {
            List<QuantizedTensor> loaded = QuantizedTensor.loadAll(r);
            assertEquals(saved.size(), loaded.size());
            for (int k = 0; k < saved.size(); k++) {
                QuantizedTensor a = saved.get(k);
                QuantizedTensor b = loaded.get(k);
                assertEquals(a.name(), b.name());
                assertEquals(a.format(), b.format());
                assertEquals(a.rows(), b.rows());
                assertEquals(a.cols(), b.cols());
                assertEquals(a.byteSize(), b.byteSize());
                assertEquals(a.doubleQuantOffset(), b.doubleQuantOffset());
                assertArrayEquals(expected.get(k), b.dequantize(), a.format().toString());
                assertTrue(b.codes().isMapped() || b.codes().isNative(), "codes are a view of the mapping");
                float[] x = TestData.gaussian(a.cols(), 1, k);
                float[] yb = new float[a.rows()];
                QuantizedMatmul.matmul(x, 1, b, yb);
                QuantizedMatmulTest.assertMatches(x, 1, expected.get(k), a.rows(), a.cols(), yb, b.name());
            }
        }
        saved.forEach(QuantizedTensor::close);
    }

    @Test
    void loadedTensorDiesWithTheReader() throws Exception {
        Path file = dir.resolve("one.safetensors");
        try (QuantizedTensor q = Quantizer.quantize("w", TestData.gaussian(128, 1, 1), 2, 64, QuantFormat.NF4_B64)) {
            q.save(file);
        }
        QuantizedTensor loaded;
        try (SafetensorsReader r = SafetensorsReader.open(file)) {
            loaded = QuantizedTensor.load(r, "w");
            assertEquals(QuantFormat.NF4_B64, loaded.format());
        }
        assertThrows(IllegalStateException.class, loaded::dequantize);
    }

    @Test
    void missingOrInconsistentEntriesAreReported() throws Exception {
        Path file = dir.resolve("bad.safetensors");
        new SafetensorsWriter()
                .metadata(QuantizedTensor.METADATA_PREFIX + "w", "format=INT4_G32;rows=2;cols=64;dq_offset=0")
                .add("w.codes", DType.UINT8, new long[] {2, 30}, MemorySegment.ofArray(new byte[60]))
                .add("w.scales", DType.FP16, new long[] {2, 2}, MemorySegment.ofArray(new byte[8]))
                .write(file);
        try (SafetensorsReader r = SafetensorsReader.open(file)) {
            var e = assertThrows(IllegalArgumentException.class, () -> QuantizedTensor.load(r, "w"));
            assertTrue(e.getMessage().contains("codes") && e.getMessage().contains("60")
                    && e.getMessage().contains("64"), e.getMessage());
            var e2 = assertThrows(IllegalArgumentException.class, () -> QuantizedTensor.load(r, "v"));
            assertTrue(e2.getMessage().contains("'v'"), e2.getMessage());
        }
    }

    @Test
    void describesItself() {
        try (QuantizedTensor q = Quantizer.quantize("w", TestData.gaussian(4 * 256, 1, 1), 4, 256,
                QuantFormat.INT4_ASYM_G64)) {
            assertArrayEquals(new int[] {4, 256}, q.shape());
            assertEquals(64, q.groupSize());
            assertEquals(4, q.groupsPerRow());
            assertEquals(4L * 256 / 2, q.codes().byteSize());
            assertEquals(4L * 4 * 2, q.scales().byteSize());
            assertEquals(4L * 4, q.zeros().byteSize());
            assertEquals(4L * 256 / 2 + 16 * 3, q.byteSize());
            assertEquals(QuantFormat.INT4_ASYM_G64.storageBytes(4, 256), q.byteSize());
            assertTrue(q.toString().contains("INT4_ASYM_G64"));
            assertThrows(IndexOutOfBoundsException.class, () -> q.scale(4, 0));
            assertThrows(IndexOutOfBoundsException.class, () -> q.zero(0, 4));
            assertThrows(IllegalArgumentException.class, () -> q.dequantizeRows(3, 5, new float[512], 0));
            assertThrows(IllegalArgumentException.class,
                    () -> q.codes().set(java.lang.foreign.ValueLayout.JAVA_BYTE, 0, (byte) 1));
        }
    }
}
