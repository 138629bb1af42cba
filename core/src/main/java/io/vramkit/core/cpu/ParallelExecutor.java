package io.vramkit.core.cpu;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

/**
 * The one shared executor that parallel CPU kernels run on, so that kernels never oversubscribe the machine.
 *
 * <p>Its size is read once from the system property {@code vramkit.threads} (default: the number of available
 * processors). A {@link #parallelFor} splits its range into chunks that the calling thread and {@code threads − 1}
 * pool workers (daemon threads named {@code vramkit-cpu-1 .. n-1}) claim one at a time, so at most
 * {@code vramkit.threads} threads run chunks. The pool runs one range at a time: a nested call (from inside a chunk)
 * and a call made while another thread's range is running both run their range inline on the calling thread.
 * With one thread there is no pool.
 *
 * <p>Workers wait for the next range by spinning for {@code vramkit.spinMicros} microseconds (default
 * {@value #DEFAULT_SPIN_MICROS}; read once) and then parking. Kernels are called back to back (a layer's GEMVs,
 * attention per layer), and waking a parked thread costs tens of microseconds on a virtual machine (measured here:
 * a 16-token paged decode took 50 µs on two threads with a parking pool, 9 µs on one), which is longer than many
 * whole kernel calls; the caller spins the same way while it waits for the last chunk. Set
 * {@code vramkit.spinMicros=0} to park at once, which gives idle cores back sooner at that cost.
 *
 * <p>Thread-safe.
 */
public final class ParallelExecutor {

    /** Worker count, from {@code vramkit.threads}; read once. */
    public static final int THREADS = threads();

    /** Default of {@code vramkit.spinMicros}. */
    public static final int DEFAULT_SPIN_MICROS = 200;

    private static final long SPIN_NANOS = spinMicros() * 1000L;

    private static final Pool POOL = THREADS <= 1 ? null : new Pool(THREADS - 1);

    private ParallelExecutor() {
    }

    private static int threads() {
        return intProperty("vramkit.threads", Runtime.getRuntime().availableProcessors(), 1);
    }

    private static int spinMicros() {
        return intProperty("vramkit.spinMicros", DEFAULT_SPIN_MICROS, 0);
    }

    /** The integer system property {@code name}, {@code fallback} when unset; rejects values below {@code min}. */
    private static int intProperty(String name, int fallback, int min) {
        String value = System.getProperty(name);
        if (value == null || value.isBlank()) {
            return fallback;
        }
        try {
            int n = Integer.parseInt(value.trim());
            if (n < min) {
                throw new IllegalArgumentException(name + " must be >= " + min + ", got " + n);
            }
            return n;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(name + " must be an integer, got '" + value + "'", e);
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
     * when the range is large enough, more than one thread is configured and the pool is free. Returns when all
     * chunks are done; the first exception thrown by a chunk is rethrown (the other chunks still run).
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
        if (n == 0) {
            return;
        }
        if (POOL == null || n <= grain || Thread.currentThread() instanceof Worker
                || !POOL.run(from, to, Math.max(grain, (n + THREADS * 4 - 1) / (THREADS * 4)), body)) {
            body.run(from, to);
        }
    }

    /** A pool worker; nested ranges on it run inline. */
    private static final class Worker extends Thread {
        private final Pool pool;
        /** Set while parked (or about to park), so that a new range unparks it. */
        volatile boolean parked;

        Worker(Pool pool, int index) {
            super("vramkit-cpu-" + index);
            this.pool = pool;
            setDaemon(true);
        }

        @Override
        public void run() {
            Job seen = null;
            while (true) {
                Job j = pool.job;
                if (j != null && j != seen) {
                    seen = j;
                    j.work();
                    continue;
                }
                long start = System.nanoTime();
                while ((j = pool.job) == null || j == seen) {
                    if (System.nanoTime() - start >= SPIN_NANOS) {
                        parked = true;
                        // re-checked after publishing 'parked': a range started in between either sees the flag
                        // or is seen here
                        while ((j = pool.job) == null || j == seen) {
                            LockSupport.park(this);
                        }
                        parked = false;
                        break;
                    }
                    Thread.onSpinWait();
                }
            }
        }
    }

    /** One range: chunks are claimed from {@code next}; the caller waits until {@code pending} is zero. */
    private static final class Job {
        private final int from;
        private final int to;
        private final int chunk;
        private final int count;
        /** Cleared when the range is done, so that idle workers do not keep what the body captured. */
        private volatile RangeBody body;
        private final AtomicInteger next = new AtomicInteger();
        private final AtomicInteger pending;
        private final AtomicReference<Throwable> failure = new AtomicReference<>();
        private volatile Thread waiter;

        Job(int from, int to, int chunk, RangeBody body) {
            this.from = from;
            this.to = to;
            this.chunk = chunk;
            this.count = (int) (((long) to - from + chunk - 1) / chunk);
            this.body = body;
            this.pending = new AtomicInteger(count);
        }

        /** Claims and runs chunks until none is left; a worker that comes late to a finished job claims none. */
        void work() {
            for (int c = next.getAndIncrement(); c < count; c = next.getAndIncrement()) {
                int a = from + c * chunk;
                try {
                    body.run(a, (int) Math.min((long) a + chunk, to));
                } catch (Throwable t) {
                    failure.compareAndSet(null, t);
                }
                if (pending.decrementAndGet() == 0) {
                    Thread w = waiter;
                    if (w != null) {
                        LockSupport.unpark(w);
                    }
                }
            }
        }

        /** Waits (spinning, then parked) until every chunk has run. */
        void await() {
            long start = System.nanoTime();
            while (pending.get() != 0) {
                if (System.nanoTime() - start >= SPIN_NANOS) {
                    waiter = Thread.currentThread();
                    while (pending.get() != 0) {
                        LockSupport.park(this);
                    }
                    waiter = null;
                    return;
                }
                Thread.onSpinWait();
            }
        }
    }

    /** The workers and the one range they share at a time. */
    private static final class Pool {
        private final Worker[] workers;
        private final AtomicBoolean busy = new AtomicBoolean();
        /** The running range, or {@code null} between ranges. */
        volatile Job job;

        Pool(int size) {
            workers = new Worker[size];
            for (int i = 0; i < size; i++) {
                workers[i] = new Worker(this, i + 1);
                workers[i].start();
            }
        }

        /** Runs the range with the workers; false (nothing run) when another range holds the pool. */
        boolean run(int from, int to, int chunk, RangeBody body) {
            if (!busy.compareAndSet(false, true)) {
                return false;
            }
            Job j = new Job(from, to, chunk, body);
            try {
                job = j;
                for (Worker w : workers) {
                    if (w.parked) {
                        LockSupport.unpark(w);
                    }
                }
                j.work();
                j.await();
            } finally {
                job = null;
                j.body = null;
                busy.set(false);
            }
            Throwable t = j.failure.get();
            if (t instanceof RuntimeException e) {
                throw e;
            }
            if (t instanceof Error e) {
                throw e;
            }
            if (t != null) {
                // a checked exception thrown sneakily by a body
                throw new IllegalStateException("a parallelFor chunk failed", t);
            }
            return true;
        }
    }
}
