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

    private QuantLinear(QuantizedTensor weight, float[] bias) {
        this.weight = weight;
        this.bias = bias;
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
                linear.bias());
    }

    /**
     * Quantizes a linear layer with GPTQ ({@link Gptq}): the same packed format as {@link #of}, with codes and
     * scales chosen to keep the layer's output close on calibration activations.
     *
     * @param linear      the FP32 layer ({@code [out, in]} weight); not retained except its bias
     * @param format      a 4-bit or INT8 format {@link Gptq} supports
     * @param calibration the factorized Hessian of this layer's input
     * @return the layer, owning its quantized weight
     * @throws IllegalArgumentException from {@link Gptq#quantize} if the format or calibration does not fit
     */
    public static QuantLinear gptq(MiniLmWeights.Linear linear, QuantFormat format, Gptq.Calibration calibration) {
        Objects.requireNonNull(linear, "linear");
        Objects.requireNonNull(format, "format");
        Objects.requireNonNull(calibration, "calibration");
        return new QuantLinear(Gptq.quantize(linear.name(), linear.weight(), linear.out(), linear.in(), format,
                calibration), linear.bias());
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
        return weight.byteSize();
    }

    @Override
    public void apply(float[] x, int rows, float[] y) {
        QuantizedMatmul.matmul(x, rows, weight, y);
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
