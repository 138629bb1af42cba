package io.vramkit.examples.simulate;

import io.vramkit.core.kv.KvQuant;
import io.vramkit.quant.Fp8;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Core's KV E4M3 encoder must produce the same bits as the quantization module's canonical {@link Fp8} (core cannot
 * depend on it, so the check lives here, where both are visible).
 */
class KvQuantConformanceTest {

    @Test
    void e4m3EncodeAndDecodeMatchTheQuantizationModuleBitForBit() {
        for (int c = 0; c < 256; c++) {
            assertEquals(Float.floatToRawIntBits(Fp8.fromE4M3((byte) c)),
                    Float.floatToRawIntBits(KvQuant.fromE4M3((byte) c)), "decode of code " + c);
        }
        SplittableRandom r = new SplittableRandom(42);
        for (int i = 0; i < 2_000_000; i++) {
            // random bit patterns cover NaN, infinities, subnormals and every exponent
            float x = i % 2 == 0 ? Float.intBitsToFloat(r.nextInt()) : (float) (r.nextGaussian() * 300);
            assertEquals(Fp8.toE4M3(x), KvQuant.toE4M3(x), "encode of " + x);
        }
        // every midpoint between adjacent codes, where rounding to nearest even decides
        for (int c = 0; c < 0x7E; c++) {
            float lo = Fp8.fromE4M3((byte) c);
            float hi = Fp8.fromE4M3((byte) (c + 1));
            float mid = (lo + hi) / 2;
            assertEquals(Fp8.toE4M3(mid), KvQuant.toE4M3(mid), "midpoint " + mid);
            assertEquals(Fp8.toE4M3(-mid), KvQuant.toE4M3(-mid), "midpoint " + -mid);
        }
    }
}
