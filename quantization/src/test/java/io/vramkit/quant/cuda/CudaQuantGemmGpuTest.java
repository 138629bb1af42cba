package io.vramkit.quant.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.vramkit.core.DType;
import io.vramkit.core.memory.Buffer;
import io.vramkit.cuda.Cublas;
import io.vramkit.cuda.Cuda;
import io.vramkit.cuda.CudaLibraryException;
import io.vramkit.cuda.CudaMallocResource;
import io.vramkit.cuda.CudaStream;
import io.vramkit.quant.QuantFormat;
import io.vramkit.quant.QuantizedTensor;
import io.vramkit.quant.Quantizer;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@link CudaQuantGemm}, both strategies, against a float64 reference on the same 16-bit-rounded operands, with the
 * output poisoned first (every element in range must be written, nothing past it). Skipped unless a CUDA device
 * answers; the cuBLAS strategy also needs libcublas.
 */
@Tag("gpu")
class CudaQuantGemmGpuTest {

    private static final List<QuantFormat> FORMATS = List.of(QuantFormat.INT8, QuantFormat.INT8_G32,
            QuantFormat.INT4_G32, QuantFormat.INT4_G128, QuantFormat.INT4_ASYM_G128, QuantFormat.NF4_B64,
            QuantFormat.NF4_B64_DQ);
    private static final int POISON_TAIL = 256;

    private static void assumeGpu() {
        Cuda.CudaStatus status = Cuda.status();
        assumeTrue(status.usable(), "no usable CUDA device: " + status.message());
    }

    private static float round16(float v, DType type) {
        if (type == DType.FP16) {
            return Float.float16ToFloat(Float.floatToFloat16(v));
        }
        int bits = Float.floatToRawIntBits(v);
        bits += 0x7FFF + ((bits >>> 16) & 1);
        return Float.intBitsToFloat(bits & 0xFFFF0000);
    }

    private static short bits16(float v, DType type) {
        return type == DType.FP16 ? Float.floatToFloat16(v) : (short) (Float.floatToRawIntBits(v) >>> 16);
    }

    private static float[] heavyTailed(int n, long seed) {
        Random rnd = new Random(seed);
        float[] w = new float[n];
        for (int i = 0; i < n; i++) {
            double g = rnd.nextGaussian();
            w[i] = (float) (0.02 * g * (rnd.nextInt(50) == 0 ? 6 : 1));
        }
        return w;
    }

    private interface Gemm {
        void run(CudaQuantizedTensor w, Buffer x, DType type, int m, Buffer y, CudaStream stream);
    }

    private static void check(Gemm gemm, int m, int rows, int cols, QuantFormat f, DType type, long seed) {
        CudaMallocResource dev = new CudaMallocResource(0);
        float[] w = heavyTailed(rows * cols, seed);
        Random rnd = new Random(seed + 1);
        try (QuantizedTensor q = Quantizer.quantize("w", w, rows, cols, f);
             CudaStream stream = CudaStream.create(0);
             CudaQuantizedTensor d = CudaQuantizedTensor.upload(q, dev, stream);
             Arena arena = Arena.ofConfined()) {
            float[] wq = q.dequantize();
            float[] x = new float[m * cols];
            MemorySegment xh = arena.allocate(2L * x.length, 64);
            for (int i = 0; i < x.length; i++) {
                x[i] = round16((float) rnd.nextGaussian(), type);
                xh.setAtIndex(ValueLayout.JAVA_SHORT, i, bits16(x[i], type));
            }
            long yBytes = 4L * m * rows;
            try (Buffer xb = Buffer.allocate(dev, xh.byteSize(), 256, stream);
                 Buffer yb = Buffer.allocate(dev, yBytes + POISON_TAIL, 256, stream)) {
                stream.copyToDeviceAsync(xh, xb, 0);
                stream.fillAsync(yb, 0, yBytes + POISON_TAIL, (byte) 0xFF);
                gemm.run(d, xb, type, m, yb, stream);
                MemorySegment yh = arena.allocate(yBytes + POISON_TAIL, 64);
                stream.copyToHostAsync(yb, 0, yh);
                stream.synchronize();
                for (int r = 0; r < m; r++) {
                    for (int n = 0; n < rows; n++) {
                        double ref = 0;
                        double abs = 0;
                        for (int k = 0; k < cols; k++) {
                            double p = (double) x[r * cols + k] * round16(wq[n * cols + k], type);
                            ref += p;
                            abs += Math.abs(p);
                        }
                        float got = yh.getAtIndex(ValueLayout.JAVA_FLOAT, (long) r * rows + n);
                        assertTrue(Float.isFinite(got), f + " " + type + " y[" + r + "," + n + "] not written: " + got);
                        assertEquals(ref, got, 1e-5 * abs + 1e-6, f + " " + type + " m=" + m + " y[" + r + "," + n + "]");
                    }
                }
                for (long b = yBytes; b < yBytes + POISON_TAIL; b++) {
                    assertEquals((byte) 0xFF, yh.get(ValueLayout.JAVA_BYTE, b), "wrote past y's end at byte " + b);
                }
            }
        }
    }

    @Test
    void fusedMatchesTheFloat64Reference() {
        assumeGpu();
        long seed = 10;
        for (QuantFormat f : FORMATS) {
            for (DType type : List.of(DType.FP16, DType.BF16)) {
                check(CudaQuantGemm::gemmFused, 1, 96, 256, f, type, seed++);
                check(CudaQuantGemm::gemmFused, 131, 200, 512, f, type, seed++);
            }
        }
        check(CudaQuantGemm::gemmFused, 300, 384, 1536, QuantFormat.INT4_G64, DType.FP16, seed);
    }

    @Test
    void dequantizedCublasMatchesTheFloat64Reference() {
        assumeGpu();
        CudaMallocResource dev = new CudaMallocResource(0);
        try (CudaStream stream = CudaStream.create(0)) {
            Cublas blas;
            try {
                blas = Cublas.create(stream);
            } catch (CudaLibraryException e) {
                assumeTrue(false, "libcublas not found: " + e.getMessage());
                return;
            }
            try (blas; Buffer ws = Buffer.allocate(dev, 2L * 384 * 1536, 256, stream)) {
                Gemm viaCublas = (w, x, type, m, y, s) -> CudaQuantGemm.gemmDequantized(w, x, type, m, y, blas, ws);
                long seed = 40;
                for (QuantFormat f : FORMATS) {
                    for (DType type : List.of(DType.FP16, DType.BF16)) {
                        check(viaCublas, 1, 96, 256, f, type, seed++);
                        check(viaCublas, 131, 200, 512, f, type, seed++);
                    }
                }
            }
        }
    }

    @Test
    void rejectsBadInputBeforeLaunching() {
        assumeGpu();
        CudaMallocResource dev = new CudaMallocResource(0);
        try (QuantizedTensor fp8 = Quantizer.quantize("fp8", heavyTailed(4 * 64, 3), 4, 64, QuantFormat.FP8_E4M3);
             QuantizedTensor int4 = Quantizer.quantize("int4", heavyTailed(4 * 64, 4), 4, 64, QuantFormat.INT4_G32);
             CudaStream stream = CudaStream.create(0);
             CudaQuantizedTensor f8 = CudaQuantizedTensor.upload(fp8, dev, stream);
             CudaQuantizedTensor i4 = CudaQuantizedTensor.upload(int4, dev, stream);
             Buffer x = Buffer.allocate(dev, 2 * 2 * 64, 256, stream);
             Buffer y = Buffer.allocate(dev, 4 * 2 * 4, 256, stream)) {
            assertThrows(IllegalArgumentException.class, () -> CudaQuantGemm.gemmFused(f8, x, DType.FP16, 1, y, stream));
            IllegalArgumentException dtype = assertThrows(IllegalArgumentException.class,
                    () -> CudaQuantGemm.gemmFused(i4, x, DType.FP32, 1, y, stream));
            assertTrue(dtype.getMessage().contains("xType"), dtype.getMessage());
            IllegalArgumentException m = assertThrows(IllegalArgumentException.class,
                    () -> CudaQuantGemm.gemmFused(i4, x, DType.FP16, 0, y, stream));
            assertTrue(m.getMessage().contains("m must"), m.getMessage());
            IllegalArgumentException small = assertThrows(IllegalArgumentException.class,
                    () -> CudaQuantGemm.gemmFused(i4, x, DType.FP16, 3, y, stream));
            assertTrue(small.getMessage().startsWith("x has"), small.getMessage());
        }
    }
}
