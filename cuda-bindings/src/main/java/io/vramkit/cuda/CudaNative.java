package io.vramkit.cuda;

import io.vramkit.cuda.internal.NativeLibraries;
import io.vramkit.cuda.internal.panama.cuda_h;
import io.vramkit.cuda.internal.panama.cudart_h;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** Checked calls shared by the idiomatic layer: error mapping, device selection, driver start-up. */
final class CudaNative {

    private static volatile boolean driverInitialized;

    private CudaNative() {
    }

    /** Throws a {@link CudaException} unless {@code code} is {@code cudaSuccess}. */
    static void check(String function, int code) {
        if (code != cudart_h.cudaSuccess) {
            throw runtimeError(function, code);
        }
    }

    /** The exception for a runtime error code, with its name, message and a diagnosis where one applies. */
    static CudaException runtimeError(String function, int code) {
        // The sticky per-thread error must be cleared so the next call does not report this one again.
        cudart_h.cudaGetLastError();
        return new CudaException(CudaException.Api.RUNTIME, function, code, errorName(code), errorString(code),
                diagnosis(code));
    }

    static String errorName(int code) {
        return cString(cudart_h.cudaGetErrorName(code), "cudaError " + code);
    }

    static String errorString(int code) {
        return cString(cudart_h.cudaGetErrorString(code), "unknown CUDA error " + code);
    }

    private static String diagnosis(int code) {
        if (code == cudart_h.cudaErrorInsufficientDriver) {
            int driver = Cuda.driverVersion();
            int runtime = Cuda.runtimeVersion();
            if (driver == 0) {
                return "No NVIDIA driver is installed (libcuda.so.1 is missing): install the driver, or run the "
                        + "container with the NVIDIA container toolkit. Runtime is CUDA " + Cuda.versionString(runtime);
            }
            return "The NVIDIA driver supports CUDA " + Cuda.versionString(driver) + " but the runtime is CUDA "
                    + Cuda.versionString(runtime) + ": upgrade the driver, or use a runtime no newer than the driver";
        }
        if (code == cudart_h.cudaErrorNoDevice) {
            return "The driver is installed but sees no CUDA device: check nvidia-smi and CUDA_VISIBLE_DEVICES";
        }
        return null;
    }

    /** Throws a {@link CudaException} for a failed driver-API call. */
    static void checkDriver(String function, int code) {
        if (code != cuda_h.CUDA_SUCCESS) {
            throw new CudaException(CudaException.Api.DRIVER, function, code, driverName(code), driverString(code),
                    code == cuda_h.CUDA_ERROR_STUB_LIBRARY ? "The libcuda that was loaded is the toolkit's stub "
                            + "(lib64/stubs); install the NVIDIA driver, or point -Dvramkit.cuda.cuda.path at its "
                            + "libcuda.so.1" : null);
        }
    }

    private static String driverName(int code) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            return cuda_h.cuGetErrorName(code, out) == cuda_h.CUDA_SUCCESS
                    ? cString(out.get(ValueLayout.ADDRESS, 0), "CUresult " + code) : "CUresult " + code;
        }
    }

    private static String driverString(int code) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            return cuda_h.cuGetErrorString(code, out) == cuda_h.CUDA_SUCCESS
                    ? cString(out.get(ValueLayout.ADDRESS, 0), "") : "unknown driver error " + code;
        }
    }

    /**
     * Calls {@code cuInit(0)} once per JVM.
     *
     * @throws CudaLibraryException if libcuda (the NVIDIA driver) cannot be loaded
     */
    static void initDriver() {
        if (!driverInitialized) {
            synchronized (CudaNative.class) {
                if (!driverInitialized) {
                    NativeLibraries.require(CudaLibrary.CUDA);
                    checkDriver("cuInit", cuda_h.cuInit(0));
                    driverInitialized = true;
                }
            }
        }
    }

    /** Makes {@code ordinal} the calling thread's current device (and its primary context current). */
    static void setDevice(int ordinal) {
        check("cudaSetDevice", cudart_h.cudaSetDevice(ordinal));
    }

    static String cString(MemorySegment pointer, String fallback) {
        if (pointer == null || pointer.address() == 0) {
            return fallback;
        }
        return pointer.reinterpret(4096).getString(0);
    }
}
