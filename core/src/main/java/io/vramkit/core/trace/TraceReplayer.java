package io.vramkit.core.trace;

import io.vramkit.core.memory.CachingPool;
import io.vramkit.core.memory.MemoryResource;
import io.vramkit.core.memory.OutOfMemoryException;
import io.vramkit.core.memory.PoolSnapshot;
import io.vramkit.core.memory.SimulatedResource;
import io.vramkit.core.memory.Stream;
import io.vramkit.core.memory.StreamEvent;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * Replays a {@link Trace} against any {@link MemoryResource} built over a {@link SimulatedResource} of fixed capacity,
 * so a trace of many GiB needs no real memory. Events run in trace order on the calling thread; trace stream ids map
 * to replay streams whose work completes at once (id 0 is {@link Stream#HOST}).
 *
 * <p>An allocation the resource refuses counts as failed, and the trace's later free of it is skipped. Whatever is
 * still live at the end is freed, and a {@link CachingPool} is closed, so the simulated device ends empty.
 * Stateless; each call is independent and thread-safe.
 */
public final class TraceReplayer {

    /** The alignment each replayed allocation asks for: 256 bytes, as cudaMalloc guarantees. */
    public static final long ALIGNMENT = 256;

    private TraceReplayer() {
    }

    /**
     * Replays {@code trace}.
     *
     * @param trace         the events
     * @param name          a name for the resource, used in the report
     * @param capacityBytes the simulated device's capacity, positive
     * @param resource      builds the resource under test over the simulated device; return the argument itself for
     *                      no pooling
     * @return the report; its peak snapshot is taken when {@code resource} returns a {@link CachingPool}
     * @throws TraceFormatException     if the trace frees an address that is not live, or allocates a live one again,
     *                                  naming the line
     * @throws IllegalArgumentException if an argument is null or capacityBytes is not positive
     */
    public static ReplayReport replay(Trace trace, String name, long capacityBytes,
                                      Function<MemoryResource, MemoryResource> resource) {
        if (trace == null || name == null || resource == null) {
            throw new IllegalArgumentException("trace, name and resource must not be null");
        }
        SimulatedResource device = new SimulatedResource(capacityBytes);
        MemoryResource r = resource.apply(device);
        CachingPool pool = r instanceof CachingPool p ? p : null;
        Map<Long, Stream> streams = new HashMap<>();
        Map<Long, long[]> live = new HashMap<>();
        Set<Long> failed = new HashSet<>();
        long start = System.nanoTime();
        long allocations = 0;
        long frees = 0;
        long failedCount = 0;
        long liveBytes = 0;
        long peakAllocated = 0;
        long peakReserved = 0;
        PoolSnapshot peakSnapshot = null;
        List<TraceEvent> events = trace.events();
        for (int i = 0; i < events.size(); i++) {
            TraceEvent e = events.get(i);
            Stream stream = streams.computeIfAbsent(e.stream(), ReplayStream::of);
            switch (e.action()) {
                case ALLOCATE -> {
                    if (live.containsKey(e.address())) {
                        throw new TraceFormatException(trace.lineOf(i), String.format(
                                "allocate of 0x%x, which is already live", e.address()));
                    }
                    allocations++;
                    failed.remove(e.address());
                    try {
                        long a = r.allocate(e.bytes(), ALIGNMENT, stream);
                        live.put(e.address(), new long[] {a, e.bytes()});
                        liveBytes += e.bytes();
                        peakAllocated = Math.max(peakAllocated, liveBytes);
                        long used = device.usedBytes();
                        if (used > peakReserved) {
                            peakReserved = used;
                            if (pool != null) {
                                peakSnapshot = pool.snapshot();
                            }
                        }
                    } catch (OutOfMemoryException oom) {
                        failedCount++;
                        failed.add(e.address());
                    }
                }
                case FREE -> {
                    long[] a = live.remove(e.address());
                    if (a == null) {
                        if (failed.remove(e.address())) {
                            continue;
                        }
                        throw new TraceFormatException(trace.lineOf(i), String.format(
                                "free of 0x%x, which is not live (never allocated, or already freed)", e.address()));
                    }
                    if (a[1] != e.bytes()) {
                        throw new TraceFormatException(trace.lineOf(i), String.format(
                                "free of 0x%x with Size %d, but it was allocated with %d", e.address(), e.bytes(),
                                a[1]));
                    }
                    r.deallocate(a[0], a[1], ALIGNMENT, stream);
                    liveBytes -= a[1];
                    frees++;
                }
                case ALLOCATE_FAILURE -> {
                    // Recorded failures are not replayed: the replayed resource decides for itself.
                }
            }
        }
        long elapsed = System.nanoTime() - start;
        List<Map.Entry<Long, long[]>> left = new ArrayList<>(live.entrySet());
        for (Map.Entry<Long, long[]> en : left) {
            r.deallocate(en.getValue()[0], en.getValue()[1], ALIGNMENT, Stream.HOST);
        }
        long upstreamAllocations = device.allocationCount();
        if (pool != null) {
            pool.close();
        }
        return new ReplayReport(name, events.size(), allocations, frees, failedCount, peakAllocated,
                Math.max(peakReserved, device.peakBytes()), capacityBytes, upstreamAllocations, elapsed,
                peakSnapshot);
    }

    /** A replay stream: its work is done at once, so its events are complete when recorded. */
    private record ReplayStream(long id) implements Stream {
        private static final StreamEvent DONE = new StreamEvent() {
            @Override
            public boolean isComplete() {
                return true;
            }

            @Override
            public void synchronize() {
            }
        };

        static Stream of(long id) {
            return id == 0 ? Stream.HOST : new ReplayStream(id);
        }

        @Override
        public StreamEvent record() {
            return DONE;
        }

        @Override
        public void synchronize() {
        }
    }
}
