package io.vramkit.core.memory;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.ref.Cleaner;

/**
 * One allocation from a {@link MemoryResource}, with an explicit lifetime as {@link Arena} has.
 *
 * {@snippet :
 * try (Buffer buf = Buffer.allocate(pool, 4096, 64, Stream.HOST)) {
 *     buf.segment().fill((byte) 1);
 * } // returned to the pool here
 * }
 *
 * <p>Closing returns the memory to its resource on the buffer's stream. Closing twice throws
 * {@link IllegalStateException}; so does any access after close, including through a segment obtained earlier
 * (segments are tied to an arena that closes with the buffer), so a use-after-free is an exception and never a JVM
 * crash. A buffer may be used from any thread, but closing it while another thread still uses it is the caller's
 * error.
 *
 * <p>A buffer that becomes unreachable while still open is reported by {@link LeakDetection} (at every level but
 * {@code disabled}), with its allocation site when the level captured one. The report never frees the memory.
 */
public final class Buffer implements AutoCloseable {

    private final MemoryResource resource;
    private final long address;
    private final long byteSize;
    private final long alignment;
    private final Stream stream;
    private volatile boolean open = true;
    private Arena arena;
    private final LeakState leakState;
    private final Cleaner.Cleanable cleanable;

    private Buffer(MemoryResource resource, long address, long byteSize, long alignment, Stream stream) {
        this.resource = resource;
        this.address = address;
        this.byteSize = byteSize;
        this.alignment = alignment;
        this.stream = stream;
        if (LeakDetection.LEVEL != LeakDetection.Level.DISABLED) {
            leakState = new LeakState(address, byteSize, resource, LeakDetection.captureSite());
            cleanable = LeakDetection.CLEANER.register(this, leakState);
        } else {
            leakState = null;
            cleanable = null;
        }
    }

    /** What the leak report needs; must not refer to the buffer, or the buffer would never become unreachable. */
    private static final class LeakState implements Runnable {
        private final long address;
        private final long byteSize;
        private final MemoryResource resource;
        private final LeakDetection.AllocationSite site;
        private volatile boolean closed;

        LeakState(long address, long byteSize, MemoryResource resource, LeakDetection.AllocationSite site) {
            this.address = address;
            this.byteSize = byteSize;
            this.resource = resource;
            this.site = site;
        }

        @Override
        public void run() {
            if (!closed) {
                LeakDetection.report(String.format(
                        "LEAK: a buffer of %s at 0x%x from %s was never closed and is now unreachable; its memory "
                                + "stays allocated. %s", ByteSizes.exact(byteSize), address, resource,
                        LeakDetection.siteHint(site)));
            }
        }
    }

    /**
     * Allocates a buffer.
     *
     * @param resource  where the memory comes from
     * @param bytes     size in bytes, positive
     * @param alignment alignment in bytes, a power of two
     * @param stream    the stream that will use it
     * @return a new open buffer, owned by the caller, who must close it
     * @throws IllegalArgumentException for bad arguments, naming the argument
     * @throws OutOfMemoryException     when the resource cannot provide the memory
     */
    public static Buffer allocate(MemoryResource resource, long bytes, long alignment, Stream stream) {
        if (resource == null) {
            throw new IllegalArgumentException("resource must not be null");
        }
        MemoryResource.checkAllocateArgs(bytes, alignment, stream);
        long address = resource.allocate(bytes, alignment, stream);
        return new Buffer(resource, address, bytes, alignment, stream);
    }

    /** Allocates {@code bytes} with 64-byte alignment on {@link Stream#HOST}. */
    public static Buffer allocate(MemoryResource resource, long bytes) {
        return allocate(resource, bytes, 64, Stream.HOST);
    }

    /** The address of the first byte. @throws IllegalStateException if closed */
    public long address() {
        checkOpen();
        return address;
    }

    /** Size in bytes, as requested. */
    public long byteSize() {
        return byteSize;
    }

    /** Alignment in bytes, as requested. */
    public long alignment() {
        return alignment;
    }

    /** The stream the memory is ordered on. */
    public Stream stream() {
        return stream;
    }

    /** The resource the memory came from, and returns to. */
    public MemoryResource resource() {
        return resource;
    }

    /** Whether {@link #close()} has not yet been called. */
    public boolean isOpen() {
        return open;
    }

    /**
     * A segment over the buffer's bytes, valid until the buffer closes.
     *
     * @throws IllegalStateException if the buffer is closed
     * @throws UnsupportedOperationException if the memory is not host-accessible (device memory)
     */
    public synchronized MemorySegment segment() {
        checkOpen();
        if (!resource.kind().hostAccessible()) {
            throw new UnsupportedOperationException(
                    "buffer memory of kind " + resource.kind() + " is not host-accessible; copy it to the host first");
        }
        if (arena == null) {
            arena = Arena.ofShared();
        }
        return MemorySegment.ofAddress(address).reinterpret(byteSize, arena, null);
    }

    /**
     * Returns the memory to its resource.
     *
     * @throws IllegalStateException if already closed
     */
    @Override
    public void close() {
        synchronized (this) {
            if (!open) {
                throw new IllegalStateException(String.format(
                        "buffer of %d bytes at 0x%x was already closed (double free)", byteSize, address));
            }
            open = false;
            if (leakState != null) {
                leakState.closed = true;
                cleanable.clean();
            }
            if (arena != null) {
                arena.close();
                arena = null;
            }
        }
        resource.deallocate(address, byteSize, alignment, stream);
    }

    private void checkOpen() {
        if (!open) {
            throw new IllegalStateException(String.format(
                    "buffer of %d bytes at 0x%x is closed (use after free)", byteSize, address));
        }
    }

    @Override
    public String toString() {
        return String.format("Buffer[%d bytes at 0x%x, %s, %s]", byteSize, address, resource.kind(),
                open ? "open" : "closed");
    }
}
