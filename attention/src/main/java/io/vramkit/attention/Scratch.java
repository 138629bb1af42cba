package io.vramkit.attention;

import io.vramkit.core.memory.Buffer;
import java.lang.foreign.MemorySegment;

/** Views kernel scratch buffers without a per-buffer arena. */
final class Scratch {

    private Scratch() {
    }

    /**
     * A segment over a host buffer's bytes, valid until the buffer is closed. Unlike {@link Buffer#segment()} it
     * opens no shared arena: closing one performs a handshake with every thread, which, done once per parallel
     * chunk, costs more than a small decode step. The caller closes the buffer only after its last use of the view.
     */
    static MemorySegment view(Buffer buffer) {
        return MemorySegment.ofAddress(buffer.address()).reinterpret(buffer.byteSize());
    }
}
