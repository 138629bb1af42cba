package io.vramkit.cuda;

import io.vramkit.core.memory.MemoryKind;
import io.vramkit.core.memory.MemoryResource;
import io.vramkit.core.memory.OutOfMemoryException;
import io.vramkit.core.memory.Stream;
import io.vramkit.cuda.internal.panama.cudart_h;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the two device upstreams share: the device, live-allocation tracking (so a foreign or double free is an
 * {@link IllegalArgumentException}, not a CUDA crash), argument checks and the OOM diagnosis built from the device's
 * free and total memory.
 */
abstract sealed class DeviceResourceBase implements MemoryResource permits CudaMallocResource, CudaAsyncResource {

    /** cudaMalloc and cudaMallocAsync align every allocation to at least 256 bytes. */
    static final long NATIVE_ALIGNMENT = 256;

    /**
     * The largest alignment accepted: 1 GiB, as core's pools. Above {@link #NATIVE_ALIGNMENT} the allocation is
     * over-allocated by {@code alignment - 256} bytes and the aligned address inside it is handed out (core's
     * {@code CachingPool} asks its upstream for its minimum block size, 512 bytes by default).
     */
    static final long MAX_ALIGNMENT = 1L << 30;

    private static final Logger LOG = LoggerFactory.getLogger(DeviceResourceBase.class);

    final int device;
    private final long totalBytes;
    /** Live allocations by the address handed out. */
    private final ConcurrentHashMap<Long, Allocation> live = new ConcurrentHashMap<>();
    private final AtomicLong usedBytes = new AtomicLong();

    DeviceResourceBase(int device) {
        CudaDevice.checkOrdinal(device);
        this.device = device;
        this.totalBytes = CudaDevice.memoryInfo(device).totalBytes();
    }

    /** The device this resource allocates on. */
    public int deviceOrdinal() {
        return device;
    }

    @Override
    public MemoryKind kind() {
        return MemoryKind.DEVICE;
    }

    /** The device's total memory in bytes. */
    @Override
    public long capacityBytes() {
        return totalBytes;
    }

    /** The device's free memory now, in bytes ({@code cudaMemGetInfo}); other processes' use counts against it. */
    public long freeBytes() {
        return CudaDevice.memoryInfo(device).freeBytes();
    }

    /** Bytes currently allocated through this resource. */
    public long usedBytes() {
        return usedBytes.get();
    }

    /** Number of live allocations made through this resource. */
    public int liveAllocations() {
        return live.size();
    }

    void checkArgs(long bytes, long alignment, Stream stream) {
        MemoryResource.checkAllocateArgs(bytes, alignment, stream);
        if (alignment > MAX_ALIGNMENT) {
            throw new IllegalArgumentException("alignment must be <= " + MAX_ALIGNMENT + ", got " + alignment);
        }
        if (stream instanceof CudaStream cs && cs.deviceOrdinal() != device) {
            throw new IllegalArgumentException("stream is on cuda:" + cs.deviceOrdinal() + " but this resource "
                    + "allocates on cuda:" + device);
        }
    }

    /**
     * One native allocation call of {@code rawBytes} writing the new address through {@code out}; returns its error
     * code.
     */
    @FunctionalInterface
    interface NativeAllocation {
        int call(MemorySegment out, long rawBytes);
    }

    /** A live allocation: the bytes asked for, and the native allocation holding them. */
    private record Allocation(long bytes, long rawAddress, long rawBytes) {
    }

    /**
     * Checks the arguments, runs the allocation on this device (over-allocating for an alignment above 256 bytes),
     * maps failures, and records the allocation.
     */
    long allocateWith(String function, long bytes, long alignment, Stream stream, NativeAllocation allocation) {
        checkArgs(bytes, alignment, stream);
        long rawBytes = alignment > NATIVE_ALIGNMENT ? bytes + alignment - NATIVE_ALIGNMENT : bytes;
        CudaNative.setDevice(device);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            int rc = allocation.call(out, rawBytes);
            if (rc != cudart_h.cudaSuccess) {
                throw allocationFailure(function, rc, rawBytes);
            }
            long raw = out.get(ValueLayout.ADDRESS, 0).address();
            long address = (raw + alignment - 1) & -alignment;
            live.put(address, new Allocation(bytes, raw, rawBytes));
            usedBytes.addAndGet(rawBytes);
            return address;
        }
    }

    /** Removes a live allocation, or throws without changing anything; returns the native address to free. */
    long checkAndForget(long address, long bytes) {
        Allocation a = live.get(address);
        if (a == null) {
            throw new IllegalArgumentException(String.format(
                    "address 0x%x was not allocated by %s, or was already freed", address, this));
        }
        if (a.bytes() != bytes) {
            throw new IllegalArgumentException(String.format(
                    "bytes %d does not match the %d bytes allocated at 0x%x", bytes, a.bytes(), address));
        }
        if (!live.remove(address, a)) {
            throw new IllegalArgumentException(String.format("address 0x%x was already freed", address));
        }
        usedBytes.addAndGet(-a.rawBytes());
        return a.rawAddress();
    }

    /** Maps an allocation failure to core's OOM, with the device's numbers; other errors stay CUDA errors. */
    RuntimeException allocationFailure(String function, int rc, long bytes) {
        CudaException error = CudaNative.runtimeError(function, rc);
        if (rc != cudart_h.cudaErrorMemoryAllocation) {
            return error;
        }
        CudaDevice.MemoryInfo info = CudaDevice.memoryInfo(device);
        return new OutOfMemoryException(String.format(
                "%s of %s on cuda:%d failed: the device has %s free of %s; this resource holds %s in %d allocations."
                        + " Free cached memory (trim pools), lower batch or context sizes, or quantize weights.",
                function, mib(bytes), device, mib(info.freeBytes()), mib(info.totalBytes()), mib(usedBytes.get()),
                live.size()), bytes, error);
    }

    static String mib(long bytes) {
        return bytes >= (1L << 30) ? String.format("%.2f GiB", bytes / (double) (1L << 30))
                : String.format("%.1f MiB", bytes / (double) (1L << 20));
    }

    /** Logs live allocations; never frees them, as a pool must not free memory someone may still use. */
    @Override
    public void close() {
        if (!live.isEmpty()) {
            LOG.warn("{} closed with {} live allocations ({}); they are not freed", this, live.size(),
                    mib(usedBytes.get()));
        }
    }
}
