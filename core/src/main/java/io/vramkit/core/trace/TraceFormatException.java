package io.vramkit.core.trace;

/** A trace line that cannot be read or replayed; the message starts with its line number. */
public final class TraceFormatException extends IllegalArgumentException {

    private static final long serialVersionUID = 1L;

    private final int lineNumber;

    /**
     * A problem on one line.
     *
     * @param lineNumber the 1-based line
     * @param message    what is wrong with it
     */
    public TraceFormatException(int lineNumber, String message) {
        super("line " + lineNumber + ": " + message);
        this.lineNumber = lineNumber;
    }

    /** The 1-based line number. */
    public int lineNumber() {
        return lineNumber;
    }
}
