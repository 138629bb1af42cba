package io.vramkit.core.kv;

import io.vramkit.core.memory.OutOfMemoryException;

/**
 * Thrown when the KV block pool has no free or evictable block for a request. The cache is left unchanged: no block
 * is lost and no sequence grows.
 */
public final class KvCacheFullException extends OutOfMemoryException {

    private static final long serialVersionUID = 1L;

    private final int blocksNeeded;
    private final int blocksAvailable;

    /**
     * @param message         the diagnosis
     * @param blocksNeeded    blocks the request needed
     * @param blocksAvailable free plus evictable blocks at the time
     * @param bytesPerBlock   bytes of one block, to report the shortfall in bytes
     */
    public KvCacheFullException(String message, int blocksNeeded, int blocksAvailable, long bytesPerBlock) {
        super(message, (long) blocksNeeded * bytesPerBlock);
        this.blocksNeeded = blocksNeeded;
        this.blocksAvailable = blocksAvailable;
    }

    /** Blocks the failed request needed. */
    public int blocksNeeded() {
        return blocksNeeded;
    }

    /** Free plus evictable blocks when it failed. */
    public int blocksAvailable() {
        return blocksAvailable;
    }
}
