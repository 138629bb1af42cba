package io.vramkit.cuda;

import io.vramkit.cuda.internal.panama.cuda_h;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A module's CUDA kernels, loaded from the fatbin resource the build compiles from its {@code src/main/cuda}
 * folder, through the driver API ({@code cuModuleLoadData}, {@code cuModuleGetFunction}, {@code cuLaunchKernel}).
 *
 * {@snippet :
 * try (KernelModule kernels = KernelModule.load(MyKernels.class, "quantization");
 *      CudaStream stream = CudaStream.create(0)) {
 *     kernels.function("vramkit_dequant_int8")
 *            .launch(Dim3.of(blocks), Dim3.of(256), 0, stream, out, in, scales, n);
 * }
 * }
 *
 * <p>The bundle name is the Maven module's folder name; the resources are {@code META-INF/vramkit-kernels/<bundle>
 * .fatbin} and its manifest (see {@link KernelBundle}). When the fatbin is absent (the build had no nvcc) loading
 * throws {@link KernelUnavailableException} naming the kernels and the reason the build recorded, before touching
 * CUDA. Functions are looked up once and cached. Thread-safe; close once, after the last launch has been queued.
 * Verified on an NVIDIA H200 by the {@code gpu}-tagged tests (2026-11-26).
 */
public final class KernelModule implements AutoCloseable {

    private final int device;
    private final String bundle;
    private final KernelBundle manifest;
    private final long module;
    private final ConcurrentHashMap<String, KernelFunction> functions = new ConcurrentHashMap<>();
    private volatile boolean open = true;

    private KernelModule(int device, String bundle, KernelBundle manifest, long module) {
        this.device = device;
        this.bundle = bundle;
        this.manifest = manifest;
        this.module = module;
    }

    /**
     * Loads a module's kernels on device 0.
     *
     * @see #load(int, Class, String)
     */
    public static KernelModule load(Class<?> anchor, String bundle) {
        return load(0, anchor, bundle);
    }

    /**
     * Loads a module's kernels on a device.
     *
     * @param deviceOrdinal the device
     * @param anchor        a class of the module that owns the kernels; its class loader finds the resource
     * @param bundle        the bundle name: the Maven module's folder name, e.g. {@code quantization}
     * @return the loaded module, owned by the caller, who must close it
     * @throws IllegalArgumentException   for a null anchor, a bad bundle name or device ordinal
     * @throws KernelUnavailableException when the fatbin is absent, or has no code for this GPU
     * @throws CudaException              when the driver fails otherwise
     */
    public static KernelModule load(int deviceOrdinal, Class<?> anchor, String bundle) {
        KernelBundle.checkArgs(anchor, bundle);
        KernelBundle described = KernelBundle.describe(anchor, bundle);
        byte[] image = readFatbin(anchor, bundle, described);
        KernelBundle manifest = described != null ? described
                : new KernelBundle(bundle, "unknown", "", List.of(), List.of(), "unknown", "unknown");
        CudaDevice.checkOrdinal(deviceOrdinal);
        CudaNative.initDriver();
        CudaNative.setDevice(deviceOrdinal);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment data = arena.allocate(image.length + 1L, 16);
            MemorySegment.copy(image, 0, data, ValueLayout.JAVA_BYTE, 0, image.length);
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            int rc = cuda_h.cuModuleLoadData(out, data);
            if (rc == cuda_h.CUDA_ERROR_NO_BINARY_FOR_GPU || rc == cuda_h.CUDA_ERROR_INVALID_IMAGE) {
                CudaDevice dev = CudaDevice.get(deviceOrdinal);
                throw new KernelUnavailableException("the " + bundle + " fatbin (" + manifest.archs()
                        + ") has no code this GPU can run: " + dev + "; rebuild with its architecture or a newer "
                        + "PTX target (driver error " + rc + ")", manifest.kernels(), null);
            }
            if (rc == cuda_h.CUDA_ERROR_UNSUPPORTED_PTX_VERSION) {
                throw new KernelUnavailableException("the " + bundle + " kernels were built by nvcc "
                        + manifest.nvcc() + " but the NVIDIA driver supports only CUDA "
                        + Cuda.versionString(Cuda.driverVersion()) + "; upgrade the driver or rebuild with an older "
                        + "nvcc (driver error " + rc + ")", manifest.kernels(), null);
            }
            CudaNative.checkDriver("cuModuleLoadData", rc);
            return new KernelModule(deviceOrdinal, bundle, manifest, out.get(ValueLayout.ADDRESS, 0).address());
        }
    }

    private static byte[] readFatbin(Class<?> anchor, String bundle, KernelBundle manifest) {
        try (InputStream in = KernelBundle.open(anchor, bundle + ".fatbin")) {
            if (in != null) {
                return in.readAllBytes();
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the " + bundle + " fatbin", e);
        }
        String where = KernelBundle.RESOURCE_DIR + bundle + ".fatbin";
        if (manifest == null) {
            throw new KernelUnavailableException("no CUDA kernels for '" + bundle + "': neither " + where
                    + " nor its manifest is on the class path of " + anchor.getName() + " (is the bundle name the "
                    + "module's folder name, and does the module have src/main/cuda?)", List.of(), null);
        }
        throw new KernelUnavailableException("CUDA kernels " + manifest.kernels() + " of '" + bundle + "' (from "
                + manifest.sources() + ") are missing: " + where + " was not built (" + manifest.status() + ": "
                + manifest.reason() + "). Rebuild on a machine with nvcc (CUDA 13) on PATH or in CUDA_HOME.",
                manifest.kernels(), null);
    }

    /**
     * A kernel of this module, looked up once.
     *
     * @param name the kernel's {@code extern "C"} name
     * @throws IllegalArgumentException   if {@code name} is null or blank
     * @throws IllegalStateException      if the module is closed
     * @throws KernelUnavailableException if the fatbin has no such kernel; the message lists those it has
     */
    public KernelFunction function(String name) {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("kernel name must not be blank, got '" + name + "'");
        }
        checkOpen();
        return functions.computeIfAbsent(name, this::lookup);
    }

    private KernelFunction lookup(String name) {
        CudaNative.setDevice(device);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            int rc = cuda_h.cuModuleGetFunction(out, MemorySegment.ofAddress(module), arena.allocateFrom(name));
            if (rc == cuda_h.CUDA_ERROR_NOT_FOUND) {
                throw new KernelUnavailableException("kernel '" + name + "' is not in the " + bundle
                        + " fatbin; it has " + (manifest.kernels().isEmpty() ? "an unknown set" : manifest.kernels()),
                        List.of(name), null);
            }
            CudaNative.checkDriver("cuModuleGetFunction", rc);
            return new KernelFunction(this, name, out.get(ValueLayout.ADDRESS, 0).address());
        }
    }

    /** The device the module is loaded on. */
    public int deviceOrdinal() {
        return device;
    }

    /** The bundle name. */
    public String bundle() {
        return bundle;
    }

    void checkOpen() {
        if (!open) {
            throw new IllegalStateException("kernel module '" + bundle + "' is closed");
        }
    }

    /**
     * Unloads the module ({@code cuModuleUnload}); its functions can no longer be launched.
     *
     * @throws IllegalStateException if already closed
     */
    @Override
    public void close() {
        synchronized (this) {
            if (!open) {
                throw new IllegalStateException("kernel module '" + bundle + "' was already closed");
            }
            open = false;
        }
        CudaNative.setDevice(device);
        CudaNative.checkDriver("cuModuleUnload", cuda_h.cuModuleUnload(MemorySegment.ofAddress(module)));
    }

    @Override
    public String toString() {
        return "KernelModule[" + bundle + " on cuda:" + device + (open ? "" : ", closed") + "]";
    }
}
