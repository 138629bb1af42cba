package io.vramkit.jmh;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.vramkit.core.memory.CachingPool;
import io.vramkit.core.memory.HostMemoryResource;
import io.vramkit.core.memory.Stream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
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
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * Allocate-then-free pairs over a fixed, seeded mix of sizes from 64 bytes to 16 MiB (log-uniform, so every power of
 * two is equally likely), with 1 and 2 threads sharing one allocator:
 *
 * <ul>
 *   <li>{@code vramkit}: a {@link CachingPool} over {@link HostMemoryResource} (raw {@code allocate}/{@code
 *       deallocate}, 64-byte alignment);</li>
 *   <li>{@code arena}: a JDK {@code Arena.ofConfined()} per pair, {@code allocate} then {@code close} (the JDK
 *       zeroes what it allocates, as it must);</li>
 *   <li>{@code netty}: Netty's {@code PooledByteBufAllocator} direct buffers, {@code directBuffer} then
 *       {@code release}.</li>
 * </ul>
 *
 * Throughput is pairs per second; compare {@code vramkit} against the others from the same run. {@code mix=full} is
 * the mix (64 B to 16 MiB); {@code mix=small} (64 B to 64 KiB) shows the regime where Netty's thread-local
 * caches are at their best.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 2)
// Netty's sampled leak detector is off, as vramkit's raw allocate/deallocate path has none: allocator against allocator.
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
    "-Dio.netty.leakDetection.level=disabled"})
public class PoolBenchmark {

    /** Sizes in the mix; a power of two so a thread can wrap its index with a mask. */
    static final int MIX = 4096;

    @Param({"vramkit", "arena", "netty"})
    public String impl;

    @Param({"full", "small"})
    public String mix;

    long[] sizes;
    HostMemoryResource host;
    CachingPool pool;
    PooledByteBufAllocator netty;

    /** Each thread walks the mix from its own offset. */
    @State(Scope.Thread)
    public static class Cursor {
        int next;

        @Setup
        public void setup() {
            next = (int) (Thread.currentThread().threadId() * 977) & (MIX - 1);
        }
    }

    @Setup(Level.Trial)
    public void setup() {
        SplittableRandom rnd = new SplittableRandom(2026);
        sizes = new long[MIX];
        double octaves = mix.equals("small") ? 10 : 18;
        for (int i = 0; i < MIX; i++) {
            // log-uniform from 2^6 = 64 B to 2^24 = 16 MiB (full) or 2^16 = 64 KiB (small)
            sizes[i] = (long) Math.pow(2, 6 + rnd.nextDouble() * octaves);
        }
        host = new HostMemoryResource();
        pool = new CachingPool(host);
        netty = new PooledByteBufAllocator(true);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        pool.close();
    }

    private long pair(Cursor c, Blackhole bh) {
        long size = sizes[c.next];
        c.next = (c.next + 1) & (MIX - 1);
        switch (impl) {
            case "vramkit" -> {
                long a = pool.allocate(size, 64, Stream.HOST);
                bh.consume(a);
                pool.deallocate(a, size, 64, Stream.HOST);
            }
            case "arena" -> {
                try (Arena arena = Arena.ofConfined()) {
                    MemorySegment s = arena.allocate(size, 64);
                    bh.consume(s);
                }
            }
            case "netty" -> {
                ByteBuf b = netty.directBuffer((int) size, (int) size);
                bh.consume(b);
                b.release();
            }
            default -> throw new IllegalStateException("unknown impl " + impl);
        }
        return size;
    }

    /** One allocate+free pair on one thread. */
    @Benchmark
    @Threads(1)
    public long allocFree1Thread(Cursor c, Blackhole bh) {
        return pair(c, bh);
    }

    /** One allocate+free pair per thread, two threads sharing the allocator. */
    @Benchmark
    @Threads(2)
    public long allocFree2Threads(Cursor c, Blackhole bh) {
        return pair(c, bh);
    }
}
