package io.vramkit.core.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class ParallelExecutorTest {

    @Test
    void everyIndexRunsExactlyOnce() {
        SplittableRandom random = new SplittableRandom(7);
        for (int trial = 0; trial < 50; trial++) {
            int from = random.nextInt(0, 100);
            int to = from + random.nextInt(0, 5000);
            int grain = random.nextInt(1, 300);
            AtomicIntegerArray hits = new AtomicIntegerArray(to + 1);
            ParallelExecutor.parallelFor(from, to, grain, (a, b) -> {
                assertTrue(a >= from && b <= to && a < b, "chunk [" + a + ", " + b + ") outside range");
                for (int i = a; i < b; i++) {
                    hits.incrementAndGet(i);
                }
            });
            for (int i = 0; i <= to; i++) {
                assertEquals(i >= from && i < to ? 1 : 0, hits.get(i), "index " + i);
            }
        }
    }

    @Test
    void emptyRangeRunsNothing() {
        ParallelExecutor.parallelFor(5, 5, 1, (a, b) -> {
            throw new AssertionError("must not run");
        });
    }

    @Test
    void chunkExceptionPropagates() {
        var e = assertThrows(IllegalStateException.class, () -> ParallelExecutor.parallelFor(0, 10_000, 10, (a, b) -> {
            if (a <= 5000 && 5000 < b) {
                throw new IllegalStateException("boom at 5000");
            }
        }));
        assertTrue(e.getMessage().contains("boom"));
    }

    @Test
    void nestedCallsDoNotDeadlock() {
        AtomicIntegerArray hits = new AtomicIntegerArray(64 * 64);
        ParallelExecutor.parallelFor(0, 64, 1, (a, b) -> {
            for (int i = a; i < b; i++) {
                int row = i;
                ParallelExecutor.parallelFor(0, 64, 1, (c, d) -> {
                    for (int j = c; j < d; j++) {
                        hits.incrementAndGet(row * 64 + j);
                    }
                });
            }
        });
        for (int i = 0; i < hits.length(); i++) {
            assertEquals(1, hits.get(i));
        }
    }

    @Test
    void badArgumentsAreNamed() {
        var e1 = assertThrows(IllegalArgumentException.class, () -> ParallelExecutor.parallelFor(5, 4, 1, (a, b) -> { }));
        assertTrue(e1.getMessage().contains("to (4)"), e1.getMessage());
        var e2 = assertThrows(IllegalArgumentException.class, () -> ParallelExecutor.parallelFor(0, 4, 0, (a, b) -> { }));
        assertTrue(e2.getMessage().contains("grain"), e2.getMessage());
    }

    @Test
    void theFailingChunksOwnExceptionIsRethrownAndThePoolStaysUsable() {
        IllegalStateException thrown = new IllegalStateException("chunk 3 failed");
        AtomicInteger ran = new AtomicInteger();
        var e = assertThrows(IllegalStateException.class, () -> ParallelExecutor.parallelFor(0, 64, 1, (a, b) -> {
            ran.addAndGet(b - a);
            if (a <= 3 && 3 < b) {
                throw thrown;
            }
        }));
        assertTrue(e == thrown, "the chunk's exception itself, not a copy: " + e);
        assertEquals(64, ran.get(), "the other chunks still run");
        var error = assertThrows(AssertionError.class, () -> ParallelExecutor.parallelFor(0, 64, 1, (a, b) -> {
            throw new AssertionError("an error passes through as is");
        }));
        assertTrue(error.getMessage().contains("as is"));
        AtomicIntegerArray hits = new AtomicIntegerArray(1000);
        ParallelExecutor.parallelFor(0, 1000, 7, (a, b) -> {
            for (int i = a; i < b; i++) {
                hits.incrementAndGet(i);
            }
        });
        for (int i = 0; i < 1000; i++) {
            assertEquals(1, hits.get(i), "after failures, index " + i);
        }
    }

    @Test
    void chunksRunOnTheCallerAndNamedWorkersAtMostThreadsAtATime() {
        Set<String> names = ConcurrentHashMap.newKeySet();
        AtomicInteger running = new AtomicInteger();
        AtomicInteger most = new AtomicInteger();
        String caller = Thread.currentThread().getName();
        for (int trial = 0; trial < 20; trial++) {
            ParallelExecutor.parallelFor(0, 256, 1, (a, b) -> {
                most.accumulateAndGet(running.incrementAndGet(), Math::max);
                names.add(Thread.currentThread().getName());
                long until = System.nanoTime() + 20_000;
                while (System.nanoTime() < until) {
                    Thread.onSpinWait();
                }
                running.decrementAndGet();
            });
        }
        assertTrue(most.get() <= ParallelExecutor.THREADS, "at most " + ParallelExecutor.THREADS + " at once, saw "
                + most.get());
        for (String name : names) {
            assertTrue(name.equals(caller) || name.matches("vramkit-cpu-[1-9][0-9]*"), "chunk ran on " + name);
        }
    }

    @Test
    void concurrentCallersEachGetEveryIndexOnce() throws Exception {
        int callers = 4;
        int n = 20_000;
        CountDownLatch start = new CountDownLatch(1);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < callers; t++) {
            Thread th = new Thread(() -> {
                try {
                    start.await();
                    for (int round = 0; round < 30; round++) {
                        AtomicIntegerArray hits = new AtomicIntegerArray(n);
                        ParallelExecutor.parallelFor(0, n, 16, (a, b) -> {
                            for (int i = a; i < b; i++) {
                                hits.incrementAndGet(i);
                            }
                        });
                        for (int i = 0; i < n; i++) {
                            if (hits.get(i) != 1) {
                                throw new AssertionError("round " + round + " index " + i + " ran " + hits.get(i));
                            }
                        }
                    }
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                }
            });
            th.start();
            threads.add(th);
        }
        start.countDown();
        for (Thread th : threads) {
            th.join(60_000);
            assertTrue(!th.isAlive(), "a caller did not finish");
        }
        if (failure.get() != null) {
            throw new AssertionError(failure.get());
        }
    }

    @Test
    void threadCountIsPositive() {
        assertTrue(ParallelExecutor.THREADS >= 1);
    }
}
