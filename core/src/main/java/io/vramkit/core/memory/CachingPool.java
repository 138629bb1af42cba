package io.vramkit.core.memory;

import io.vramkit.core.memory.internal.LongObjectMap;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A caching, stream-ordered pool over any upstream {@link MemoryResource}, after PyTorch's CUDA caching allocator and
 * RMM's pool resource.
 *
 * {@snippet :
 * try (CachingPool pool = new CachingPool(new HostMemoryResource());
 *      Buffer buf = Buffer.allocate(pool, 1 << 20, 64, Stream.HOST)) {
 *     buf.segment().fill((byte) 0);
 * }
 * }
 *
 * <p><b>Algorithm.</b> The pool takes big <em>segments</em> from its upstream and carves them into <em>blocks</em>.
 * Requests are rounded up to {@link PoolSettings#minBlockBytes()}; small requests and large ones live in two separate
 * pools with their own segment sizes, so small long-lived buffers cannot fragment the memory that big ones need. A
 * request takes the best-fitting free block (the smallest that fits; lowest address among equal sizes that are not an
 * exact fit), found through
 * segregated size bins (8 bins per power of two with a bitmap, so the search touches only bins that can fit), and
 * splits off the rest when the rest is worth keeping. A freed block merges with free neighbours at once. Requests at
 * or above {@link PoolSettings#maxSplitBytes()} never split their block, and smaller requests never take such blocks.
 *
 * <p><b>Streams.</b> A freed block is reusable at once by work on the stream it was freed on, because that work runs
 * after the free. Another stream may reuse it only after an event recorded on the freeing stream after the free
 * {@linkplain StreamEvent#isComplete() completes}. As PyTorch's caching allocator, the pool records no event at free
 * time (a free on {@link Stream#HOST}, whose work is synchronous, makes the block free for every stream at once): a
 * block freed on stream S is <em>unfenced</em>, reusable only by S. Only when an allocation on stream T finds no block
 * it may use does the pool <em>fence</em> on demand: it records one event on each other stream that has unfenced
 * blocks (one event covers every block freed on that stream so far, since stream order puts their uses before it),
 * and those blocks become <em>pending</em> on that event. The pool checks pending events at each allocation; a block
 * whose event completed is free for every stream. Only then does the pool grow. So a loop of allocations and frees on
 * one stream records no event at all. Unfenced and pending blocks merge only with unfenced or pending blocks of the
 * same stream (the merged block is unfenced if either part was); blocks of different streams do not merge until they
 * are free for every stream. {@link #trim()} fences too, and waits for the events of segments that hold no
 * allocation, so that it can return them; {@link #close()} fences and waits for every pending event. The pool calls
 * {@link Stream#record()} long after the free, so a stream must keep answering it (a closed {@code CudaStream} does).
 *
 * <p><b>Exhaustion.</b> When the upstream refuses a new segment (or {@link PoolSettings#reservedLimitBytes()} would be
 * passed), the pool releases every cached free segment and retries; then it calls the {@link AllocationFailureHandler},
 * which may ask for more tries; then it throws a {@link PoolOutOfMemoryException} with a diagnosis.
 *
 * <p><b>Threads.</b> All methods are thread-safe: one lock guards the pool, held only for the bin search and
 * bookkeeping (and for upstream calls when the pool grows or trims). Nothing is thread-confined. Closing it while other
 * threads still allocate is the caller's error: they get {@link IllegalStateException}.
 *
 * <p><b>Misuse.</b> Freeing an address the pool did not hand out, or freeing twice, raises
 * {@link IllegalArgumentException} and changes nothing. Closing the pool with live allocations throws
 * {@link IllegalStateException} listing them, and the pool stays open.
 */
public final class CachingPool implements MemoryResource, LiveAllocations {

    private static final Logger LOG = LoggerFactory.getLogger(CachingPool.class);

    /** The largest request the pool accepts: 2^50 bytes (1 PiB), far above any device, safe from overflow. */
    public static final long MAX_REQUEST_BYTES = 1L << 50;
    /** The largest alignment the pool accepts: 1 GiB. */
    public static final long MAX_ALIGNMENT = 1L << 30;

    private static final int SUB_BINS_LOG2 = 3;
    private static final int SUB_BINS = 1 << SUB_BINS_LOG2;
    private static final int MAX_SPARE_BLOCKS = 4096;

    /**
     * The event of an unfenced block: freed on its stream, reusable by that stream only, until a fence (an event
     * recorded on the stream after the free) replaces this marker.
     */
    private static final StreamEvent UNFENCED = new StreamEvent() {
        @Override
        public boolean isComplete() {
            return false;
        }

        @Override
        public void synchronize() {
            throw new AssertionError("an unfenced block has no event to wait for");
        }

        @Override
        public String toString() {
            return "unfenced";
        }
    };

    private final MemoryResource upstream;
    private final PoolSettings settings;
    private final AllocationFailureHandler failureHandler;
    private final String name;
    private final int minBlockLog2;
    private final int numBins;
    private final ReentrantLock lock = new ReentrantLock();

    private final Bins small;
    private final Bins large;
    private final LongObjectMap<Block> live = new LongObjectMap<>(1024);
    private Segment segmentsHead;
    private Block pendingHead;
    private Block unfencedHead;
    private Block spare;
    private int spareCount;
    private boolean closed;

    private final StatCounter allocated = new StatCounter();
    private final StatCounter allocatedCount = new StatCounter();
    private final StatCounter requested = new StatCounter();
    private final StatCounter reserved = new StatCounter();
    private final StatCounter reservedCount = new StatCounter();
    private final StatCounter active = new StatCounter();
    private final StatCounter activeCount = new StatCounter();
    private final StatCounter inactiveSplit = new StatCounter();
    private final StatCounter inactiveSplitCount = new StatCounter();
    private long upstreamAllocations;
    private long upstreamFrees;
    private long retries;
    private long ooms;

    /** A pool with {@linkplain PoolSettings#defaults() default settings} and no failure handler. */
    public CachingPool(MemoryResource upstream) {
        this(upstream, PoolSettings.defaults(), null);
    }

    /** A pool with the given settings and no failure handler. */
    public CachingPool(MemoryResource upstream, PoolSettings settings) {
        this(upstream, settings, null);
    }

    /**
     * A pool over {@code upstream}. The pool does not own the upstream: closing the pool returns its segments but does
     * not close the upstream.
     *
     * @param upstream       where segments come from
     * @param settings       sizes and limits
     * @param failureHandler called when an allocation fails after a retry; may be null
     * @throws IllegalArgumentException if {@code upstream} or {@code settings} is null
     */
    public CachingPool(MemoryResource upstream, PoolSettings settings, AllocationFailureHandler failureHandler) {
        if (upstream == null) {
            throw new IllegalArgumentException("upstream must not be null");
        }
        if (settings == null) {
            throw new IllegalArgumentException("settings must not be null");
        }
        this.upstream = upstream;
        this.settings = settings;
        this.failureHandler = failureHandler;
        this.name = settings.name();
        this.minBlockLog2 = Long.numberOfTrailingZeros(settings.minBlockBytes());
        this.numBins = (63 - minBlockLog2) * SUB_BINS;
        this.small = new Bins(numBins);
        this.large = new Bins(numBins);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Data structures

    private static final class Segment {
        final long address;
        final long bytes;
        final boolean small;
        final Stream stream;
        Block first;
        Segment prev;
        Segment next;

        Segment(long address, long bytes, boolean small, Stream stream) {
            this.address = address;
            this.bytes = bytes;
            this.small = small;
            this.stream = stream;
        }
    }

    private static final class Block {
        Segment segment;
        long address;
        long size;
        long requested;
        long userAddress;
        long alignment;
        boolean allocated;
        Block prev;
        Block next;
        int bin = -1;
        Block binPrev;
        Block binNext;
        Stream stream;
        /** When free: null if free for every stream, {@link #UNFENCED}, or the event it is pending on. */
        StreamEvent event;
        /** In the pending list (a real event) or the unfenced list; both link through pendPrev and pendNext. */
        boolean inPending;
        boolean inUnfenced;
        Block pendPrev;
        Block pendNext;
        boolean countedSplit;
        LeakDetection.AllocationSite site;
    }

    /** Segregated free lists: 8 bins per power of two, and a bitmap of the non-empty ones. */
    private final class Bins {
        final Block[] heads;
        final long[] bitmap;

        Bins(int n) {
            heads = new Block[n];
            bitmap = new long[(n + 63) >>> 6];
        }

        void insert(Block b) {
            int i = binIndex(b.size);
            b.bin = i;
            b.binPrev = null;
            b.binNext = heads[i];
            if (heads[i] != null) {
                heads[i].binPrev = b;
            }
            heads[i] = b;
            bitmap[i >>> 6] |= 1L << i;
        }

        void remove(Block b) {
            int i = b.bin;
            if (b.binPrev != null) {
                b.binPrev.binNext = b.binNext;
            } else {
                heads[i] = b.binNext;
                if (b.binNext == null) {
                    bitmap[i >>> 6] &= ~(1L << i);
                }
            }
            if (b.binNext != null) {
                b.binNext.binPrev = b.binPrev;
            }
            b.bin = -1;
            b.binPrev = null;
            b.binNext = null;
        }

        /** The first non-empty bin at or after {@code from}, or -1. */
        int nextNonEmpty(int from) {
            if (from >= heads.length) {
                return -1;
            }
            int w = from >>> 6;
            long word = bitmap[w] & (-1L << from);
            while (true) {
                if (word != 0) {
                    return (w << 6) + Long.numberOfTrailingZeros(word);
                }
                if (++w == bitmap.length) {
                    return -1;
                }
                word = bitmap[w];
            }
        }

        /** The first non-empty bin at or before {@code from}, or -1. */
        int prevNonEmpty(int from) {
            for (int i = Math.min(from, heads.length - 1); i >= 0; i--) {
                if (heads[i] != null) {
                    return i;
                }
            }
            return -1;
        }
    }

    private int binIndex(long size) {
        int fl = 63 - Long.numberOfLeadingZeros(size);
        int sl = (int) ((size >>> (fl - SUB_BINS_LOG2)) & (SUB_BINS - 1));
        return (fl - minBlockLog2) * SUB_BINS + sl;
    }

    private Block newBlock(Segment segment, long address, long size) {
        Block b = spare;
        if (b != null) {
            spare = b.binNext;
            spareCount--;
            b.binNext = null;
        } else {
            b = new Block();
        }
        b.segment = segment;
        b.address = address;
        b.size = size;
        return b;
    }

    private void recycle(Block b) {
        b.segment = null;
        b.prev = null;
        b.next = null;
        b.stream = null;
        b.event = null;
        b.site = null;
        b.allocated = false;
        b.requested = 0;
        if (spareCount < MAX_SPARE_BLOCKS) {
            b.binNext = spare;
            spare = b;
            spareCount++;
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Allocation

    /**
     * Allocates a block of at least {@code bytes}, aligned to {@code alignment}, for work on {@code stream}.
     *
     * @throws IllegalArgumentException  for a size that is not positive or above {@link #MAX_REQUEST_BYTES}, an
     *                                   alignment that is not a power of two or above {@link #MAX_ALIGNMENT}, or a
     *                                   null stream; the pool is unchanged
     * @throws PoolOutOfMemoryException  when the memory cannot be had after trimming, retrying and the failure handler
     * @throws IllegalStateException     if the pool is closed
     */
    @Override
    public long allocate(long bytes, long alignment, Stream stream) {
        MemoryResource.checkAllocateArgs(bytes, alignment, stream);
        if (bytes > MAX_REQUEST_BYTES) {
            throw new IllegalArgumentException(
                    "bytes must be at most " + MAX_REQUEST_BYTES + " (1 PiB), got " + bytes);
        }
        if (alignment > MAX_ALIGNMENT) {
            throw new IllegalArgumentException("alignment must be at most " + MAX_ALIGNMENT + ", got " + alignment);
        }
        long minBlock = settings.minBlockBytes();
        long rounded = (bytes + minBlock - 1) & -minBlock;
        // Blocks start at multiples of minBlockBytes; a larger alignment is met by padding inside the block.
        long padded = alignment > minBlock ? rounded + alignment - minBlock : rounded;
        LeakDetection.AllocationSite site = LeakDetection.captureSite(settings.leakDetection());
        int handlerCalls = 0;
        boolean trimmed = false;
        long releasedByTrim = 0;
        boolean isSmall = padded <= settings.smallSizeBytes();
        while (true) {
            OutOfMemoryException upstreamFailure = null;
            boolean limitHit = false;
            lock.lock();
            try {
                if (closed) {
                    throw new IllegalStateException("pool '" + name + "' is closed");
                }
                if (pendingHead != null) {
                    settlePending();
                }
                Bins bins = isSmall ? small : large;
                Block b = findBestFit(bins, padded, stream);
                if (b == null && unfencedHead != null && fence(stream, null) != null) {
                    // Blocks freed on other streams may be reusable now that their streams have fenced them.
                    settlePending();
                    b = findBestFit(bins, padded, stream);
                }
                if (b == null) {
                    long segmentBytes = segmentSizeFor(padded, isSmall);
                    if (reserved.current + segmentBytes > settings.reservedLimitBytes()) {
                        limitHit = true;
                    } else {
                        try {
                            b = grow(segmentBytes, isSmall, stream);
                        } catch (OutOfMemoryException e) {
                            upstreamFailure = e;
                        }
                    }
                }
                if (b != null) {
                    return hand(b, padded, bytes, alignment, stream, site);
                }
                boolean retry = !trimmed || failureHandler != null;
                if (!retry) {
                    throw outOfMemory(bytes, padded, isSmall, stream, limitHit, releasedByTrim, upstreamFailure);
                }
            } finally {
                lock.unlock();
            }
            // Outside the lock: trimming takes it again, and the handler may free buffers of this pool.
            if (!trimmed) {
                trimmed = true;
                releasedByTrim = trim();
                countRetry();
                continue;
            }
            if (failureHandler.onFailure(bytes, handlerCalls++)) {
                countRetry();
                continue;
            }
            lock.lock();
            try {
                throw outOfMemory(bytes, padded, isSmall, stream, limitHit, releasedByTrim, upstreamFailure);
            } finally {
                lock.unlock();
            }
        }
    }

    private void countRetry() {
        lock.lock();
        try {
            retries++;
        } finally {
            lock.unlock();
        }
    }

    private long segmentSizeFor(long padded, boolean isSmall) {
        if (isSmall) {
            return settings.smallSegmentBytes();
        }
        if (padded < settings.minLargeAllocBytes()) {
            return settings.largeSegmentBytes();
        }
        long r = settings.largeRoundingBytes();
        return (padded + r - 1) / r * r;
    }

    private Block findBestFit(Bins bins, long size, Stream stream) {
        long maxSplit = settings.maxSplitBytes();
        for (int bin = bins.nextNonEmpty(binIndex(size)); bin >= 0; bin = bins.nextNonEmpty(bin + 1)) {
            Block best = null;
            for (Block b = bins.heads[bin]; b != null; b = b.binNext) {
                if (b.size < size) {
                    continue;
                }
                if (b.event != null && b.stream != stream) {
                    continue;
                }
                if (maxSplit != Long.MAX_VALUE) {
                    if (size < maxSplit && b.size >= maxSplit) {
                        continue;
                    }
                    // An unsplittable block must not waste more than a large segment on a big request.
                    if (size >= maxSplit && b.size - size >= settings.largeSegmentBytes()) {
                        continue;
                    }
                }
                if (best == null || b.size < best.size || (b.size == best.size && b.address < best.address)) {
                    best = b;
                    if (b.size == size) {
                        break;
                    }
                }
            }
            if (best != null) {
                return best;
            }
        }
        return null;
    }

    private Block grow(long segmentBytes, boolean isSmall, Stream stream) {
        long address = upstream.allocate(segmentBytes, settings.minBlockBytes(), stream);
        upstreamAllocations++;
        Segment seg = new Segment(address, segmentBytes, isSmall, stream);
        seg.next = segmentsHead;
        if (segmentsHead != null) {
            segmentsHead.prev = seg;
        }
        segmentsHead = seg;
        Block b = newBlock(seg, address, segmentBytes);
        seg.first = b;
        b.stream = stream;
        reserved.add(segmentBytes);
        reservedCount.add(1);
        LOG.info("pool '{}' grew by a {} segment to {} reserved in {} segments", name,
                ByteSizes.human(segmentBytes), ByteSizes.human(reserved.current), reservedCount.current);
        MemoryEvents.PoolGrowth e = new MemoryEvents.PoolGrowth();
        if (e.shouldCommit()) {
            e.pool = name;
            e.segmentBytes = segmentBytes;
            e.reservedBytes = reserved.current;
            e.commit();
        }
        return b;
    }

    /** Hands {@code b} (free, possibly not yet in a bin) to the caller, splitting off what is worth keeping. */
    private long hand(Block b, long padded, long bytes, long alignment, Stream stream,
                      LeakDetection.AllocationSite site) {
        if (b.bin >= 0) {
            removeFree(b);
        }
        long remaining = b.size - padded;
        if (shouldSplit(b.segment.small, padded, remaining)) {
            Block rest = newBlock(b.segment, b.address + padded, remaining);
            rest.prev = b;
            rest.next = b.next;
            if (b.next != null) {
                b.next.prev = rest;
            }
            b.next = rest;
            b.size = padded;
            rest.stream = b.stream;
            rest.event = b.event;
            addFree(rest);
        }
        b.allocated = true;
        b.requested = bytes;
        b.alignment = alignment;
        b.userAddress = (b.address + alignment - 1) & -alignment;
        b.stream = stream;
        b.event = null;
        b.site = site;
        live.put(b.userAddress, b);
        allocated.add(b.size);
        allocatedCount.add(1);
        requested.add(bytes);
        active.add(b.size);
        activeCount.add(1);
        if (LOG.isDebugEnabled()) {
            LOG.debug("pool '{}' allocated {} bytes (block {}) at 0x{} on {}", name, bytes, b.size,
                    Long.toHexString(b.userAddress), stream);
        }
        MemoryEvents.Allocation e = new MemoryEvents.Allocation();
        if (e.shouldCommit()) {
            e.pool = name;
            e.address = b.userAddress;
            e.requestedBytes = bytes;
            e.blockBytes = b.size;
            e.stream = stream.id();
            e.commit();
        }
        return b.userAddress;
    }

    private boolean shouldSplit(boolean isSmall, long padded, long remaining) {
        if (isSmall) {
            return remaining >= settings.minBlockBytes();
        }
        return padded < settings.maxSplitBytes() && remaining > settings.smallSizeBytes();
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Free

    /**
     * Returns a block. It is reusable at once by later work on {@code stream}, and by other streams once an event
     * recorded on {@code stream} after this call completes; the pool records that event only when another stream
     * needs the memory (see the class comment). Records no event itself, unless the free empties a whole segment while
     * the pool caches more than {@link PoolSettings#releaseThresholdBytes()}.
     *
     * @throws IllegalArgumentException if the address is not a live allocation of this pool (foreign or double free),
     *                                  if {@code bytes} or {@code alignment} differ from the allocation's, or if the
     *                                  stream is null; the pool is unchanged
     */
    @Override
    public void deallocate(long address, long bytes, long alignment, Stream stream) {
        if (stream == null) {
            throw new IllegalArgumentException("stream must not be null");
        }
        lock.lock();
        try {
            Block b = live.get(address);
            if (b == null) {
                throw new IllegalArgumentException(String.format(
                        "address 0x%x (bytes %d) is not a live allocation of pool '%s': it was never allocated "
                                + "here, or it was already freed (double free)", address, bytes, name));
            }
            if (b.requested != bytes) {
                throw new IllegalArgumentException(String.format(
                        "bytes %d does not match the %d bytes allocated at 0x%x in pool '%s'", bytes, b.requested,
                        address, name));
            }
            if (b.alignment != alignment) {
                throw new IllegalArgumentException(String.format(
                        "alignment %d does not match the alignment %d of the allocation at 0x%x in pool '%s'",
                        alignment, b.alignment, address, name));
            }
            live.remove(address);
            allocated.add(-b.size);
            allocatedCount.add(-1);
            requested.add(-b.requested);
            active.add(-b.size);
            activeCount.add(-1);
            b.allocated = false;
            b.requested = 0;
            b.site = null;
            b.stream = stream;
            // Host work is synchronous, so the host stream has passed the free already.
            b.event = stream == Stream.HOST ? null : UNFENCED;
            if (LOG.isDebugEnabled()) {
                LOG.debug("pool '{}' freed {} bytes (block {}) at 0x{} on {}", name, bytes, b.size,
                        Long.toHexString(address), stream);
            }
            MemoryEvents.Free e = new MemoryEvents.Free();
            if (e.shouldCommit()) {
                e.pool = name;
                e.address = address;
                e.blockBytes = b.size;
                e.stream = stream.id();
                e.commit();
            }
            Block merged = coalesce(b);
            addFree(merged);
            if (merged.prev == null && merged.next == null
                    && reserved.current - allocated.current > settings.releaseThresholdBytes()) {
                if (merged.event == UNFENCED) {
                    // Whether the stream has passed the free decides if the segment can go back now: fence it
                    // (one event for all of the stream's unfenced blocks), only on this rare path.
                    fence(null, stream);
                    if (merged.event.isComplete()) {
                        removeFree(merged);
                        merged.event = null;
                        addFree(merged);
                    }
                }
            }
            if (merged.prev == null && merged.next == null && merged.event == null
                    && reserved.current - allocated.current > settings.releaseThresholdBytes()) {
                Segment seg = merged.segment;
                releaseSegment(seg);
                LOG.info("pool '{}' released a free {} segment above its release threshold of {}, {} still reserved",
                        name, ByteSizes.human(seg.bytes), ByteSizes.human(settings.releaseThresholdBytes()),
                        ByteSizes.human(reserved.current));
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Free for every stream merges with free for every stream; unfenced or pending merges with unfenced or pending of
     * the same stream.
     */
    private static boolean mergeable(Block a, Block c) {
        if (a.event == null && c.event == null) {
            return true;
        }
        return a.event != null && c.event != null && a.stream == c.stream;
    }

    /**
     * The event of two merged blocks of one stream, {@code later} freed after {@code earlier}: unfenced if either is
     * (a later fence covers both), else the later event.
     */
    private static StreamEvent mergedEvent(StreamEvent earlier, StreamEvent later) {
        return earlier == UNFENCED ? UNFENCED : later;
    }

    /** Merges {@code b} (free, not in a bin) with its free neighbours; returns the merged block, not in a bin. */
    private Block coalesce(Block b) {
        Block p = b.prev;
        if (p != null && !p.allocated && mergeable(p, b)) {
            removeFree(p);
            p.size += b.size;
            p.next = b.next;
            if (b.next != null) {
                b.next.prev = p;
            }
            // b was freed last, so its event is the later one on the shared stream.
            p.event = mergedEvent(p.event, b.event);
            p.stream = b.stream;
            recycle(b);
            b = p;
        }
        Block n = b.next;
        if (n != null && !n.allocated && mergeable(b, n)) {
            removeFree(n);
            b.event = mergedEvent(n.event, b.event);
            b.size += n.size;
            b.next = n.next;
            if (n.next != null) {
                n.next.prev = b;
            }
            recycle(n);
        }
        return b;
    }

    private void addFree(Block b) {
        (b.segment.small ? small : large).insert(b);
        if (b.event != null) {
            if (b.event == UNFENCED) {
                linkUnfenced(b);
            } else {
                linkPending(b);
            }
            active.add(b.size);
            activeCount.add(1);
        }
        b.countedSplit = b.prev != null || b.next != null;
        if (b.countedSplit) {
            inactiveSplit.add(b.size);
            inactiveSplitCount.add(1);
        }
    }

    private void removeFree(Block b) {
        (b.segment.small ? small : large).remove(b);
        if (b.inPending || b.inUnfenced) {
            if (b.inPending) {
                unlinkPending(b);
            } else {
                unlinkUnfenced(b);
            }
            active.add(-b.size);
            activeCount.add(-1);
        }
        if (b.countedSplit) {
            inactiveSplit.add(-b.size);
            inactiveSplitCount.add(-1);
            b.countedSplit = false;
        }
    }

    private void linkPending(Block b) {
        b.inPending = true;
        b.pendPrev = null;
        b.pendNext = pendingHead;
        if (pendingHead != null) {
            pendingHead.pendPrev = b;
        }
        pendingHead = b;
    }

    private void unlinkPending(Block b) {
        if (b.pendPrev != null) {
            b.pendPrev.pendNext = b.pendNext;
        } else {
            pendingHead = b.pendNext;
        }
        if (b.pendNext != null) {
            b.pendNext.pendPrev = b.pendPrev;
        }
        b.inPending = false;
        b.pendPrev = null;
        b.pendNext = null;
    }

    private void linkUnfenced(Block b) {
        b.inUnfenced = true;
        b.pendPrev = null;
        b.pendNext = unfencedHead;
        if (unfencedHead != null) {
            unfencedHead.pendPrev = b;
        }
        unfencedHead = b;
    }

    private void unlinkUnfenced(Block b) {
        if (b.pendPrev != null) {
            b.pendPrev.pendNext = b.pendNext;
        } else {
            unfencedHead = b.pendNext;
        }
        if (b.pendNext != null) {
            b.pendNext.pendPrev = b.pendPrev;
        }
        b.inUnfenced = false;
        b.pendPrev = null;
        b.pendNext = null;
    }

    /** The events one fence pass recorded, one per stream. */
    private static final class Fences {
        Stream[] streams = new Stream[4];
        StreamEvent[] events = new StreamEvent[4];
        int count;

        int indexOf(Stream s) {
            for (int i = 0; i < count; i++) {
                if (streams[i] == s) {
                    return i;
                }
            }
            return -1;
        }

        int add(Stream s, StreamEvent e) {
            if (count == streams.length) {
                streams = Arrays.copyOf(streams, count * 2);
                events = Arrays.copyOf(events, count * 2);
            }
            streams[count] = s;
            events[count] = e;
            return count++;
        }
    }

    /**
     * Fences unfenced blocks: records one event on each stream that has some (except {@code except}; only
     * {@code only} when not null) and makes its unfenced blocks pending on that event. One event covers all of a
     * stream's unfenced blocks, since each was freed before it was recorded. Blocks stay in their bins and keep their
     * statistics (unfenced and pending are both active). If a stream's {@link Stream#record()} throws, the exception
     * propagates; blocks of streams fenced before stay pending, the rest stay unfenced: the pool stays consistent.
     *
     * @return the fences recorded, or null if none
     */
    private Fences fence(Stream except, Stream only) {
        Fences fences = null;
        Block b = unfencedHead;
        while (b != null) {
            Block next = b.pendNext;
            Stream s = b.stream;
            if (s != except && (only == null || s == only)) {
                if (fences == null) {
                    fences = new Fences();
                }
                int i = fences.indexOf(s);
                if (i < 0) {
                    i = fences.add(s, s.record());
                }
                unlinkUnfenced(b);
                b.event = fences.events[i];
                linkPending(b);
            }
            b = next;
        }
        return fences;
    }

    private static boolean holdsAllocation(Segment s) {
        for (Block b = s.first; b != null; b = b.next) {
            if (b.allocated) {
                return true;
            }
        }
        return false;
    }

    /** Moves blocks whose stream event completed from pending to free-for-all, merging them with free neighbours. */
    private void settlePending() {
        Block b = pendingHead;
        while (b != null) {
            Block next = b.pendNext;
            if (b.event.isComplete()) {
                removeFree(b);
                b.event = null;
                addFree(coalesce(b));
            }
            b = next;
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Trim and close

    /**
     * Returns every segment that is entirely free to the upstream. Blocks freed on a stream and not yet fenced are
     * fenced first (one event per stream); where a segment holds no allocation the pool then waits for the events its
     * pending blocks wait on ({@link StreamEvent#synchronize()}, holding the pool's lock), so every segment whose
     * blocks were all freed goes back once its streams pass the point of the trim, as PyTorch's
     * {@code empty_cache()} waits for its events. Segments that still hold allocations cost no wait.
     *
     * @return the bytes released
     * @throws IllegalStateException if the pool is closed
     */
    public long trim() {
        lock.lock();
        try {
            if (closed) {
                throw new IllegalStateException("pool '" + name + "' is closed");
            }
            return trimLocked();
        } finally {
            lock.unlock();
        }
    }

    private long trimLocked() {
        if (unfencedHead != null) {
            fence(null, null);
        }
        // Fences are recorded late (when memory is needed), so wait for those that stand between a segment with no
        // allocation and the upstream; the exhaustion path relies on this to reuse memory freed on other streams.
        StreamEvent waited = null;
        for (Block b = pendingHead; b != null; b = b.pendNext) {
            if (b.event != waited && !holdsAllocation(b.segment)) {
                b.event.synchronize();
                waited = b.event;
            }
        }
        if (pendingHead != null) {
            settlePending();
        }
        long released = 0;
        int segments = 0;
        Segment s = segmentsHead;
        while (s != null) {
            Segment next = s.next;
            Block f = s.first;
            if (!f.allocated && f.next == null && f.event == null) {
                releaseSegment(s);
                released += s.bytes;
                segments++;
            }
            s = next;
        }
        if (segments > 0) {
            LOG.info("pool '{}' trimmed {} segments ({}), {} still reserved", name, segments,
                    ByteSizes.human(released), ByteSizes.human(reserved.current));
            MemoryEvents.PoolTrim e = new MemoryEvents.PoolTrim();
            if (e.shouldCommit()) {
                e.pool = name;
                e.segments = segments;
                e.releasedBytes = released;
                e.reservedBytes = reserved.current;
                e.commit();
            }
        }
        return released;
    }

    /** Returns a segment whose one block is free and settled to the upstream; the upstream's checks run first. */
    private void releaseSegment(Segment s) {
        upstream.deallocate(s.address, s.bytes, settings.minBlockBytes(), s.stream);
        Block f = s.first;
        removeFree(f);
        recycle(f);
        if (s.prev != null) {
            s.prev.next = s.next;
        } else {
            segmentsHead = s.next;
        }
        if (s.next != null) {
            s.next.prev = s.prev;
        }
        reserved.add(-s.bytes);
        reservedCount.add(-1);
        upstreamFrees++;
    }

    /**
     * Returns all segments to the upstream, fencing blocks freed on streams and waiting for every pending stream event
     * first. Closing a closed pool does nothing.
     *
     * @throws IllegalStateException if allocations are still live; the message lists them (with allocation sites when
     *                               captured) and the pool stays open and unchanged
     */
    @Override
    public void close() {
        lock.lock();
        try {
            if (closed) {
                return;
            }
            if (live.size() > 0) {
                List<String> lines = describeLocked(20);
                StringBuilder sb = new StringBuilder();
                sb.append("pool '").append(name).append("' cannot close: ").append(live.size())
                        .append(" allocations (").append(ByteSizes.exact(requested.current))
                        .append(") are still live:");
                for (String l : lines) {
                    sb.append("\n  ").append(l);
                }
                if (live.size() > lines.size()) {
                    sb.append("\n  ... and ").append(live.size() - lines.size()).append(" more");
                }
                if (settings.leakDetection().compareTo(LeakDetection.Level.SAMPLED) < 0) {
                    sb.append("\n(run with -D").append(LeakDetection.LEVEL_PROPERTY)
                            .append("=paranoid to record where each was allocated)");
                }
                throw new IllegalStateException(sb.toString());
            }
            if (unfencedHead != null) {
                fence(null, null);
            }
            for (Block b = pendingHead; b != null; b = b.pendNext) {
                b.event.synchronize();
            }
            trimLocked();
            closed = true;
        } finally {
            lock.unlock();
        }
    }

    /** Whether {@link #close()} has completed. */
    public boolean isClosed() {
        lock.lock();
        try {
            return closed;
        } finally {
            lock.unlock();
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Introspection

    /** A consistent moment's statistics. */
    public PoolStatistics statistics() {
        lock.lock();
        try {
            return new PoolStatistics(allocated.snapshot(), allocatedCount.snapshot(), requested.snapshot(),
                    reserved.snapshot(), reservedCount.snapshot(), active.snapshot(), activeCount.snapshot(),
                    inactiveSplit.snapshot(), inactiveSplitCount.snapshot(), upstreamAllocations, upstreamFrees,
                    retries, ooms, reserved.current - allocated.current, largestFreeLocked());
        } finally {
            lock.unlock();
        }
    }

    /** Sets every peak statistic to its current value. */
    public void resetPeaks() {
        lock.lock();
        try {
            for (StatCounter c : new StatCounter[] {allocated, allocatedCount, requested, reserved, reservedCount,
                    active, activeCount, inactiveSplit, inactiveSplitCount}) {
                c.resetPeak();
            }
        } finally {
            lock.unlock();
        }
    }

    /** Bytes held from the upstream now; cheaper than {@link #statistics()}. */
    public long reservedBytes() {
        lock.lock();
        try {
            return reserved.current;
        } finally {
            lock.unlock();
        }
    }

    /** Bytes of blocks allocated now; cheaper than {@link #statistics()}. */
    public long allocatedBytes() {
        lock.lock();
        try {
            return allocated.current;
        } finally {
            lock.unlock();
        }
    }

    private long largestFreeLocked() {
        return Math.max(largestIn(small), largestIn(large));
    }

    private long largestIn(Bins bins) {
        int top = bins.prevNonEmpty(numBins - 1);
        long max = 0;
        if (top >= 0) {
            for (Block b = bins.heads[top]; b != null; b = b.binNext) {
                max = Math.max(max, b.size);
            }
        }
        return max;
    }

    /** Every segment and block now. */
    public PoolSnapshot snapshot() {
        lock.lock();
        try {
            List<PoolSnapshot.Segment> segs = new ArrayList<>();
            for (Segment s = segmentsHead; s != null; s = s.next) {
                List<PoolSnapshot.Block> blocks = new ArrayList<>();
                for (Block b = s.first; b != null; b = b.next) {
                    // Unfenced blocks are PENDING_FREE too: free for their stream, not yet for others.
                    PoolSnapshot.State state = b.allocated ? PoolSnapshot.State.ALLOCATED
                            : b.event != null ? PoolSnapshot.State.PENDING_FREE : PoolSnapshot.State.FREE;
                    blocks.add(new PoolSnapshot.Block(b.address - s.address, b.size, b.requested, state,
                            b.stream == null ? s.stream.id() : b.stream.id(),
                            b.site == null ? null : b.site.describe()));
                }
                segs.add(new PoolSnapshot.Segment(s.address, s.bytes, s.small, s.stream.id(), blocks));
            }
            segs.sort(Comparator.comparingLong(PoolSnapshot.Segment::address));
            return new PoolSnapshot(name, settings.describe(), segs);
        } finally {
            lock.unlock();
        }
    }

    /** The settings this pool runs with. */
    public PoolSettings settings() {
        return settings;
    }

    /** The upstream resource. */
    public MemoryResource upstream() {
        return upstream;
    }

    @Override
    public MemoryKind kind() {
        return upstream.kind();
    }

    /** The smaller of the upstream's capacity and {@link PoolSettings#reservedLimitBytes()}. */
    @Override
    public long capacityBytes() {
        return Math.min(upstream.capacityBytes(), settings.reservedLimitBytes());
    }

    @Override
    public long liveAllocationCount() {
        lock.lock();
        try {
            return live.size();
        } finally {
            lock.unlock();
        }
    }

    @Override
    public long liveAllocationBytes() {
        lock.lock();
        try {
            return requested.current;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public List<String> describeLiveAllocations(int max) {
        if (max < 0) {
            throw new IllegalArgumentException("max must not be negative, got " + max);
        }
        lock.lock();
        try {
            return describeLocked(max);
        } finally {
            lock.unlock();
        }
    }

    private List<String> describeLocked(int max) {
        List<Block> blocks = new ArrayList<>();
        live.forEach((addr, b) -> blocks.add(b));
        blocks.sort(Comparator.comparingLong(b -> b.userAddress));
        List<String> out = new ArrayList<>();
        for (Block b : blocks) {
            if (out.size() == max) {
                break;
            }
            out.add(String.format(Locale.ROOT, "0x%x: %d bytes on %s, %s", b.userAddress, b.requested, b.stream,
                    LeakDetection.siteHint(b.site)));
        }
        return out;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Diagnosis

    private PoolOutOfMemoryException outOfMemory(long bytes, long padded, boolean isSmall, Stream stream,
                                                 boolean limitHit, long releasedByTrim, OutOfMemoryException cause) {
        ooms++;
        long capacity = upstream.capacityBytes();
        long limit = settings.reservedLimitBytes();
        long free = reserved.current - allocated.current;
        long largest = largestFreeLocked();
        double frag = free == 0 ? 0.0 : 1.0 - (double) largest / free;
        long segmentBytes = segmentSizeFor(padded, isSmall);
        String suggestion = suggest(padded, limitHit, capacity, limit, free, largest, frag, segmentBytes);
        StringBuilder sb = new StringBuilder();
        sb.append("pool '").append(name).append("' cannot allocate ").append(ByteSizes.exact(bytes))
                .append(" (a block of ").append(ByteSizes.exact(padded)).append(" from the ")
                .append(isSmall ? "small" : "large").append(" pool) on ").append(stream).append(".\n");
        sb.append("  capacity: ").append(ByteSizes.exact(capacity)).append(" (upstream ")
                .append(upstream.getClass().getSimpleName()).append("); limit: ")
                .append(limit == Long.MAX_VALUE ? "none (reservedLimitBytes not set)" : ByteSizes.exact(limit))
                .append('\n');
        sb.append("  allocated: ").append(ByteSizes.exact(allocated.current)).append(" in ")
                .append(allocatedCount.current).append(" blocks; reserved: ").append(ByteSizes.exact(reserved.current))
                .append(" in ").append(reservedCount.current).append(" segments\n");
        sb.append("  reserved but free: ").append(ByteSizes.exact(free)).append("; largest free block: ")
                .append(ByteSizes.exact(largest)).append(String.format(Locale.ROOT,
                        "; fragmentation: %.1f%% (1 - largest free / total free)%n", 100 * frag));
        sb.append("  tried: a new segment of ").append(ByteSizes.exact(segmentBytes)).append(limitHit
                ? ", refused by reservedLimitBytes" : ", refused by the upstream").append("; released ")
                .append(ByteSizes.exact(releasedByTrim)).append(" of cached segments and retried")
                .append(failureHandler != null ? "; the failure handler declined to retry" : "").append('\n');
        if (cause != null) {
            sb.append("  upstream said: ").append(cause.getMessage()).append('\n');
        }
        sb.append("  settings: ").append(settings.describe()).append('\n');
        sb.append("Suggestion: ").append(suggestion);
        String message = sb.toString();
        LOG.warn(message);
        MemoryEvents.OutOfMemory e = new MemoryEvents.OutOfMemory();
        if (e.shouldCommit()) {
            e.pool = name;
            e.requestedBytes = bytes;
            e.allocatedBytes = allocated.current;
            e.reservedBytes = reserved.current;
            e.largestFreeBytes = largest;
            e.message = message;
            e.commit();
        }
        return new PoolOutOfMemoryException(message, bytes, capacity, limit, allocated.current, free, largest, frag,
                settings, suggestion, cause);
    }

    private String suggest(long padded, boolean limitHit, long capacity, long limit, long free, long largest,
                           double frag, long segmentBytes) {
        long needed = reserved.current + segmentBytes;
        if (limitHit && limit < capacity) {
            return "raise reservedLimitBytes from " + ByteSizes.exact(limit) + " to at least "
                    + ByteSizes.exact(needed) + " (the upstream can hold " + ByteSizes.human(capacity) + ").";
        }
        if (free >= padded && largest < padded) {
            if (settings.maxSplitBytes() == Long.MAX_VALUE) {
                long split = Math.max(Long.highestOneBit(padded), settings.smallSizeBytes() * 2);
                return String.format(Locale.ROOT, "%s is free but split into pieces (fragmentation %.1f%%); set "
                                + "maxSplitBytes to %s so smaller requests stop splitting blocks that large.",
                        ByteSizes.human(free), 100 * frag, ByteSizes.exact(split));
            }
            return String.format(Locale.ROOT, "%s is free but split into pieces (fragmentation %.1f%%) although "
                            + "maxSplitBytes is %s; allocate the large, long-lived buffers first (e.g. weights at "
                            + "start-up), so that short-lived small ones cannot split their segments.",
                    ByteSizes.human(free), 100 * frag, ByteSizes.human(settings.maxSplitBytes()));
        }
        long shortBy = capacity == Long.MAX_VALUE ? padded : Math.max(padded, needed - capacity);
        return "the upstream is full: free at least " + ByteSizes.exact(shortBy) + " of the "
                + ByteSizes.human(allocated.current) + " allocated (describeLiveAllocations() lists it), or give "
                + "the upstream more than " + ByteSizes.human(capacity) + ".";
    }

    @Override
    public String toString() {
        lock.lock();
        try {
            return String.format("CachingPool['%s', allocated %s, reserved %s in %d segments%s]", name,
                    ByteSizes.human(allocated.current), ByteSizes.human(reserved.current), reservedCount.current,
                    closed ? ", closed" : "");
        } finally {
            lock.unlock();
        }
    }
}
