package io.vramkit.quant.cuda;

import io.vramkit.core.memory.Buffer;
import io.vramkit.core.memory.MemoryResource;
import io.vramkit.cuda.CudaStream;
import io.vramkit.quant.QuantFormat;
import io.vramkit.quant.QuantizedTensor;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * A {@link QuantizedTensor} copied to device memory, byte for byte (the layouts of {@code docs/formats.md} are the
 * same on both sides): codes, scales, zero-points and second-level scales each in their own {@link Buffer}; or
 * quantized on the GPU by {@link CudaQuantKernels#quantize}.
 *
 * <p>Owns its buffers; {@link #close()} frees them (stream-ordered on the upload stream). Immutable after the
 * upload, so kernels on any stream may read it once the upload stream's work is ordered before them.
 * Verified on an NVIDIA H200 by the {@code gpu}-tagged tests (2026-11-26).
 */
public final class CudaQuantizedTensor implements AutoCloseable {

    private final String name;
    private final QuantFormat format;
    private final int rows;
    private final int cols;
    private final float dqOffset;
    private final Buffer codes;
    private final Buffer scales;
    private final Buffer zeros;
    private final Buffer scale2;

    /** Bit of the kernels' {@code flags} argument: NF4 with double quantization ({@code kFlagDoubleQuant}). */
    static final int FLAG_DOUBLE_QUANT = 1;
    /**
     * Bit of the kernels' {@code flags} argument: INT8 per channel, one FP32 scale per row ({@code kFlagPerChannel}).
     * Told explicitly because {@code INT8_G<cols>} has the same group length but FP16 scales.
     */
    static final int FLAG_PER_CHANNEL = 2;

    /**
     * A tensor over device buffers this object takes ownership of ({@code null} where the format has no such
     * segment), laid out as {@code docs/formats.md} gives for {@code format} and {@code [rows, cols]}.
     */
    CudaQuantizedTensor(String name, QuantFormat format, int rows, int cols, float dqOffset, Buffer codes,
                        Buffer scales, Buffer zeros, Buffer scale2) {
        this.name = name;
        this.format = format;
        this.rows = rows;
        this.cols = cols;
        this.dqOffset = dqOffset;
        this.codes = codes;
        this.scales = scales;
        this.zeros = zeros;
        this.scale2 = scale2;
    }

    /**
     * Allocates device buffers from {@code device} and queues the copies on {@code stream}. The host tensor must
     * stay open until the stream has run the copies.
     *
     * @param t      the host tensor
     * @param device a device memory resource (for example {@code CudaMallocResource})
     * @param stream the stream that orders the copies
     * @return the device tensor, owned by the caller
     * @throws IllegalStateException if {@code t} is closed
     */
    public static CudaQuantizedTensor upload(QuantizedTensor t, MemoryResource device, CudaStream stream) {
        Objects.requireNonNull(t, "t");
        Objects.requireNonNull(device, "device");
        Objects.requireNonNull(stream, "stream");
        List<Buffer> made = new ArrayList<>();
        try {
            Buffer c = copy(t.codes(), device, stream, made);
            Buffer s = copy(t.scales(), device, stream, made);
            Buffer z = copy(t.zeros(), device, stream, made);
            Buffer s2 = copy(t.secondLevelScales(), device, stream, made);
            return new CudaQuantizedTensor(t.name(), t.format(), t.rows(), t.cols(), t.doubleQuantOffset(), c, s, z,
                    s2);
        } catch (RuntimeException e) {
            made.forEach(Buffer::close);
            throw e;
        }
    }

    private static Buffer copy(MemorySegment host, MemoryResource device, CudaStream stream, List<Buffer> made) {
        if (host.byteSize() == 0) {
            return null;
        }
        Buffer b = Buffer.allocate(device, host.byteSize(), 256, stream);
        made.add(b);
        stream.copyToDeviceAsync(host, b, 0);
        return b;
    }

    /** Tensor name. */
    public String name() {
        return name;
    }

    /** Storage format. */
    public QuantFormat format() {
        return format;
    }

    /** Output features. */
    public int rows() {
        return rows;
    }

    /** Input features. */
    public int cols() {
        return cols;
    }

    /**
     * The flat kernel arguments describing this tensor, in the order of {@code VRAMKIT_TENSOR_PARAMS} in
     * {@code quant_dequantize.cu}: codes, scales, zeros, scale2 (device addresses, 0 when absent), dq offset, rows,
     * cols, group, scheme ordinal, flags ({@link #FLAG_DOUBLE_QUANT} for double-quantized NF4,
     * {@link #FLAG_PER_CHANNEL} for INT8 per channel).
     */
    Object[] kernelArgs() {
        int group = format.groupSize() == QuantFormat.PER_CHANNEL ? cols : format.groupSize();
        return new Object[] {address(codes), address(scales), address(zeros), address(scale2), dqOffset, rows, cols,
            group, format.scheme().ordinal(), flags(format)};
    }

    /** The kernels' {@code flags} argument for {@code format}. */
    static int flags(QuantFormat format) {
        int flags = format.doubleQuant() ? FLAG_DOUBLE_QUANT : 0;
        if (format.scheme() == QuantFormat.Scheme.INT8 && format.groupSize() == QuantFormat.PER_CHANNEL) {
            flags |= FLAG_PER_CHANNEL;
        }
        return flags;
    }

    /** The codes buffer (for tests and launchers in this package). */
    Buffer codesBuffer() {
        return codes;
    }

    /** The scales buffer, or {@code null} if the format has none. */
    Buffer scalesBuffer() {
        return scales;
    }

    /** The zero-points buffer (INT4 asymmetric), else {@code null}. */
    Buffer zerosBuffer() {
        return zeros;
    }

    private static Long address(Buffer b) {
        if (b != null && !b.isOpen()) {
            throw new IllegalStateException("device tensor buffer is closed: " + b);
        }
        return b == null ? 0L : b.address();
    }

    /** Frees the device buffers. Idempotent. */
    @Override
    public void close() {
        for (Buffer b : new Buffer[] {codes, scales, zeros, scale2}) {
            if (b != null && b.isOpen()) {
                b.close();
            }
        }
    }
}
