package io.vramkit.core.trace;

import java.util.Arrays;
import java.util.List;

/**
 * A sequence of {@link TraceEvent}s with the line each came from, so replay errors can name the line. Immutable.
 *
 * @param events      the events in order
 * @param lineNumbers the 1-based source line of each event ({@code events.size()} entries)
 */
public record Trace(List<TraceEvent> events, int[] lineNumbers) {

    /**
     * Copies both arrays.
     *
     * @throws IllegalArgumentException if the two lengths differ
     */
    public Trace {
        events = List.copyOf(events);
        lineNumbers = lineNumbers.clone();
        if (lineNumbers.length != events.size()) {
            throw new IllegalArgumentException("lineNumbers has " + lineNumbers.length + " entries for "
                    + events.size() + " events");
        }
    }

    /** A trace whose events are numbered as if written by {@link TraceCsv#write}: the header is line 1. */
    public static Trace of(List<TraceEvent> events) {
        int[] lines = new int[events.size()];
        Arrays.setAll(lines, i -> i + 2);
        return new Trace(events, lines);
    }

    /** The source line of event {@code index}. */
    public int lineOf(int index) {
        return lineNumbers[index];
    }

    /** A copy of the line numbers, one per event. */
    @Override
    public int[] lineNumbers() {
        return lineNumbers.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Trace t && events.equals(t.events) && Arrays.equals(lineNumbers, t.lineNumbers);
    }

    @Override
    public int hashCode() {
        return events.hashCode() * 31 + Arrays.hashCode(lineNumbers);
    }

    @Override
    public String toString() {
        return "Trace[" + events.size() + " events]";
    }
}
