package io.vramkit.cuda;

import io.vramkit.cuda.internal.NativeLibraries;
import io.vramkit.cuda.internal.panama.cudart_h;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

/**
 * Entry point of the CUDA backend: versions, device count, and a diagnosis of why CUDA cannot be used.
 *
 * {@snippet :
 * CudaStatus status = Cuda.status();
 * if (!status.usable()) {
 *     System.err.println("running on the CPU: " + status.message());
 * }
 * }
 *
 * <p>Static and thread-safe. Nothing here is loaded until first called.
 */
public final class Cuda {

    private Cuda() {
    }

    /** Why CUDA can or cannot be used. */
    public enum Reason {
        /** At least one device answers. */
        OK,
        /** libcudart could not be loaded. */
        NO_RUNTIME,
        /** No NVIDIA driver (libcuda) is installed. */
        NO_DRIVER,
        /** The driver is older than the runtime. */
        DRIVER_TOO_OLD,
        /** The driver sees no device. */
        NO_DEVICE,
        /** Some other CUDA error; the message says which. */
        ERROR
    }

    /**
     * The outcome of {@link #status()}.
     *
     * @param reason         why CUDA is or is not usable
     * @param message        one line for people
     * @param runtimeVersion the runtime version as CUDA encodes it (13000 = 13.0), or 0 without a runtime
     * @param driverVersion  the newest CUDA version the driver supports, or 0 without a driver
     * @param deviceCount    the number of devices; 0 unless {@code reason} is {@link Reason#OK}
     */
    public record CudaStatus(Reason reason, String message, int runtimeVersion, int driverVersion, int deviceCount) {

        /** Whether CUDA can be used. */
        public boolean usable() {
            return reason == Reason.OK;
        }
    }

    /** The CUDA version the bindings were generated from, as CUDA encodes it (13000 = 13.0). */
    public static int headerVersion() {
        return cudart_h.CUDART_VERSION;
    }

    /**
     * The runtime version ({@code cudaRuntimeGetVersion}), as CUDA encodes it (13000 = 13.0).
     *
     * @throws CudaLibraryException if libcudart cannot be loaded
     * @throws CudaException        if the call fails
     */
    public static int runtimeVersion() {
        return intOut("cudaRuntimeGetVersion", Call.RUNTIME_VERSION);
    }

    /**
     * The newest CUDA version the installed driver supports ({@code cudaDriverGetVersion}), or 0 when no driver is
     * installed.
     *
     * @throws CudaLibraryException if libcudart cannot be loaded
     */
    public static int driverVersion() {
        return intOut("cudaDriverGetVersion", Call.DRIVER_VERSION);
    }

    /**
     * The number of CUDA devices ({@code cudaGetDeviceCount}).
     *
     * @throws CudaLibraryException if libcudart cannot be loaded
     * @throws CudaException        with code 35 ({@code cudaErrorInsufficientDriver}) when there is no driver or it is
     *                              too old, or 100 ({@code cudaErrorNoDevice}) when there is no device
     */
    public static int deviceCount() {
        return intOut("cudaGetDeviceCount", Call.DEVICE_COUNT);
    }

    /** Formats a CUDA version number: 13000 as {@code 13.0}, 12080 as {@code 12.8}. */
    public static String versionString(int version) {
        return version / 1000 + "." + (version % 1000) / 10;
    }

    /** Whether a CUDA device answers. Never throws. */
    public static boolean isAvailable() {
        return status().usable();
    }

    /** Diagnoses whether CUDA can be used, and why not. Never throws. */
    public static CudaStatus status() {
        if (!NativeLibraries.isAvailable(CudaLibrary.CUDART)) {
            String why;
            try {
                NativeLibraries.require(CudaLibrary.CUDART);
                why = "libcudart loaded";
            } catch (CudaLibraryException e) {
                why = e.getMessage();
            }
            return new CudaStatus(Reason.NO_RUNTIME, why, 0, 0, 0);
        }
        int runtime = runtimeVersion();
        int driver = driverVersion();
        if (driver == 0) {
            return new CudaStatus(Reason.NO_DRIVER, "no NVIDIA driver: libcuda.so.1 is not installed (CUDA runtime "
                    + versionString(runtime) + " found); install the NVIDIA driver", runtime, 0, 0);
        }
        if (driver < runtime) {
            return new CudaStatus(Reason.DRIVER_TOO_OLD, "driver too old: it supports CUDA " + versionString(driver)
                    + " but the runtime is CUDA " + versionString(runtime) + "; upgrade the NVIDIA driver", runtime,
                    driver, 0);
        }
        try {
            int count = deviceCount();
            if (count == 0) {
                return new CudaStatus(Reason.NO_DEVICE, "the driver sees no CUDA device", runtime, driver, 0);
            }
            return new CudaStatus(Reason.OK, count + " CUDA device(s), driver " + versionString(driver)
                    + ", runtime " + versionString(runtime), runtime, driver, count);
        } catch (CudaException e) {
            Reason reason = e.code() == cudart_h.cudaErrorNoDevice ? Reason.NO_DEVICE
                    : e.code() == cudart_h.cudaErrorInsufficientDriver ? Reason.DRIVER_TOO_OLD : Reason.ERROR;
            return new CudaStatus(reason, e.getMessage(), runtime, driver, 0);
        }
    }

    /** The CUDA devices, in ordinal order. @throws CudaException if CUDA is not usable */
    public static List<CudaDevice> devices() {
        int n = deviceCount();
        CudaDevice[] out = new CudaDevice[n];
        for (int i = 0; i < n; i++) {
            out[i] = CudaDevice.get(i);
        }
        return List.of(out);
    }

    /**
     * Blocks until every device's queued work has finished on the calling thread's current device
     * ({@code cudaDeviceSynchronize}).
     *
     * @throws CudaException if queued work failed
     */
    public static void synchronizeCurrentDevice() {
        CudaNative.check("cudaDeviceSynchronize", cudart_h.cudaDeviceSynchronize());
    }

    private enum Call { RUNTIME_VERSION, DRIVER_VERSION, DEVICE_COUNT }

    private static int intOut(String function, Call call) {
        // Load (or fail with the loader's diagnosis) before touching a binding, whose lazy holder would otherwise
        // wrap the failure in an ExceptionInInitializerError.
        NativeLibraries.require(CudaLibrary.CUDART);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.JAVA_INT);
            int rc = switch (call) {
                case RUNTIME_VERSION -> cudart_h.cudaRuntimeGetVersion(out);
                case DRIVER_VERSION -> cudart_h.cudaDriverGetVersion(out);
                case DEVICE_COUNT -> cudart_h.cudaGetDeviceCount(out);
            };
            CudaNative.check(function, rc);
            return out.get(ValueLayout.JAVA_INT, 0);
        }
    }
}
