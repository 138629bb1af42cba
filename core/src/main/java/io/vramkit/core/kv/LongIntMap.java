package io.vramkit.core.kv;

/**
 * An open-addressing map from {@code long} keys to non-negative {@code int} values with a fixed capacity: the prefix
 * cache's hash table, without boxing on the append hot path. Linear probing; deletion shifts later entries back
 * (Knuth's algorithm R), so no tombstones accumulate. Not thread-safe.
 */
final class LongIntMap {

    private final long[] keys;
    private final int[] values;
    private final int mask;
    private int size;

    /** A map that can hold {@code maxEntries} entries at a load factor of at most one half. */
    LongIntMap(int maxEntries) {
        int cap = Integer.highestOneBit(Math.max(4, maxEntries) * 2 - 1) << 1;
        keys = new long[cap];
        values = new int[cap];
        java.util.Arrays.fill(values, -1);
        mask = cap - 1;
    }

    private int slot(long key) {
        long h = key * 0x9E3779B97F4A7C15L;
        return (int) (h ^ (h >>> 32)) & mask;
    }

    /** The value for {@code key}, or -1. */
    int get(long key) {
        for (int i = slot(key); values[i] >= 0; i = (i + 1) & mask) {
            if (keys[i] == key) {
                return values[i];
            }
        }
        return -1;
    }

    /** Maps {@code key} to {@code value} unless the key is present; returns whether it was added. */
    boolean putIfAbsent(long key, int value) {
        int i = slot(key);
        for (; values[i] >= 0; i = (i + 1) & mask) {
            if (keys[i] == key) {
                return false;
            }
        }
        if (size + 1 > (mask + 1) / 2) {
            throw new IllegalStateException("LongIntMap over capacity: " + size);
        }
        keys[i] = key;
        values[i] = value;
        size++;
        return true;
    }

    /** Removes {@code key} if it maps to {@code value}. */
    void remove(long key, int value) {
        int i = slot(key);
        for (; values[i] >= 0; i = (i + 1) & mask) {
            if (keys[i] == key) {
                if (values[i] != value) {
                    return;
                }
                break;
            }
        }
        if (values[i] < 0) {
            return;
        }
        size--;
        // backward-shift deletion: move later entries of the probe run into the hole when their home allows it
        int hole = i;
        for (int j = (hole + 1) & mask; values[j] >= 0; j = (j + 1) & mask) {
            int home = slot(keys[j]);
            boolean between = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
            if (!between) {
                keys[hole] = keys[j];
                values[hole] = values[j];
                hole = j;
            }
        }
        values[hole] = -1;
    }

    /** Entries held. */
    int size() {
        return size;
    }

    /** Whether every entry satisfies {@code check(key, value)}. */
    boolean allMatch(EntryCheck check) {
        for (int i = 0; i <= mask; i++) {
            if (values[i] >= 0 && !check.test(keys[i], values[i])) {
                return false;
            }
        }
        return true;
    }

    /** A predicate over one entry. */
    @FunctionalInterface
    interface EntryCheck {
        /** Whether the entry is valid. */
        boolean test(long key, int value);
    }
}
