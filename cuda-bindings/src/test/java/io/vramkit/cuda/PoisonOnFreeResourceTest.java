package io.vramkit.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vramkit.core.memory.HostMemoryResource;
import io.vramkit.core.memory.MemoryKind;
import io.vramkit.core.memory.MemoryResource;
import io.vramkit.core.memory.Stream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The host side of the debug fill: freed host memory carries the pattern when it reaches the upstream. */
class PoisonOnFreeResourceTest {

    /** Snapshots what the poison adaptor hands back, before really freeing it. */
    static final class SnapshotResource implements MemoryResource {
        final HostMemoryResource host = new HostMemoryResource();
        byte[] lastFreed;

        @Override
        public long allocate(long bytes, long alignment, Stream stream) {
            return host.allocate(bytes, alignment, stream);
        }

        @Override
        public void deallocate(long address, long bytes, long alignment, Stream stream) {
            lastFreed = MemorySegment.ofAddress(address).reinterpret(bytes).toArray(ValueLayout.JAVA_BYTE);
            host.deallocate(address, bytes, alignment, stream);
        }

        @Override
        public MemoryKind kind() {
            return MemoryKind.HOST;
        }
    }

    @Test
    void freedHostMemoryCarriesThePatternByAddress() {
        SnapshotResource upstream = new SnapshotResource();
        ManualStream stream = new ManualStream();
        Random rnd = new Random(99);
        try (PoisonOnFreeResource poison = new PoisonOnFreeResource(upstream, 0x01234567)) {
            for (long bytes : new long[] {1, 2, 3, 4, 5, 7, 15, 16, 17, 63, 64, 65, 1000, 4097}) {
                long address = poison.allocate(bytes, 16, stream);
                MemorySegment.ofAddress(address).reinterpret(bytes).fill((byte) rnd.nextInt());
                int syncs = stream.synchronizations;
                poison.deallocate(address, bytes, 16, stream);
                assertEquals(syncs + 1, stream.synchronizations, "waits for the stream before writing");
                for (int i = 0; i < bytes; i++) {
                    assertEquals(PoisonOnFreeResource.expectedByte(address + i, 0x01234567), upstream.lastFreed[i],
                            "byte " + i + " of " + bytes);
                }
            }
        }
        assertEquals(0, upstream.host.liveAllocations());
    }

    @Test
    void fillHostHandlesEveryAlignment() {
        Random rnd = new Random(5);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment base = arena.allocate(256, 16);
            for (int offset = 0; offset < 8; offset++) {
                for (int size = 0; size < 40; size++) {
                    base.fill((byte) 0x5A);
                    int pattern = rnd.nextInt();
                    PoisonOnFreeResource.fillHost(base.asSlice(offset + 16, size), pattern);
                    for (int i = 0; i < 256; i++) {
                        boolean inside = i >= offset + 16 && i < offset + 16 + size;
                        byte expected = inside ? PoisonOnFreeResource.expectedByte(base.address() + i, pattern)
                                : 0x5A;
                        assertEquals(expected, base.get(ValueLayout.JAVA_BYTE, i),
                                "offset " + offset + " size " + size + " byte " + i);
                    }
                }
            }
        }
    }

    @Test
    void expectedByteIsLittleEndianByAddress() {
        assertEquals((byte) 0xEF, PoisonOnFreeResource.expectedByte(0x1000, 0xDEADBEEF));
        assertEquals((byte) 0xBE, PoisonOnFreeResource.expectedByte(0x1001, 0xDEADBEEF));
        assertEquals((byte) 0xAD, PoisonOnFreeResource.expectedByte(0x1002, 0xDEADBEEF));
        assertEquals((byte) 0xDE, PoisonOnFreeResource.expectedByte(0x1003, 0xDEADBEEF));
    }

    @Test
    void badArgumentsAreRejectedBeforeAnyWrite() {
        SnapshotResource upstream = new SnapshotResource();
        try (PoisonOnFreeResource poison = new PoisonOnFreeResource(upstream)) {
            long address = poison.allocate(64, 16, Stream.HOST);
            var e = assertThrows(IllegalArgumentException.class, () -> poison.deallocate(address, 64, 16, null));
            assertTrue(e.getMessage().contains("stream"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> poison.deallocate(address, 0, 16, Stream.HOST));
            assertTrue(e.getMessage().contains("bytes must be positive, got 0"), e.getMessage());
            assertEquals(1, upstream.host.liveAllocations());
            poison.deallocate(address, 64, 16, Stream.HOST);
            assertEquals(0, upstream.host.liveAllocations());
            assertEquals(MemoryKind.HOST, poison.kind());
        }
        assertThrows(IllegalArgumentException.class, () -> new PoisonOnFreeResource(null));
    }
}
