package io.vramkit.core.memory;

/** Where the bytes of a {@link MemoryResource} live, and who can touch them. */
public enum MemoryKind {
    /** Pageable host memory; the CPU reads and writes it directly. */
    HOST(true),
    /** Page-locked host memory, usable for asynchronous copies to and from a device. */
    PINNED_HOST(true),
    /** Device memory; not addressable from Java, only through copies and kernels. */
    DEVICE(false),
    /** Unified memory, migrated on demand between host and device. */
    MANAGED(true);

    private final boolean hostAccessible;

    MemoryKind(boolean hostAccessible) {
        this.hostAccessible = hostAccessible;
    }

    /** Whether Java code may read and write the memory through a {@link java.lang.foreign.MemorySegment}. */
    public boolean hostAccessible() {
        return hostAccessible;
    }
}
