package io.vramkit.core.memory.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.vramkit.core.memory.HostMemoryResource;
import io.vramkit.core.memory.Stream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Locale;
import org.junit.jupiter.api.Test;

class HugePagesTest {

    private static boolean linux() {
        return System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("linux");
    }

    @Test
    void availableExactlyOnLinux() {
        assertEquals(linux(), HugePages.available());
    }

    @Test
    void negativeArgumentsAreRejectedByName() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> HugePages.advise(-64, 10));
        assertTrue(e.getMessage().contains("address = -64"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> HugePages.advise(1L << 21, -5));
        assertTrue(e.getMessage().contains("bytes = -5"), e.getMessage());
    }

    @Test
    void rangesWithoutAWholeHugePageAreLeftAlone() {
        long page = HugePages.HUGE_PAGE_BYTES;
        assertFalse(HugePages.advise(page, 0));
        assertFalse(HugePages.advise(page + 4096, page));
        assertFalse(HugePages.advise(4096, page - 8192));
    }

    @Test
    void largeHostAllocationsAreHugePageAlignedAdvisedAndKeepTheirContents() {
        assumeTrue(HugePages.available(), "Linux only");
        HostMemoryResource host = new HostMemoryResource();
        long bytes = HugePages.THRESHOLD_BYTES + 12345;
        long a = host.allocate(bytes, 64, Stream.HOST);
        try {
            assertEquals(0, a % HugePages.HUGE_PAGE_BYTES, "address 0x" + Long.toHexString(a));
            MemorySegment s = MemorySegment.ofAddress(a).reinterpret(bytes);
            for (long i = 0; i < bytes; i += 4096) {
                s.set(ValueLayout.JAVA_BYTE, i, (byte) (i >>> 12));
            }
            // advising again (as the resource did) is harmless and leaves the data alone
            assertTrue(HugePages.advise(a, bytes));
            for (long i = 0; i < bytes; i += 4096) {
                assertEquals((byte) (i >>> 12), s.get(ValueLayout.JAVA_BYTE, i), "byte " + i);
            }
        } finally {
            host.deallocate(a, bytes, 64, Stream.HOST);
        }
        assertEquals(0, host.usedBytes());
        assertEquals(0, host.liveAllocations());
        long small = host.allocate(4096, 64, Stream.HOST);
        host.deallocate(small, 4096, 64, Stream.HOST);
    }
}
