package io.vramkit.core.scheduler;

/** How the scheduler evicts a running request when the KV cache runs out of blocks. */
public enum PreemptionMode {
    /** Copy its blocks to the host swap space and copy them back later. */
    SWAP,
    /** Drop its blocks and recompute its tokens when it is readmitted. */
    RECOMPUTE,
    /**
     * Per request, whichever costs less: recompute FLOPs over the compute throughput, or swap bytes (out and in) over
     * the measured copy bandwidth.
     */
    AUTO
}
