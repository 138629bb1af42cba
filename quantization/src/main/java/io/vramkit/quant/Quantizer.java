package io.vramkit.quant;

import io.vramkit.core.cpu.ParallelExecutor;
import io.vramkit.core.memory.MemoryResource;
import io.vramkit.quant.internal.Layouts;
import io.vramkit.quant.internal.QuantKernels;
import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * Quantizes FP32 weight matrices into any {@link QuantFormat}, on the CPU, in parallel over rows on the shared
 * {@link ParallelExecutor}, with the Vector API kernels when available.
 *
 * <p>Rounding is to nearest, ties to even, everywhere; scales are computed in FP32 and, where the format stores
 * FP16 scales, rounded to FP16 <em>before</em> the codes are computed so that codes and stored scale agree. The
 * exact rules per format are in {@code docs/formats.md}.
 *
 * <p>Stateless and thread-safe.
 */
public final class Quantizer {

    private Quantizer() {
    }

    /**
     * Quantizes a row-major {@code [rows, cols] = [outFeatures, inFeatures]} matrix.
     *
     * @param name    tensor name, used in error messages and as the tensor's name
     * @param weights {@code rows × cols} finite floats, row-major; not modified or retained
     * @param rows    output features
     * @param cols    input features; must be divisible by the format's group size (vramkit rejects, never pads)
     * @param format  the target format
     * @return a new tensor that owns its off-heap memory (from libc, with transparent huge pages for large
     *         segments on Linux); close it to free the memory
     * @throws IllegalArgumentException naming the tensor and the index if a weight is NaN or infinite; naming the
     *                                  dimension and sizes if {@code cols} is not divisible by the group size or
     *                                  {@code weights.length != rows × cols}; naming the group if a scale
     *                                  overflows FP16. No memory stays allocated after a failure.
     */
    public static QuantizedTensor quantize(String name, float[] weights, int rows, int cols, QuantFormat format) {
        return quantizeWith(QuantKernels.INSTANCE, name, weights, rows, cols, format);
    }

    /**
     * As {@link #quantize(String, float[], int, int, QuantFormat)}, with the tensor's storage taken from
     * {@code storage}: for example a {@link io.vramkit.core.memory.CachingPool} over host memory, so that
     * re-quantizing (a planner trying formats, a model reload) reuses memory that is already faulted in. The tensor
     * allocates one buffer per segment on {@link io.vramkit.core.memory.Stream#HOST} and returns them to
     * {@code storage} when closed; {@code storage} must outlive it.
     *
     * {@snippet :
     * try (CachingPool pool = new CachingPool(new HostMemoryResource(), PoolSettings.defaults());
     *      QuantizedTensor w = Quantizer.quantize("mlp.up", weights, 11008, 4096, QuantFormat.INT4_G128, pool)) {
     *     QuantizedMatmul.matmul(x, 1, w, y);
     * }
     * }
     *
     * @param storage a resource of host-accessible memory ({@link MemoryResource#kind()}{@code .hostAccessible()})
     * @throws IllegalArgumentException as the overload does, and naming {@code storage} and its kind if its memory
     *                                  is not host-accessible
     * @throws io.vramkit.core.memory.OutOfMemoryException if {@code storage} cannot provide the memory (nothing stays
     *                                                       allocated)
     */
    public static QuantizedTensor quantize(String name, float[] weights, int rows, int cols, QuantFormat format,
                                           MemoryResource storage) {
        Objects.requireNonNull(storage, "storage");
        return quantizeWith(QuantKernels.INSTANCE, name, weights, rows, cols, format, storage);
    }

    static QuantizedTensor quantizeWith(QuantKernels k, String name, float[] weights, int rows, int cols,
                                        QuantFormat format) {
        return quantizeWith(k, name, weights, rows, cols, format, null);
    }

    /** The quantizer with the given kernels; {@code storage == null} takes the default host storage. */
    static QuantizedTensor quantizeWith(QuantKernels k, String name, float[] weights, int rows, int cols,
                                        QuantFormat format, MemoryResource storage) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(weights, "weights");
        Objects.requireNonNull(format, "format");
        format.checkShape(name, rows, cols);
        if ((long) rows * cols != weights.length) {
            throw new IllegalArgumentException("tensor '" + name + "': weights.length = " + weights.length
                    + " but rows × cols = " + rows + " × " + cols + " = " + (long) rows * cols);
        }
        QuantizedTensor t = storage == null ? QuantizedTensor.allocate(name, format, rows, cols)
                : QuantizedTensor.allocate(name, format, rows, cols, storage);
        try {
            int grain = Math.max(1, 32768 / cols);
            if (format.doubleQuant()) {
                t = doubleQuantize(k, t, weights, grain);
            }
            QuantizedTensor target = t;
            MemorySegment codes = t.codesForWrite();
            MemorySegment scales = t.scalesForWrite();
            MemorySegment zeros = t.zerosForWrite();
            ParallelExecutor.parallelFor(0, rows, grain,
                    (r0, r1) -> k.quantizeRows(weights, target, codes, scales, zeros, r0, r1));
            return t;
        } catch (RuntimeException | Error e) {
            t.close();
            throw e;
        }
    }

    /**
     * QLoRA double quantization of the NF4 block scales (absmax, shrunk by the error search): subtract their mean, then INT8 symmetric with one
     * FP32 scale per 256 consecutive absmax values (row-major over rows and blocks).
     */
    private static QuantizedTensor doubleQuantize(QuantKernels k, QuantizedTensor t, float[] w, int grain) {
        int rows = t.rows();
        int cols = t.cols();
        int gpr = t.groupsPerRow();
        float[] absmax = new float[rows * gpr];
        ParallelExecutor.parallelFor(0, rows, grain,
                (r0, r1) -> k.nf4Absmax(t.name(), w, cols, t.groupSize(), r0, r1, absmax));
        double sum = 0;
        for (float a : absmax) {
            sum += a;
        }
        float mean = (float) (sum / absmax.length);
        MemorySegment codes = t.scalesForWrite();
        MemorySegment scale2 = t.scale2ForWrite();
        int blk = QuantFormat.DOUBLE_QUANT_BLOCK;
        for (int b0 = 0, bi = 0; b0 < absmax.length; b0 += blk, bi++) {
            int b1 = Math.min(absmax.length, b0 + blk);
            float m = 0f;
            for (int i = b0; i < b1; i++) {
                m = Math.max(m, Math.abs(absmax[i] - mean));
            }
            float s = m / 127f;
            float inv = s == 0f ? 0f : 1f / s;
            scale2.setAtIndex(Layouts.F32, bi, s);
            for (int i = b0; i < b1; i++) {
                float q = Math.min(127f, Math.max(-127f, (float) Math.rint((absmax[i] - mean) * inv)));
                codes.set(Layouts.I8, i, (byte) (int) q);
            }
        }
        return t.withDqOffset(mean);
    }
}
