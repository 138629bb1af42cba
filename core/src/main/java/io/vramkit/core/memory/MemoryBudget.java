package io.vramkit.core.memory;

import java.util.ArrayList;
import java.util.List;

/**
 * A hierarchical memory budget, as Arrow's memory pools with child allocators: a root with a limit, and children (per
 * model, per tenant) that each have a <em>reservation</em> and a <em>limit</em>.
 *
 * <ul>
 *   <li>A child's reservation is taken from its parent when the child is created, so the child can always use that
 *       much, whatever its siblings do.</li>
 *   <li>Use beyond the reservation is charged to the parent as well, up to the child's own limit.</li>
 *   <li>{@link #headroomBytes()} is therefore the smaller of the child's own room ({@code limit - used}) and what its
 *       parent can still give (the parent's headroom plus the child's unused reservation).</li>
 * </ul>
 *
 * {@snippet :
 * MemoryBudget gpu = MemoryBudget.root("gpu0", 24L << 30);
 * MemoryBudget chat = gpu.child("chat-model", 8L << 30, 16L << 30);
 * MemoryResource chatMemory = new BudgetedResource(pool, chat);
 * }
 *
 * <p>A budget counts bytes; it holds no memory. Use it through {@link BudgetedResource}, or call
 * {@link #reserve}/{@link #release} directly. One lock per tree guards all its budgets; thread-safe.
 */
public final class MemoryBudget implements AutoCloseable {

    private final String name;
    private final MemoryBudget parent;
    private final Object lock;
    private final long reservationBytes;
    private final long limitBytes;
    private final List<MemoryBudget> children = new ArrayList<>();
    private long usedBytes;
    private long peakBytes;
    private boolean closed;

    private MemoryBudget(String name, MemoryBudget parent, long reservationBytes, long limitBytes) {
        this.name = name;
        this.parent = parent;
        this.lock = parent == null ? new Object() : parent.lock;
        this.reservationBytes = reservationBytes;
        this.limitBytes = limitBytes;
    }

    /**
     * A root budget.
     *
     * @param name       its name in messages
     * @param limitBytes the most it may hand out, positive
     * @throws IllegalArgumentException if name is blank or limitBytes is not positive
     */
    public static MemoryBudget root(String name, long limitBytes) {
        checkName(name);
        if (limitBytes <= 0) {
            throw new IllegalArgumentException("limitBytes must be positive, got " + limitBytes);
        }
        return new MemoryBudget(name, null, 0, limitBytes);
    }

    private static void checkName(String name) {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("name must not be blank, got '" + name + "'");
        }
    }

    /**
     * Creates a child budget and takes its reservation from this budget at once.
     *
     * @param name             its name in messages
     * @param reservationBytes bytes guaranteed to the child, at least 0 and at most {@code limitBytes}
     * @param limitBytes       the most the child may use, positive
     * @return the child; close it to return its reservation
     * @throws IllegalArgumentException naming a bad argument
     * @throws OutOfMemoryException     if this budget cannot hold the reservation; nothing changes
     * @throws IllegalStateException    if this budget is closed
     */
    public MemoryBudget child(String name, long reservationBytes, long limitBytes) {
        checkName(name);
        if (limitBytes <= 0) {
            throw new IllegalArgumentException("limitBytes must be positive, got " + limitBytes);
        }
        if (reservationBytes < 0 || reservationBytes > limitBytes) {
            throw new IllegalArgumentException("reservationBytes must be between 0 and limitBytes (" + limitBytes
                    + "), got " + reservationBytes);
        }
        synchronized (lock) {
            checkOpen();
            if (reservationBytes > 0) {
                reserveLocked(reservationBytes, "the reservation of child budget '" + name + "'");
            }
            MemoryBudget child = new MemoryBudget(name, this, reservationBytes, limitBytes);
            children.add(child);
            return child;
        }
    }

    /**
     * Charges {@code bytes} to this budget (and, beyond its reservation, to its ancestors).
     *
     * @throws IllegalArgumentException if bytes is not positive
     * @throws OutOfMemoryException     if this budget or an ancestor would pass its limit; nothing changes
     * @throws IllegalStateException    if the budget is closed
     */
    public void reserve(long bytes) {
        if (bytes <= 0) {
            throw new IllegalArgumentException("bytes must be positive, got " + bytes);
        }
        synchronized (lock) {
            checkOpen();
            reserveLocked(bytes, ByteSizes.exact(bytes));
        }
    }

    /**
     * Returns {@code bytes} charged earlier.
     *
     * @throws IllegalArgumentException if bytes is not positive or more than is charged; nothing changes
     */
    public void release(long bytes) {
        if (bytes <= 0) {
            throw new IllegalArgumentException("bytes must be positive, got " + bytes);
        }
        synchronized (lock) {
            if (bytes > usedBytes) {
                throw new IllegalArgumentException("bytes " + bytes + " is more than the " + usedBytes
                        + " bytes charged to budget '" + name + "'");
            }
            releaseLocked(bytes);
        }
    }

    private void reserveLocked(long bytes, String what) {
        String refusal = refusal(bytes);
        if (refusal != null) {
            throw new OutOfMemoryException("budget '" + name + "' cannot take " + what + ": " + refusal, bytes);
        }
        applyReserve(bytes);
    }

    /** Why {@code bytes} cannot be charged here, or null if it can. Changes nothing. */
    private String refusal(long bytes) {
        if (bytes > limitBytes - usedBytes) {
            return "its limit is " + ByteSizes.exact(limitBytes) + " and " + ByteSizes.exact(usedBytes)
                    + " is in use (headroom " + ByteSizes.exact(headroomLocked()) + ")";
        }
        long over = overReservation(usedBytes + bytes) - overReservation(usedBytes);
        if (parent != null && over > 0) {
            String up = parent.refusal(over);
            if (up != null) {
                return "beyond its reservation of " + ByteSizes.exact(reservationBytes) + " it needs "
                        + ByteSizes.exact(over) + " from parent '" + parent.name + "', whose " + up;
            }
        }
        return null;
    }

    private void applyReserve(long bytes) {
        long over = overReservation(usedBytes + bytes) - overReservation(usedBytes);
        usedBytes += bytes;
        peakBytes = Math.max(peakBytes, usedBytes);
        if (parent != null && over > 0) {
            parent.applyReserve(over);
        }
    }

    private void releaseLocked(long bytes) {
        long back = overReservation(usedBytes) - overReservation(usedBytes - bytes);
        usedBytes -= bytes;
        if (parent != null && back > 0) {
            parent.releaseLocked(back);
        }
    }

    private long overReservation(long used) {
        return parent == null ? 0 : Math.max(0, used - reservationBytes);
    }

    /** The bytes that could be charged now: the smaller of this budget's own room and what its parent can give. */
    public long headroomBytes() {
        synchronized (lock) {
            return headroomLocked();
        }
    }

    private long headroomLocked() {
        long own = limitBytes - usedBytes;
        if (parent == null) {
            return own;
        }
        long fromParent = Math.max(0, reservationBytes - usedBytes) + parent.headroomLocked();
        return Math.min(own, fromParent);
    }

    /** Bytes charged to this budget now, including its children's reservations and their use beyond them. */
    public long usedBytes() {
        synchronized (lock) {
            return usedBytes;
        }
    }

    /** The highest {@link #usedBytes()} so far. */
    public long peakBytes() {
        synchronized (lock) {
            return peakBytes;
        }
    }

    /** The limit in bytes. */
    public long limitBytes() {
        return limitBytes;
    }

    /** The reservation in bytes; 0 for a root. */
    public long reservationBytes() {
        return reservationBytes;
    }

    /** The name. */
    public String name() {
        return name;
    }

    /** The parent, or null for a root. */
    public MemoryBudget parent() {
        return parent;
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("budget '" + name + "' is closed");
        }
    }

    /**
     * Returns the reservation to the parent. Closing twice does nothing.
     *
     * @throws IllegalStateException if bytes are still charged beyond child reservations, or a child is still open;
     *                               the budget stays open
     */
    @Override
    public void close() {
        synchronized (lock) {
            if (closed) {
                return;
            }
            if (!children.isEmpty()) {
                throw new IllegalStateException("budget '" + name + "' still has " + children.size()
                        + " open child budgets; close them first");
            }
            if (usedBytes != 0) {
                throw new IllegalStateException("budget '" + name + "' still has " + ByteSizes.exact(usedBytes)
                        + " charged; release it first");
            }
            if (parent != null) {
                if (reservationBytes > 0) {
                    parent.releaseLocked(reservationBytes);
                }
                parent.children.remove(this);
            }
            closed = true;
        }
    }

    @Override
    public String toString() {
        synchronized (lock) {
            return "MemoryBudget['" + name + "', used " + ByteSizes.human(usedBytes) + " of "
                    + ByteSizes.human(limitBytes) + ", reservation " + ByteSizes.human(reservationBytes)
                    + ", headroom " + ByteSizes.human(headroomLocked()) + "]";
        }
    }
}
