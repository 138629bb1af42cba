package io.vramkit.quant.cuda;

import io.vramkit.core.DType;
import io.vramkit.core.memory.Buffer;
import io.vramkit.core.memory.MemoryResource;
import io.vramkit.cuda.CudaStream;
import io.vramkit.cuda.KernelModule;
import io.vramkit.quant.QuantFormat;
import io.vramkit.quant.internal.Checks;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Launches the quantization module's CUDA kernels ({@code quantization/src/main/cuda}): quantize FP32 weights,
 * dequantize to FP32 and the fused W4A16/W8A16 GEMV for batches of 1 to 16, FP16 or BF16 activations
 * ({@link CudaQuantGemm} has the prefill-sized matmul). The kernels read the layouts of {@code docs/formats.md}, the
 * same bytes as the CPU kernels, and are compared with them by the {@code gpu}-tagged tests.
 *
 * <p>The kernel module is loaded on the first use on device 0 and kept. Thread-safe; launches are ordered by the
 * given stream. Dequantize and GEMV (both tensor-core variants and the warp-per-row fallback) are verified on an
 * NVIDIA H200 by the {@code gpu}-tagged tests (2026-11-26), as is {@link #quantize}.
 */
public final class CudaQuantKernels {

    private static volatile KernelModule module;

    private CudaQuantKernels() {
    }

    static KernelModule module() {
        KernelModule m = module;
        if (m == null) {
            synchronized (CudaQuantKernels.class) {
                m = module;
                if (m == null) {
                    m = KernelModule.load(CudaQuantKernels.class, "quantization");
                    module = m;
                }
            }
        }
        return m;
    }

    /** Threads per block of {@code vramkit_quantize}: eight warps, one group each at a time. */
    private static final int QUANTIZE_THREADS = 256;
    /**
     * What the launcher stores in the kernel's report slots, "nothing found": the byte {@link #NO_REPORT_BYTE} in all
     * eight bytes (a fill), above every flat index, so the kernel's {@code atomicMin} keeps the first bad one.
     */
    private static final long NO_REPORT = 0x7F7F_7F7F_7F7F_7F7FL;
    private static final byte NO_REPORT_BYTE = 0x7F;

    /**
     * Quantizes FP32 weights that are already in device memory into a new device tensor, on the GPU, with the CPU
     * quantizer's rules ({@code docs/formats.md}, {@link io.vramkit.quant.Quantizer}): INT8 per channel or grouped,
     * INT4 symmetric or asymmetric, or NF4 without double quantization, including the error-minimizing scale search.
     *
     * <p>The codes, scales and zero-points are bit for bit those of the scalar CPU kernels: the kernel does the same
     * IEEE FP32 operations in the same order, and sums each scale candidate's squared error in column order as they
     * do. The Vector API CPU kernels (which {@link io.vramkit.quant.Quantizer} uses where vectors are at least 256
     * bits wide) sum those errors in vector lanes, so where two candidates' errors tie to within FP32 rounding the
     * CPU may keep the other one; that group then has another scale of the same quality (its error differs by at
     * most the rounding of the sums).
     *
     * <p>Blocks the calling thread until the stream has run the kernel, to read back the kernel's report of
     * non-finite weights and overflowing scales; on a failure no buffer stays allocated.
     * Verified on an NVIDIA H200 by the {@code gpu}-tagged tests (2026-11-26): codes and scales bit-identical to the
     * scalar CPU kernels.
     *
     * {@snippet :
     * try (CudaQuantizedTensor q = CudaQuantKernels.quantize("mlp.up", weights, 11008, 4096, QuantFormat.INT4_G128,
     *         new CudaMallocResource(0), stream)) {
     *     CudaQuantKernels.gemv(q, x, 1, y, stream);
     * }
     * }
     *
     * @param name    tensor name, for messages and as the tensor's name
     * @param weights device memory holding FP32 {@code [rows, cols]} row-major, at least {@code rows × cols × 4}
     *                bytes, 4-byte aligned; only read
     * @param rows    output features
     * @param cols    input features; divisible by the group size
     * @param format  INT8 ({@link QuantFormat#PER_CHANNEL} or grouped), INT4 (either kind) or NF4 without double
     *                quantization
     * @param device  where the tensor's buffers come from (for example {@code CudaMallocResource})
     * @param stream  the stream that orders the kernel and owns the buffers
     * @return the device tensor, owned by the caller
     * @throws IllegalArgumentException before any launch, naming the argument: a format not listed above, a shape
     *                                  {@link QuantFormat#checkShape} refuses (a dimension not divisible by the
     *                                  group: which dimension and its size), a too small or misaligned
     *                                  {@code weights}; after the kernel, naming the tensor and the flat index (row,
     *                                  column) of the first NaN or infinite weight, as the CPU does, or the row and
     *                                  group whose FP16 scale would overflow
     */
    public static CudaQuantizedTensor quantize(String name, Buffer weights, int rows, int cols, QuantFormat format,
                                               MemoryResource device, CudaStream stream) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(weights, "weights");
        Objects.requireNonNull(format, "format");
        Objects.requireNonNull(device, "device");
        Objects.requireNonNull(stream, "stream");
        checkQuantizeArgs(name, weights, rows, cols, format);
        long[] bytes = quantizedBytes(format, rows, cols);
        List<Buffer> made = new ArrayList<>(3);
        try {
            Buffer codes = Buffer.allocate(device, bytes[0], 256, stream);
            made.add(codes);
            Buffer scales = Buffer.allocate(device, bytes[1], 256, stream);
            made.add(scales);
            Buffer zeros = null;
            if (bytes[2] > 0) {
                zeros = Buffer.allocate(device, bytes[2], 256, stream);
                made.add(zeros);
            }
            quantizeInto(name, weights, rows, cols, format, codes, scales, zeros, device, stream);
            return new CudaQuantizedTensor(name, format, rows, cols, 0f, codes, scales, zeros, null);
        } catch (RuntimeException | Error e) {
            made.forEach(Buffer::close);
            throw e;
        }
    }

    /** Bytes of the codes, scales and zero-points (0 if none) of a {@link #quantize} result, as docs/formats.md. */
    static long[] quantizedBytes(QuantFormat format, int rows, int cols) {
        long groups = (long) rows * format.groupsPerRow(cols);
        long scaleBytes = switch (format.scheme()) {
            case INT8 -> format.groupSize() == QuantFormat.PER_CHANNEL ? 4L * rows : 2L * groups;
            case INT4_SYM, INT4_ASYM -> 2L * groups;
            default -> 4L * groups;
        };
        return new long[] {(long) rows * cols * format.codeBits() / 8, scaleBytes,
            format.scheme() == QuantFormat.Scheme.INT4_ASYM ? groups : 0};
    }

    /** The argument checks of {@link #quantize}, all before anything is allocated or launched. */
    static void checkQuantizeArgs(String name, Buffer weights, int rows, int cols, QuantFormat format) {
        QuantFormat.Scheme sc = format.scheme();
        boolean supported = sc == QuantFormat.Scheme.INT8 || sc == QuantFormat.Scheme.INT4_SYM
                || sc == QuantFormat.Scheme.INT4_ASYM || (sc == QuantFormat.Scheme.NF4 && !format.doubleQuant());
        if (!supported) {
            throw new IllegalArgumentException("format: CUDA quantize takes INT8, INT4 or NF4 without double "
                    + "quantization, not " + format + " (tensor '" + name + "'); use Quantizer on the CPU");
        }
        format.checkShape(name, rows, cols);
        long need = 4L * rows * cols;
        if (weights.byteSize() < need) {
            throw new IllegalArgumentException("weights has " + weights.byteSize()
                    + " bytes, needs rows × cols × 4 = " + need + " for tensor '" + name + "' [" + rows + ", " + cols
                    + "]");
        }
        if (weights.address() % 4 != 0) {
            throw new IllegalArgumentException("weights must be 4-byte aligned for FP32 loads, address 0x"
                    + Long.toHexString(weights.address()) + " (tensor '" + name + "')");
        }
    }

    /**
     * The kernel of {@link #quantize} into given device buffers of exactly the format's segment sizes
     * ({@code zeros} {@code null} unless INT4 asymmetric), then the read-back of its report; tests pass poisoned
     * buffers here. Checks the arguments as {@link #quantize} does, and blocks until the stream has run the kernel.
     *
     * @param scratch where the 16-byte report buffer comes from
     */
    static void quantizeInto(String name, Buffer weights, int rows, int cols, QuantFormat format, Buffer codes,
                             Buffer scales, Buffer zeros, MemoryResource scratch, CudaStream stream) {
        checkQuantizeArgs(name, weights, rows, cols, format);
        long[] bytes = quantizedBytes(format, rows, cols);
        Buffer[] out = {codes, scales, zeros};
        String[] what = {"codes", "scales", "zeros"};
        for (int i = 0; i < 3; i++) {
            long have = out[i] == null ? 0 : out[i].byteSize();
            if (have < bytes[i] || (bytes[i] == 0 && out[i] != null)) {
                throw new IllegalArgumentException(what[i] + " has " + have + " bytes, " + format + " [" + rows + ", "
                        + cols + "] needs " + bytes[i]);
            }
        }
        boolean perChannel = format.groupSize() == QuantFormat.PER_CHANNEL;
        int group = perChannel ? cols : format.groupSize();
        long groups = (long) rows * (cols / group);
        try (Buffer report = Buffer.allocate(scratch, 16, 256, stream);
             Arena arena = Arena.ofConfined()) {
            stream.fillAsync(report, 0, 16, NO_REPORT_BYTE);
            int blocks = (int) Math.min(65535, (groups + QUANTIZE_THREADS / 32 - 1) / (QUANTIZE_THREADS / 32));
            module().function("vramkit_quantize").launch(blocks, QUANTIZE_THREADS, stream, weights.address(), rows,
                    cols, group, format.scheme().ordinal(), CudaQuantizedTensor.flags(format), codes.address(),
                    scales.address(), zeros == null ? 0L : zeros.address(), report.address());
            MemorySegment host = arena.allocate(16, 8);
            stream.copyToHostAsync(report, 0, host);
            stream.synchronize();
            long badIndex = host.get(ValueLayout.JAVA_LONG, 0);
            long badGroup = host.get(ValueLayout.JAVA_LONG, 8);
            if (badIndex != NO_REPORT) {
                MemorySegment v = arena.allocate(4, 4);
                stream.copyToHostAsync(weights, 4 * badIndex, v);
                stream.synchronize();
                // the CPU's message (Checks.nonFinite), from the one weight read back
                throw new IllegalArgumentException("tensor '" + name + "': weight at index " + badIndex + " (row "
                        + badIndex / cols + ", col " + badIndex % cols + ") is " + v.get(ValueLayout.JAVA_FLOAT, 0)
                        + "; NaN and infinity are rejected");
            }
            if (badGroup != NO_REPORT) {
                int r = (int) (badGroup / (cols / group));
                int gi = (int) (badGroup % (cols / group));
                MemorySegment v = arena.allocate(4L * group, 4);
                stream.copyToHostAsync(weights, 4L * ((long) r * cols + (long) gi * group), v);
                stream.synchronize();
                throw Checks.scaleOverflow(name, r, gi, neededScale(format, v.toArray(ValueLayout.JAVA_FLOAT)));
            }
        }
    }

    /** The unrounded scale the CPU names when a group's FP16 scale overflows (as ScalarQuantKernels computes it). */
    private static float neededScale(QuantFormat format, float[] w) {
        float amax = 0f;
        float lo = 0f;
        float hi = 0f;
        for (float v : w) {
            amax = Math.max(amax, Math.abs(v));
            lo = Math.min(lo, v);
            hi = Math.max(hi, v);
        }
        return switch (format.scheme()) {
            case INT8 -> amax / 127f;
            case INT4_SYM -> amax / 8f;
            default -> (hi - lo) / 15f;
        };
    }

    /**
     * Dequantizes {@code w} into {@code out}, FP32 row-major {@code [rows, cols]}.
     *
     * @param w      the device tensor
     * @param out    at least {@code rows × cols × 4} bytes of device memory
     * @param stream the stream
     * @throws IllegalArgumentException naming the size if {@code out} is too small
     */
    public static void dequantize(CudaQuantizedTensor w, Buffer out, CudaStream stream) {
        long n = (long) w.rows() * w.cols();
        if (out.byteSize() < 4 * n) {
            throw new IllegalArgumentException("out has " + out.byteSize() + " bytes, needs rows × cols × 4 = "
                    + 4 * n + " for tensor '" + w.name() + "'");
        }
        Object[] t = w.kernelArgs();
        Object[] args = new Object[t.length + 1];
        System.arraycopy(t, 0, args, 0, t.length);
        args[t.length] = out.address();
        int blocks = (int) Math.min(65535, (n + 255) / 256);
        module().function("vramkit_dequantize_f32").launch(blocks, 256, stream, args);
    }

    /**
     * {@code y[b, r] = Σ_c x[b, c] · W[r, c]}: FP16 activations, FP32 accumulation and output; the same as
     * {@link #gemv(CudaQuantizedTensor, Buffer, DType, int, Buffer, CudaStream)} with {@link DType#FP16}.
     *
     * @param w      INT8 (per-channel or grouped), INT4 (either kind) or NF4 weights; {@code cols % 32 == 0} and the
     *               group a multiple of 32 (16 for INT8)
     * @param x      FP16 activations {@code [batch, cols]}
     * @param batch  1 to 16
     * @param y      FP32 output {@code [batch, rows]}
     * @param stream the stream
     * @throws IllegalArgumentException naming the argument if the format, batch, group or a buffer size is not
     *                                  supported
     */
    public static void gemv(CudaQuantizedTensor w, Buffer x, int batch, Buffer y, CudaStream stream) {
        gemv(w, x, DType.FP16, batch, y, stream);
    }

    /**
     * {@code y[b, r] = Σ_c x[b, c] · W[r, c]}: FP16 or BF16 activations, FP32 accumulation and output.
     *
     * <p>Where {@code cols} is a multiple of 128 (4-bit) or 64 (INT8), the group a power of two (or INT8 per
     * channel), and {@code x} 16-byte aligned, one launch of the tensor-core kernels ({@code vramkit_gemv_tc_*})
     * covers the whole batch: the integer codes minus their zero-points (exact in FP16 and BF16; NF4 as a hi/lo pair
     * of 16-bit values) are the A operand of {@code mma.sync m16n8k16}, the activations B, and each scale group's FP32
     * partial sum is multiplied by its FP32 scale, so results differ from the CPU path by FP32 rounding order only.
     * Other shapes run the warp-per-row kernels, one launch per power of two in the batch. Both paths are verified on
     * an H200.
     *
     * @param w      INT8 (per-channel or grouped), INT4 (either kind) or NF4 weights; {@code cols % 32 == 0} and the
     *               group a multiple of 32 (16 for INT8)
     * @param x      activations {@code [batch, cols]} in {@code xType}
     * @param xType  {@link DType#FP16} or {@link DType#BF16}
     * @param batch  1 to 16
     * @param y      FP32 output {@code [batch, rows]}
     * @param stream the stream
     * @throws IllegalArgumentException naming the argument if the format, dtype, batch, group or a buffer size is
     *                                  not supported
     */
    public static void gemv(CudaQuantizedTensor w, Buffer x, DType xType, int batch, Buffer y, CudaStream stream) {
        gemv(w, x, xType, batch, y, stream, true, DEFAULT_GEMV_VARIANT);
    }

    /**
     * Variants of the tensor-core GEMV kernels for 4-bit weights; both give the same results (FP32 rounding order
     * aside). {@link #gemv(CudaQuantizedTensor, Buffer, DType, int, Buffer, CudaStream)} runs the one the system
     * property {@code vramkit.gemv.variant} names ({@code tc1} or {@code tc2}, read once), {@link #TC2} by default
     * and for any other value.
     */
    public enum GemvVariant {
        /** {@code vramkit_gemv_tc_*}: each scale group's scale is loaded once the chunk's codes have arrived. */
        TC1,
        /**
         * {@code vramkit_gemv_tc2_*_n1}: the scales load together with the codes, and INT4 builds its 16-bit operand
         * pairs with fewer instructions. Applies to INT4 and NF4 with a group of 64 or more and batch 1 to 8; other
         * cases run {@link #TC1}. Verified on an H200, and faster there than {@link #TC1} (docs/benchmarks.md).
         */
        TC2
    }

    /** The variant {@code vramkit.gemv.variant} names, {@link GemvVariant#TC2} by default. */
    static final GemvVariant DEFAULT_GEMV_VARIANT = gemvVariantProperty();

    private static GemvVariant gemvVariantProperty() {
        String v = System.getProperty("vramkit.gemv.variant", "tc2");
        // read in a class initializer, so an unknown value selects the default rather than failing the class
        return v.trim().equalsIgnoreCase("tc1") ? GemvVariant.TC1 : GemvVariant.TC2;
    }

    /**
     * As {@link #gemv(CudaQuantizedTensor, Buffer, DType, int, Buffer, CudaStream)} with the given tensor-core
     * variant instead of the property's, for benchmarks and tests that compare them in one process.
     *
     * @throws IllegalArgumentException as the other overload; {@code variant} null raises NullPointerException
     */
    public static void gemv(CudaQuantizedTensor w, Buffer x, DType xType, int batch, Buffer y, CudaStream stream,
                            GemvVariant variant) {
        Objects.requireNonNull(variant, "variant");
        gemv(w, x, xType, batch, y, stream, true, variant);
    }

    /**
     * As {@link #gemv(CudaQuantizedTensor, Buffer, DType, int, Buffer, CudaStream)}; {@code allowTensorCores = false}
     * forces the warp-per-row kernels, so tests can compare both paths on the same shapes.
     */
    static void gemv(CudaQuantizedTensor w, Buffer x, DType xType, int batch, Buffer y, CudaStream stream,
                     boolean allowTensorCores) {
        gemv(w, x, xType, batch, y, stream, allowTensorCores, DEFAULT_GEMV_VARIANT);
    }

    /**
     * The name of the tensor-core kernel {@code gemv} launches for these arguments and variant ({@code tc2} only
     * where it applies, see {@link GemvVariant#TC2}), given that the tensor-core path applies
     * ({@code groupShift >= 0}).
     */
    static String tensorCoreKernel(QuantFormat f, DType xType, int batch, int groupShift, GemvVariant variant) {
        boolean int8 = f.scheme() == QuantFormat.Scheme.INT8;
        boolean n2 = batch > 8;
        String kind = int8 ? "int8" : f.scheme() == QuantFormat.Scheme.NF4 ? "nf4" : "int4";
        boolean tc2 = variant == GemvVariant.TC2 && !int8 && !n2 && groupShift >= 6;
        return (tc2 ? "vramkit_gemv_tc2_" : "vramkit_gemv_tc_") + kind + (xType == DType.FP16 ? "_f16" : "_bf16")
                + (n2 ? "_n2" : "_n1");
    }

    static void gemv(CudaQuantizedTensor w, Buffer x, DType xType, int batch, Buffer y, CudaStream stream,
                     boolean allowTensorCores, GemvVariant variant) {
        Objects.requireNonNull(w, "w");
        Objects.requireNonNull(xType, "xType");
        Objects.requireNonNull(x, "x");
        Objects.requireNonNull(y, "y");
        if (xType != DType.FP16 && xType != DType.BF16) {
            throw new IllegalArgumentException("xType must be FP16 or BF16, got " + xType);
        }
        QuantFormat f = w.format();
        boolean int8 = f.scheme() == QuantFormat.Scheme.INT8;
        if (!int8 && !f.isFourBit()) {
            throw new IllegalArgumentException("CUDA gemv takes INT8, INT4 or NF4 weights, not " + f + " (tensor '"
                    + w.name() + "')");
        }
        int group = f.groupSize() == QuantFormat.PER_CHANNEL ? w.cols() : f.groupSize();
        int quantum = int8 ? 16 : 32;
        if (w.cols() % 32 != 0 || group % quantum != 0) {
            throw new IllegalArgumentException("CUDA gemv needs cols % 32 == 0 and group % " + quantum
                    + " == 0; tensor '" + w.name() + "' has cols = " + w.cols() + ", group = " + group);
        }
        if (batch < 1 || batch > 16) {
            throw new IllegalArgumentException("batch must be in 1..16, got " + batch);
        }
        if (x.byteSize() < 2L * batch * w.cols()) {
            throw new IllegalArgumentException("x has " + x.byteSize() + " bytes, needs batch × cols × 2 = "
                    + 2L * batch * w.cols());
        }
        if (y.byteSize() < 4L * batch * w.rows()) {
            throw new IllegalArgumentException("y has " + y.byteSize() + " bytes, needs batch × rows × 4 = "
                    + 4L * batch * w.rows());
        }
        Object[] t = w.kernelArgs();
        int groupShift = tensorCoreGroupShift(w, x);
        if (allowTensorCores && groupShift >= 0) {
            // one launch for the whole batch: n-tiles of 8 batch columns; one block of 8 warps per 16 rows (n1) or
            // 32 rows (n2)
            boolean n2 = batch > 8;
            String name = tensorCoreKernel(f, xType, batch, groupShift, variant);
            Object[] args = new Object[t.length + 4];
            System.arraycopy(t, 0, args, 0, t.length);
            args[t.length] = x.address();
            args[t.length + 1] = y.address();
            args[t.length + 2] = batch;
            args[t.length + 3] = groupShift;
            int rowsPerBlock = n2 ? 32 : 16;
            module().function(name).launch((w.rows() + rowsPerBlock - 1) / rowsPerBlock, 256, stream, args);
            return;
        }
        int warpsPerBlock = 4;
        int blocks = Math.min(65535, (w.rows() + warpsPerBlock - 1) / warpsPerBlock);
        String prefix = xType == DType.FP16 ? "vramkit_gemv_b" : "vramkit_gemv_bf16_b";
        int done = 0;
        // batches that are not a power of two run as several launches on offset x and y
        for (int b : new int[] {16, 8, 4, 2, 1}) {
            while (batch - done >= b) {
                Object[] args = new Object[t.length + 2];
                System.arraycopy(t, 0, args, 0, t.length);
                args[t.length] = x.address() + 2L * done * w.cols();
                args[t.length + 1] = y.address() + 4L * done * w.rows();
                module().function(prefix + b).launch(blocks, 32 * warpsPerBlock, stream, args);
                done += b;
            }
        }
    }

    /**
     * The {@code group_shift} argument of the tensor-core kernels ({@code log2(group)}, or 31 for INT8 per channel),
     * or -1 where they do not apply and the warp-per-row kernels run: cols not a multiple of the 64-byte chunk (128
     * columns of 4-bit codes, 64 of INT8), a group that is not a power of two, or activations not 16-byte aligned.
     */
    static int tensorCoreGroupShift(CudaQuantizedTensor w, Buffer x) {
        QuantFormat f = w.format();
        boolean int8 = f.scheme() == QuantFormat.Scheme.INT8;
        if (w.cols() % (int8 ? 64 : 128) != 0 || x.address() % 16 != 0) {
            return -1;
        }
        if (f.groupSize() == QuantFormat.PER_CHANNEL) {
            return 31;
        }
        return Integer.bitCount(f.groupSize()) == 1 ? Integer.numberOfTrailingZeros(f.groupSize()) : -1;
    }
}
