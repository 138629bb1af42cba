package io.vramkit.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.vramkit.cuda.internal.NativeLibraries;
import org.junit.jupiter.api.Test;

/**
 * The no-driver path, for real: this machine has libcudart but no NVIDIA driver, so cudaGetDeviceCount returns
 * cudaErrorInsufficientDriver (35). Skipped where a driver is installed.
 */
class CudaStatusTest {

    private static void assumeRuntimeWithoutDriver() {
        assumeTrue(NativeLibraries.isAvailable(CudaLibrary.CUDART), "libcudart is not installed");
        assumeTrue(Cuda.driverVersion() == 0, "an NVIDIA driver is installed; the no-driver path cannot be tested");
    }

    @Test
    void deviceCountWithoutDriverThrowsCode35WithItsName() {
        assumeRuntimeWithoutDriver();
        for (int attempt = 0; attempt < 2; attempt++) {
            CudaException e = assertThrows(CudaException.class, Cuda::deviceCount);
            assertEquals(35, e.code());
            assertEquals("cudaErrorInsufficientDriver", e.errorName());
            assertEquals("cudaGetDeviceCount", e.function());
            assertEquals(CudaException.Api.RUNTIME, e.api());
            assertFalse(e.errorMessage().isBlank());
            assertTrue(e.getMessage().contains("No NVIDIA driver is installed"), e.getMessage());
            assertTrue(e.getMessage().contains("cudaGetDeviceCount failed: cudaErrorInsufficientDriver (35)"),
                    e.getMessage());
        }
    }

    @Test
    void statusSaysNoDriverAndNeverThrows() {
        assumeRuntimeWithoutDriver();
        Cuda.CudaStatus status = Cuda.status();
        assertEquals(Cuda.Reason.NO_DRIVER, status.reason());
        assertFalse(status.usable());
        assertFalse(Cuda.isAvailable());
        assertEquals(0, status.driverVersion());
        assertEquals(Cuda.runtimeVersion(), status.runtimeVersion());
        assertTrue(status.message().contains("no NVIDIA driver"), status.message());
    }

    @Test
    void runtimeVersionMatchesTheHeadersMajor() {
        assumeTrue(NativeLibraries.isAvailable(CudaLibrary.CUDART), "libcudart is not installed");
        assertTrue(Cuda.runtimeVersion() >= 12000, "runtime " + Cuda.runtimeVersion());
        assertEquals(13000, Cuda.headerVersion());
        assertEquals("13.0", Cuda.versionString(13000));
        assertEquals("12.8", Cuda.versionString(12080));
    }

    @Test
    void deviceOperationsWithoutDriverFailWithTheSameDiagnosis() {
        assumeRuntimeWithoutDriver();
        assertEquals(35, assertThrows(CudaException.class, () -> CudaStream.create(0)).code());
        assertEquals(35, assertThrows(CudaException.class, () -> new CudaMallocResource(0)).code());
        assertEquals(35, assertThrows(CudaException.class, () -> CudaDevice.get(0)).code());
    }

    @Test
    void errorNamesComeFromTheRuntime() {
        assumeTrue(NativeLibraries.isAvailable(CudaLibrary.CUDART), "libcudart is not installed");
        assertEquals("cudaErrorMemoryAllocation", CudaNative.errorName(2));
        assertEquals("cudaErrorNoDevice", CudaNative.errorName(100));
        CudaException e = CudaNative.runtimeError("cudaMalloc", 2);
        assertEquals("cudaMalloc failed: cudaErrorMemoryAllocation (2): " + e.errorMessage(), e.getMessage());
    }
}
