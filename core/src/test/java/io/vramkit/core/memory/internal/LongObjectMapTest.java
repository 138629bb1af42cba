package io.vramkit.core.memory.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class LongObjectMapTest {

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3})
    void behavesLikeAHashMapUnderRandomOperations(int seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        LongObjectMap<String> map = new LongObjectMap<>(4);
        Map<Long, String> ref = new HashMap<>();
        // A small key space forces collisions, wrap-around and backward shifts.
        long space = seed == 1 ? 64 : 5000;
        for (int i = 0; i < 50_000; i++) {
            long key = rnd.nextLong(space) * (seed == 3 ? 4096 : 1);
            switch (rnd.nextInt(3)) {
                case 0 -> assertEquals(ref.put(key, "v" + i), map.put(key, "v" + i));
                case 1 -> assertEquals(ref.remove(key), map.remove(key));
                default -> assertEquals(ref.get(key), map.get(key));
            }
            assertEquals(ref.size(), map.size());
        }
        Map<Long, String> seen = new HashMap<>();
        map.forEach(seen::put);
        assertEquals(ref, seen);
        assertNull(map.get(Long.MIN_VALUE));
        assertThrows(NullPointerException.class, () -> map.put(1, null));
    }
}
