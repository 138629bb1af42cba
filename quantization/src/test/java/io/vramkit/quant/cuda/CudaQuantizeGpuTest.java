package io.vramkit.quant.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.vramkit.core.DType;
import io.vramkit.core.memory.Buffer;
import io.vramkit.core.memory.MemoryResource;
import io.vramkit.core.memory.StatisticsResource;
import io.vramkit.cuda.Cuda;
import io.vramkit.cuda.CudaMallocResource;
import io.vramkit.cuda.CudaStream;
import io.vramkit.quant.QuantFormat;
import io.vramkit.quant.QuantizedMatmul;
import io.vramkit.quant.QuantizedTensor;
import io.vramkit.quant.Quantizer;
import io.vramkit.quant.internal.QuantKernels;
import io.vramkit.quant.internal.ScalarQuantKernels;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@link CudaQuantKernels#quantize} against the CPU quantizer, and the INT8 {@code G == cols} scale layout in the
 * dequantize, GEMV and GEMM kernels. Skipped unless a CUDA device answers.
 */
@Tag("gpu")
class CudaQuantizeGpuTest {

    private static final QuantKernels SCALAR = new ScalarQuantKernels();

    /** Every scheme the GPU quantizer takes, at group sizes 32, 64 and 128 (and INT8 per channel). */
    private static final List<QuantFormat> FORMATS = List.of(QuantFormat.INT8, QuantFormat.INT8_G32,
            QuantFormat.INT8_G64, QuantFormat.INT8_G128, QuantFormat.INT4_G32, QuantFormat.INT4_G64,
            QuantFormat.INT4_G128, QuantFormat.INT4_ASYM_G32, QuantFormat.INT4_ASYM_G64, QuantFormat.INT4_ASYM_G128,
            QuantFormat.nf4(32, false), QuantFormat.NF4_B64, QuantFormat.nf4(128, false));

    /** [rows, cols]; cols a multiple of 128 so every group size divides it (128: a group spans the whole row). */
    private static final int[][] SHAPES = {{1, 128}, {7, 384}, {33, 256}, {64, 1152}, {3, 4096}};

    private static void assumeGpu() {
        Cuda.CudaStatus status = Cuda.status();
        assumeTrue(status.usable(), "no usable CUDA device: " + status.message());
    }

    /**
     * Heavy-tailed weights: a Gaussian bulk, one in 50 scaled by 6, one in 400 by 40, some exact zeros, and in some
     * groups-to-be the largest magnitude repeated with the opposite sign (the INT4 symmetric signed-max tie).
     */
    static float[] heavyTailed(int n, long seed) {
        Random rnd = new Random(seed);
        float[] w = new float[n];
        for (int i = 0; i < n; i++) {
            double g = rnd.nextGaussian() * 0.02;
            int u = rnd.nextInt(400);
            w[i] = (float) (u == 0 ? 40 * g : u < 8 ? 6 * g : u < 10 ? 0 : g);
        }
        for (int i = 0; i + 32 <= n; i += 32) {
            if (rnd.nextInt(4) == 0) {
                int a = i + rnd.nextInt(32);
                int b = i + rnd.nextInt(32);
                w[a] = 0.5f;
                w[b] = -0.5f;
            }
        }
        return w;
    }

    /** The scalar CPU kernels' bytes for {@code w}, in arena memory, wrapped as a tensor. */
    private static QuantizedTensor scalarCpu(Arena arena, float[] w, int rows, int cols, QuantFormat f) {
        long[] b = CudaQuantKernels.quantizedBytes(f, rows, cols);
        MemorySegment codes = arena.allocate(b[0], 64);
        MemorySegment scales = arena.allocate(b[1], 64);
        MemorySegment zeros = b[2] > 0 ? arena.allocate(b[2], 64) : MemorySegment.NULL;
        QuantizedTensor t = QuantizedTensor.wrap("w", f, rows, cols, codes, scales, zeros, MemorySegment.NULL, 0f);
        SCALAR.quantizeRows(w, t, codes, scales, zeros, 0, rows);
        return t;
    }

    private static Buffer upload(float[] w, MemoryResource dev, CudaStream stream, Arena arena) {
        MemorySegment h = arena.allocate(4L * w.length, 64);
        MemorySegment.copy(w, 0, h, ValueLayout.JAVA_FLOAT, 0, w.length);
        Buffer b = Buffer.allocate(dev, h.byteSize(), 256, stream);
        stream.copyToDeviceAsync(h, b, 0);
        return b;
    }

    private static MemorySegment download(Buffer b, long bytes, CudaStream stream, Arena arena) {
        MemorySegment h = arena.allocate(Math.max(1, bytes), 64).asSlice(0, bytes);
        stream.copyToHostAsync(b, 0, h);
        stream.synchronize();
        return h;
    }

    /**
     * Quantizes on the GPU into buffers poisoned with {@code poison} and returns the result as a host tensor (arena
     * memory).
     */
    private static QuantizedTensor gpuQuantize(Buffer wb, int rows, int cols, QuantFormat f, byte poison,
                                               MemoryResource dev, CudaStream stream, Arena arena) {
        long[] b = CudaQuantKernels.quantizedBytes(f, rows, cols);
        try (Buffer codes = Buffer.allocate(dev, b[0], 256, stream);
             Buffer scales = Buffer.allocate(dev, b[1], 256, stream);
             Buffer zeros = b[2] > 0 ? Buffer.allocate(dev, b[2], 256, stream) : null) {
            stream.fillAsync(codes, 0, b[0], poison);
            stream.fillAsync(scales, 0, b[1], poison);
            if (zeros != null) {
                stream.fillAsync(zeros, 0, b[2], poison);
            }
            CudaQuantKernels.quantizeInto("w", wb, rows, cols, f, codes, scales, zeros, dev, stream);
            MemorySegment hc = download(codes, b[0], stream, arena);
            MemorySegment hs = download(scales, b[1], stream, arena);
            MemorySegment hz = zeros == null ? MemorySegment.NULL : download(zeros, b[2], stream, arena);
            return QuantizedTensor.wrap("w", f, rows, cols, hc, hs, hz, MemorySegment.NULL, 0f);
        }
    }

    private static void assertSameBytes(MemorySegment want, MemorySegment got, String what) {
        assertEquals(want.byteSize(), got.byteSize(), what + " size");
        long at = want.mismatch(got);
        if (at >= 0) {
            fail(what + ": first differing byte " + at + " of " + want.byteSize() + ": CPU "
                    + (want.get(ValueLayout.JAVA_BYTE, at) & 0xFF) + ", GPU " + (got.get(ValueLayout.JAVA_BYTE, at) & 0xFF));
        }
    }

    /**
     * Codes, scales and zero-points from the GPU are bit-identical to the scalar CPU kernels' for every scheme, group
     * size and shape, on buffers poisoned with 0x00 and then 0xFF (a byte the kernel did not write would match in at
     * most one of the two runs).
     */
    @Test
    void gpuQuantizationIsBitIdenticalToTheScalarCpuKernels() {
        assumeGpu();
        CudaMallocResource dev = new CudaMallocResource(0);
        long seed = 100;
        for (QuantFormat f : FORMATS) {
            for (int[] sh : SHAPES) {
                int rows = sh[0];
                int cols = sh[1];
                float[] w = heavyTailed(rows * cols, seed++);
                try (CudaStream stream = CudaStream.create(0);
                     Arena arena = Arena.ofConfined();
                     Buffer wb = upload(w, dev, stream, arena)) {
                    QuantizedTensor cpu = scalarCpu(arena, w, rows, cols, f);
                    for (byte poison : new byte[] {0x00, (byte) 0xFF}) {
                        QuantizedTensor gpu = gpuQuantize(wb, rows, cols, f, poison, dev, stream, arena);
                        String what = f + " [" + rows + "x" + cols + "] poison " + poison;
                        assertSameBytes(cpu.codes(), gpu.codes(), what + " codes");
                        assertSameBytes(cpu.scales(), gpu.scales(), what + " scales");
                        if (f.scheme() == QuantFormat.Scheme.INT4_ASYM) {
                            assertSameBytes(cpu.zeros(), gpu.zeros(), what + " zeros");
                        }
                    }
                }
            }
        }
    }

    /**
     * Against {@link Quantizer} (the Vector API kernels where the CPU has them): a group may differ only on a
     * near-tie of the scale search, which those kernels sum in vector lanes with FMA while the scalar kernels and
     * the GPU sum in column order. Bound: every FP32 error sum of {@code n} non-negative terms is within
     * {@code (n + 4)·2⁻²⁴} relative of the exact one (terms each rounded a few times, {@code n − 1} additions), so two
     * candidates the two paths order differently have float64 errors within twice that; and such groups are rare
     * (at most 1% of them, and at least one allowed). Groups with the same scale and zero-point have identical codes.
     */
    @Test
    void gpuQuantizationMatchesTheQuantizerUpToNearTies() {
        assumeGpu();
        CudaMallocResource dev = new CudaMallocResource(0);
        long seed = 500;
        for (QuantFormat f : FORMATS) {
            for (int[] sh : SHAPES) {
                int rows = sh[0];
                int cols = sh[1];
                float[] w = heavyTailed(rows * cols, seed++);
                // shared: the GPU result's host copies back a QuantizedTensor whose dequantize() runs on the
                // executor's worker threads
                try (CudaStream stream = CudaStream.create(0);
                     Arena arena = Arena.ofShared();
                     Buffer wb = upload(w, dev, stream, arena);
                     QuantizedTensor cpu = Quantizer.quantize("w", w, rows, cols, f)) {
                    QuantizedTensor gpu = gpuQuantize(wb, rows, cols, f, (byte) 0xFF, dev, stream, arena);
                    float[] dc = cpu.dequantize();
                    float[] dg = gpu.dequantize();
                    int gpr = f.groupsPerRow(cols);
                    int g = cols / gpr;
                    int differing = 0;
                    for (int r = 0; r < rows; r++) {
                        for (int gi = 0; gi < gpr; gi++) {
                            String what = f + " [" + rows + "x" + cols + "] row " + r + " group " + gi;
                            int c0 = r * cols + gi * g;
                            boolean same = Float.floatToRawIntBits(cpu.scale(r, gi))
                                    == Float.floatToRawIntBits(gpu.scale(r, gi)) && cpu.zero(r, gi) == gpu.zero(r, gi);
                            if (same) {
                                for (int c = c0; c < c0 + g; c++) {
                                    assertEquals(Float.floatToRawIntBits(dc[c]), Float.floatToRawIntBits(dg[c]),
                                            what + " weight " + c);
                                }
                                continue;
                            }
                            differing++;
                            double ec = 0;
                            double eg = 0;
                            for (int c = c0; c < c0 + g; c++) {
                                ec += ((double) dc[c] - w[c]) * ((double) dc[c] - w[c]);
                                eg += ((double) dg[c] - w[c]) * ((double) dg[c] - w[c]);
                            }
                            double tol = 2.0 * (g + 4) * Math.scalb(1.0, -24) * Math.max(ec, eg);
                            assertEquals(ec, eg, tol, what + ": scales " + cpu.scale(r, gi) + " (CPU) and "
                                    + gpu.scale(r, gi) + " (GPU) are not a near-tie");
                        }
                    }
                    int groups = rows * gpr;
                    assertTrue(differing <= Math.max(1, groups / 100), f + " [" + rows + "x" + cols + "]: "
                            + differing + " of " + groups + " groups differ");
                }
            }
        }
    }

    /**
     * The public launcher: a tensor made on the GPU equals the scalar CPU kernels' bytes and dequantizes on the GPU
     * to the CPU's values; nothing stays allocated after close.
     */
    @Test
    void quantizeReturnsAUsableDeviceTensor() {
        assumeGpu();
        StatisticsResource dev = new StatisticsResource(new CudaMallocResource(0));
        int rows = 40;
        int cols = 256;
        for (QuantFormat f : List.of(QuantFormat.INT8, QuantFormat.INT8_G64, QuantFormat.INT4_G128,
                QuantFormat.INT4_ASYM_G32, QuantFormat.NF4_B64)) {
            float[] w = heavyTailed(rows * cols, f.hashCode());
            try (CudaStream stream = CudaStream.create(0);
                 Arena arena = Arena.ofConfined()) {
                QuantizedTensor cpu = scalarCpu(arena, w, rows, cols, f);
                try (Buffer wb = upload(w, dev, stream, arena);
                     CudaQuantizedTensor d = CudaQuantKernels.quantize("q", wb, rows, cols, f, dev, stream);
                     Buffer out = Buffer.allocate(dev, 4L * rows * cols, 256, stream)) {
                    assertEquals("q", d.name());
                    assertEquals(f, d.format());
                    long[] b = CudaQuantKernels.quantizedBytes(f, rows, cols);
                    assertSameBytes(cpu.codes(), download(d.codesBuffer(), b[0], stream, arena), f + " codes");
                    assertSameBytes(cpu.scales(), download(d.scalesBuffer(), b[1], stream, arena), f + " scales");
                    stream.fillAsync(out, 0, out.byteSize(), (byte) 0xFF);
                    CudaQuantKernels.dequantize(d, out, stream);
                    MemorySegment h = download(out, out.byteSize(), stream, arena);
                    float[] ref = cpu.dequantize();
                    for (int i = 0; i < ref.length; i++) {
                        assertEquals(Float.floatToRawIntBits(ref[i]),
                                Float.floatToRawIntBits(h.getAtIndex(ValueLayout.JAVA_FLOAT, i)), f + " element " + i);
                    }
                }
                stream.synchronize();
            }
            assertEquals(0, dev.statistics().bytes().current(), f + ": device bytes left allocated");
        }
    }

    /**
     * A NaN or infinite weight is rejected with the CPU's message (tensor name, flat index, row and column); with
     * several, the smallest index is named; nothing stays allocated.
     */
    @Test
    void nonFiniteWeightsAreRejectedWithTheIndex() {
        assumeGpu();
        StatisticsResource dev = new StatisticsResource(new CudaMallocResource(0));
        Random rnd = new Random(7);
        int rows = 9;
        int cols = 384;
        for (QuantFormat f : List.of(QuantFormat.INT8, QuantFormat.INT8_G32, QuantFormat.INT4_G64,
                QuantFormat.INT4_ASYM_G128, QuantFormat.NF4_B64)) {
            float[] w = heavyTailed(rows * cols, rnd.nextLong());
            int bad = rnd.nextInt(w.length);
            w[bad] = Float.NaN;
            String cpuMessage = assertThrows(IllegalArgumentException.class,
                    () -> Quantizer.quantize("layer.w", w, rows, cols, f)).getMessage();
            float[] w2 = w.clone();
            int first = rnd.nextInt(bad + 1);
            w2[w2.length - 1] = Float.POSITIVE_INFINITY;
            w2[first] = Float.NEGATIVE_INFINITY;  // the smallest non-finite index (NaN at bad >= first, +inf last)
            try (CudaStream stream = CudaStream.create(0);
                 Arena arena = Arena.ofConfined()) {
                try (Buffer wb = upload(w, dev, stream, arena)) {
                    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                            () -> CudaQuantKernels.quantize("layer.w", wb, rows, cols, f, dev, stream));
                    assertEquals(cpuMessage, e.getMessage(), f.toString());
                    assertTrue(e.getMessage().contains("'layer.w'") && e.getMessage().contains("index " + bad),
                            e.getMessage());
                }
                try (Buffer wb = upload(w2, dev, stream, arena)) {
                    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                            () -> CudaQuantKernels.quantize("layer.w", wb, rows, cols, f, dev, stream));
                    assertTrue(e.getMessage().contains("index " + first + " ")
                            && e.getMessage().contains("is -Infinity"),
                            f + ": " + e.getMessage());
                }
                stream.synchronize();
            }
            assertEquals(0, dev.statistics().bytes().current(), f + ": device bytes left allocated");
        }
    }

    /** A group whose FP16 scale would overflow is rejected with the CPU's message. */
    @Test
    void overflowingFp16ScalesAreRejectedAsOnTheCpu() {
        assumeGpu();
        CudaMallocResource dev = new CudaMallocResource(0);
        int rows = 4;
        int cols = 128;
        for (QuantFormat f : List.of(QuantFormat.INT8_G32, QuantFormat.INT4_G64, QuantFormat.INT4_ASYM_G32)) {
            float[] w = heavyTailed(rows * cols, 3);
            w[2 * cols + 70] = 3e9f;
            String cpuMessage = assertThrows(IllegalArgumentException.class,
                    () -> Quantizer.quantize("big", w, rows, cols, f)).getMessage();
            try (CudaStream stream = CudaStream.create(0);
                 Arena arena = Arena.ofConfined();
                 Buffer wb = upload(w, dev, stream, arena)) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> CudaQuantKernels.quantize("big", wb, rows, cols, f, dev, stream));
                assertEquals(cpuMessage, e.getMessage(), f.toString());
            }
        }
    }

    /** Bad arguments are rejected before anything is allocated or launched, naming the argument. */
    @Test
    void badArgumentsAreRejectedBeforeLaunching() {
        assumeGpu();
        CudaMallocResource cuda = new CudaMallocResource(0);
        StatisticsResource dev = new StatisticsResource(cuda);
        try (CudaStream stream = CudaStream.create(0);
             Buffer wb = Buffer.allocate(cuda, 4L * 8 * 96, 256, stream)) {
            IllegalArgumentException group = assertThrows(IllegalArgumentException.class,
                    () -> CudaQuantKernels.quantize("g", wb, 8, 96, QuantFormat.INT4_G64, dev, stream));
            assertTrue(group.getMessage().contains("cols (input dimension) = 96")
                    && group.getMessage().contains("group size 64"), group.getMessage());
            IllegalArgumentException fp8 = assertThrows(IllegalArgumentException.class,
                    () -> CudaQuantKernels.quantize("g", wb, 8, 96, QuantFormat.FP8_E4M3, dev, stream));
            assertTrue(fp8.getMessage().startsWith("format:"), fp8.getMessage());
            IllegalArgumentException dq = assertThrows(IllegalArgumentException.class,
                    () -> CudaQuantKernels.quantize("g", wb, 8, 64, QuantFormat.NF4_B64_DQ, dev, stream));
            assertTrue(dq.getMessage().startsWith("format:"), dq.getMessage());
            IllegalArgumentException small = assertThrows(IllegalArgumentException.class,
                    () -> CudaQuantKernels.quantize("g", wb, 9, 96, QuantFormat.INT8_G32, dev, stream));
            assertTrue(small.getMessage().startsWith("weights has"), small.getMessage());
            IllegalArgumentException empty = assertThrows(IllegalArgumentException.class,
                    () -> CudaQuantKernels.quantize("g", wb, 0, 96, QuantFormat.INT8, dev, stream));
            assertTrue(empty.getMessage().contains("rows=0"), empty.getMessage());
            assertEquals(0, dev.statistics().allocations().total(), "allocated before rejecting");
        }
    }

    /**
     * Issue: INT8_G{G} with G == cols is grouped (FP16 scales), not per channel. Dequantize (bit-identical), the
     * tensor-core and the warp-per-row GEMV and the fused GEMM read its FP16 scales, as the CPU does; and the GPU
     * quantizer writes them.
     */
    @Test
    void int8WithOneGroupPerRowKeepsItsFp16Scales() {
        assumeGpu();
        CudaMallocResource dev = new CudaMallocResource(0);
        for (int[] sh : new int[][] {{37, 64}, {20, 128}}) {
            int rows = sh[0];
            int cols = sh[1];
            QuantFormat f = QuantFormat.int8(cols);
            float[] w = heavyTailed(rows * cols, cols);
            try (QuantizedTensor q = Quantizer.quantize("w", w, rows, cols, f);
                 CudaStream stream = CudaStream.create(0);
                 Arena arena = Arena.ofConfined();
                 CudaQuantizedTensor d = CudaQuantizedTensor.upload(q, dev, stream);
                 Buffer out = Buffer.allocate(dev, 4L * rows * cols, 256, stream);
                 Buffer wb = upload(w, dev, stream, arena)) {
                assertEquals(2L * rows, q.scales().byteSize(), "one FP16 scale per row");
                float[] ref = q.dequantize();
                stream.fillAsync(out, 0, out.byteSize(), (byte) 0xFF);
                CudaQuantKernels.dequantize(d, out, stream);
                MemorySegment h = download(out, out.byteSize(), stream, arena);
                for (int i = 0; i < ref.length; i++) {
                    assertEquals(Float.floatToRawIntBits(ref[i]),
                            Float.floatToRawIntBits(h.getAtIndex(ValueLayout.JAVA_FLOAT, i)), f + " element " + i);
                }
                for (DType type : List.of(DType.FP16, DType.BF16)) {
                    for (int batch : new int[] {1, 3, 16}) {
                        for (boolean tc : new boolean[] {true, false}) {
                            gemvCase(q, ref, d, type, batch, tc, dev, stream, arena);
                        }
                    }
                    for (int m : new int[] {1, 5, 130}) {
                        gemmCase(q, ref, d, type, m, dev, stream, arena);
                    }
                }
                QuantizedTensor gpu = gpuQuantize(wb, rows, cols, f, (byte) 0xFF, dev, stream, arena);
                QuantizedTensor cpu = scalarCpu(arena, w, rows, cols, f);
                assertSameBytes(cpu.codes(), gpu.codes(), f + " GPU-quantized codes");
                assertSameBytes(cpu.scales(), gpu.scales(), f + " GPU-quantized scales");
            }
        }
    }

    private static MemorySegment activations(float[] x, DType type, Arena arena) {
        MemorySegment xh = arena.allocate(2L * x.length, 64);
        for (int i = 0; i < x.length; i++) {
            short h = type == DType.FP16 ? Float.floatToFloat16(x[i]) : (short) (Float.floatToRawIntBits(x[i]) >>> 16);
            xh.setAtIndex(ValueLayout.JAVA_SHORT, i, h);
            x[i] = type == DType.FP16 ? Float.float16ToFloat(h) : Float.intBitsToFloat(h << 16);
        }
        return xh;
    }

    /** GEMV on NaN-poisoned output against the CPU path and float64, every output checked. */
    private static void gemvCase(QuantizedTensor q, float[] deq, CudaQuantizedTensor d, DType type, int batch,
                                 boolean tensorCores, MemoryResource dev, CudaStream stream, Arena arena) {
        int rows = q.rows();
        int cols = q.cols();
        float[] x = heavyTailed(batch * cols, batch * 31L + cols);
        for (int i = 0; i < x.length; i++) {
            x[i] *= 50;
        }
        MemorySegment xh = activations(x, type, arena);
        float[] yCpu = new float[batch * rows];
        QuantizedMatmul.matmul(x, batch, q, yCpu);
        try (Buffer xb = Buffer.allocate(dev, xh.byteSize(), 256, stream);
             Buffer yb = Buffer.allocate(dev, 4L * yCpu.length, 256, stream)) {
            stream.copyToDeviceAsync(xh, xb, 0);
            stream.fillAsync(yb, 0, yb.byteSize(), (byte) 0xFF);
            assertEquals(tensorCores, tensorCores && CudaQuantKernels.tensorCoreGroupShift(d, xb) >= 0,
                    "tensor-core path expected for " + q.format() + " cols " + cols);
            CudaQuantKernels.gemv(d, xb, type, batch, yb, stream, tensorCores);
            MemorySegment yh = download(yb, yb.byteSize(), stream, arena);
            for (int b = 0; b < batch; b++) {
                for (int r = 0; r < rows; r++) {
                    double ref = 0;
                    double mag = 0;
                    for (int c = 0; c < cols; c++) {
                        double p = (double) x[b * cols + c] * deq[r * cols + c];
                        ref += p;
                        mag += Math.abs(p);
                    }
                    float got = yh.getAtIndex(ValueLayout.JAVA_FLOAT, b * rows + r);
                    String what = q.format() + " " + type + " batch " + batch + (tensorCores ? " tc" : " warp")
                            + " y[" + b + "," + r + "]";
                    assertEquals(yCpu[b * rows + r], got, 1e-4 * mag + 1e-6, what + " vs CPU");
                    assertEquals(ref, got, 1e-4 * mag + 1e-6, what + " vs float64");
                }
            }
        }
    }

    /** Fused GEMM on NaN-poisoned output against float64 over the 16-bit-rounded dequantized weights. */
    private static void gemmCase(QuantizedTensor q, float[] deq, CudaQuantizedTensor d, DType type, int m,
                                 MemoryResource dev, CudaStream stream, Arena arena) {
        int rows = q.rows();
        int cols = q.cols();
        float[] x = heavyTailed(m * cols, m * 17L + cols);
        MemorySegment xh = activations(x, type, arena);
        try (Buffer xb = Buffer.allocate(dev, xh.byteSize(), 256, stream);
             Buffer yb = Buffer.allocate(dev, 4L * m * rows, 256, stream)) {
            stream.copyToDeviceAsync(xh, xb, 0);
            stream.fillAsync(yb, 0, yb.byteSize(), (byte) 0xFF);
            CudaQuantGemm.gemmFused(d, xb, type, m, yb, stream);
            MemorySegment yh = download(yb, yb.byteSize(), stream, arena);
            for (int i = 0; i < m; i++) {
                for (int n = 0; n < rows; n++) {
                    double ref = 0;
                    double abs = 0;
                    for (int k = 0; k < cols; k++) {
                        float wk = deq[n * cols + k];
                        float w16 = type == DType.FP16 ? Float.float16ToFloat(Float.floatToFloat16(wk))
                                : bf16(wk);
                        double p = (double) x[i * cols + k] * w16;
                        ref += p;
                        abs += Math.abs(p);
                    }
                    float got = yh.getAtIndex(ValueLayout.JAVA_FLOAT, (long) i * rows + n);
                    assertEquals(ref, got, 1e-5 * abs + 1e-6, q.format() + " " + type + " gemm m=" + m + " y["
                            + i + "," + n + "]");
                }
            }
        }
    }

    private static float bf16(float v) {
        int bits = Float.floatToRawIntBits(v);
        bits += 0x7FFF + ((bits >>> 16) & 1);
        return Float.intBitsToFloat(bits & 0xFFFF0000);
    }
}
