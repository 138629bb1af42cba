package io.vramkit.core.memory;

/**
 * A source of raw memory, stream-ordered as RMM's {@code device_memory_resource}.
 *
 * <p>This is the one narrow interface of the memory layer. Upstreams (host memory through FFM, {@code cudaMalloc},
 * {@code cudaMallocAsync}, pinned host memory) implement it, and every feature (caching, limits, statistics,
 * tracking, logging, retry) is an adaptor that wraps another resource and implements it again:
 *
 * {@snippet :
 * MemoryResource host = new HostMemoryResource();
 * try (CachingPool pool = new CachingPool(new LimitingResource(host, 8L << 30));
 *      Buffer buf = Buffer.allocate(pool, 1 << 20, 64, Stream.HOST)) {
 *     buf.segment().fill((byte) 0);
 * }
 * }
 *
 * <p>Addresses are plain {@code long}s because device memory cannot be a Java object. Use {@link Buffer} for a
 * checked, {@link AutoCloseable} handle over one allocation.
 *
 * <p>Implementations are thread-safe unless their Javadoc says otherwise.
 */
public interface MemoryResource extends AutoCloseable {

    /**
     * Allocates at least {@code bytes} bytes aligned to {@code alignment}, usable by work on {@code stream}.
     *
     * @param bytes     the size in bytes; must be positive
     * @param alignment the alignment in bytes; a power of two
     * @param stream    the stream whose work will use the memory
     * @return the address of the first byte
     * @throws IllegalArgumentException for a non-positive size, an alignment that is not a power of two, or a null
     *                                  stream; the resource is left unchanged
     * @throws OutOfMemoryException     when the memory cannot be had; the resource is left unchanged
     */
    long allocate(long bytes, long alignment, Stream stream);

    /**
     * Returns memory from {@link #allocate}. The memory may be reused by later work on {@code stream} at once, and by
     * other streams once {@code stream} has passed this point.
     *
     * @param address   the address returned by {@code allocate}
     * @param bytes     the size given to {@code allocate}
     * @param alignment the alignment given to {@code allocate}
     * @param stream    the stream whose work last used the memory
     * @throws IllegalArgumentException if the address was not allocated here or was already freed, or the size does
     *                                  not match; the resource is left unchanged
     */
    void deallocate(long address, long bytes, long alignment, Stream stream);

    /** Where this resource's memory lives. */
    MemoryKind kind();

    /** Bytes this resource could hand out at most, or {@link Long#MAX_VALUE} when it knows no bound. */
    default long capacityBytes() {
        return Long.MAX_VALUE;
    }

    /**
     * Releases what this resource holds. Resources that own cached memory return it upstream; a resource that still
     * has live allocations reports them. The default does nothing.
     */
    @Override
    default void close() {
    }

    /**
     * Checks the common arguments of {@link #allocate}.
     *
     * @throws IllegalArgumentException naming the bad argument and its value
     */
    static void checkAllocateArgs(long bytes, long alignment, Stream stream) {
        if (bytes <= 0) {
            throw new IllegalArgumentException("bytes must be positive, got " + bytes);
        }
        if (alignment <= 0 || (alignment & (alignment - 1)) != 0) {
            throw new IllegalArgumentException("alignment must be a power of two, got " + alignment);
        }
        if (stream == null) {
            throw new IllegalArgumentException("stream must not be null");
        }
    }
}
