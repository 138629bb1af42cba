package io.vramkit.cuda;

import io.vramkit.core.memory.StreamEvent;
import io.vramkit.cuda.internal.panama.cudart_h;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.ref.Cleaner;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A {@code cudaEvent_t} recorded on a {@link CudaStream}: core's {@link StreamEvent} on the GPU.
 *
 * <p>Events are small driver objects, not memory: {@link #close()} destroys one at once, and an event dropped
 * unclosed (as pools drop the events they poll) is destroyed by a {@link Cleaner} once unreachable. Closing twice, or
 * using a closed event, throws {@link IllegalStateException}. A closed {@link CudaStream} answers {@link
 * CudaStream#record()} with a <em>view</em> of the event it recorded when closing: closing a view does not destroy the
 * shared event. Thread-safe.
 * Verified on an NVIDIA H200 by the {@code gpu}-tagged tests (2026-11-26).
 */
public final class CudaEvent implements StreamEvent, AutoCloseable {

    private static final Cleaner CLEANER = Cleaner.create();

    private final int device;
    private final long handle;
    private final boolean timing;
    private final Destroyer destroyer;
    private final Cleaner.Cleanable cleanable;
    /** For a view, the event that owns the handle (kept reachable so its Cleaner waits for every view); else null. */
    private final CudaEvent owner;

    /** Destroys the handle once; a view's destroyer only marks the view closed. */
    private record Destroyer(long handle, AtomicBoolean destroyed, boolean owns) implements Runnable {
        @Override
        public void run() {
            if (destroyed.compareAndSet(false, true) && owns) {
                cudart_h.cudaEventDestroy(MemorySegment.ofAddress(handle));
            }
        }
    }

    private CudaEvent(int device, long handle, boolean timing, CudaEvent owner) {
        this.device = device;
        this.handle = handle;
        this.timing = timing;
        this.owner = owner;
        this.destroyer = new Destroyer(handle, new AtomicBoolean(), owner == null);
        this.cleanable = CLEANER.register(this, destroyer);
    }

    /** A view of this (owning, open) event: it answers for the same point of work, and closing it closes only it. */
    CudaEvent view() {
        checkOpen();
        return new CudaEvent(device, handle, timing, this);
    }

    /** Creates an event and records it on {@code stream}. */
    static CudaEvent record(CudaStream stream, boolean timing) {
        CudaNative.setDevice(stream.deviceOrdinal());
        long handle;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            CudaNative.check("cudaEventCreateWithFlags", cudart_h.cudaEventCreateWithFlags(out,
                    timing ? cudart_h.cudaEventDefault : cudart_h.cudaEventDisableTiming));
            handle = out.get(ValueLayout.ADDRESS, 0).address();
        }
        CudaEvent event = new CudaEvent(stream.deviceOrdinal(), handle, timing, null);
        int rc = cudart_h.cudaEventRecord(MemorySegment.ofAddress(handle), stream.handle());
        if (rc != cudart_h.cudaSuccess) {
            event.close();
            throw CudaNative.runtimeError("cudaEventRecord", rc);
        }
        return event;
    }

    /** The device the event belongs to. */
    public int deviceOrdinal() {
        return device;
    }

    MemorySegment handle() {
        checkOpen();
        return MemorySegment.ofAddress(handle);
    }

    /**
     * Whether all work before the event has finished ({@code cudaEventQuery}). Never blocks.
     *
     * @throws IllegalStateException if closed
     * @throws CudaException         if the work before the event failed
     */
    @Override
    public boolean isComplete() {
        int rc = cudart_h.cudaEventQuery(handle());
        if (rc == cudart_h.cudaSuccess) {
            return true;
        }
        if (rc == cudart_h.cudaErrorNotReady) {
            return false;
        }
        throw CudaNative.runtimeError("cudaEventQuery", rc);
    }

    /**
     * Blocks until the event completes ({@code cudaEventSynchronize}).
     *
     * @throws IllegalStateException if closed
     * @throws CudaException         if the work before the event failed
     */
    @Override
    public void synchronize() {
        CudaNative.check("cudaEventSynchronize", cudart_h.cudaEventSynchronize(handle()));
    }

    /**
     * Milliseconds between {@code start} and this event, both recorded with timing and both complete.
     *
     * @throws IllegalArgumentException if either event was created without timing
     * @throws CudaException            if either event is not complete
     */
    public float elapsedMillisSince(CudaEvent start) {
        if (start == null || !start.timing || !timing) {
            throw new IllegalArgumentException("both events must be recorded with timing (CudaStream.recordTimed), "
                    + "got start=" + start + ", end=" + this);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.JAVA_FLOAT);
            CudaNative.check("cudaEventElapsedTime", cudart_h.cudaEventElapsedTime(out, start.handle(), handle()));
            return out.get(ValueLayout.JAVA_FLOAT, 0);
        }
    }

    /** Whether {@link #close()} has not been called. */
    public boolean isOpen() {
        return !destroyer.destroyed().get();
    }

    /**
     * Destroys the event.
     *
     * @throws IllegalStateException if already closed
     */
    @Override
    public void close() {
        if (destroyer.destroyed().get()) {
            throw new IllegalStateException("CUDA event 0x" + Long.toHexString(handle) + " was already closed");
        }
        cleanable.clean();
    }

    private void checkOpen() {
        if (destroyer.destroyed().get() || owner != null && owner.destroyer.destroyed().get()) {
            throw new IllegalStateException("CUDA event 0x" + Long.toHexString(handle) + " is closed");
        }
    }

    @Override
    public String toString() {
        return "CudaEvent[cuda:" + device + ", 0x" + Long.toHexString(handle) + (timing ? ", timed" : "")
                + (isOpen() ? "" : ", closed") + "]";
    }
}
