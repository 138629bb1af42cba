package io.vramkit.examples.minilm;

import io.vramkit.core.cpu.ParallelExecutor;
import io.vramkit.quant.Gptq;
import io.vramkit.quant.QuantFormat;
import io.vramkit.quant.QuantizedMatmul;
import io.vramkit.quant.QuantizedTensor;
import io.vramkit.quant.Quantizer;
import java.util.Objects;

/**
 * A linear layer whose weight is held by the quantization module in a {@link QuantFormat} (FP32 included) and
 * multiplied with {@link QuantizedMatmul#matmul}: {@code y = x·Wᵀ + b}, the bias added in FP32. Owns the quantized
 * tensor's off-heap memory: close it. Thread-safe for concurrent {@link #apply} calls with distinct outputs.
 */
public final class QuantLinear implements EncoderLinear {

    private final QuantizedTensor weight;
    private final float[] bias;
    /** {@code 1/s} of an AWQ-style input scale (the weight holds {@code W·diag(s)}), or null. */
    private final float[] inputInverseScale;
    /** Block size of the Hadamard rotation of the scaled input (the weight holds {@code W·diag(s)·R}), or 0. */
    private final int rotation;

    private QuantLinear(QuantizedTensor weight, float[] bias, float[] inputInverseScale, int rotation) {
        this.weight = weight;
        this.bias = bias;
        this.inputInverseScale = inputInverseScale;
        this.rotation = rotation;
    }

    /**
     * Quantizes a linear layer.
     *
     * @param linear the FP32 layer ({@code [out, in]} weight); not retained except its bias
     * @param format the storage format
     * @return the layer, owning its quantized weight
     * @throws IllegalArgumentException from {@link Quantizer#quantize} if the format does not fit the shape
     */
    public static QuantLinear of(MiniLmWeights.Linear linear, QuantFormat format) {
        Objects.requireNonNull(linear, "linear");
        Objects.requireNonNull(format, "format");
        return new QuantLinear(Quantizer.quantize(linear.name(), linear.weight(), linear.out(), linear.in(), format),
                linear.bias(), null, 0);
    }

    /**
     * Quantizes a linear layer with GPTQ ({@link Gptq}) after an optional per-input-channel scale and an optional
     * block Hadamard rotation ({@link LayerCalibration}): the same packed format as {@link #of}, holding
     * {@code W·diag(s)·R} with codes and scales chosen to keep the layer's output close on calibration activations
     * (with the calibration's scale-refit rounds); {@link #apply} divides the input by {@code s} and rotates it
     * first.
     *
     * @param linear      the FP32 layer ({@code [out, in]} weight); not retained except its bias
     * @param format      a 4-bit or INT8 format {@link Gptq} supports
     * @param calibration this layer's calibration ({@code inputScale} of length {@code in}, or null)
     * @return the layer, owning its quantized weight
     * @throws IllegalArgumentException naming the layer if the input scale has the wrong length or the rotation
     *                                  does not divide the input size, or from
     *                                  {@link Gptq#quantize} if the format or calibration does not fit
     */
    public static QuantLinear gptq(MiniLmWeights.Linear linear, QuantFormat format, LayerCalibration calibration) {
        Objects.requireNonNull(linear, "linear");
        Objects.requireNonNull(format, "format");
        Objects.requireNonNull(calibration, "calibration");
        float[] s = calibration.inputScale();
        if (s != null && s.length != linear.in()) {
            throw new IllegalArgumentException("linear " + linear.name() + ": inputScale.length = " + s.length
                    + " but in = " + linear.in());
        }
        int rotation = calibration.rotation();
        if (rotation > 0 && linear.in() % rotation != 0) {
            throw new IllegalArgumentException("linear " + linear.name() + ": rotation = " + rotation
                    + " does not divide in = " + linear.in());
        }
        float[] w = LayerCalibration.transformWeight(linear.weight(), linear.out(), linear.in(), s, rotation);
        return new QuantLinear(Gptq.quantize(linear.name(), w, linear.out(), linear.in(), format,
                calibration.gptq(), calibration.refits()), linear.bias(),
                s == null ? null : LayerCalibration.inverse(s), rotation);
    }

    /** The storage format. */
    public QuantFormat format() {
        return weight.format();
    }

    @Override
    public int in() {
        return weight.cols();
    }

    @Override
    public int out() {
        return weight.rows();
    }

    @Override
    public long weightBytes() {
        // The FP32 input scale is part of what this layer stores to reproduce its weight.
        return weight.byteSize() + (inputInverseScale == null ? 0 : 4L * inputInverseScale.length);
    }

    /** {@code y = x·Wᵀ} (input scale and rotation applied, bias not added). */
    private void applyWithoutBias(float[] x, int rows, float[] y) {
        float[] in = x;
        if (inputInverseScale != null || rotation > 0) {
            int cols = weight.cols();
            float[] inv = inputInverseScale;
            float[] scaled = new float[rows * cols];
            EncoderOps ops = EncoderOps.INSTANCE;
            ParallelExecutor.parallelFor(0, rows, 32, (r0, r1) -> {
                for (int r = r0; r < r1; r++) {
                    int o = r * cols;
                    if (rotation > 0) {
                        ops.scaleHadamard(x, inv, scaled, o, cols, rotation);
                    } else {
                        for (int i = 0; i < cols; i++) {
                            scaled[o + i] = x[o + i] * inv[i];
                        }
                    }
                }
            });
            in = scaled;
        }
        QuantizedMatmul.matmul(in, rows, weight, y);
    }

    @Override
    public void apply(float[] x, int rows, float[] y) {
        applyWithoutBias(x, rows, y);
        int out = weight.rows();
        EncoderOps ops = EncoderOps.INSTANCE;
        ParallelExecutor.parallelFor(0, rows, 32, (r0, r1) -> ops.addBias(y, r0, r1, out, bias));
    }

    @Override
    public void close() {
        if (!weight.isClosed()) {
            weight.close();
        }
    }
}
