package io.vramkit.quant.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.vramkit.core.DType;
import io.vramkit.core.memory.Buffer;
import io.vramkit.cuda.Cuda;
import io.vramkit.cuda.CudaMallocResource;
import io.vramkit.cuda.CudaStream;
import io.vramkit.quant.QuantFormat;
import io.vramkit.quant.QuantizedMatmul;
import io.vramkit.quant.QuantizedTensor;
import io.vramkit.quant.Quantizer;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The CUDA quantization kernels against the CPU path on the same bytes. Skipped unless a CUDA device answers. */
@Tag("gpu")
class CudaQuantKernelsGpuTest {

    private static void assumeGpu() {
        Cuda.CudaStatus status = Cuda.status();
        assumeTrue(status.usable(), "no usable CUDA device: " + status.message());
    }

    private static float[] gaussian(int n, double std, long seed) {
        Random rnd = new Random(seed);
        float[] w = new float[n];
        for (int i = 0; i < n; i++) {
            w[i] = (float) (rnd.nextGaussian() * std);
        }
        return w;
    }

    @Test
    void dequantizeAndGemvMatchTheCpu() {
        assumeGpu();
        int rows = 96;
        int cols = 512;
        CudaMallocResource dev = new CudaMallocResource(0);
        for (QuantFormat f : List.of(QuantFormat.INT8, QuantFormat.INT8_G32, QuantFormat.INT4_G32,
                QuantFormat.INT4_ASYM_G128, QuantFormat.NF4_B64, QuantFormat.NF4_B64_DQ)) {
            float[] w = gaussian(rows * cols, 0.02, 1);
            try (QuantizedTensor q = Quantizer.quantize("w", w, rows, cols, f);
                 CudaStream stream = CudaStream.create(0);
                 CudaQuantizedTensor d = CudaQuantizedTensor.upload(q, dev, stream);
                 Arena arena = Arena.ofConfined()) {
                float[] ref = q.dequantize();
                try (Buffer out = Buffer.allocate(dev, 4L * rows * cols, 256, stream)) {
                    CudaQuantKernels.dequantize(d, out, stream);
                    MemorySegment host = arena.allocate(4L * rows * cols, 64);
                    stream.copyToHostAsync(out, 0, host);
                    stream.synchronize();
                    for (int i = 0; i < ref.length; i++) {
                        // bit-identical, as issue 9 requires of dequantization
                        assertEquals(Float.floatToIntBits(ref[i]),
                                Float.floatToIntBits(host.getAtIndex(ValueLayout.JAVA_FLOAT, i)), f + " element " + i);
                    }
                }
                for (DType type : List.of(DType.FP16, DType.BF16)) {
                    for (int batch : new int[] {1, 3, 16}) {
                        gemvCase(q, d, type, batch, dev, stream, arena);
                    }
                }
            }
        }
    }

    /** One GEMV against the CPU path on the same 16-bit-rounded activations; the output is poisoned first. */
    private static void gemvCase(QuantizedTensor q, CudaQuantizedTensor d, DType type, int batch,
                                 CudaMallocResource dev, CudaStream stream, Arena arena) {
        int rows = q.rows();
        int cols = q.cols();
        float[] x = gaussian(batch * cols, 1, batch);
        MemorySegment xh = arena.allocate(2L * x.length, 64);
        for (int i = 0; i < x.length; i++) {
            short h = type == DType.FP16 ? Float.floatToFloat16(x[i])
                    : (short) (Float.floatToRawIntBits(x[i]) >>> 16);
            xh.setAtIndex(ValueLayout.JAVA_SHORT, i, h);
            x[i] = type == DType.FP16 ? Float.float16ToFloat(h) : Float.intBitsToFloat(h << 16);
        }
        float[] yCpu = new float[batch * rows];
        QuantizedMatmul.matmul(x, batch, q, yCpu);
        try (Buffer xb = Buffer.allocate(dev, xh.byteSize(), 256, stream);
             Buffer yb = Buffer.allocate(dev, 4L * yCpu.length, 256, stream)) {
            stream.copyToDeviceAsync(xh, xb, 0);
            stream.fillAsync(yb, 0, yb.byteSize(), (byte) 0xFF);
            CudaQuantKernels.gemv(d, xb, type, batch, yb, stream);
            MemorySegment yh = arena.allocate(4L * yCpu.length, 64);
            stream.copyToHostAsync(yb, 0, yh);
            stream.synchronize();
            for (int i = 0; i < yCpu.length; i++) {
                assertEquals(yCpu[i], yh.getAtIndex(ValueLayout.JAVA_FLOAT, i), 1e-4,
                        q.format() + " " + type + " batch " + batch + " output " + i);
            }
        }
    }

    @Test
    void gemvRejectsUnsupportedInput() {
        assumeGpu();
        CudaMallocResource dev = new CudaMallocResource(0);
        try (QuantizedTensor q = Quantizer.quantize("w", gaussian(4 * 64, 1, 2), 4, 64, QuantFormat.FP8_E4M3);
             CudaStream stream = CudaStream.create(0);
             CudaQuantizedTensor d = CudaQuantizedTensor.upload(q, dev, stream);
             Buffer x = Buffer.allocate(dev, 128, 256, stream);
             Buffer y = Buffer.allocate(dev, 16, 256, stream)) {
            assertThrows(IllegalArgumentException.class, () -> CudaQuantKernels.gemv(d, x, 1, y, stream));
        }
    }
}
