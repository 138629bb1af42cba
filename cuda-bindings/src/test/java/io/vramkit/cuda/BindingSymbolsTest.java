package io.vramkit.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.vramkit.cuda.internal.NativeLibraries;
import io.vramkit.cuda.internal.panama.cublas_h;
import io.vramkit.cuda.internal.panama.cudaDeviceProp;
import io.vramkit.cuda.internal.panama.cuda_h;
import io.vramkit.cuda.internal.panama.cudart_h;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Every bound symbol resolves in the installed libraries; nothing is called. libcudart is required where the CUDA
 * toolkit is installed (this machine and CI); libcuda and libcublas are checked where found (a GPU box, or the
 * toolkit's {@code lib64/stubs/libcuda.so}, which is fine for symbol lookup though never for calls).
 */
class BindingSymbolsTest {

    private static List<String> missing(NativeLibraries.Loaded lib, List<String> functions) {
        List<String> missing = new ArrayList<>();
        for (String f : functions) {
            if (lib.lookup().find(f).isEmpty()) {
                missing.add(f);
            }
        }
        return missing;
    }

    @Test
    void everyRuntimeSymbolResolvesInLibcudart() {
        assumeTrue(Files.isDirectory(Path.of("/usr/local/cuda")) || System.getenv("CUDA_HOME") != null,
                "no CUDA toolkit on this machine");
        NativeLibraries.Loaded cudart = NativeLibraries.require(CudaLibrary.CUDART);
        assertEquals(36, cudart_h.FUNCTIONS.size());
        assertEquals(List.of(), missing(cudart, cudart_h.FUNCTIONS), "unresolved in " + cudart.path());
    }

    @Test
    void everyDriverSymbolResolvesInLibcudaWhereFound() {
        NativeLibraries.Loaded cuda = null;
        if (NativeLibraries.isAvailable(CudaLibrary.CUDA)) {
            cuda = NativeLibraries.require(CudaLibrary.CUDA);
        } else {
            for (String stub : List.of("/usr/local/cuda/lib64/stubs/libcuda.so",
                    "/usr/local/cuda/targets/x86_64-linux/lib/stubs/libcuda.so")) {
                if (Files.exists(Path.of(stub))) {
                    cuda = NativeLibraries.load(CudaLibrary.CUDA, List.of(stub));
                    break;
                }
            }
        }
        assumeTrue(cuda != null, "neither libcuda.so.1 (NVIDIA driver) nor the toolkit's stub libcuda.so is installed");
        assertEquals(List.of(), missing(cuda, cuda_h.FUNCTIONS), "unresolved in " + cuda.path());
    }

    @Test
    void everyCublasSymbolResolvesWhereInstalled() {
        assumeTrue(NativeLibraries.isAvailable(CudaLibrary.CUBLAS), "libcublas is not installed here");
        NativeLibraries.Loaded cublas = NativeLibraries.require(CudaLibrary.CUBLAS);
        assertEquals(List.of(), missing(cublas, cublas_h.FUNCTIONS), "unresolved in " + cublas.path());
    }

    @Test
    void structLayoutHasTheCompilersSize() {
        assertEquals(cudaDeviceProp.SIZEOF, cudaDeviceProp.LAYOUT.byteSize());
        assertEquals(0, cudaDeviceProp.name$OFFSET);
        assertTrue(cudaDeviceProp.multiProcessorCount$OFFSET > cudaDeviceProp.totalGlobalMem$OFFSET);
        assertEquals(cudaDeviceProp.LAYOUT.byteOffset(java.lang.foreign.MemoryLayout.PathElement.groupElement("major")),
                cudaDeviceProp.major$OFFSET);
    }

    @Test
    void constantsMatchTheCudaHeaders() {
        assertEquals(0, cudart_h.cudaSuccess);
        assertEquals(35, cudart_h.cudaErrorInsufficientDriver);
        assertEquals(100, cudart_h.cudaErrorNoDevice);
        assertEquals(2, cudart_h.cudaMemcpyDeviceToHost);
        assertEquals(13000, cuda_h.CUDA_VERSION);
        assertEquals(68, cublas_h.CUBLAS_COMPUTE_32F);
        assertEquals(14, cublas_h.CUDA_R_16BF);
    }
}
