package io.vramkit.core.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.vramkit.core.testing.ManualStream;
import io.vramkit.core.testing.NoLeaksExtension;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Random allocate/free/trim sequences over real host memory, with every invariant checked after every step and every
 * live byte checked against the pattern written into it.
 */
class CachingPoolRandomizedTest {

    @RegisterExtension
    final NoLeaksExtension leaks = new NoLeaksExtension();

    private record Live(long address, long bytes, long alignment, Stream stream, byte pattern) {
    }

    @ParameterizedTest(name = "seed {0}, maxSplit {1}, streams {2}, releaseThreshold {3}")
    @CsvSource({
        "1, 0, false, -1",
        "2, 4194304, false, -1",
        "3, 0, true, -1",
        "4, 3145728, true, 8388608",
        "5, 0, false, 0",
    })
    void randomSequencesKeepEveryInvariant(long seed, long maxSplit, boolean streams, long releaseThreshold) {
        SplittableRandom rnd = new SplittableRandom(seed);
        HostMemoryResource host = leaks.track(new HostMemoryResource(512L << 20));
        PoolSettings.Builder b = PoolSettings.builder().name("random-" + seed);
        if (maxSplit > 0) {
            b.maxSplitBytes(maxSplit);
        }
        if (releaseThreshold >= 0) {
            b.releaseThresholdBytes(releaseThreshold);
        }
        CachingPool pool = leaks.track(new CachingPool(host, b.build()));
        PoolInvariants invariants = new PoolInvariants();
        ManualStream[] manual = {new ManualStream(), new ManualStream()};
        List<Live> live = new ArrayList<>();
        for (int step = 0; step < 700; step++) {
            int op = rnd.nextInt(100);
            long liveBytes = live.stream().mapToLong(Live::bytes).sum();
            if ((op < 55 && liveBytes < (96 << 20)) || live.isEmpty()) {
                long bytes = randomSize(rnd);
                long alignment = 1L << rnd.nextInt(13);
                Stream stream = streams && rnd.nextBoolean() ? manual[rnd.nextInt(2)] : Stream.HOST;
                long a = pool.allocate(bytes, alignment, stream);
                assertEquals(0, a % alignment);
                byte pattern = (byte) rnd.nextInt();
                MemorySegment.ofAddress(a).reinterpret(bytes).fill(pattern);
                live.add(new Live(a, bytes, alignment, stream, pattern));
            } else if (op < 95) {
                Live l = live.remove(rnd.nextInt(live.size()));
                checkPattern(l);
                Stream freeOn = streams && rnd.nextInt(4) == 0 ? manual[rnd.nextInt(2)] : l.stream;
                pool.deallocate(l.address, l.bytes, l.alignment, freeOn);
            } else if (op < 97) {
                pool.trim();
            } else {
                manual[rnd.nextInt(2)].complete();
            }
            invariants.check(pool);
            if (step % 50 == 0) {
                live.forEach(CachingPoolRandomizedTest::checkPattern);
            }
            if (step == 350) {
                pool.resetPeaks();
                invariants.reset();
                invariants.check(pool);
            }
        }
        live.forEach(CachingPoolRandomizedTest::checkPattern);
        for (Live l : live) {
            pool.deallocate(l.address, l.bytes, l.alignment, l.stream);
        }
        for (ManualStream m : manual) {
            m.complete();
        }
        pool.trim();
        PoolStatistics s = invariants.check(pool);
        assertEquals(0, s.reservedBytes().current());
        assertEquals(0, host.usedBytes());
        assertThrows(IllegalArgumentException.class, () -> pool.deallocate(live.isEmpty() ? 64 : live.get(0).address,
                live.isEmpty() ? 1 : live.get(0).bytes, 1, Stream.HOST), "a second free must be refused");
    }

    private static long randomSize(SplittableRandom rnd) {
        return switch (rnd.nextInt(10)) {
            case 0 -> 1 + rnd.nextInt(64);
            case 1, 2, 3, 4 -> 1 + rnd.nextInt(64 * 1024);
            case 5, 6 -> 64 * 1024 + rnd.nextInt(1 << 20);
            case 7, 8 -> (1 << 20) + rnd.nextInt(6 << 20);
            default -> (6 << 20) + rnd.nextInt(10 << 20);
        };
    }

    /** Checks every byte of a live block, a long at a time. */
    private static void checkPattern(Live l) {
        MemorySegment seg = MemorySegment.ofAddress(l.address).reinterpret(l.bytes);
        long word = (l.pattern & 0xffL) * 0x0101010101010101L;
        long i = 0;
        for (; i + 8 <= l.bytes; i += 8) {
            if (seg.get(ValueLayout.JAVA_LONG_UNALIGNED, i) != word) {
                assertEquals(word, seg.get(ValueLayout.JAVA_LONG_UNALIGNED, i), "bytes " + i + ".. of a live block");
            }
        }
        for (; i < l.bytes; i++) {
            assertEquals(l.pattern, seg.get(ValueLayout.JAVA_BYTE, i), "byte " + i + " of a live block");
        }
    }
}
