package io.vramkit.core.memory;

/** A mutable current/peak/total counter; guarded by its owner's lock. */
final class StatCounter {
    long current;
    long peak;
    long total;

    void add(long delta) {
        current += delta;
        if (delta > 0) {
            total += delta;
            if (current > peak) {
                peak = current;
            }
        }
    }

    void resetPeak() {
        peak = current;
    }

    MemoryStat snapshot() {
        return new MemoryStat(current, peak, total);
    }
}
