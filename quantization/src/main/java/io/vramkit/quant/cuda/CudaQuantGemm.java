package io.vramkit.quant.cuda;

import io.vramkit.core.DType;
import io.vramkit.core.memory.Buffer;
import io.vramkit.cuda.Cublas;
import io.vramkit.cuda.CudaStream;
import io.vramkit.cuda.Dim3;
import io.vramkit.quant.QuantFormat;
import java.util.Objects;

/**
 * Prefill-sized matmul with quantized weights on the GPU: {@code y[m, n] = Σ_k x[m, k] · W[n, k]}, activations
 * {@code x} in FP16 or BF16 ({@code [m, cols]} row-major), weights {@code W} packed as in {@code docs/formats.md}
 * ({@code [rows, cols]}), output {@code y} in FP32 ({@code [m, rows]} row-major), FP32 accumulation. Two ways, so
 * that a GPU run can measure which is faster (issue 9 asks for whichever wins):
 * <ul>
 *   <li>{@link #gemmFused}: one kernel ({@code quant_gemm.cu}) that dequantizes each 128 × 32 weight tile into
 *       shared memory in the activation dtype and multiplies on tensor cores (WMMA 16×16×16, 128 × 128 output tiles);
 *       the weights are read once per 128 activation rows and never stored dequantized.</li>
 *   <li>{@link #gemmDequantized}: dequantizes the whole weight to a caller-provided 16-bit workspace
 *       ({@link #workspaceBytes}, typically taken from a {@code CachingPool} and reused layer after layer), then
 *       calls cuBLAS {@code GemmEx}. Costs one extra pass over {@code rows × cols × 2} bytes, which is small next to
 *       a GEMM of thousands of tokens.</li>
 * </ul>
 * Both round each dequantized weight once to the activation dtype (round to nearest even), so they differ from the
 * CPU's {@code QuantizedMatmul} (FP32 weights) by that rounding and by the accumulation order.
 *
 * <p>Requirements, checked before any launch: INT8 (per channel or grouped), INT4 (either kind) or NF4 weights,
 * {@code cols % 32 == 0}, a group that is a multiple of 32 (4-bit) or 16 (INT8). Thread-safe; launches are ordered
 * by the stream.
 * Verified on an NVIDIA H200 by the {@code gpu}-tagged tests (2026-11-26).
 */
public final class CudaQuantGemm {

    private static final int TILE = 128;
    private static final int THREADS = 256;

    private CudaQuantGemm() {
    }

    /**
     * Bytes of 16-bit workspace {@link #gemmDequantized} needs for {@code w}: {@code rows × cols × 2}.
     *
     * @param w the device tensor
     * @return the workspace size in bytes
     */
    public static long workspaceBytes(CudaQuantizedTensor w) {
        return 2L * w.rows() * w.cols();
    }

    /**
     * The fused tensor-core kernel (see the class comment).
     *
     * @param w      the device weights
     * @param x      activations {@code [m, cols]}, FP16 or BF16, 16-byte aligned
     * @param xType  {@link DType#FP16} or {@link DType#BF16}
     * @param m      activation rows (tokens), 1 or more
     * @param y      FP32 output {@code [m, rows]}
     * @param stream the stream
     * @throws IllegalArgumentException naming the argument for an unsupported format, dtype or shape, or a buffer
     *                                  that is too small; nothing is launched
     */
    public static void gemmFused(CudaQuantizedTensor w, Buffer x, DType xType, int m, Buffer y, CudaStream stream) {
        check(w, x, xType, m, y, stream);
        int gridX = (w.rows() + TILE - 1) / TILE;
        int gridY = (m + TILE - 1) / TILE;
        if (gridY > 65535) {
            throw new IllegalArgumentException("m = " + m + " needs " + gridY + " row tiles; at most 65535 fit one "
                    + "launch: split the activations");
        }
        Object[] args = withArgs(w, x.address(), m, y.address());
        String name = xType == DType.FP16 ? "vramkit_gemm_f16" : "vramkit_gemm_bf16";
        CudaQuantKernels.module().function(name).launch(Dim3.of(gridX, gridY), Dim3.of(THREADS), 0,
                stream, args);
    }

    /**
     * Dequantizes {@code w} into {@code workspace} in {@code xType}, then runs cuBLAS GemmEx on {@code cublas}'s
     * stream (see the class comment).
     *
     * @param w         the device weights
     * @param x         activations {@code [m, cols]}, FP16 or BF16
     * @param xType     {@link DType#FP16} or {@link DType#BF16}
     * @param m         activation rows (tokens), 1 or more
     * @param y         FP32 output {@code [m, rows]}
     * @param cublas    an open handle; its stream orders both the dequantization and the GEMM
     * @param workspace at least {@link #workspaceBytes} of device memory, free for the call's duration on that
     *                  stream
     * @throws IllegalArgumentException naming the argument for an unsupported format, dtype or shape, or a buffer
     *                                  that is too small; nothing is launched
     */
    public static void gemmDequantized(CudaQuantizedTensor w, Buffer x, DType xType, int m, Buffer y, Cublas cublas,
                                       Buffer workspace) {
        Objects.requireNonNull(cublas, "cublas");
        CudaStream stream = cublas.stream();
        check(w, x, xType, m, y, stream);
        Objects.requireNonNull(workspace, "workspace");
        if (workspace.byteSize() < workspaceBytes(w)) {
            throw new IllegalArgumentException("workspace has " + workspace.byteSize() + " bytes, needs rows × cols × 2"
                    + " = " + workspaceBytes(w) + " for tensor '" + w.name() + "'");
        }
        long chunks = (long) w.rows() * (w.cols() / 16);
        int blocks = (int) Math.min(65535, (chunks + THREADS - 1) / THREADS);
        String name = xType == DType.FP16 ? "vramkit_dequantize16_f16" : "vramkit_dequantize16_bf16";
        Object[] t = w.kernelArgs();
        Object[] args = new Object[t.length + 1];
        System.arraycopy(t, 0, args, 0, t.length);
        args[t.length] = workspace.address();
        CudaQuantKernels.module().function(name).launch(blocks, THREADS, stream, args);
        // column-major view: y^T [rows, m] = W [rows, cols] (stored row-major = col-major [cols, rows], so op T)
        //                                    · x^T [cols, m] (stored row-major [m, cols] = col-major [cols, m])
        cublas.gemmEx(Cublas.Transpose.T, Cublas.Transpose.N, w.rows(), m, w.cols(), 1f, workspace, xType, w.cols(),
                x, xType, w.cols(), 0f, y, DType.FP32, w.rows());
    }

    private static void check(CudaQuantizedTensor w, Buffer x, DType xType, int m, Buffer y, CudaStream stream) {
        Objects.requireNonNull(w, "w");
        Objects.requireNonNull(x, "x");
        Objects.requireNonNull(xType, "xType");
        Objects.requireNonNull(y, "y");
        Objects.requireNonNull(stream, "stream");
        QuantFormat f = w.format();
        boolean int8 = f.scheme() == QuantFormat.Scheme.INT8;
        if (!int8 && !f.isFourBit()) {
            throw new IllegalArgumentException("CUDA quantized GEMM takes INT8, INT4 or NF4 weights, not " + f
                    + " (tensor '" + w.name() + "')");
        }
        if (xType != DType.FP16 && xType != DType.BF16) {
            throw new IllegalArgumentException("xType must be FP16 or BF16, got " + xType);
        }
        int group = f.groupSize() == QuantFormat.PER_CHANNEL ? w.cols() : f.groupSize();
        int quantum = int8 ? 16 : 32;
        if (w.cols() % 32 != 0 || group % quantum != 0) {
            throw new IllegalArgumentException("CUDA quantized GEMM needs cols % 32 == 0 and group % " + quantum
                    + " == 0; tensor '" + w.name() + "' has cols = " + w.cols() + ", group = " + group);
        }
        if (m < 1) {
            throw new IllegalArgumentException("m must be at least 1, got " + m);
        }
        if (x.byteSize() < 2L * m * w.cols()) {
            throw new IllegalArgumentException("x has " + x.byteSize() + " bytes, needs m × cols × 2 = "
                    + 2L * m * w.cols());
        }
        if (y.byteSize() < 4L * m * w.rows()) {
            throw new IllegalArgumentException("y has " + y.byteSize() + " bytes, needs m × rows × 4 = "
                    + 4L * m * w.rows());
        }
    }

    private static Object[] withArgs(CudaQuantizedTensor w, long x, int m, long y) {
        Object[] t = w.kernelArgs();
        Object[] args = new Object[t.length + 3];
        System.arraycopy(t, 0, args, 0, t.length);
        args[t.length] = x;
        args[t.length + 1] = m;
        args[t.length + 2] = y;
        return args;
    }
}
