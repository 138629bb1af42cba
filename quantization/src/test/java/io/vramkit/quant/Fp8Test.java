package io.vramkit.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

class Fp8Test {

    /** Reference encoder: the nearest finite code by exhaustive search, ties to the even code, saturating. */
    private static byte reference(float x, boolean e4m3) {
        if (Float.isNaN(x)) {
            return Fp8.NAN_CODE;
        }
        float max = e4m3 ? Fp8.E4M3_MAX : Fp8.E5M2_MAX;
        double v = Math.max(-max, Math.min(max, x));
        int best = -1;
        double bestErr = Double.POSITIVE_INFINITY;
        for (int c = 0; c < 256; c++) {
            float d = e4m3 ? Fp8.fromE4M3((byte) c) : Fp8.fromE5M2((byte) c);
            if (!Float.isFinite(d) || ((c & 0x80) != 0) != (Math.copySign(1.0, v) < 0)) {
                continue;
            }
            double err = Math.abs(d - v);
            if (err < bestErr || (err == bestErr && (c & 1) == 0)) {
                bestErr = err;
                best = c;
            }
        }
        return (byte) best;
    }

    @Test
    void everyFiniteCodeRoundTrips() {
        for (int c = 0; c < 256; c++) {
            float a = Fp8.fromE4M3((byte) c);
            if (!Float.isNaN(a)) {
                assertEquals((byte) c, Fp8.toE4M3(a), "E4M3 code " + c);
            }
            float b = Fp8.fromE5M2((byte) c);
            if (Float.isFinite(b)) {
                assertEquals((byte) c, Fp8.toE5M2(b), "E5M2 code " + c);
            }
        }
    }

    @Test
    void knownValues() {
        assertEquals(448f, Fp8.fromE4M3((byte) 0x7E));
        assertEquals(57344f, Fp8.fromE5M2((byte) 0x7B));
        assertEquals(0x1p-9f, Fp8.fromE4M3((byte) 0x01));
        assertEquals(0x1p-16f, Fp8.fromE5M2((byte) 0x01));
        assertEquals(1f, Fp8.fromE4M3((byte) 0x38));
        assertEquals(1f, Fp8.fromE5M2((byte) 0x3C));
        assertTrue(Float.isNaN(Fp8.fromE4M3((byte) 0x7F)));
        assertTrue(Float.isNaN(Fp8.fromE4M3((byte) 0xFF)));
        assertEquals(Float.POSITIVE_INFINITY, Fp8.fromE5M2((byte) 0x7C));
        assertEquals(Float.NEGATIVE_INFINITY, Fp8.fromE5M2((byte) 0xFC));
        assertTrue(Float.isNaN(Fp8.fromE5M2((byte) 0x7D)));
        assertEquals((byte) 0x80, Fp8.toE4M3(-0f));
        assertEquals((byte) 0x80, Fp8.toE5M2(-0f));
    }

    @Test
    void saturatesAndHandlesNaN() {
        assertEquals((byte) 0x7E, Fp8.toE4M3(1e9f));
        assertEquals((byte) 0xFE, Fp8.toE4M3(-1e9f));
        assertEquals((byte) 0x7E, Fp8.toE4M3(Float.POSITIVE_INFINITY));
        assertEquals((byte) 0xFE, Fp8.toE4M3(Float.NEGATIVE_INFINITY));
        assertEquals((byte) 0x7B, Fp8.toE5M2(Float.POSITIVE_INFINITY));
        assertEquals((byte) 0xFB, Fp8.toE5M2(-70000f));
        assertEquals(Fp8.NAN_CODE, Fp8.toE4M3(Float.NaN));
        assertEquals(Fp8.NAN_CODE, Fp8.toE5M2(Float.NaN));
        // 464 is the midpoint between 448 and the NaN code's position: it must saturate, never become NaN.
        assertEquals((byte) 0x7E, Fp8.toE4M3(464f));
        assertEquals((byte) 0x7E, Fp8.toE4M3(479.99f));
    }

    @Test
    void matchesExhaustiveNearestOnRandomInputs() {
        Random rnd = new Random(7);
        for (int i = 0; i < 40_000; i++) {
            float x = switch (i % 4) {
                case 0 -> (float) rnd.nextGaussian();
                case 1 -> (float) (rnd.nextGaussian() * 1e-3);
                case 2 -> (float) (rnd.nextGaussian() * 300);
                default -> Math.scalb((float) rnd.nextGaussian(), rnd.nextInt(60) - 30);
            };
            assertEquals(reference(x, true), Fp8.toE4M3(x), () -> "E4M3 of " + x);
            assertEquals(reference(x, false), Fp8.toE5M2(x), () -> "E5M2 of " + x);
        }
    }

    @Test
    void tiesRoundToEven() {
        // 1 + 1/16 lies halfway between 1 (0x38, even) and 1.125 (0x39, odd) in E4M3.
        assertEquals((byte) 0x38, Fp8.toE4M3(1.0625f));
        // 1.125 + 1/16 lies between 0x39 (odd) and 1.25 (0x3A, even).
        assertEquals((byte) 0x3A, Fp8.toE4M3(1.1875f));
        // subnormal tie: 1.5 * 2^-9 between codes 1 and 2 -> 2.
        assertEquals((byte) 0x02, Fp8.toE4M3(1.5f * 0x1p-9f));
        assertEquals((byte) 0x00, Fp8.toE4M3(0.5f * 0x1p-9f));
    }

    @Test
    void bulkRoundTripWithScale() {
        Random rnd = new Random(11);
        float[] src = new float[1000];
        for (int i = 0; i < src.length; i++) {
            src[i] = (float) rnd.nextGaussian() * 5f;
        }
        byte[] codes = new byte[src.length + 3];
        float[] back = new float[src.length];
        float scale = 5f * 5f / Fp8.E4M3_MAX;
        Fp8.encodeE4M3(src, 0, codes, 3, src.length, scale);
        Fp8.decodeE4M3(codes, 3, back, 0, src.length, scale);
        for (int i = 0; i < src.length; i++) {
            double want = Fp8.fromE4M3(Fp8.toE4M3(src[i] / scale)) * (double) scale;
            assertEquals(want, back[i], Math.abs(want) * 1e-6 + 1e-12, "index " + i);
            assertTrue(Math.abs(back[i] - src[i]) <= Math.abs(src[i]) * 0.0625 + scale * 0x1p-9f, "index " + i);
        }
        Fp8.encodeE5M2(src, 0, codes, 0, src.length, 1f);
        Fp8.decodeE5M2(codes, 0, back, 0, src.length, 1f);
        for (int i = 0; i < src.length; i++) {
            assertTrue(Math.abs(back[i] - src[i]) <= Math.abs(src[i]) * 0.125 + 0x1p-16f, "index " + i);
        }
    }

    @Test
    void bulkRejectsBadArguments() {
        float[] src = new float[4];
        byte[] dst = new byte[4];
        var e = assertThrows(IllegalArgumentException.class, () -> Fp8.encodeE4M3(src, 0, dst, 0, 4, 0f));
        assertTrue(e.getMessage().contains("scale") && e.getMessage().contains("0.0"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Fp8.encodeE5M2(src, 0, dst, 0, 4, Float.NaN));
        assertThrows(IllegalArgumentException.class, () -> Fp8.decodeE4M3(dst, 0, src, 0, -1, 1f));
        assertThrows(IndexOutOfBoundsException.class, () -> Fp8.decodeE5M2(dst, 1, src, 0, 4, 1f));
        assertThrows(IndexOutOfBoundsException.class, () -> Fp8.encodeE4M3(src, 2, dst, 0, 3, 1f));
    }
}
