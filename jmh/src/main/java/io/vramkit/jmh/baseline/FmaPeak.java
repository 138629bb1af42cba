package io.vramkit.jmh.baseline;

import io.vramkit.core.cpu.ParallelExecutor;
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
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The FP32 FMA peak of this machine, as attention kernels can reach it: Vector API FMAs of the preferred width on
 * twelve independent accumulators (enough to hide FMA latency), in registers, on every thread of the shared
 * {@link ParallelExecutor}. Reported as {@code flops} per second (one FMA = 2 flops); attention benchmarks divide
 * their own flop rate by it.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
public class FmaPeak {

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int ITERATIONS = 1 << 20;

    /** Flops done, as a rate. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Counters {
        /** Floating-point operations. */
        public long flops;

        /** Resets the counter before each iteration. */
        @Setup(Level.Iteration)
        public void reset() {
            flops = 0;
        }
    }

    private float seed = 1.0001f;

    /** Runs {@code ITERATIONS} rounds of 12 vector FMAs on each thread; returns a value so nothing is dead code. */
    @Benchmark
    public float fma(Counters counters) {
        float[] out = new float[ParallelExecutor.THREADS];
        ParallelExecutor.parallelFor(0, ParallelExecutor.THREADS, 1, (from, to) -> {
            for (int t = from; t < to; t++) {
                out[t] = kernel(seed + t);
            }
        });
        counters.flops += 2L * 12 * S.length() * ITERATIONS * ParallelExecutor.THREADS;
        float s = 0;
        for (float f : out) {
            s += f;
        }
        return s;
    }

    private static float kernel(float x) {
        FloatVector m = FloatVector.broadcast(S, 0.9999f);
        FloatVector c = FloatVector.broadcast(S, 1e-7f);
        FloatVector a0 = FloatVector.broadcast(S, x);
        FloatVector a1 = a0.add(1f);
        FloatVector a2 = a0.add(2f);
        FloatVector a3 = a0.add(3f);
        FloatVector a4 = a0.add(4f);
        FloatVector a5 = a0.add(5f);
        FloatVector a6 = a0.add(6f);
        FloatVector a7 = a0.add(7f);
        FloatVector a8 = a0.add(8f);
        FloatVector a9 = a0.add(9f);
        FloatVector a10 = a0.add(10f);
        FloatVector a11 = a0.add(11f);
        for (int i = 0; i < ITERATIONS; i++) {
            a0 = a0.fma(m, c);
            a1 = a1.fma(m, c);
            a2 = a2.fma(m, c);
            a3 = a3.fma(m, c);
            a4 = a4.fma(m, c);
            a5 = a5.fma(m, c);
            a6 = a6.fma(m, c);
            a7 = a7.fma(m, c);
            a8 = a8.fma(m, c);
            a9 = a9.fma(m, c);
            a10 = a10.fma(m, c);
            a11 = a11.fma(m, c);
        }
        return a0.add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).add(a8).add(a9).add(a10).add(a11)
                .reduceLanes(VectorOperators.ADD);
    }
}
