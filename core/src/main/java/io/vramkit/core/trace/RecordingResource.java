package io.vramkit.core.trace;

import io.vramkit.core.memory.MemoryKind;
import io.vramkit.core.memory.MemoryResource;
import io.vramkit.core.memory.OutOfMemoryException;
import io.vramkit.core.memory.Stream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.LocalTime;

/**
 * Records every allocation, free and failed allocation through it as a line of RMM's CSV log format
 * ({@link TraceCsv}), as RMM's {@code logging_resource_adaptor}. The header is written when the adaptor is created.
 * Thread-safe: lines are written whole, in the order the calls completed.
 */
public final class RecordingResource implements MemoryResource {

    private final MemoryResource upstream;
    private final Appendable out;

    /**
     * Records calls to {@code upstream} into {@code out}, starting with the header line.
     *
     * @param upstream the resource to record; not owned
     * @param out      where lines go; not closed by this adaptor
     * @throws IllegalArgumentException if either is null
     * @throws UncheckedIOException     if writing the header fails
     */
    public RecordingResource(MemoryResource upstream, Appendable out) {
        if (upstream == null) {
            throw new IllegalArgumentException("upstream must not be null");
        }
        if (out == null) {
            throw new IllegalArgumentException("out must not be null");
        }
        this.upstream = upstream;
        this.out = out;
        write(TraceCsv.HEADER);
    }

    @Override
    public long allocate(long bytes, long alignment, Stream stream) {
        MemoryResource.checkAllocateArgs(bytes, alignment, stream);
        long address;
        try {
            address = upstream.allocate(bytes, alignment, stream);
        } catch (OutOfMemoryException e) {
            record(TraceEvent.Action.ALLOCATE_FAILURE, 0, bytes, stream);
            throw e;
        }
        record(TraceEvent.Action.ALLOCATE, address, bytes, stream);
        return address;
    }

    @Override
    public void deallocate(long address, long bytes, long alignment, Stream stream) {
        upstream.deallocate(address, bytes, alignment, stream);
        record(TraceEvent.Action.FREE, address, bytes, stream);
    }

    private void record(TraceEvent.Action action, long address, long bytes, Stream stream) {
        TraceEvent e = new TraceEvent(Thread.currentThread().threadId(), LocalTime.now().toNanoOfDay(), action,
                address, bytes, stream.id());
        write(TraceCsv.line(e));
    }

    private void write(String line) {
        synchronized (out) {
            try {
                out.append(line).append('\n');
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    @Override
    public MemoryKind kind() {
        return upstream.kind();
    }

    @Override
    public long capacityBytes() {
        return upstream.capacityBytes();
    }

    @Override
    public String toString() {
        return "RecordingResource[" + upstream + "]";
    }
}
