package io.vramkit.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vramkit.core.memory.Buffer;
import io.vramkit.core.memory.HostMemoryResource;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/** Kernel arguments become the {@code void**} array cuLaunchKernel reads, checked without a GPU. */
class KernelFunctionTest {

    @Test
    void everySupportedTypeIsCopiedAtItsCWidth() {
        HostMemoryResource host = new HostMemoryResource();
        try (Arena arena = Arena.ofConfined(); Buffer buf = Buffer.allocate(host, 64)) {
            MemorySegment seg = arena.allocate(8);
            Object[] args = {buf, seg, 1L << 40, -7, (short) 300, (byte) -2, 1.5f, -2.25, true};
            MemorySegment params = KernelFunction.marshalArgs(arena, "k", args);
            assertEquals(args.length * 8L, params.byteSize());
            MemorySegment[] p = new MemorySegment[args.length];
            for (int i = 0; i < args.length; i++) {
                p[i] = params.getAtIndex(ValueLayout.ADDRESS, i).reinterpret(8);
            }
            assertEquals(buf.address(), p[0].get(ValueLayout.JAVA_LONG, 0));
            assertEquals(seg.address(), p[1].get(ValueLayout.JAVA_LONG, 0));
            assertEquals(1L << 40, p[2].get(ValueLayout.JAVA_LONG, 0));
            assertEquals(-7, p[3].get(ValueLayout.JAVA_INT, 0));
            assertEquals((short) 300, p[4].get(ValueLayout.JAVA_SHORT, 0));
            assertEquals((byte) -2, p[5].get(ValueLayout.JAVA_BYTE, 0));
            assertEquals(1.5f, p[6].get(ValueLayout.JAVA_FLOAT, 0));
            assertEquals(-2.25, p[7].get(ValueLayout.JAVA_DOUBLE, 0));
            assertEquals(1, p[8].get(ValueLayout.JAVA_BYTE, 0));
            assertEquals(8, KernelFunction.marshalArgs(arena, "k", new Object[0]).byteSize(), "never empty");
        }
    }

    @Test
    void badArgumentsAreNamedByIndex() {
        HostMemoryResource host = new HostMemoryResource();
        Buffer closed = Buffer.allocate(host, 16);
        closed.close();
        try (Arena arena = Arena.ofConfined()) {
            var e = assertThrows(IllegalArgumentException.class,
                    () -> KernelFunction.marshalArgs(arena, "my_kernel", new Object[] {1, null}));
            assertTrue(e.getMessage().contains("args[1] of kernel my_kernel is null"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> KernelFunction.marshalArgs(arena, "my_kernel", new Object[] {"text"}));
            assertTrue(e.getMessage().contains("args[0] of kernel my_kernel has unsupported type java.lang.String"),
                    e.getMessage());
            var s = assertThrows(IllegalStateException.class,
                    () -> KernelFunction.marshalArgs(arena, "my_kernel", new Object[] {7L, closed}));
            assertTrue(s.getMessage().contains("args[1] of kernel my_kernel is a closed buffer"), s.getMessage());
        }
    }
}
