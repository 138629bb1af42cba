package io.vramkit.core.trace;

import io.vramkit.core.memory.ByteSizes;
import io.vramkit.core.memory.PoolSnapshot;
import io.vramkit.core.json.Json;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * What a {@link TraceReplayer} run found. Sizes are in bytes. Immutable.
 *
 * @param resource            a name for the resource replayed against
 * @param events              trace events read
 * @param allocations         allocations attempted
 * @param frees               frees replayed
 * @param failedAllocations   allocations the resource refused
 * @param peakAllocatedBytes  the most bytes live at once, at the sizes the trace asked for
 * @param peakReservedBytes   the most bytes the simulated device held at once
 * @param capacityBytes       the simulated device's capacity
 * @param upstreamAllocations allocations that reached the simulated device
 * @param elapsedNanos        wall time of the replay
 * @param peakSnapshot        the pool's snapshot at the moment of peak reservation, or null when the resource is not
 *                            a caching pool
 */
public record ReplayReport(String resource, long events, long allocations, long frees, long failedAllocations,
                           long peakAllocatedBytes, long peakReservedBytes, long capacityBytes,
                           long upstreamAllocations, long elapsedNanos, PoolSnapshot peakSnapshot) {

    /** {@code peakReservedBytes / peakAllocatedBytes}; 1.0 is no overhead. 0 when nothing was allocated. */
    public double reservedToAllocatedRatio() {
        return peakAllocatedBytes == 0 ? 0.0 : (double) peakReservedBytes / peakAllocatedBytes;
    }

    /** The report as a map of JSON fields (no snapshot): the format is in docs/memory.md. */
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("resource", resource);
        m.put("events", events);
        m.put("allocations", allocations);
        m.put("frees", frees);
        m.put("failedAllocations", failedAllocations);
        m.put("peakAllocatedBytes", peakAllocatedBytes);
        m.put("peakReservedBytes", peakReservedBytes);
        m.put("reservedToAllocatedRatio", reservedToAllocatedRatio());
        m.put("capacityBytes", capacityBytes);
        m.put("upstreamAllocations", upstreamAllocations);
        m.put("elapsedMillis", elapsedNanos / 1_000_000.0);
        return m;
    }

    /** {@link #toMap()} as one JSON line. */
    public String toJson() {
        return Json.write(toMap());
    }

    /**
     * Reads the fields {@link #toJson()} wrote (the snapshot is not part of it).
     *
     * @throws IllegalArgumentException if a field is missing or of the wrong type
     */
    public static ReplayReport fromJson(String json) {
        Map<String, Object> m = Json.parseObject(json);
        return new ReplayReport((String) m.get("resource"), num(m, "events"), num(m, "allocations"),
                num(m, "frees"), num(m, "failedAllocations"), num(m, "peakAllocatedBytes"),
                num(m, "peakReservedBytes"), num(m, "capacityBytes"), num(m, "upstreamAllocations"),
                Math.round(((Number) m.get("elapsedMillis")).doubleValue() * 1_000_000), null);
    }

    private static long num(Map<String, Object> m, String key) {
        if (!(m.get(key) instanceof Long l)) {
            throw new IllegalArgumentException("field '" + key + "' must be an integer, got " + m.get(key));
        }
        return l;
    }

    /** A few lines for people. */
    public String describe() {
        return String.format(Locale.ROOT,
                "%s: %d events, %d allocations, %d frees, %d failed%n"
                        + "  peak allocated %s, peak reserved %s, ratio %.3f%n"
                        + "  simulated device %s, %d upstream allocations, %.1f ms",
                resource, events, allocations, frees, failedAllocations, ByteSizes.exact(peakAllocatedBytes),
                ByteSizes.exact(peakReservedBytes), reservedToAllocatedRatio(), ByteSizes.human(capacityBytes),
                upstreamAllocations, elapsedNanos / 1e6);
    }
}
