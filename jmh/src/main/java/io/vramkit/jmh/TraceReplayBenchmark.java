package io.vramkit.jmh;

import io.vramkit.core.memory.CachingPool;
import io.vramkit.core.memory.MemoryResource;
import io.vramkit.core.memory.PoolSettings;
import io.vramkit.core.trace.LlmServingTraceGenerator;
import io.vramkit.core.trace.ReplayReport;
import io.vramkit.core.trace.Trace;
import io.vramkit.core.trace.TraceReplayer;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Replays the generated LLM-serving trace (200 requests, about 57,000 events, 3.2 GiB peak) over a simulated 80 GiB
 * device, through the caching pool ({@code pool}, and {@code pool-release256} with a 256 MiB release threshold) and
 * straight to the device with no pooling ({@code none}). The
 * score is the replay time; the memory figures come as auxiliary counters: {@code reservedPerAllocatedMilli} is peak
 * reserved / peak allocated × 1000 (target ≤ 1100 for the pool), {@code upstreamAllocations} the calls that reached
 * the device. Both are fixed by the seed, so every invocation reports the same values. The trial also prints them.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class TraceReplayBenchmark {

    /** {@code pool}: default settings; {@code pool-release256}: releaseThresholdBytes 256 MiB; {@code none}. */
    @Param({"pool", "pool-release256", "none"})
    public String resource;

    @Param({"false", "true"})
    public boolean reallocKv;

    Trace trace;
    ReplayReport last;

    /** The memory figures of the last replay, per invocation. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.EVENTS)
    public static class Memory {
        /** Peak reserved / peak allocated, times 1000, summed over the iteration's invocations. */
        public long reservedPerAllocatedMilli;
        /** Device allocations of one replay, summed over the iteration's invocations. */
        public long upstreamAllocations;
        /** Replays in the iteration; divide the sums above by it. */
        public long replays;

        @Setup(Level.Iteration)
        public void clear() {
            reservedPerAllocatedMilli = 0;
            upstreamAllocations = 0;
            replays = 0;
        }
    }

    @Setup(Level.Trial)
    public void setup() {
        trace = LlmServingTraceGenerator.defaults(42).withReallocatedKv(reallocKv).generate();
    }

    @Benchmark
    public ReplayReport replay(Memory m) {
        Function<MemoryResource, MemoryResource> build = switch (resource) {
            case "pool" -> CachingPool::new;
            case "pool-release256" -> up -> new CachingPool(up,
                    PoolSettings.builder().releaseThresholdBytes(256L << 20).build());
            default -> Function.identity();
        };
        ReplayReport r = TraceReplayer.replay(trace, resource, 80L << 30, build);
        m.reservedPerAllocatedMilli += Math.round(r.reservedToAllocatedRatio() * 1000);
        m.upstreamAllocations += r.upstreamAllocations();
        m.replays++;
        last = r;
        return r;
    }

    @TearDown(Level.Trial)
    public void report() {
        if (last != null) {
            System.out.printf(Locale.ROOT, "%n[TraceReplayBenchmark] %s, reallocKv=%s: peak allocated %d bytes, "
                            + "peak reserved %d bytes, ratio %.4f, upstream allocations %d, failed %d%n", resource,
                    reallocKv, last.peakAllocatedBytes(), last.peakReservedBytes(), last.reservedToAllocatedRatio(),
                    last.upstreamAllocations(), last.failedAllocations());
        }
    }
}
