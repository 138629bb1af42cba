package io.vramkit.jmh.baseline;

import io.vramkit.core.cpu.ParallelExecutor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.DoubleAdder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * The hardware limit for weight-streaming kernels: a streaming read of off-heap memory, split over the same shared
 * {@link ParallelExecutor} the kernels use, summing floats with the Vector API so that the loads, not the
 * arithmetic, bound it. {@link #read} is the reusable baseline (the quantized GEMV and the paged-decode benchmarks
 * call it on a buffer the size of their own working set, in the same run); the {@code @Benchmark} here measures it
 * alone for a range of sizes.
 *
 * <p>Buffers rotate over at least {@value #MIN_FOOTPRINT_MIB} MiB in total so that reads come from DRAM, not from
 * the last-level cache. The {@code bytes} counter reports bytes read per second.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class MemoryBandwidth {

    /** Smallest total footprint of the rotating buffers, in MiB. */
    public static final int MIN_FOOTPRINT_MIB = 512;

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    /** Size of one buffer in MiB. */
    @Param({"8", "64"})
    public int mib;

    private Arena arena;
    private MemorySegment[] buffers;
    private int next;

    /** Bytes read, reported as a rate. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Counters {
        /** Bytes read so far in this iteration. */
        public long bytes;

        /** Resets per iteration. */
        @Setup(Level.Iteration)
        public void reset() {
            bytes = 0;
        }
    }

    /** Allocates and fills the rotating buffers. */
    @Setup(Level.Trial)
    public void setup() {
        arena = Arena.ofShared();
        buffers = rotatingBuffers(arena, (long) mib << 20);
    }

    /** Frees the buffers. */
    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
    }

    /** One streaming read of one buffer. */
    @Benchmark
    public double read(Counters c) {
        MemorySegment s = buffers[next];
        next = (next + 1) % buffers.length;
        c.bytes += s.byteSize();
        return read(s);
    }

    /**
     * Allocates enough buffers of {@code bytes} each to cover {@link #MIN_FOOTPRINT_MIB} MiB, filled with small
     * floats.
     *
     * @param arena owner of the buffers
     * @param bytes size of each buffer, a multiple of 64
     * @return the buffers
     */
    public static MemorySegment[] rotatingBuffers(Arena arena, long bytes) {
        int n = (int) Math.max(2, ((long) MIN_FOOTPRINT_MIB << 20) / bytes + 1);
        MemorySegment[] out = new MemorySegment[n];
        for (int i = 0; i < n; i++) {
            out[i] = arena.allocate(bytes, 64);
            for (long o = 0; o < bytes; o += 4) {
                out[i].set(ValueLayout.JAVA_FLOAT_UNALIGNED, o, (o & 255) * 1e-3f);
            }
        }
        return out;
    }

    /**
     * Reads every byte of {@code s} once, in parallel on the shared executor, and returns the float sum (so the
     * JIT cannot drop the loads).
     *
     * @param s a segment whose size is a multiple of 4
     * @return the sum of its floats
     */
    public static double read(MemorySegment s) {
        long floats = s.byteSize() / 4;
        int chunk = 1 << 16;
        int chunks = (int) ((floats + chunk - 1) / chunk);
        DoubleAdder total = new DoubleAdder();
        ParallelExecutor.parallelFor(0, chunks, 1, (c0, c1) -> {
            FloatVector a0 = FloatVector.zero(F);
            FloatVector a1 = FloatVector.zero(F);
            float tail = 0f;
            int l = F.length();
            for (int c = c0; c < c1; c++) {
                long from = (long) c * chunk;
                long to = Math.min(floats, from + chunk);
                long i = from;
                for (; i + 2L * l <= to; i += 2L * l) {
                    a0 = a0.add(FloatVector.fromMemorySegment(F, s, i * 4, ByteOrder.nativeOrder()));
                    a1 = a1.add(FloatVector.fromMemorySegment(F, s, (i + l) * 4, ByteOrder.nativeOrder()));
                }
                for (; i < to; i++) {
                    tail += s.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i);
                }
            }
            total.add(a0.add(a1).reduceLanes(VectorOperators.ADD) + tail);
        });
        return total.sum();
    }
}
