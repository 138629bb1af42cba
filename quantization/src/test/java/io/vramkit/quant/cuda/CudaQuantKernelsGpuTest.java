package io.vramkit.quant.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
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

    /** Formats whose tensor-core path the randomized test drives, every scheme and group size it takes. */
    private static final List<QuantFormat> FAST_FORMATS = List.of(
            QuantFormat.INT4_G32, QuantFormat.INT4_G64, QuantFormat.INT4_G128, QuantFormat.INT4_ASYM_G32,
            QuantFormat.INT4_ASYM_G64, QuantFormat.INT4_ASYM_G128, QuantFormat.nf4(32, false), QuantFormat.NF4_B64,
            QuantFormat.nf4(128, false), QuantFormat.nf4(32, true), QuantFormat.NF4_B64_DQ, QuantFormat.nf4(128, true),
            QuantFormat.INT8, QuantFormat.int8(16), QuantFormat.INT8_G32, QuantFormat.INT8_G64, QuantFormat.INT8_G128,
            QuantFormat.int4(256, true));

    private static final int[] BATCHES = {1, 2, 3, 4, 5, 8, 11, 16};

    /**
     * The tensor-core GEMV on random shapes (rows not a multiple of the 16-row tile, cols a random multiple of the
     * 64-byte chunk), every batch size class and both activation types, against the CPU path and a float64 reference;
     * then the warp-per-row kernels forced on the same shapes.
     */
    @Test
    void tensorCoreGemvMatchesTheCpuOnRandomShapes() {
        assumeGpu();
        Random rnd = new Random(9);
        CudaMallocResource dev = new CudaMallocResource(0);
        for (QuantFormat f : FAST_FORMATS) {
            boolean int8 = f.scheme() == QuantFormat.Scheme.INT8;
            int unit = Math.max(int8 ? 64 : 128, f.groupSize());
            int rows = 1 + rnd.nextInt(80);
            int cols = unit * (1 + rnd.nextInt(Math.max(1, 1024 / unit)));
            long seed = rnd.nextLong();
            // both tensor-core variants (tc2 covers 4-bit with group >= 64 at batch <= 8 and runs tc1 elsewhere)
            for (CudaQuantKernels.GemvVariant v : CudaQuantKernels.GemvVariant.values()) {
                boolean fast = gemvCases(f, rows, cols, seed, true, v, dev);
                assertTrue(fast, f + " [" + rows + "x" + cols + "] should take the tensor-core path");
            }
            if (f == QuantFormat.INT4_G32 || f == QuantFormat.NF4_B64_DQ || f == QuantFormat.INT8) {
                gemvCases(f, rows, cols, rnd.nextLong(), false, CudaQuantKernels.GemvVariant.TC1, dev);
            }
        }
    }

    /** Shapes the tensor-core path refuses run the warp-per-row kernels, which must still match the CPU. */
    @Test
    void fallbackGemvMatchesTheCpuOnShapesTheTensorCorePathRefuses() {
        assumeGpu();
        Random rnd = new Random(10);
        CudaMallocResource dev = new CudaMallocResource(0);
        // cols not a multiple of 128 (4-bit) / 64 (INT8); a group that is not a power of two
        record Shape(QuantFormat f, int cols) { }
        for (Shape sh : List.of(new Shape(QuantFormat.INT4_G32, 224), new Shape(QuantFormat.INT4_ASYM_G32, 96),
                new Shape(QuantFormat.nf4(32, true), 160), new Shape(QuantFormat.INT8_G32, 96),
                new Shape(QuantFormat.INT8, 32 * 5), new Shape(QuantFormat.int4(96, true), 384))) {
            int rows = 1 + rnd.nextInt(50);
            boolean fast = gemvCases(sh.f(), rows, sh.cols(), rnd.nextLong(), true,
                    CudaQuantKernels.DEFAULT_GEMV_VARIANT, dev);
            assertFalse(fast, sh + " should fall back to the warp-per-row kernels");
        }
    }

    /**
     * Runs every batch of {@link #BATCHES} in FP16 and BF16 on one random tensor; returns whether the launcher chose
     * the tensor-core path.
     */
    private static boolean gemvCases(QuantFormat f, int rows, int cols, long seed, boolean allowTensorCores,
                                     CudaQuantKernels.GemvVariant variant, CudaMallocResource dev) {
        float[] w = gaussian(rows * cols, 0.02, seed);
        try (QuantizedTensor q = Quantizer.quantize("w", w, rows, cols, f);
             CudaStream stream = CudaStream.create(0);
             CudaQuantizedTensor d = CudaQuantizedTensor.upload(q, dev, stream);
             Arena arena = Arena.ofConfined()) {
            float[] deq = q.dequantize();
            boolean fast = false;
            for (DType type : List.of(DType.FP16, DType.BF16)) {
                for (int batch : BATCHES) {
                    fast = gemvCase(q, d, deq, type, batch, seed + batch, allowTensorCores, variant, dev, stream,
                            arena);
                }
            }
            return fast;
        }
    }

    /** One GEMV against the CPU path on the same 16-bit-rounded activations; the output is poisoned first. */
    private static void gemvCase(QuantizedTensor q, CudaQuantizedTensor d, DType type, int batch,
                                 CudaMallocResource dev, CudaStream stream, Arena arena) {
        for (CudaQuantKernels.GemvVariant v : CudaQuantKernels.GemvVariant.values()) {
            gemvCase(q, d, q.dequantize(), type, batch, batch, true, v, dev, stream, arena);
        }
    }

    /**
     * One GEMV (output poisoned with NaN first) against the CPU path and the float64 sum over the dequantized weights,
     * on the same 16-bit-rounded activations. Every output is checked, within {@code 1e-4 · Σ|x·w|} (FP32 rounding
     * order, and NF4's hi/lo 16-bit split on the tensor-core path); returns whether the tensor-core path ran.
     */
    private static boolean gemvCase(QuantizedTensor q, CudaQuantizedTensor d, float[] deq, DType type, int batch,
                                    long seed, boolean allowTensorCores, CudaQuantKernels.GemvVariant variant,
                                    CudaMallocResource dev, CudaStream stream, Arena arena) {
        int rows = q.rows();
        int cols = q.cols();
        float[] x = gaussian(batch * cols, 1, seed);
        MemorySegment xh = arena.allocate(2L * x.length, 64);
        for (int i = 0; i < x.length; i++) {
            short h = type == DType.FP16 ? Float.floatToFloat16(x[i])
                    : (short) (Float.floatToRawIntBits(x[i]) >>> 16);
            xh.setAtIndex(ValueLayout.JAVA_SHORT, i, h);
            x[i] = type == DType.FP16 ? Float.float16ToFloat(h) : Float.intBitsToFloat(h << 16);
        }
        float[] yCpu = new float[batch * rows];
        QuantizedMatmul.matmul(x, batch, q, yCpu);
        boolean fast;
        try (Buffer xb = Buffer.allocate(dev, xh.byteSize(), 256, stream);
             Buffer yb = Buffer.allocate(dev, 4L * yCpu.length, 256, stream)) {
            fast = allowTensorCores && CudaQuantKernels.tensorCoreGroupShift(d, xb) >= 0;
            stream.copyToDeviceAsync(xh, xb, 0);
            stream.fillAsync(yb, 0, yb.byteSize(), (byte) 0xFF);
            CudaQuantKernels.gemv(d, xb, type, batch, yb, stream, allowTensorCores, variant);
            String kernel = fast ? CudaQuantKernels.tensorCoreKernel(q.format(), type, batch,
                    CudaQuantKernels.tensorCoreGroupShift(d, xb), variant) : "warp-per-row";
            MemorySegment yh = arena.allocate(4L * yCpu.length, 64);
            stream.copyToHostAsync(yb, 0, yh);
            stream.synchronize();
            for (int b = 0; b < batch; b++) {
                for (int r = 0; r < rows; r++) {
                    double ref = 0;
                    double mag = 0;
                    for (int c = 0; c < cols; c++) {
                        double p = (double) x[b * cols + c] * deq[r * cols + c];
                        ref += p;
                        mag += Math.abs(p);
                    }
                    int i = b * rows + r;
                    float got = yh.getAtIndex(ValueLayout.JAVA_FLOAT, i);
                    String what = q.format() + " [" + rows + "x" + cols + "] " + type + " batch " + batch
                            + " " + kernel + " output (" + b + ", " + r + ")";
                    double tol = 1e-4 * mag + 1e-6;
                    assertEquals(yCpu[i], got, tol, what + " vs CPU");
                    assertEquals(ref, got, tol, what + " vs float64");
                }
            }
        }
        return fast;
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
