package io.vramkit.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vramkit.core.memory.CachingPool;
import io.vramkit.core.memory.HostMemoryResource;
import io.vramkit.core.memory.LimitingResource;
import io.vramkit.core.memory.OutOfMemoryException;
import io.vramkit.core.memory.SimulatedResource;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@link Quantizer#quantize(String, float[], int, int, QuantFormat, io.vramkit.core.memory.MemoryResource)}. */
class QuantizerStorageTest {

    private static byte[] bytes(MemorySegment s) {
        return s.byteSize() == 0 ? new byte[0] : s.toArray(ValueLayout.JAVA_BYTE);
    }

    @Test
    void storageFromAPoolHoldsTheSameBytesAndGoesBackOnClose() {
        HostMemoryResource host = new HostMemoryResource();
        try (CachingPool pool = new CachingPool(host)) {
            int rows = 48;
            int cols = 256;
            float[] w = TestData.heavyTailed(rows, cols, 11);
            for (QuantFormat f : List.of(QuantFormat.FP32, QuantFormat.BF16, QuantFormat.INT8, QuantFormat.INT4_G32,
                    QuantFormat.INT4_ASYM_G32, QuantFormat.NF4_B64, QuantFormat.nf4(64, true),
                    QuantFormat.FP8_E4M3)) {
                // twice: the second round reuses the pooled blocks, which still hold the first round's bytes
                for (int round = 0; round < 2; round++) {
                    try (QuantizedTensor a = Quantizer.quantize("w", w, rows, cols, f);
                         QuantizedTensor b = Quantizer.quantize("w", w, rows, cols, f, pool)) {
                        assertTrue(pool.liveAllocationCount() > 0, f.toString());
                        assertArrayEquals(bytes(a.codes()), bytes(b.codes()), f + " codes");
                        assertArrayEquals(bytes(a.scales()), bytes(b.scales()), f + " scales");
                        assertArrayEquals(bytes(a.zeros()), bytes(b.zeros()), f + " zeros");
                        assertArrayEquals(bytes(a.secondLevelScales()), bytes(b.secondLevelScales()), f + " scale2");
                        assertEquals(a.doubleQuantOffset(), b.doubleQuantOffset(), f + " dq offset");
                        float[] x = TestData.gaussian(cols, 1, 3);
                        float[] ya = new float[rows];
                        float[] yb = new float[rows];
                        QuantizedMatmul.matmul(x, 1, a, ya);
                        QuantizedMatmul.matmul(x, 1, b, yb);
                        assertArrayEquals(ya, yb, f + " gemv");
                    }
                    assertEquals(0, pool.liveAllocationCount(), f + " round " + round);
                }
            }
        }
        assertEquals(0, host.liveAllocations());
    }

    @Test
    void closedTensorFromAPoolRejectsUse() {
        try (CachingPool pool = new CachingPool(new HostMemoryResource())) {
            QuantizedTensor t = Quantizer.quantize("mlp.up", TestData.gaussian(8 * 64, 1, 1), 8, 64,
                    QuantFormat.INT8, pool);
            MemorySegment codes = t.codes();
            t.close();
            t.close();
            assertThrows(IllegalStateException.class, t::codes);
            assertThrows(IllegalStateException.class, () -> codes.get(ValueLayout.JAVA_BYTE, 0));
            assertEquals(0, pool.liveAllocationCount());
        }
    }

    @Test
    void deviceStorageIsRejectedByNameAndAllocatesNothing() {
        SimulatedResource device = new SimulatedResource(1L << 30);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Quantizer.quantize(
                "attn.q", new float[4 * 64], 4, 64, QuantFormat.INT8, device));
        assertTrue(e.getMessage().contains("storage") && e.getMessage().contains("DEVICE")
                && e.getMessage().contains("attn.q"), e.getMessage());
        assertEquals(0, device.liveAllocationCount());
        assertThrows(NullPointerException.class,
                () -> Quantizer.quantize("attn.q", new float[4 * 64], 4, 64, QuantFormat.INT8, null));
    }

    @Test
    void failuresLeaveNothingAllocated() {
        HostMemoryResource host = new HostMemoryResource();
        // room for the codes (4 × 64 bytes) but not for the scales after them
        LimitingResource tight = new LimitingResource(host, 4 * 64 + 8);
        assertThrows(OutOfMemoryException.class,
                () -> Quantizer.quantize("w", TestData.gaussian(4 * 64, 1, 2), 4, 64, QuantFormat.INT8_G32, tight));
        assertEquals(0, host.liveAllocations());
        float[] bad = TestData.gaussian(4 * 64, 1, 2);
        bad[77] = Float.NaN;
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Quantizer.quantize("w.nan", bad, 4, 64, QuantFormat.INT4_G32, host));
        assertTrue(e.getMessage().contains("w.nan") && e.getMessage().contains("77"), e.getMessage());
        assertEquals(0, host.liveAllocations());
        assertEquals(0, host.usedBytes());
    }
}
