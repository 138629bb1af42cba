package io.vramkit.core.memory;

import static io.vramkit.core.memory.ByteSizes.MiB;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.vramkit.core.testing.ManualStream;
import io.vramkit.core.testing.NoLeaksExtension;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Stream-ordered reuse with fences on demand: a free records no event; an allocation that finds no block it may use
 * records one event on each other stream with unfenced blocks; unfenced blocks of one stream merge; trim and close
 * fence and wait.
 */
class CachingPoolStreamsTest {

    @RegisterExtension
    final NoLeaksExtension leaks = new NoLeaksExtension();

    private final PoolInvariants invariants = new PoolInvariants();
    private SimulatedResource device;

    private CachingPool simulatedPool(PoolSettings settings) {
        device = leaks.track(new SimulatedResource(64L << 30));
        return leaks.track(new CachingPool(device, settings));
    }

    /** A stream whose work is done at once, counting its records. */
    private static final class DoneStream implements Stream {
        final AtomicLong records = new AtomicLong();

        @Override
        public long id() {
            return 77;
        }

        @Override
        public StreamEvent record() {
            records.incrementAndGet();
            return new StreamEvent() {
                @Override
                public boolean isComplete() {
                    return true;
                }

                @Override
                public void synchronize() {
                }
            };
        }

        @Override
        public void synchronize() {
        }
    }

    private static List<PoolSnapshot.Block> blocks(CachingPool pool, long segmentAddress) {
        for (PoolSnapshot.Segment s : pool.snapshot().segments()) {
            if (s.address() <= segmentAddress && segmentAddress < s.address() + s.bytes()) {
                return s.blocks();
            }
        }
        throw new AssertionError("no segment holds 0x" + Long.toHexString(segmentAddress));
    }

    @Test
    void oneStreamAllocatingAndFreeingRecordsNoEvent() {
        CachingPool pool = simulatedPool(PoolSettings.defaults());
        ManualStream s = new ManualStream();
        SplittableRandom rnd = new SplittableRandom(3);
        List<long[]> live = new ArrayList<>();
        for (int i = 0; i < 5000; i++) {
            if (live.size() < 20 && (live.isEmpty() || rnd.nextBoolean())) {
                long bytes = 1 + rnd.nextInt(rnd.nextInt(4) == 0 ? 12 << 20 : 100_000);
                live.add(new long[] {pool.allocate(bytes, 256, s), bytes});
            } else {
                long[] l = live.remove(rnd.nextInt(live.size()));
                pool.deallocate(l[0], l[1], 256, s);
            }
            if (i % 500 == 0) {
                invariants.check(pool);
            }
        }
        assertEquals(0, s.recordedEvents(), "one stream never needs a fence");
        PoolStatistics st = invariants.check(pool);
        assertTrue(st.upstreamAllocations() < 40, "the stream reuses its own frees: " + st.upstreamAllocations());
        for (long[] l : live) {
            pool.deallocate(l[0], l[1], 256, s);
        }
        assertEquals(0, s.recordedEvents());
        pool.trim();
        assertEquals(1, s.recordedEvents(), "trim fences the stream once");
        assertEquals(0, device.usedBytes());
    }

    @Test
    void fenceIsRecordedOncePerStreamPerPass() {
        CachingPool pool = simulatedPool(PoolSettings.defaults());
        ManualStream s1 = new ManualStream();
        ManualStream s2 = new ManualStream();
        ManualStream s3 = new ManualStream();
        long q = MiB / 4;
        long[] a = new long[8];
        for (int i = 0; i < 8; i++) {
            a[i] = pool.allocate(q, 256, s1);
        }
        assertEquals(1, pool.statistics().reservedCount().current(), "eight quarters fill one 2 MiB segment");
        // Free every other block: four unfenced blocks that cannot merge, two per stream.
        pool.deallocate(a[0], q, 256, s1);
        pool.deallocate(a[2], q, 256, s1);
        pool.deallocate(a[4], q, 256, s2);
        pool.deallocate(a[6], q, 256, s2);
        assertEquals(0, s1.recordedEvents() + s2.recordedEvents(), "frees record nothing");
        invariants.check(pool);

        List<Long> onS3 = new ArrayList<>();
        onS3.add(pool.allocate(q, 256, s3));
        assertEquals(1, s1.recordedEvents(), "one event covers both of s1's blocks");
        assertEquals(1, s2.recordedEvents());
        assertEquals(0, s3.recordedEvents(), "the allocating stream is not fenced");
        assertEquals(2, pool.statistics().reservedCount().current(), "fences incomplete: the pool grew");
        for (int i = 1; i < 8; i++) {
            onS3.add(pool.allocate(q, 256, s3));
        }
        assertEquals(2, pool.statistics().reservedCount().current(), "s3 filled its own segment");
        assertEquals(1, s1.recordedEvents(), "the first pass's pending blocks are not fenced again");
        assertEquals(1, s2.recordedEvents());
        long own = pool.allocate(q, 256, s1);
        assertTrue(own == a[0] || own == a[2], "s1 still reuses its own pending blocks at once");
        assertEquals(1, s1.recordedEvents(), "an allocation satisfied by its own stream fences nothing");

        s2.complete();
        long d = pool.allocate(q, 256, s3);
        assertTrue(d == a[4] || d == a[6], "after s2's fence completes, s3 takes s2's block");
        long e = pool.allocate(q, 256, s3);
        assertTrue(e == a[4] || e == a[6]);
        assertNotEquals(d, e);
        assertEquals(1, s2.recordedEvents());
        assertEquals(2, pool.statistics().reservedCount().current());
        invariants.check(pool);

        pool.deallocate(a[1], q, 256, s1);
        pool.deallocate(a[3], q, 256, s2);
        long f = pool.allocate(q, 256, s3);
        assertEquals(2, s1.recordedEvents(), "a new pass fences the new frees, once per stream");
        assertEquals(2, s2.recordedEvents());
        onS3.addAll(List.of(d, e, f));
        for (long x : onS3) {
            pool.deallocate(x, q, 256, s3);
        }
        pool.deallocate(own, q, 256, s1);
        pool.deallocate(a[5], q, 256, s1);
        pool.deallocate(a[7], q, 256, s1);
        invariants.check(pool);
        pool.close();
        assertEquals(0, device.usedBytes(), "close fenced every stream and waited");
    }

    @Test
    void unfencedBlocksMergeOnlyWithUnfencedOrPendingBlocksOfTheirStream() {
        // Requests up to 2 MiB are small, so a 2 MiB request takes a whole segment.
        CachingPool pool = simulatedPool(PoolSettings.builder().smallSizeBytes(2 * MiB).build());
        ManualStream s1 = new ManualStream();
        ManualStream s2 = new ManualStream();
        long k = MiB / 4;
        long[] a = new long[8];
        for (int i = 0; i < 8; i++) {
            a[i] = pool.allocate(k, 512, s1);
        }
        pool.deallocate(a[0], k, 512, s1);
        pool.deallocate(a[1], k, 512, s1);
        List<PoolSnapshot.Block> bl = blocks(pool, a[0]);
        assertEquals(2 * k, bl.get(0).bytes(), "two unfenced neighbours of one stream merge");
        assertEquals(PoolSnapshot.State.PENDING_FREE, bl.get(0).state(), "an unfenced block is pending in snapshots");
        assertEquals(s1.id(), bl.get(0).stream());

        long other = pool.allocate(2 * MiB, 512, s2);
        assertEquals(1, s1.recordedEvents(), "the merged block was fenced");
        pool.deallocate(a[2], k, 512, s1);
        bl = blocks(pool, a[0]);
        assertEquals(3 * k, bl.get(0).bytes(), "unfenced merges with pending of the same stream");
        invariants.check(pool);
        s1.complete();
        long x = pool.allocate(k, 512, s2);
        assertNotEquals(a[0], x, "the merged block is unfenced: the completed fence does not cover the later free");
        assertEquals(2, s1.recordedEvents(), "so s2's allocation fenced s1 again");
        assertEquals(PoolSnapshot.State.PENDING_FREE, blocks(pool, a[0]).get(0).state());
        s1.complete();
        long reuse = pool.allocate(3 * k, 512, s2);
        assertEquals(a[0], reuse, "once the second fence completes, s2 gets the merged block");

        pool.deallocate(a[3], k, 512, s2);
        pool.deallocate(a[4], k, 512, s1);
        pool.deallocate(a[5], k, 512, Stream.HOST);
        bl = blocks(pool, a[0]);
        assertEquals(List.of(3 * k, k, k, k, k, k), bl.stream().map(PoolSnapshot.Block::bytes).toList(),
                "blocks of different streams stay apart, and free-for-all does not merge with unfenced");
        assertEquals(List.of(s2.id(), s1.id()), List.of(bl.get(1).stream(), bl.get(2).stream()));
        assertEquals(PoolSnapshot.State.PENDING_FREE, bl.get(2).state());
        assertEquals(PoolSnapshot.State.FREE, bl.get(3).state(), "a host free is free for every stream");
        invariants.check(pool);

        pool.deallocate(reuse, 3 * k, 512, s2);
        pool.deallocate(a[6], k, 512, s1);
        pool.deallocate(a[7], k, 512, s1);
        pool.deallocate(other, 2 * MiB, 512, s2);
        pool.deallocate(x, k, 512, s2);
        invariants.check(pool);
        pool.trim();
        assertEquals(0, pool.statistics().reservedBytes().current());
    }

    @Test
    void trimWaitsOnlyWhereASegmentCouldGoBack() {
        CachingPool pool = simulatedPool(PoolSettings.defaults());
        ManualStream s1 = new ManualStream();
        ManualStream s2 = new ManualStream();
        long a = pool.allocate(4096, 256, s1);
        long b = pool.allocate(4096, 256, s1);
        long big = pool.allocate(30 * MiB, 256, s2);
        pool.deallocate(a, 4096, 256, s1);
        pool.deallocate(big, 30 * MiB, 256, s2);
        assertEquals(30 * MiB, pool.trim(), "s2's wholly free segment goes back after waiting for its fence");
        assertEquals(1, s2.recordedEvents());
        assertEquals(1, s2.completedEvents(), "trim waited for s2's fence");
        assertEquals(1, s1.recordedEvents(), "s1's block was fenced too");
        assertEquals(0, s1.completedEvents(), "but its segment holds b, so trim did not wait for s1");
        pool.deallocate(b, 4096, 256, s1);
        assertEquals(2 * MiB, pool.trim());
        assertEquals(2, s1.recordedEvents(), "the new free needed a new fence");
        assertEquals(0, device.usedBytes());
    }

    @Test
    void closeFencesUnfencedBlocksOfEveryStream() {
        CachingPool pool = simulatedPool(PoolSettings.defaults());
        ManualStream s1 = new ManualStream();
        ManualStream s2 = new ManualStream();
        long a = pool.allocate(4096, 256, s1);
        long b = pool.allocate(4096, 256, s1);
        long c = pool.allocate(12 * MiB, 256, s2);
        pool.deallocate(a, 4096, 256, s1);
        pool.deallocate(b, 4096, 256, s2);
        pool.deallocate(c, 12 * MiB, 256, s2);
        pool.close();
        assertTrue(pool.isClosed());
        assertEquals(1, s1.recordedEvents());
        assertEquals(1, s2.recordedEvents(), "one fence for both of s2's blocks");
        assertEquals(0, device.usedBytes());
    }

    @Test
    void releaseThresholdFencesOnlyAFreeThatEmptiesASegment() {
        CachingPool pool = simulatedPool(PoolSettings.builder().releaseThresholdBytes(0).build());
        ManualStream busy = new ManualStream();
        DoneStream done = new DoneStream();
        long a = pool.allocate(4096, 256, busy);
        long b = pool.allocate(4096, 256, busy);
        pool.deallocate(a, 4096, 256, busy);
        pool.deallocate(b, 4096, 256, busy);
        assertEquals(0, busy.recordedEvents(), "the segment's free rest is another block: no fence");
        // A request of at least minLargeAllocBytes gets a segment of its own, which its free empties.
        long big = pool.allocate(12 * MiB, 256, busy);
        pool.deallocate(big, 12 * MiB, 256, busy);
        assertEquals(1, busy.recordedEvents(), "a wholly free segment above the threshold: fence to check");
        assertEquals(14 * MiB, device.usedBytes(), "the busy stream has not passed the free: the segment stays");
        invariants.check(pool);
        busy.complete();
        assertEquals(14 * MiB, pool.trim());

        long c = pool.allocate(12 * MiB, 256, done);
        pool.deallocate(c, 12 * MiB, 256, done);
        assertEquals(1, done.records.get());
        assertEquals(0, device.usedBytes(), "a stream that has passed the free gives the segment back at once");
        long h = pool.allocate(12 * MiB, 256, Stream.HOST);
        pool.deallocate(h, 12 * MiB, 256, Stream.HOST);
        assertEquals(0, device.usedBytes(), "host frees need no fence");
    }

    @Test
    void exhaustionWaitsForTheFenceBeforeGivingUp() {
        SimulatedResource small = leaks.track(new SimulatedResource(4 * MiB));
        CachingPool pool = leaks.track(new CachingPool(small, PoolSettings.defaults()));
        ManualStream s1 = new ManualStream();
        ManualStream s2 = new ManualStream();
        long a = pool.allocate(MiB, 256, s1);
        long b = pool.allocate(MiB, 256, s1);
        long c = pool.allocate(MiB, 256, s1);
        long d = pool.allocate(MiB, 256, s1);
        assertEquals(4 * MiB, small.usedBytes());
        pool.deallocate(a, MiB, 256, s1);
        pool.deallocate(b, MiB, 256, s1);
        // s2 fences s1 (not complete yet), cannot grow, trims: the trim waits for the fence of the wholly free
        // segment and returns it, so the retry succeeds where giving up would be wrong.
        long e = pool.allocate(MiB, 256, s2);
        assertEquals(1, s1.recordedEvents(), "the trim found the block fenced already");
        assertEquals(1, s1.completedEvents(), "and waited for the fence");
        PoolStatistics st = invariants.check(pool);
        assertEquals(0, st.ooms());
        assertEquals(1, st.retries());
        pool.deallocate(e, MiB, 256, s2);
        pool.deallocate(c, MiB, 256, s1);
        pool.deallocate(d, MiB, 256, s1);
        pool.close();
        assertEquals(0, small.usedBytes());
    }

    /** Memory freed on {@code stream} when it had recorded {@code recordedAtFree} events. */
    private record Hazard(long start, long end, ManualStream stream, long recordedAtFree) {
        /** Whether an event recorded after the free has completed, so no use before the free is pending. */
        boolean passed() {
            return stream.completedEvents() > recordedAtFree;
        }
    }

    /**
     * Random allocations and frees on three manual streams and the host stream, against a model: memory freed on
     * stream S stays hazardous to other streams until an event recorded on S after the free completes. No allocation
     * on T may overlap a hazard of another stream; no allocation fences its own stream or fences any stream twice.
     */
    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = {1, 2, 3, 4, 5, 6})
    void randomMultiStreamUseNeverHandsOutMemoryAnotherStreamMayStillUse(long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        long capacity = (seed % 2 == 0 ? 64L : 24L) << 20;
        SimulatedResource dev = leaks.track(new SimulatedResource(capacity));
        List<Hazard> hazards = new ArrayList<>();
        // Returning memory to the upstream hands it to whoever allocates there next: no stream may still use it.
        MemoryResource upstream = new MemoryResource() {
            @Override
            public long allocate(long bytes, long alignment, Stream stream) {
                return dev.allocate(bytes, alignment, stream);
            }

            @Override
            public void deallocate(long address, long bytes, long alignment, Stream stream) {
                for (Hazard h : hazards) {
                    if (h.start < address + bytes && address < h.end && !h.passed()) {
                        fail(String.format("segment [0x%x, 0x%x) returned upstream while %s may still use "
                                + "[0x%x, 0x%x)", address, address + bytes, h.stream, h.start, h.end));
                    }
                }
                dev.deallocate(address, bytes, alignment, stream);
            }

            @Override
            public MemoryKind kind() {
                return dev.kind();
            }

            @Override
            public long capacityBytes() {
                return dev.capacityBytes();
            }
        };
        PoolSettings.Builder settings = PoolSettings.builder().name("streams-" + seed);
        if (seed % 3 == 0) {
            settings.maxSplitBytes(4 * MiB).releaseThresholdBytes(seed == 3 ? 0 : 8 * MiB);
        }
        CachingPool pool = leaks.track(new CachingPool(upstream, settings.build()));
        ManualStream[] manual = {new ManualStream(), new ManualStream(), new ManualStream()};
        record Live(long address, long bytes, Stream stream) {
        }
        List<Hazard> everFreed = new ArrayList<>();
        List<Live> live = new ArrayList<>();
        int ooms = 0;
        int crossReuses = 0;
        for (int step = 0; step < 3000; step++) {
            int op = rnd.nextInt(100);
            if (op < 50 || live.isEmpty()) {
                int si = rnd.nextInt(4);
                Stream t = si == 3 ? Stream.HOST : manual[si];
                long bytes = switch (rnd.nextInt(4)) {
                    case 0 -> 1 + rnd.nextInt(4096);
                    case 1 -> 1 + rnd.nextInt(256 * 1024);
                    case 2 -> 1 + rnd.nextInt(2 << 20);
                    default -> (1 << 20) + rnd.nextInt(8 << 20);
                };
                long[] before = new long[3];
                for (int i = 0; i < 3; i++) {
                    before[i] = manual[i].recordedEvents();
                }
                long retriesBefore = pool.statistics().retries();
                long address;
                try {
                    address = pool.allocate(bytes, 256, t);
                } catch (PoolOutOfMemoryException e) {
                    ooms++;
                    continue;
                }
                // Each pass fences a stream at most once; only the trim before a retry fences the allocating stream.
                boolean retried = pool.statistics().retries() != retriesBefore;
                for (int i = 0; i < 3; i++) {
                    long fences = manual[i].recordedEvents() - before[i];
                    long most = manual[i] == t ? (retried ? 1 : 0) : (retried ? 3 : 1);
                    assertTrue(fences <= most, "stream " + i + " fenced " + fences + " times by one allocation on "
                            + t + (retried ? " with a retry" : ""));
                }
                long end = address + bytes;
                for (Hazard h : hazards) {
                    if (h.stream != t && h.start < end && address < h.end) {
                        if (!h.passed()) {
                            fail(String.format("step %d: [0x%x, 0x%x) handed to %s while %s may still use "
                                            + "[0x%x, 0x%x) (freed after event %d, completed %d)", step, address,
                                    end, t, h.stream, h.start, h.end, h.recordedAtFree,
                                    h.stream.completedEvents()));
                        }
                    }
                }
                for (Hazard h : everFreed) {
                    if (h.stream != t && h.start < end && address < h.end) {
                        crossReuses++;
                        break;
                    }
                }
                live.add(new Live(address, bytes, t));
            } else if (op < 90) {
                Live l = live.remove(rnd.nextInt(live.size()));
                // Events recorded from here on come after the free (a free may fence its own stream).
                long recordedBefore = l.stream instanceof ManualStream m ? m.recordedEvents() : 0;
                pool.deallocate(l.address, l.bytes, 256, l.stream);
                if (l.stream instanceof ManualStream m) {
                    Hazard h = new Hazard(l.address, l.address + l.bytes, m, recordedBefore);
                    hazards.add(h);
                    everFreed.add(h);
                }
            } else if (op < 98) {
                ManualStream m = manual[rnd.nextInt(3)];
                long recorded = m.recordedEvents();
                long completed = m.completedEvents();
                if (recorded > completed) {
                    m.completeUpTo(completed + 1 + rnd.nextInt((int) (recorded - completed)));
                }
            } else {
                pool.trim();
            }
            hazards.removeIf(Hazard::passed);
            if (step % 10 == 0) {
                invariants.check(pool);
            }
        }
        invariants.check(pool);
        assertTrue(crossReuses > 0, "the test must exercise cross-stream reuse");
        for (Live l : live) {
            pool.deallocate(l.address, l.bytes, 256, l.stream);
        }
        pool.trim();
        assertEquals(0, dev.usedBytes(), "trim fenced and waited for every stream: " + ooms + " OOMs on the way");
    }
}
