package io.vramkit.core.memory.internal;

import java.util.function.BiConsumer;

/**
 * An open-addressing hash map from {@code long} keys to objects, with linear probing and backward-shift deletion,
 * so that {@link #put}, {@link #get} and {@link #remove} allocate nothing once the table is large enough.
 *
 * <p>Not thread-safe: the owner guards it with its own lock. Null values are not allowed.
 *
 * @param <V> the value type
 */
public final class LongObjectMap<V> {

    private long[] keys;
    private Object[] values;
    private int size;
    private int mask;
    private int resizeAt;

    /** An empty map sized for about {@code expected} entries. */
    public LongObjectMap(int expected) {
        int capacity = Integer.highestOneBit(Math.max(16, expected * 2 - 1) ) << 1;
        allocateTables(capacity);
    }

    private void allocateTables(int capacity) {
        keys = new long[capacity];
        values = new Object[capacity];
        mask = capacity - 1;
        resizeAt = (int) (capacity * 0.6);
    }

    private static int hash(long key) {
        long h = key * 0x9E3779B97F4A7C15L;
        return (int) (h ^ (h >>> 32));
    }

    /** The value for {@code key}, or null. */
    @SuppressWarnings("unchecked")
    public V get(long key) {
        int i = hash(key) & mask;
        while (true) {
            Object v = values[i];
            if (v == null) {
                return null;
            }
            if (keys[i] == key) {
                return (V) v;
            }
            i = (i + 1) & mask;
        }
    }

    /**
     * Maps {@code key} to {@code value}.
     *
     * @return the previous value, or null
     * @throws NullPointerException if value is null
     */
    @SuppressWarnings("unchecked")
    public V put(long key, V value) {
        if (value == null) {
            throw new NullPointerException("value");
        }
        int i = hash(key) & mask;
        while (true) {
            Object v = values[i];
            if (v == null) {
                keys[i] = key;
                values[i] = value;
                if (++size > resizeAt) {
                    rehash();
                }
                return null;
            }
            if (keys[i] == key) {
                values[i] = value;
                return (V) v;
            }
            i = (i + 1) & mask;
        }
    }

    /** Removes {@code key}. @return the removed value, or null if absent */
    @SuppressWarnings("unchecked")
    public V remove(long key) {
        int i = hash(key) & mask;
        while (true) {
            Object v = values[i];
            if (v == null) {
                return null;
            }
            if (keys[i] == key) {
                shiftBack(i);
                size--;
                return (V) v;
            }
            i = (i + 1) & mask;
        }
    }

    // Backward-shift deletion keeps every probe chain unbroken without tombstones (Knuth, TAOCP 6.4, algorithm R).
    private void shiftBack(int hole) {
        int i = hole;
        while (true) {
            i = (i + 1) & mask;
            Object v = values[i];
            if (v == null) {
                break;
            }
            int home = hash(keys[i]) & mask;
            boolean movable = hole <= i ? (home <= hole || home > i) : (home <= hole && home > i);
            if (movable) {
                keys[hole] = keys[i];
                values[hole] = v;
                hole = i;
            }
        }
        values[hole] = null;
        keys[hole] = 0;
    }

    private void rehash() {
        long[] oldKeys = keys;
        Object[] oldValues = values;
        allocateTables(oldKeys.length * 2);
        size = 0;
        for (int i = 0; i < oldKeys.length; i++) {
            if (oldValues[i] != null) {
                reinsert(oldKeys[i], oldValues[i]);
            }
        }
    }

    private void reinsert(long key, Object value) {
        int i = hash(key) & mask;
        while (values[i] != null) {
            i = (i + 1) & mask;
        }
        keys[i] = key;
        values[i] = value;
        size++;
    }

    /** Number of entries. */
    public int size() {
        return size;
    }

    /** Calls {@code action} for every entry, in no particular order. The map must not change meanwhile. */
    @SuppressWarnings("unchecked")
    public void forEach(BiConsumer<Long, V> action) {
        for (int i = 0; i < values.length; i++) {
            if (values[i] != null) {
                action.accept(keys[i], (V) values[i]);
            }
        }
    }
}
