package io.vramkit.quant.internal;

import io.vramkit.core.cpu.VectorSupport;
import io.vramkit.quant.QuantizedTensor;
import java.lang.foreign.MemorySegment;

/**
 * The CPU kernel family of the quantization module: quantize, dequantize, fused dequantize-GEMV and the dot
 * products of the GEMM and W8A8 paths. One scalar implementation ({@link ScalarQuantKernels}) and one Vector API
 * implementation ({@code PanamaQuantKernels}); both produce the same codes bit for bit and the same dot products up
 * to FP32 summation order. Implementations are stateless and thread-safe; callers split work over rows.
 */
public interface QuantKernels {

    /** The implementation picked once per JVM by {@link VectorSupport}. */
    QuantKernels INSTANCE = VectorSupport.load(QuantKernels.class,
            "io.vramkit.quant.internal.PanamaQuantKernels", ScalarQuantKernels::new);

    /**
     * Quantizes rows {@code [r0, r1)} of the row-major {@code w[rows × cols]} into the writable code, scale and
     * zero-point segments of {@code t} (passed separately because the tensor only hands out read-only views). For double-quantized NF4 the (dequantized) block absmax values must already be in
     * {@code t}; they are read, not computed.
     *
     * @throws IllegalArgumentException naming {@code t.name()} and the flat index of the first non-finite weight, or
     *                                  of a value or scale the format cannot represent (the codes of the range are
     *                                  then unspecified)
     */
    void quantizeRows(float[] w, QuantizedTensor t, MemorySegment codes, MemorySegment scales, MemorySegment zeros,
                      int r0, int r1);

    /**
     * Computes the NF4 block scale of every block of rows {@code [r0, r1)} into
     * {@code out[row * blocksPerRow + b]}: the block absmax, shrunk where that lowers the squared error (the same
     * search {@link #quantizeRows} does for NF4 without double quantization).
     *
     * @throws IllegalArgumentException naming {@code name} and the flat index of the first non-finite weight
     */
    void nf4Absmax(String name, float[] w, int cols, int blockSize, int r0, int r1, float[] out);

    /** Dequantizes rows {@code [r0, r1)} of {@code t} into {@code out}, row-major from {@code outOff}. */
    void dequantizeRows(QuantizedTensor t, int r0, int r1, float[] out, int outOff);

    /**
     * Fused dequantize-GEMV: {@code y[b × rows + r] = Σ_c x[b × cols + c] · W[r, c]} for {@code b < batch} and
     * {@code r ∈ [r0, r1)}, FP32 accumulation.
     */
    void gemv(QuantizedTensor t, float[] x, int batch, float[] y, int r0, int r1);

    /** {@code Σ a[aOff + i] · b[bOff + i]} for {@code i < n}, FP32 accumulation. */
    float dot(float[] a, int aOff, float[] b, int bOff, int n);

    /** {@code Σ w[wOff + i] · x[xOff + i]} over signed bytes, exact in {@code int} for {@code n < 2^17}. */
    int dotInt8(MemorySegment w, long wOff, byte[] x, int xOff, int n);
}
