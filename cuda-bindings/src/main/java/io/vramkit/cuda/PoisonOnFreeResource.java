package io.vramkit.cuda;

import io.vramkit.core.memory.Buffer;
import io.vramkit.core.memory.MemoryKind;
import io.vramkit.core.memory.MemoryResource;
import io.vramkit.core.memory.Stream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * A debugging adaptor that poisons memory when it is freed, before handing it back upstream, so that a
 * use-after-free reads an obvious pattern ({@code 0xDEADBEEF} by default) instead of stale but plausible values.
 *
 * <p>Device memory is filled by the {@code vramkit_poison_fill} CUDA kernel of this module, queued on the freeing
 * stream (on a private stream, then synchronized, when the freeing stream is not a {@link CudaStream}). Host memory
 * is filled by the CPU after the freeing stream has finished its queued work, since a copy may still read it.
 * Every byte at address {@code a} gets {@link #expectedByte(long, int) expectedByte(a, pattern)}, the pattern's
 * little-endian byte {@code a % 4}, so a host-side check can predict it.
 *
 * {@snippet :
 * MemoryResource debug = new CachingPool(new PoisonOnFreeResource(new CudaMallocResource(0)));
 * }
 *
 * <p>Does not own its upstream: closing it closes only the private stream and kernel module. Thread-safe.
 * The device path was verified on an NVIDIA H200 by the {@code gpu}-tagged tests (2026-11-26).
 */
public final class PoisonOnFreeResource implements MemoryResource {

    /** The default poison word. */
    public static final int DEFAULT_PATTERN = 0xDEADBEEF;

    /** The kernel that fills device memory. */
    public static final String KERNEL = "vramkit_poison_fill";

    /** The kernel bundle of this module. */
    public static final String BUNDLE = "cuda-bindings";

    private final MemoryResource upstream;
    private final int pattern;
    private KernelModule kernels;
    private CudaStream privateStream;

    /** Poisons with {@link #DEFAULT_PATTERN}. */
    public PoisonOnFreeResource(MemoryResource upstream) {
        this(upstream, DEFAULT_PATTERN);
    }

    /**
     * @param upstream where memory comes from and returns to
     * @param pattern  the 32-bit word written over freed memory
     * @throws IllegalArgumentException if {@code upstream} is null
     */
    public PoisonOnFreeResource(MemoryResource upstream, int pattern) {
        if (upstream == null) {
            throw new IllegalArgumentException("upstream must not be null");
        }
        this.upstream = upstream;
        this.pattern = pattern;
    }

    /** The poison byte at {@code address} for {@code pattern}. */
    public static byte expectedByte(long address, int pattern) {
        return (byte) (pattern >>> ((address & 3) * 8));
    }

    /** The poison word. */
    public int pattern() {
        return pattern;
    }

    @Override
    public long allocate(long bytes, long alignment, Stream stream) {
        return upstream.allocate(bytes, alignment, stream);
    }

    @Override
    public void deallocate(long address, long bytes, long alignment, Stream stream) {
        if (stream == null) {
            throw new IllegalArgumentException("stream must not be null");
        }
        if (bytes <= 0) {
            throw new IllegalArgumentException("bytes must be positive, got " + bytes);
        }
        if (upstream.kind().hostAccessible()) {
            stream.synchronize();
            fillHost(MemorySegment.ofAddress(address).reinterpret(bytes), pattern);
        } else {
            poisonDevice(address, bytes, stream);
        }
        upstream.deallocate(address, bytes, alignment, stream);
    }

    /** Writes the pattern over host memory: bytes up to 4-byte alignment, then little-endian words, then bytes. */
    static void fillHost(MemorySegment memory, int pattern) {
        long address = memory.address();
        long size = memory.byteSize();
        long head = Math.min(size, (4 - (address & 3)) & 3);
        for (long i = 0; i < head; i++) {
            memory.set(ValueLayout.JAVA_BYTE, i, expectedByte(address + i, pattern));
        }
        ValueLayout.OfInt word = ValueLayout.JAVA_INT.withOrder(ByteOrder.LITTLE_ENDIAN);
        long i = head;
        for (; i + 4 <= size; i += 4) {
            memory.set(word, i, pattern);
        }
        for (; i < size; i++) {
            memory.set(ValueLayout.JAVA_BYTE, i, expectedByte(address + i, pattern));
        }
    }

    private void poisonDevice(long address, long bytes, Stream stream) {
        int device = stream instanceof CudaStream cs ? cs.deviceOrdinal()
                : upstream instanceof DeviceResourceBase d ? d.deviceOrdinal() : 0;
        CudaStream target;
        synchronized (this) {
            if (kernels == null) {
                kernels = KernelModule.load(device, PoisonOnFreeResource.class, BUNDLE);
            }
            if (stream instanceof CudaStream cs) {
                target = cs;
            } else {
                if (privateStream == null) {
                    privateStream = CudaStream.create(device);
                }
                target = privateStream;
            }
        }
        fill(kernels.function(KERNEL), address, bytes, pattern, target);
        if (target != stream) {
            target.synchronize();
        }
    }

    /**
     * Queues the poison fill of {@code bytes} device bytes from {@code address} on {@code stream}.
     *
     * @param function the {@value #KERNEL} kernel
     * @throws IllegalArgumentException if {@code bytes} is negative
     */
    static void fill(KernelFunction function, long address, long bytes, int pattern, CudaStream stream) {
        if (bytes < 0) {
            throw new IllegalArgumentException("bytes must be >= 0, got " + bytes);
        }
        if (bytes == 0) {
            return;
        }
        // 16-byte vectors, 256 threads a block; the head and tail need 16 threads at least, which one block has.
        long blocks = Math.max(1, Math.min(65_535, (bytes / 16 + 255) / 256));
        function.launch((int) blocks, 256, stream, MemorySegment.ofAddress(address), bytes, pattern);
    }

    /**
     * Poisons a device buffer range now, on {@code stream}; for tests and for tools that scrub memory explicitly.
     *
     * @throws IllegalArgumentException   for a range past the buffer's end
     * @throws KernelUnavailableException if the module's fatbin was not built
     */
    public static void poison(Buffer buffer, long offset, long bytes, int pattern,
                              CudaStream stream) {
        CudaStream.checkRange("buffer", buffer, offset, bytes);
        if (stream == null) {
            throw new IllegalArgumentException("stream must not be null");
        }
        try (KernelModule module = KernelModule.load(stream.deviceOrdinal(), PoisonOnFreeResource.class, BUNDLE)) {
            fill(module.function(KERNEL), buffer.address() + offset, bytes, pattern, stream);
            // The module must outlive the queued launch.
            stream.synchronize();
        }
    }

    @Override
    public MemoryKind kind() {
        return upstream.kind();
    }

    @Override
    public long capacityBytes() {
        return upstream.capacityBytes();
    }

    /** Closes the private stream and kernel module, not the upstream. */
    @Override
    public synchronized void close() {
        if (privateStream != null) {
            privateStream.close();
            privateStream = null;
        }
        if (kernels != null) {
            kernels.close();
            kernels = null;
        }
    }

    @Override
    public String toString() {
        return "PoisonOnFreeResource[" + upstream + ", pattern=0x" + Integer.toHexString(pattern) + "]";
    }
}
