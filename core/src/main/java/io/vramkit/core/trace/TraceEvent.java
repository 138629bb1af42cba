package io.vramkit.core.trace;

/**
 * One line of an allocation trace, with the columns of RMM's logging resource adaptor.
 *
 * @param thread    the id of the thread that made the call
 * @param timeNanos when, in nanoseconds (since midnight for recorded traces, since the start for generated ones)
 * @param action    what happened
 * @param address   the address allocated or freed, as the recording upstream saw it
 * @param bytes     the size in bytes, positive
 * @param stream    the id of the stream
 */
public record TraceEvent(long thread, long timeNanos, Action action, long address, long bytes, long stream) {

    /** What a trace line records. */
    public enum Action {
        /** A successful allocation; CSV {@code allocate}. */
        ALLOCATE("allocate"),
        /** A free; CSV {@code free}. */
        FREE("free"),
        /** An allocation the upstream refused; CSV {@code allocate failure}. Replay skips it. */
        ALLOCATE_FAILURE("allocate failure");

        private final String csv;

        Action(String csv) {
            this.csv = csv;
        }

        /** The word in the CSV's Action column. */
        public String csv() {
            return csv;
        }
    }

    /**
     * Checks the fields.
     *
     * @throws IllegalArgumentException if action is null or bytes is not positive
     */
    public TraceEvent {
        if (action == null) {
            throw new IllegalArgumentException("action must not be null");
        }
        if (bytes <= 0) {
            throw new IllegalArgumentException("bytes must be positive, got " + bytes);
        }
    }
}
