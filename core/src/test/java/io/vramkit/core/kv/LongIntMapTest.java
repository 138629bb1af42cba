package io.vramkit.core.kv;

import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LongIntMapTest {

    @Test
    void matchesAHashMapUnderRandomOperations() {
        for (int cap : new int[] {1, 7, 64, 1000}) {
            SplittableRandom r = new SplittableRandom(cap);
            LongIntMap m = new LongIntMap(cap);
            Map<Long, Integer> ref = new HashMap<>();
            // few distinct keys with colliding low bits stress probe runs and backward shifts
            long[] pool = new long[cap * 2 + 2];
            for (int i = 0; i < pool.length; i++) {
                pool[i] = r.nextBoolean() ? r.nextLong() : (long) r.nextInt(8) << 40;
            }
            for (int step = 0; step < 20_000; step++) {
                long k = pool[r.nextInt(pool.length)];
                int v = r.nextInt(1_000_000);
                switch (r.nextInt(3)) {
                    case 0 -> {
                        if (ref.size() < cap || ref.containsKey(k)) {
                            assertEquals(!ref.containsKey(k), m.putIfAbsent(k, v));
                            ref.putIfAbsent(k, v);
                        }
                    }
                    case 1 -> {
                        Integer cur = ref.get(k);
                        int val = cur != null && r.nextBoolean() ? cur : v;
                        m.remove(k, val);
                        ref.remove(k, val);
                    }
                    default -> assertEquals(ref.getOrDefault(k, -1), m.get(k));
                }
                assertEquals(ref.size(), m.size());
            }
            for (var e : ref.entrySet()) {
                assertEquals((int) e.getValue(), m.get(e.getKey()));
            }
            assertTrue(m.allMatch((key, val) -> ref.get(key) == val));
        }
    }
}
