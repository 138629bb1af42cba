package io.vramkit.core.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vramkit.core.testing.NoLeaksExtension;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Many threads allocate, write, check and free through one pool; a checker thread verifies invariants meanwhile. */
class CachingPoolConcurrencyTest {

    @RegisterExtension
    final NoLeaksExtension leaks = new NoLeaksExtension();

    @Test
    void concurrentAllocateAndFreeNeverShareOrLoseABlock() throws Exception {
        HostMemoryResource host = leaks.track(new HostMemoryResource(1L << 30));
        CachingPool pool = leaks.track(new CachingPool(host));
        int threads = 8;
        long deadline = System.nanoTime() + 1_500_000_000L;
        List<Throwable> failures = new CopyOnWriteArrayList<>();
        CountDownLatch start = new CountDownLatch(1);
        AtomicBoolean stop = new AtomicBoolean();
        List<Thread> workers = new ArrayList<>();
        long[] ops = new long[threads];
        long[] allocs = new long[threads];
        for (int t = 0; t < threads; t++) {
            int id = t;
            workers.add(Thread.ofPlatform().start(() -> {
                SplittableRandom rnd = new SplittableRandom(id);
                List<long[]> mine = new ArrayList<>();
                try {
                    start.await();
                    while (System.nanoTime() < deadline && failures.isEmpty()) {
                        if (mine.size() < 32 && (mine.isEmpty() || rnd.nextBoolean())) {
                            long bytes = rnd.nextInt(10) == 0 ? 1 + rnd.nextInt(8 << 20) : 1 + rnd.nextInt(65536);
                            long a = pool.allocate(bytes, 64, Stream.HOST);
                            long tag = ((long) id << 56) | (ops[id] & 0xffffffffL);
                            MemorySegment seg = MemorySegment.ofAddress(a).reinterpret(bytes);
                            seg.set(ValueLayout.JAVA_BYTE, 0, (byte) id);
                            seg.set(ValueLayout.JAVA_BYTE, bytes - 1, (byte) id);
                            if (bytes >= 16) {
                                seg.set(ValueLayout.JAVA_LONG_UNALIGNED, bytes / 2 - 4, tag);
                            }
                            mine.add(new long[] {a, bytes, tag});
                            allocs[id]++;
                        } else {
                            long[] l = mine.remove(rnd.nextInt(mine.size()));
                            check(l, id);
                            pool.deallocate(l[0], l[1], 64, Stream.HOST);
                        }
                        ops[id]++;
                    }
                    for (long[] l : mine) {
                        check(l, id);
                        pool.deallocate(l[0], l[1], 64, Stream.HOST);
                    }
                } catch (Throwable e) {
                    failures.add(e);
                }
            }));
        }
        Thread checker = Thread.ofPlatform().start(() -> {
            try {
                start.await();
                while (!stop.get()) {
                    PoolStatistics s = pool.statistics();
                    assertEquals(s.reservedBytes().current(), s.allocatedBytes().current() + s.freeBytes());
                    if (Math.floorMod(s.allocatedCount().total(), 7) == 0) {
                        pool.trim();
                    }
                    Thread.sleep(5);
                }
            } catch (Throwable e) {
                failures.add(e);
            }
        });
        start.countDown();
        for (Thread w : workers) {
            w.join();
        }
        stop.set(true);
        checker.join();
        if (!failures.isEmpty()) {
            throw new AssertionError("concurrent failure", failures.getFirst());
        }
        PoolStatistics s = new PoolInvariants().check(pool);
        assertEquals(0, s.allocatedBytes().current());
        assertEquals(0, pool.liveAllocationCount());
        long totalOps = 0;
        long totalAllocs = 0;
        for (int t = 0; t < threads; t++) {
            totalOps += ops[t];
            totalAllocs += allocs[t];
        }
        assertEquals(totalAllocs, s.allocatedCount().total(), "every allocation was counted once");
        assertTrue(totalOps > 1000, "threads made progress: " + totalOps);
    }

    private static void check(long[] l, int id) {
        MemorySegment seg = MemorySegment.ofAddress(l[0]).reinterpret(l[1]);
        assertEquals((byte) id, seg.get(ValueLayout.JAVA_BYTE, 0), "first byte of a block owned by thread " + id);
        assertEquals((byte) id, seg.get(ValueLayout.JAVA_BYTE, l[1] - 1), "last byte");
        if (l[1] >= 16) {
            assertEquals(l[2], seg.get(ValueLayout.JAVA_LONG_UNALIGNED, l[1] / 2 - 4), "middle tag");
        }
    }
}
