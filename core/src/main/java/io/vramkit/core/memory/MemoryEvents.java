package io.vramkit.core.memory;

import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/**
 * The JDK Flight Recorder events of the memory layer. {@code jfr print --events io.vramkit.Allocation rec.jfr}
 * shows them; the names are part of the documented format (docs/memory.md).
 */
final class MemoryEvents {

    private MemoryEvents() {
    }

    @Name("io.vramkit.Allocation")
    @Label("Allocation")
    @Category({"vramkit", "Memory"})
    @Description("A caching pool handed out a block")
    @StackTrace(false)
    static final class Allocation extends Event {
        @Label("Pool")
        String pool;
        @Label("Address")
        long address;
        @Label("Requested")
        @DataAmount
        long requestedBytes;
        @Label("Block size")
        @DataAmount
        long blockBytes;
        @Label("Stream")
        long stream;
    }

    @Name("io.vramkit.Free")
    @Label("Free")
    @Category({"vramkit", "Memory"})
    @Description("A caching pool took a block back")
    @StackTrace(false)
    static final class Free extends Event {
        @Label("Pool")
        String pool;
        @Label("Address")
        long address;
        @Label("Block size")
        @DataAmount
        long blockBytes;
        @Label("Stream")
        long stream;
    }

    @Name("io.vramkit.PoolGrowth")
    @Label("Pool Growth")
    @Category({"vramkit", "Memory"})
    @Description("A caching pool allocated a new segment from its upstream")
    static final class PoolGrowth extends Event {
        @Label("Pool")
        String pool;
        @Label("Segment size")
        @DataAmount
        long segmentBytes;
        @Label("Reserved after")
        @DataAmount
        long reservedBytes;
    }

    @Name("io.vramkit.PoolTrim")
    @Label("Pool Trim")
    @Category({"vramkit", "Memory"})
    @Description("A caching pool returned free segments to its upstream")
    static final class PoolTrim extends Event {
        @Label("Pool")
        String pool;
        @Label("Segments released")
        int segments;
        @Label("Bytes released")
        @DataAmount
        long releasedBytes;
        @Label("Reserved after")
        @DataAmount
        long reservedBytes;
    }

    @Name("io.vramkit.OutOfMemory")
    @Label("Out Of Memory")
    @Category({"vramkit", "Memory"})
    @Description("An allocation failed after trimming and retrying")
    static final class OutOfMemory extends Event {
        @Label("Pool")
        String pool;
        @Label("Requested")
        @DataAmount
        long requestedBytes;
        @Label("Allocated")
        @DataAmount
        long allocatedBytes;
        @Label("Reserved")
        @DataAmount
        long reservedBytes;
        @Label("Largest free block")
        @DataAmount
        long largestFreeBytes;
        @Label("Message")
        String message;
    }
}
