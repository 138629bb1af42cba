package io.vramkit.core.memory;

/**
 * Thrown when a {@link MemoryResource} cannot satisfy an allocation: the upstream is exhausted, or a budget or limit
 * would be exceeded.
 *
 * <p>The message is meant to read like a diagnosis: what was asked, what the resource has, and what to try. The
 * resource that threw is left unchanged.
 */
public class OutOfMemoryException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final long requestedBytes;

    /**
     * An out-of-memory failure with its diagnosis.
     *
     * @param message        the diagnosis
     * @param requestedBytes the size of the allocation that failed
     */
    public OutOfMemoryException(String message, long requestedBytes) {
        super(message);
        this.requestedBytes = requestedBytes;
    }

    /**
     * An out-of-memory failure caused by another, typically the upstream's.
     *
     * @param message        the diagnosis
     * @param requestedBytes the size of the allocation that failed
     * @param cause          the upstream failure
     */
    public OutOfMemoryException(String message, long requestedBytes, Throwable cause) {
        super(message, cause);
        this.requestedBytes = requestedBytes;
    }

    /** The size of the allocation that failed, in bytes. */
    public long requestedBytes() {
        return requestedBytes;
    }
}
