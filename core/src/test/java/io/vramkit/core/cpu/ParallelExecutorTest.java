package io.vramkit.core.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicIntegerArray;
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
    void threadCountIsPositive() {
        assertTrue(ParallelExecutor.THREADS >= 1);
    }
}
