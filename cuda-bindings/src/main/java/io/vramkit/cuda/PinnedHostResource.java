package io.vramkit.cuda;

import io.vramkit.core.memory.MemoryKind;
import io.vramkit.core.memory.MemoryResource;
import io.vramkit.core.memory.OutOfMemoryException;
import io.vramkit.core.memory.Stream;
import io.vramkit.core.memory.StreamEvent;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.TreeMap;

/**
 * A pool of pinned (page-locked) host memory for fast asynchronous copies, over {@code cudaHostAlloc}.
 *
 * <p>Requests are rounded up to size classes, not powers of two: four classes per doubling above 4 KiB (4, 5, 6, 7,
 * 8, 10, 12, 14, 16 KiB, ...), so rounding wastes at most a quarter of a class where power-of-two rounding can waste
 * half. A freed block is recorded with an event on the freeing stream and reused only once that event completes, so
 * a copy still reading or writing the block is never overtaken by a new owner. Freed blocks are cached up to
 * {@code maxCachedBytes}; beyond that the oldest completed blocks go back to {@code cudaFreeHost}.
 *
 * {@snippet :
 * try (PinnedHostResource pinned = new PinnedHostResource(1L << 30);
 *      Buffer staging = Buffer.allocate(pinned, 64 << 20, 4096, stream)) {
 *     stream.copyAsync(staging, 0, deviceBuffer, 0, 64 << 20);
 * } // block reusable once the copy has finished
 * }
 *
 * <p>Thread-safe: all state is guarded by the resource's monitor. Closing returns all cached blocks (waiting for
 * their events) and reports live ones. The pooling logic is tested on the CPU over host
 * memory; the cudaHostAlloc path was verified on an NVIDIA H200 by the {@code gpu}-tagged tests (2026-11-26).
 */
public final class PinnedHostResource implements MemoryResource {

    /** The smallest size class: one page. */
    public static final long MIN_CLASS_BYTES = 4096;

    private record Block(long address, long classBytes, StreamEvent readyAfter) {
    }

    private final MemoryResource upstream;
    private final long maxCachedBytes;
    private final TreeMap<Long, ArrayDeque<Block>> free = new TreeMap<>();
    private final Map<Long, long[]> live = new HashMap<>();
    private long cachedBytes;
    private long liveBytes;
    private long hits;
    private long misses;
    private long waitsAvoided;
    private boolean closed;

    /** A pool caching at most 1 GiB of freed pinned memory. */
    public PinnedHostResource() {
        this(1L << 30);
    }

    /**
     * @param maxCachedBytes bytes of freed blocks kept for reuse, at least 0
     * @throws IllegalArgumentException if {@code maxCachedBytes} is negative
     */
    public PinnedHostResource(long maxCachedBytes) {
        this(new CudaHostAllocResource(), maxCachedBytes);
    }

    /** Over another host upstream; the CPU tests use host memory to check the pooling logic. */
    PinnedHostResource(MemoryResource upstream, long maxCachedBytes) {
        if (upstream == null) {
            throw new IllegalArgumentException("upstream must not be null");
        }
        if (maxCachedBytes < 0) {
            throw new IllegalArgumentException("maxCachedBytes must be >= 0, got " + maxCachedBytes);
        }
        this.upstream = upstream;
        this.maxCachedBytes = maxCachedBytes;
    }

    /**
     * The size class of a request: {@value #MIN_CLASS_BYTES} bytes at least, then four classes per power of two.
     *
     * @throws IllegalArgumentException if {@code bytes} is not positive or too large to round
     */
    public static long sizeClass(long bytes) {
        if (bytes <= 0) {
            throw new IllegalArgumentException("bytes must be positive, got " + bytes);
        }
        if (bytes > (1L << 61)) {
            throw new IllegalArgumentException("bytes is too large to pool, got " + bytes);
        }
        if (bytes <= MIN_CLASS_BYTES) {
            return MIN_CLASS_BYTES;
        }
        int log = 63 - Long.numberOfLeadingZeros(bytes - 1);
        long step = 1L << (log - 2);
        return (bytes + step - 1) & -step;
    }

    @Override
    public synchronized long allocate(long bytes, long alignment, Stream stream) {
        MemoryResource.checkAllocateArgs(bytes, alignment, stream);
        if (alignment > CudaHostAllocResource.PAGE) {
            throw new IllegalArgumentException("alignment must be <= " + CudaHostAllocResource.PAGE
                    + " for pinned memory, got " + alignment);
        }
        checkNotClosed();
        long cls = sizeClass(bytes);
        Block reused = takeReady(cls);
        long address;
        if (reused != null) {
            hits++;
            address = reused.address();
        } else {
            misses++;
            try {
                address = upstream.allocate(cls, CudaHostAllocResource.PAGE, stream);
            } catch (OutOfMemoryException e) {
                // Return every completed cached block, then try once more.
                releaseCached(0);
                address = upstream.allocate(cls, CudaHostAllocResource.PAGE, stream);
            }
        }
        live.put(address, new long[] {bytes, cls});
        liveBytes += cls;
        return address;
    }

    private Block takeReady(long cls) {
        ArrayDeque<Block> blocks = free.get(cls);
        if (blocks == null) {
            return null;
        }
        for (Iterator<Block> it = blocks.iterator(); it.hasNext(); ) {
            Block b = it.next();
            if (b.readyAfter().isComplete()) {
                it.remove();
                cachedBytes -= b.classBytes();
                closeEvent(b.readyAfter());
                return b;
            }
            waitsAvoided++;
        }
        return null;
    }

    @Override
    public synchronized void deallocate(long address, long bytes, long alignment, Stream stream) {
        if (stream == null) {
            throw new IllegalArgumentException("stream must not be null");
        }
        long[] entry = live.get(address);
        if (entry == null) {
            throw new IllegalArgumentException(String.format(
                    "address 0x%x was not allocated by this pinned pool, or was already freed", address));
        }
        if (entry[0] != bytes) {
            throw new IllegalArgumentException(String.format(
                    "bytes %d does not match the %d bytes allocated at 0x%x", bytes, entry[0], address));
        }
        StreamEvent ready = stream.record();
        live.remove(address);
        long cls = entry[1];
        liveBytes -= cls;
        free.computeIfAbsent(cls, k -> new ArrayDeque<>()).addLast(new Block(address, cls, ready));
        cachedBytes += cls;
        if (cachedBytes > maxCachedBytes) {
            releaseCached(maxCachedBytes);
        }
    }

    /** Frees completed cached blocks, largest class first, until at most {@code keepBytes} stay cached. */
    private void releaseCached(long keepBytes) {
        for (Iterator<Map.Entry<Long, ArrayDeque<Block>>> classes = free.descendingMap().entrySet().iterator();
             classes.hasNext() && cachedBytes > keepBytes; ) {
            ArrayDeque<Block> blocks = classes.next().getValue();
            for (Iterator<Block> it = blocks.iterator(); it.hasNext() && cachedBytes > keepBytes; ) {
                Block b = it.next();
                if (b.readyAfter().isComplete()) {
                    it.remove();
                    cachedBytes -= b.classBytes();
                    closeEvent(b.readyAfter());
                    upstream.deallocate(b.address(), b.classBytes(), CudaHostAllocResource.PAGE, Stream.HOST);
                }
            }
            if (blocks.isEmpty()) {
                classes.remove();
            }
        }
    }

    private static void closeEvent(StreamEvent event) {
        if (event instanceof AutoCloseable closeable) {
            try {
                closeable.close();
            } catch (Exception e) {
                throw new IllegalStateException("closing the event of a pinned block failed", e);
            }
        }
    }

    /**
     * Returns cached blocks whose events have completed to {@code cudaFreeHost}.
     *
     * @return the bytes released
     */
    public synchronized long trim() {
        long before = cachedBytes;
        releaseCached(0);
        return before - cachedBytes;
    }

    /** Bytes of freed blocks held for reuse. */
    public synchronized long cachedBytes() {
        return cachedBytes;
    }

    /** Bytes handed out and not yet freed, counted by size class. */
    public synchronized long liveBytes() {
        return liveBytes;
    }

    /** Number of live allocations. */
    public synchronized int liveAllocations() {
        return live.size();
    }

    /** Allocations served from the cache. */
    public synchronized long hits() {
        return hits;
    }

    /** Allocations that went to {@code cudaHostAlloc}. */
    public synchronized long misses() {
        return misses;
    }

    /** Cached blocks of the right class skipped because their copies had not finished. */
    public synchronized long blocksSkippedAsBusy() {
        return waitsAvoided;
    }

    @Override
    public MemoryKind kind() {
        return MemoryKind.PINNED_HOST;
    }

    private void checkNotClosed() {
        if (closed) {
            throw new IllegalStateException("pinned host pool is closed");
        }
    }

    /**
     * Waits for every cached block's event and frees the blocks. Live blocks are not freed; they are reported in
     * the exception.
     *
     * @throws IllegalStateException if blocks are still live (after freeing the cached ones)
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (ArrayDeque<Block> blocks : free.values()) {
            for (Block b : blocks) {
                b.readyAfter().synchronize();
            }
        }
        releaseCached(0);
        if (!live.isEmpty()) {
            throw new IllegalStateException("pinned host pool closed with " + live.size() + " live allocations ("
                    + liveBytes + " bytes); they are not freed");
        }
    }

    @Override
    public synchronized String toString() {
        return "PinnedHostResource[live=" + liveBytes + " B, cached=" + cachedBytes + " B, hits=" + hits
                + ", misses=" + misses + "]";
    }
}
