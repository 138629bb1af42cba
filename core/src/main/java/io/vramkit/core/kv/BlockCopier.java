package io.vramkit.core.kv;

import io.vramkit.core.memory.Buffer;

import java.lang.foreign.MemorySegment;

/**
 * Copies bytes between KV buffers, for copy-on-write and swap. {@link #HOST} copies through
 * {@link java.lang.foreign.MemorySegment}s and needs host-accessible memory on both sides; a device backend supplies
 * its own (for example a stream-ordered {@code cudaMemcpyAsync}).
 *
 * <p>Implementations must be safe to call from the thread that owns the cache.
 */
@FunctionalInterface
public interface BlockCopier {

    /** Copies through host segments; both buffers must be host-accessible. */
    BlockCopier HOST = (src, srcOffset, dst, dstOffset, bytes) ->
            MemorySegment.copy(src.segment(), srcOffset, dst.segment(), dstOffset, bytes);

    /**
     * Copies {@code bytes} bytes.
     *
     * @param src       the source buffer
     * @param srcOffset byte offset in the source
     * @param dst       the destination buffer
     * @param dstOffset byte offset in the destination
     * @param bytes     bytes to copy
     */
    void copy(Buffer src, long srcOffset, Buffer dst, long dstOffset, long bytes);
}
