package io.vramkit.jmh.baseline;

import io.vramkit.core.cpu.ParallelExecutor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.concurrent.TimeUnit;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
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
 * Streaming read bandwidth of native memory through the Vector API on every thread of {@link ParallelExecutor}:
 * the hardware limit decode attention is held against. Sizes match the KV read of
 * {@code DecodeAttentionBenchmark} (a few MiB fit the caches; hundreds of MiB measure DRAM). Reported as
 * {@code bytes} per second.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class DecodeReadBandwidth {

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    /** Bytes read per invocation, in MiB. */
    @Param({"32", "256"})
    public int mib;

    private Arena arena;
    private MemorySegment data;

    /** Bytes read, as a rate. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Counters {
        /** Bytes read. */
        public long bytes;

        /** Resets the counter before each iteration. */
        @Setup(Level.Iteration)
        public void reset() {
            bytes = 0;
        }
    }

    /** Allocates and touches the buffer. */
    @Setup
    public void setup() {
        arena = Arena.ofShared();
        data = arena.allocate((long) mib << 20, 64);
        for (long i = 0; i < data.byteSize(); i += 4096) {
            data.set(java.lang.foreign.ValueLayout.JAVA_BYTE, i, (byte) i);
        }
    }

    /** Frees the buffer. */
    @TearDown
    public void tearDown() {
        arena.close();
    }

    /** Sums the whole buffer, split over the executor's threads. */
    @Benchmark
    public float read(Counters counters) {
        int parts = ParallelExecutor.THREADS * 8;
        long chunk = data.byteSize() / parts;
        float[] sums = new float[parts];
        ParallelExecutor.parallelFor(0, parts, 1, (from, to) -> {
            for (int p = from; p < to; p++) {
                sums[p] = sum(data, p * chunk, chunk);
            }
        });
        counters.bytes += chunk * parts;
        float s = 0;
        for (float f : sums) {
            s += f;
        }
        return s;
    }

    private static float sum(MemorySegment seg, long from, long bytes) {
        FloatVector a0 = FloatVector.zero(S);
        FloatVector a1 = a0;
        FloatVector a2 = a0;
        FloatVector a3 = a0;
        long step = S.vectorByteSize();
        long end = from + bytes - 4 * step;
        long i = from;
        for (; i <= end; i += 4 * step) {
            a0 = a0.add(FloatVector.fromMemorySegment(S, seg, i, ByteOrder.nativeOrder()));
            a1 = a1.add(FloatVector.fromMemorySegment(S, seg, i + step, ByteOrder.nativeOrder()));
            a2 = a2.add(FloatVector.fromMemorySegment(S, seg, i + 2 * step, ByteOrder.nativeOrder()));
            a3 = a3.add(FloatVector.fromMemorySegment(S, seg, i + 3 * step, ByteOrder.nativeOrder()));
        }
        return a0.add(a1).add(a2).add(a3).reduceLanes(VectorOperators.ADD);
    }
}
