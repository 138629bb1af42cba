package io.vramkit.cuda;

import io.vramkit.core.Device;
import io.vramkit.cuda.internal.panama.cudaDeviceProp;
import io.vramkit.cuda.internal.panama.cuda_h;
import io.vramkit.cuda.internal.panama.cudart_h;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * One CUDA device and its fixed properties; {@link #memoryInfo()} reads the live free and total memory.
 *
 * <p>The name comes from {@code cudaGetDeviceProperties} when the runtime has the same major version as the headers
 * the bindings were generated from (the struct's layout changes between majors), and from the driver's
 * {@code cuDeviceGetName} otherwise. Immutable and thread-safe.
 * Verified on an NVIDIA H200 by the {@code gpu}-tagged tests (2026-11-26).
 *
 * @param ordinal              the device ordinal
 * @param name                 the marketing name, e.g. {@code NVIDIA H100 80GB HBM3}
 * @param totalMemoryBytes     device memory in bytes
 * @param multiProcessorCount  the number of SMs
 * @param computeMajor         compute capability, major
 * @param computeMinor         compute capability, minor
 * @param memoryPoolsSupported whether {@code cudaMallocAsync} is supported
 */
public record CudaDevice(int ordinal, String name, long totalMemoryBytes, int multiProcessorCount, int computeMajor,
                         int computeMinor, boolean memoryPoolsSupported) {

    /** Free and total device memory at one moment, in bytes. */
    public record MemoryInfo(long freeBytes, long totalBytes) {
    }

    /**
     * Queries a device.
     *
     * @param ordinal the device ordinal, from 0 to {@link Cuda#deviceCount()} - 1
     * @throws IllegalArgumentException naming the ordinal and the device count when it is out of range
     * @throws CudaException            if CUDA is not usable
     */
    public static CudaDevice get(int ordinal) {
        checkOrdinal(ordinal);
        CudaNative.setDevice(ordinal);
        int major = attribute(cudart_h.cudaDevAttrComputeCapabilityMajor, ordinal);
        int minor = attribute(cudart_h.cudaDevAttrComputeCapabilityMinor, ordinal);
        int sms = attribute(cudart_h.cudaDevAttrMultiProcessorCount, ordinal);
        boolean pools = attribute(cudart_h.cudaDevAttrMemoryPoolsSupported, ordinal) != 0;
        MemoryInfo memory = memoryInfo(ordinal);
        return new CudaDevice(ordinal, queryName(ordinal), memory.totalBytes(), sms, major, minor, pools);
    }

    /** Throws unless {@code ordinal} names an existing device. */
    static void checkOrdinal(int ordinal) {
        int count = Cuda.deviceCount();
        if (ordinal < 0 || ordinal >= count) {
            throw new IllegalArgumentException("device ordinal must be in [0, " + count + "), got " + ordinal);
        }
    }

    /**
     * The most dynamic shared memory one block may use once a kernel opts in (above the default 48 KiB), in bytes:
     * {@code cudaDevAttrMaxSharedMemoryPerBlockOptin}.
     *
     * @throws CudaException if CUDA is not usable
     */
    public int maxSharedMemoryPerBlockOptInBytes() {
        CudaNative.setDevice(ordinal);
        return attribute(cudart_h.cudaDevAttrMaxSharedMemoryPerBlockOptin, ordinal);
    }

    /** This device as core's {@link Device}. */
    public Device device() {
        return Device.cuda(ordinal);
    }

    /** The compute capability as {@code major.minor}, e.g. {@code 9.0}. */
    public String computeCapability() {
        return computeMajor + "." + computeMinor;
    }

    /**
     * Live free and total memory ({@code cudaMemGetInfo}).
     *
     * @throws CudaException if the query fails
     */
    public MemoryInfo memoryInfo() {
        return memoryInfo(ordinal);
    }

    static MemoryInfo memoryInfo(int ordinal) {
        CudaNative.setDevice(ordinal);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment free = arena.allocate(ValueLayout.JAVA_LONG);
            MemorySegment total = arena.allocate(ValueLayout.JAVA_LONG);
            CudaNative.check("cudaMemGetInfo", cudart_h.cudaMemGetInfo(free, total));
            return new MemoryInfo(free.get(ValueLayout.JAVA_LONG, 0), total.get(ValueLayout.JAVA_LONG, 0));
        }
    }

    static int attribute(int attribute, int ordinal) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.JAVA_INT);
            CudaNative.check("cudaDeviceGetAttribute", cudart_h.cudaDeviceGetAttribute(out, attribute, ordinal));
            return out.get(ValueLayout.JAVA_INT, 0);
        }
    }

    private static String queryName(int ordinal) {
        try (Arena arena = Arena.ofConfined()) {
            if (Cuda.runtimeVersion() / 1000 == Cuda.headerVersion() / 1000) {
                MemorySegment prop = cudaDeviceProp.allocate(arena);
                CudaNative.check("cudaGetDeviceProperties", cudart_h.cudaGetDeviceProperties(prop, ordinal));
                return cudaDeviceProp.name(prop).getString(0);
            }
            CudaNative.initDriver();
            MemorySegment dev = arena.allocate(ValueLayout.JAVA_INT);
            CudaNative.checkDriver("cuDeviceGet", cuda_h.cuDeviceGet(dev, ordinal));
            MemorySegment name = arena.allocate(256);
            CudaNative.checkDriver("cuDeviceGetName", cuda_h.cuDeviceGetName(name, 256,
                    dev.get(ValueLayout.JAVA_INT, 0)));
            return name.getString(0);
        }
    }

    @Override
    public String toString() {
        return String.format("cuda:%d %s (CC %s, %d SMs, %.1f GiB)", ordinal, name, computeCapability(),
                multiProcessorCount, totalMemoryBytes / (double) (1L << 30));
    }
}
