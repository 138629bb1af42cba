package io.vramkit.cuda;

import io.vramkit.core.memory.Buffer;
import io.vramkit.core.memory.Stream;
import io.vramkit.core.memory.StreamEvent;
import io.vramkit.cuda.internal.panama.cudart_h;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A non-blocking {@code cudaStream_t} on one device: core's {@link Stream} on the GPU, with asynchronous copies and
 * fills.
 *
 * {@snippet :
 * try (CudaStream stream = CudaStream.create(0);
 *      Buffer dev = Buffer.allocate(new CudaMallocResource(0), 4096, 256, stream)) {
 *     stream.copyToDeviceAsync(hostSegment, dev, 0);
 *     stream.synchronize();
 * }
 * }
 *
 * <p>Every copy checks its arguments before any native call: closed buffers or streams, negative offsets, size
 * mismatches and ranges past a buffer's end raise {@link IllegalArgumentException} or {@link IllegalStateException},
 * never a crash. Host memory given to an asynchronous copy must stay alive and unchanged until the stream passes the
 * copy. The stream may be used from any thread; closing it while another thread uses it is the caller's error.
 * Verified on an NVIDIA H200 by the {@code gpu}-tagged tests (2026-11-26).
 */
public final class CudaStream implements Stream, AutoCloseable {

    private final int device;
    private final long handle;
    private volatile boolean open = true;
    /** Recorded by {@link #close()} after all the work ever queued here; null while open or if recording failed. */
    private volatile CudaEvent lastWork;

    private CudaStream(int device, long handle) {
        this.device = device;
        this.handle = handle;
    }

    /**
     * Creates a non-blocking stream on a device.
     *
     * @param deviceOrdinal the device
     * @throws IllegalArgumentException if the ordinal names no device
     * @throws CudaException            if the stream cannot be created
     */
    public static CudaStream create(int deviceOrdinal) {
        CudaDevice.checkOrdinal(deviceOrdinal);
        CudaNative.setDevice(deviceOrdinal);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            CudaNative.check("cudaStreamCreateWithFlags", cudart_h.cudaStreamCreateWithFlags(out,
                    cudart_h.cudaStreamNonBlocking));
            return new CudaStream(deviceOrdinal, out.get(ValueLayout.ADDRESS, 0).address());
        }
    }

    /** The device this stream runs on. */
    public int deviceOrdinal() {
        return device;
    }

    /** The {@code cudaStream_t} value; unique among live streams. */
    @Override
    public long id() {
        return handle;
    }

    /** The {@code cudaStream_t}. @throws IllegalStateException if closed */
    MemorySegment handle() {
        checkOpen();
        return MemorySegment.ofAddress(handle);
    }

    /**
     * Records an event without timing after the work queued so far. On a closed stream, whose queued work can no
     * longer grow, returns a view of the event {@link #close()} recorded after its last work: a {@code CachingPool}
     * fences streams when it needs their freed memory, which may be after the stream was closed.
     *
     * @throws IllegalStateException if closed and the closing record failed
     * @throws CudaException         if recording fails
     */
    @Override
    public CudaEvent record() {
        if (!open) {
            CudaEvent last = lastWork;
            if (last != null) {
                return last.view();
            }
        }
        checkOpen();
        return CudaEvent.record(this, false);
    }

    /** Records an event with timing, for {@link CudaEvent#elapsedMillisSince}. */
    public CudaEvent recordTimed() {
        checkOpen();
        return CudaEvent.record(this, true);
    }

    /**
     * Blocks until all queued work has finished.
     *
     * @throws IllegalStateException if closed
     * @throws CudaException         if queued work failed
     */
    @Override
    public void synchronize() {
        CudaNative.check("cudaStreamSynchronize", cudart_h.cudaStreamSynchronize(handle()));
    }

    /**
     * Makes later work on this stream wait for {@code event}: on the GPU for a {@link CudaEvent}, on the host
     * otherwise.
     *
     * @throws IllegalArgumentException if {@code event} is null
     */
    public void waitFor(StreamEvent event) {
        if (event == null) {
            throw new IllegalArgumentException("event must not be null");
        }
        if (event instanceof CudaEvent cudaEvent) {
            CudaNative.check("cudaStreamWaitEvent", cudart_h.cudaStreamWaitEvent(handle(), cudaEvent.handle(), 0));
        } else {
            event.synchronize();
        }
    }

    /**
     * Copies {@code bytes} from one buffer to another (H2D, D2H, D2D or H2H, found from the addresses), in stream
     * order.
     *
     * @throws IllegalArgumentException for a negative offset or size, or a range past either buffer's end
     * @throws IllegalStateException    if the stream or a buffer is closed
     * @throws CudaException            if the copy cannot be queued
     */
    public void copyAsync(Buffer src, long srcOffset, Buffer dst, long dstOffset, long bytes) {
        checkOpen();
        checkRange("src", src, srcOffset, bytes);
        checkRange("dst", dst, dstOffset, bytes);
        if (bytes == 0) {
            return;
        }
        memcpy(dst.address() + dstOffset, src.address() + srcOffset, bytes);
    }

    /**
     * Copies all of {@code src} (host memory, native) to {@code dst} at {@code dstOffset}.
     *
     * @throws IllegalArgumentException if {@code src} is not native memory or does not fit in {@code dst}
     * @throws IllegalStateException    if the stream or buffer is closed
     */
    public void copyToDeviceAsync(MemorySegment src, Buffer dst, long dstOffset) {
        checkOpen();
        checkHost("src", src);
        checkRange("dst", dst, dstOffset, src.byteSize());
        if (src.byteSize() > 0) {
            memcpy(dst.address() + dstOffset, src.address(), src.byteSize());
        }
    }

    /**
     * Copies {@code dst.byteSize()} bytes from {@code src} at {@code srcOffset} into host memory {@code dst}.
     *
     * @throws IllegalArgumentException if {@code dst} is not native memory or the range runs past {@code src}'s end
     * @throws IllegalStateException    if the stream or buffer is closed
     */
    public void copyToHostAsync(Buffer src, long srcOffset, MemorySegment dst) {
        checkOpen();
        checkHost("dst", dst);
        checkRange("src", src, srcOffset, dst.byteSize());
        if (dst.byteSize() > 0) {
            memcpy(dst.address(), src.address() + srcOffset, dst.byteSize());
        }
    }

    /**
     * Sets {@code bytes} bytes of {@code dst} from {@code offset} to {@code value} ({@code cudaMemsetAsync}).
     *
     * @throws IllegalArgumentException for a range past the buffer's end
     * @throws IllegalStateException    if the stream or buffer is closed
     */
    public void fillAsync(Buffer dst, long offset, long bytes, byte value) {
        checkOpen();
        checkRange("dst", dst, offset, bytes);
        if (bytes > 0) {
            CudaNative.setDevice(device);
            CudaNative.check("cudaMemsetAsync", cudart_h.cudaMemsetAsync(MemorySegment.ofAddress(dst.address()
                    + offset), value & 0xff, bytes, handle()));
        }
    }

    private void memcpy(long dst, long src, long bytes) {
        CudaNative.setDevice(device);
        CudaNative.check("cudaMemcpyAsync", cudart_h.cudaMemcpyAsync(MemorySegment.ofAddress(dst),
                MemorySegment.ofAddress(src), bytes, cudart_h.cudaMemcpyDefault, handle()));
    }

    static void checkRange(String name, Buffer buffer, long offset, long bytes) {
        if (buffer == null) {
            throw new IllegalArgumentException(name + " buffer must not be null");
        }
        if (!buffer.isOpen()) {
            throw new IllegalStateException(name + " buffer is closed: " + buffer);
        }
        if (offset < 0) {
            throw new IllegalArgumentException(name + "Offset must be >= 0, got " + offset);
        }
        if (bytes < 0) {
            throw new IllegalArgumentException("bytes must be >= 0, got " + bytes);
        }
        if (offset > buffer.byteSize() - bytes) {
            throw new IllegalArgumentException(String.format(
                    "%s range [%d, %d) runs past the end of the %d-byte %s buffer", name, offset, offset + bytes,
                    buffer.byteSize(), name));
        }
    }

    private static void checkHost(String name, MemorySegment segment) {
        if (segment == null) {
            throw new IllegalArgumentException(name + " segment must not be null");
        }
        if (!segment.isNative()) {
            throw new IllegalArgumentException(name + " segment must be native (off-heap) memory; copy heap arrays "
                    + "into an Arena-allocated or pinned segment first, got " + segment);
        }
    }

    /** Whether {@link #close()} has not been called. */
    public boolean isOpen() {
        return open;
    }

    /**
     * Destroys the stream after its queued work completes ({@code cudaStreamDestroy} does not block), first recording
     * an event after that work, which {@link #record()} answers with from then on.
     *
     * @throws IllegalStateException if already closed
     */
    @Override
    public void close() {
        synchronized (this) {
            if (!open) {
                throw new IllegalStateException("CUDA stream 0x" + Long.toHexString(handle) + " was already closed");
            }
            try {
                lastWork = CudaEvent.record(this, false);
            } catch (RuntimeException e) {
                // The stream is destroyed anyway; record() then throws, as it did before closing kept an event.
                lastWork = null;
            }
            open = false;
        }
        CudaNative.setDevice(device);
        CudaNative.check("cudaStreamDestroy", cudart_h.cudaStreamDestroy(MemorySegment.ofAddress(handle)));
    }

    void checkOpen() {
        if (!open) {
            throw new IllegalStateException("CUDA stream 0x" + Long.toHexString(handle) + " is closed");
        }
    }

    @Override
    public String toString() {
        return "CudaStream[cuda:" + device + ", 0x" + Long.toHexString(handle) + (open ? "" : ", closed") + "]";
    }
}
