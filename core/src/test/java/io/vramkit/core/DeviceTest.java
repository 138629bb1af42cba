package io.vramkit.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class DeviceTest {

    @Test
    void namesAndEquality() {
        assertEquals("cpu", Device.CPU.toString());
        assertEquals("cuda:1", Device.cuda(1).toString());
        assertEquals(Device.cuda(0), new Device(Device.Type.CUDA, 0));
    }

    @Test
    void badArgumentsAreNamed() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Device.cuda(-1)).getMessage().contains("ordinal"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new Device(Device.Type.CPU, 2)).getMessage()
                .contains("ordinal"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new Device(null, 0)).getMessage().contains("type"));
    }

    @Test
    void dtypeSizes() {
        assertEquals(4, DType.FP32.byteSize());
        assertEquals(2, DType.BF16.byteSize());
        assertEquals(1, DType.FP8_E4M3.byteSize());
        assertTrue(DType.FP8_E5M2.isFloatingPoint());
        assertFalse(DType.INT8.isFloatingPoint());
    }
}
