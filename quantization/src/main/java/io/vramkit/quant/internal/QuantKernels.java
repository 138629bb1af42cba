package io.vramkit.quant.internal;

import io.vramkit.core.cpu.VectorSupport;
import io.vramkit.quant.QuantizedTensor;
import java.lang.foreign.MemorySegment;

/**
 * The CPU kernel family of the quantization module: quantize, dequantize, fused dequantize-GEMV and the dot
 * products of the W8A8 path, the W4A8 GEMV and the register-blocked GEMM micro-kernel. One scalar implementation
 * ({@link ScalarQuantKernels}) and one Vector API implementation ({@code PanamaQuantKernels}). Formats without a
 * scale search produce the same codes bit for bit on both; where a scale is searched (it minimizes the squared error
 * over a few candidates), the two sum the errors in different orders, so on a near-tie they may keep different
 * candidates of equal quality (QuantizerTest checks the error instead). Dot products agree up to FP32 summation
 * order. Implementations are stateless and thread-safe; callers split work over rows.
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

    /**
     * W4A8 GEMV for INT4 symmetric weights and INT8 activations quantized per weight group:
     * {@code y[b × rows + r] = Σ_g (s_w[r, g] · xs[b × gpr + g]) · D(b, r, g)} for {@code b < batch} and
     * {@code r ∈ [r0, r1)}, where {@code D(b, r, g) = Σ_{c∈g} (u[r, c] − 8) · xq[b × cols + c]} is exact in
     * {@code int} and the sum over groups is FP32. Implementations differ only in the FP32 summation order.
     *
     * @param xq activation codes {@code [batch, cols]}, each in {@code [-127, 127]}
     * @param xs activation scales {@code [batch, groupsPerRow]}, one per weight group
     */
    void gemvW4a8(QuantizedTensor t, byte[] xq, float[] xs, int batch, float[] y, int r0, int r1);

    /**
     * Symmetric INT8 quantization of activations {@code x[batch, cols]} per group of {@code g} columns:
     * {@code xs[b × cols/g + j] = absmax / 127} of group {@code j} of row {@code b} and
     * {@code xq = clamp(rint(x / xs), -127, 127)} (rounding half to even; 0 for an all-zero group). Bit-identical
     * on every implementation.
     *
     * @throws IllegalArgumentException naming the index of the first activation that is not finite ({@code xq} and
     *                                  {@code xs} are then unspecified)
     */
    void quantizeActivationGroups(float[] x, int batch, int cols, int g, byte[] xq, float[] xs);

    /**
     * Activation rows per panel of the packed layout {@link #gemmTile} reads: {@code x[batch, cols]} is packed
     * panel by panel, each panel K-major, {@code xp[(p × cols + c) × P + i] = x[(p × P + i) × cols + c]} with
     * {@code P} this value and rows past {@code batch} zero. A constant of the implementation.
     */
    int gemmPanelRows();

    /**
     * The GEMM micro-kernel on one dequantized weight tile: {@code y[b × rows + r0 + j] = Σ_c x[b, c] · wt[j × cols
     * + c]} for {@code j < nr} and every row {@code b < batch} of the activation panels {@code [p0, p1)}, FP32
     * accumulation in column order. Writes only those outputs. Allocates only a small per-call block buffer.
     *
     * @param xp    activations packed as {@link #gemmPanelRows} describes
     * @param batch activation rows in total (the last panel may be partial)
     * @param cols  inner dimension {@code K}
     * @param wt    weight tile, row-major {@code [nr, cols]}
     * @param nr    rows in the tile, &ge; 1
     * @param y     output {@code [batch, rows]}
     * @param rows  row stride of {@code y} (output features of the whole weight)
     * @param r0    output feature of tile row 0
     * @param p0    first panel
     * @param p1    end panel (exclusive)
     */
    void gemmTile(float[] xp, int batch, int cols, float[] wt, int nr, float[] y, int rows, int r0, int p0, int p1);

    /** {@code Σ a[aOff + i] · b[bOff + i]} for {@code i < n}, FP32 accumulation. */
    float dot(float[] a, int aOff, float[] b, int bOff, int n);

    /** {@code Σ w[wOff + i] · x[xOff + i]} over signed bytes, exact in {@code int} for {@code n < 2^17}. */
    int dotInt8(MemorySegment w, long wOff, byte[] x, int xOff, int n);
}
