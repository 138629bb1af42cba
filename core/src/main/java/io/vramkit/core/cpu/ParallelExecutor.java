package io.vramkit.core.cpu;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.RecursiveAction;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The one shared executor that parallel CPU kernels run on, so that kernels never oversubscribe the machine.
 *
 * <p>Its size is read once from the system property {@code vramkit.threads} (default: the number of available
 * processors). Work is split over index ranges and run by at most that many pool workers, named
 * {@code vramkit-cpu-0 .. n-1}; a caller outside the pool waits for them, and a caller inside it (a nested
 * {@link #parallelFor}) runs its range inline. With one thread there is no pool and the caller runs the range.
 * Thread-safe.
 */
public final class ParallelExecutor {

    /** Worker count, from {@code vramkit.threads}; read once. */
    public static final int THREADS = threads();

    private static final AtomicInteger WORKER_NAMES = new AtomicInteger();

    // At most THREADS workers: by default a ForkJoinPool adds spare threads while workers wait in joins, which put
    // three threads on two cores here and made memory-bound kernels run at either of two speeds from one JVM to the
    // next. The saturate predicate lets a join wait instead of failing when no spare may be added.
    private static final ForkJoinPool POOL = THREADS <= 1 ? null : new ForkJoinPool(THREADS,
            pool -> {
                var t = ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(pool);
                // the pool index is not assigned until the worker registers, so it cannot name the thread
                t.setName("vramkit-cpu-" + WORKER_NAMES.getAndIncrement());
                t.setDaemon(true);
                return t;
            }, null, false, THREADS, THREADS, 1, pool -> true, 60, TimeUnit.SECONDS);

    private ParallelExecutor() {
    }

    private static int threads() {
        String value = System.getProperty("vramkit.threads");
        if (value == null || value.isBlank()) {
            return Runtime.getRuntime().availableProcessors();
        }
        try {
            int n = Integer.parseInt(value.trim());
            if (n < 1) {
                throw new IllegalArgumentException("vramkit.threads must be >= 1, got " + n);
            }
            return n;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("vramkit.threads must be an integer, got '" + value + "'", e);
        }
    }

    /** A body over a half-open index range {@code [from, to)}. */
    @FunctionalInterface
    public interface RangeBody {
        /** Processes indices {@code from} (inclusive) to {@code to} (exclusive). */
        void run(int from, int to);
    }

    /**
     * Runs {@code body} over {@code [from, to)} split into chunks of at least {@code grain} indices, in parallel
     * when the range is large enough and more than one thread is configured. Returns when all chunks are done;
     * the first exception thrown by a chunk is rethrown.
     *
     * @throws IllegalArgumentException if {@code to < from} or {@code grain < 1}
     */
    public static void parallelFor(int from, int to, int grain, RangeBody body) {
        if (to < from) {
            throw new IllegalArgumentException("to (" + to + ") must be >= from (" + from + ")");
        }
        if (grain < 1) {
            throw new IllegalArgumentException("grain must be >= 1, got " + grain);
        }
        int n = to - from;
        if (POOL == null || n <= grain || ForkJoinTask.inForkJoinPool()) {
            if (n > 0) {
                body.run(from, to);
            }
            return;
        }
        int chunks = Math.min(THREADS * 4, (n + grain - 1) / grain);
        POOL.invoke(new Split(body, from, to, Math.max(grain, (n + chunks - 1) / chunks)));
    }

    private static final class Split extends RecursiveAction {
        private static final long serialVersionUID = 1L;
        private final transient RangeBody body;
        private final int from;
        private final int to;
        private final int grain;

        Split(RangeBody body, int from, int to, int grain) {
            this.body = body;
            this.from = from;
            this.to = to;
            this.grain = grain;
        }

        @Override
        protected void compute() {
            if (to - from <= grain) {
                body.run(from, to);
                return;
            }
            int mid = from + (to - from) / 2;
            invokeAll(new Split(body, from, mid, grain), new Split(body, mid, to, grain));
        }
    }
}
