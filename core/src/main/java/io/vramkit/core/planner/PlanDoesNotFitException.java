package io.vramkit.core.planner;

/** Thrown when a budget cannot hold a plan; the message and {@link #shortfallBytes()} say by how much. */
public final class PlanDoesNotFitException extends IllegalArgumentException {

    private static final long serialVersionUID = 1L;

    private final long shortfallBytes;

    /**
     * @param message        the diagnosis, with both GB and GiB
     * @param shortfallBytes bytes missing per GPU
     */
    public PlanDoesNotFitException(String message, long shortfallBytes) {
        super(message);
        this.shortfallBytes = shortfallBytes;
    }

    /** Bytes missing per GPU. */
    public long shortfallBytes() {
        return shortfallBytes;
    }
}
