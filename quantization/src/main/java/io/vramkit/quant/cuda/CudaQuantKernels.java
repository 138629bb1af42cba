package io.vramkit.quant.cuda;

import io.vramkit.core.DType;
import io.vramkit.core.memory.Buffer;
import io.vramkit.cuda.CudaStream;
import io.vramkit.cuda.KernelModule;
import io.vramkit.quant.QuantFormat;
import java.util.Objects;

/**
 * Launches the quantization module's CUDA kernels ({@code quantization/src/main/cuda}): dequantize to FP32 and the
 * fused W4A16/W8A16 GEMV for batches of 1 to 16, FP16 or BF16 activations ({@link CudaQuantGemm} has the
 * prefill-sized matmul). The kernels read the layouts of {@code docs/formats.md}, the same
 * bytes as the CPU kernels, and are compared with them by the {@code gpu}-tagged tests.
 *
 * <p>The kernel module is loaded on the first use on device 0 and kept. Thread-safe; launches are ordered by the
 * given stream. <b>Unverified on a GPU</b>: written and compiled ({@code nvcc -arch=sm_90}) without one.
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
     * Other shapes run the warp-per-row kernels, one launch per power of two in the batch. <b>The tensor-core path is
     * unverified on a GPU.</b>
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
        gemv(w, x, xType, batch, y, stream, true);
    }

    /**
     * As {@link #gemv(CudaQuantizedTensor, Buffer, DType, int, Buffer, CudaStream)}; {@code allowTensorCores = false}
     * forces the warp-per-row kernels, so tests can compare both paths on the same shapes.
     */
    static void gemv(CudaQuantizedTensor w, Buffer x, DType xType, int batch, Buffer y, CudaStream stream,
                     boolean allowTensorCores) {
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
            String kind = int8 ? "int8" : f.scheme() == QuantFormat.Scheme.NF4 ? "nf4" : "int4";
            String name = "vramkit_gemv_tc_" + kind + (xType == DType.FP16 ? "_f16" : "_bf16")
                    + (n2 ? "_n2" : "_n1");
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
