package io.vramkit.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vramkit.cuda.internal.NativeLibraries;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Library search order and load diagnostics, with fake library paths. */
class NativeLibrariesTest {

    @Test
    void aFakeLibraryFailsWithDlerrorTextAndThePathTried(@TempDir Path dir) throws IOException {
        Path fake = dir.resolve("libcudart.so.13");
        Files.writeString(fake, "this is not an ELF file");
        CudaLibraryException e = assertThrows(CudaLibraryException.class,
                () -> NativeLibraries.load(CudaLibrary.CUDART, List.of(fake.toString())));
        assertEquals(CudaLibrary.CUDART, e.library());
        assertEquals(1, e.tried().size());
        assertTrue(e.tried().getFirst().startsWith(fake + ": "), e.tried().toString());
        // glibc's dlerror text for a non-ELF file names the file and the problem.
        assertTrue(e.getMessage().contains("Paths tried: " + fake + ": ") && e.getMessage().contains(fake.toString()),
                e.getMessage());
        assertTrue(e.getMessage().toLowerCase().contains("elf") || e.getMessage().contains("too short"),
                e.getMessage());
        assertTrue(e.getMessage().contains("cannot load libcudart"), e.getMessage());
    }

    @Test
    void cublasOpensItsSiblingLtFirstAndReportsItsOwnFailure(@TempDir Path dir) throws IOException {
        Path cublas = dir.resolve("libcublas.so.13");
        Files.writeString(cublas, "not a library");
        Files.writeString(dir.resolve("libcublasLt.so.13"), "not a library either");
        CudaLibraryException e = assertThrows(CudaLibraryException.class,
                () -> NativeLibraries.load(CudaLibrary.CUBLAS, List.of(cublas.toString())));
        assertEquals(1, e.tried().size());
        assertTrue(e.tried().getFirst().startsWith(cublas + ": ") && e.tried().getFirst().contains("libcublas.so.13"),
                e.tried().toString());
    }

    @Test
    void missingFilesAreSkippedAndTheFoldersListed(@TempDir Path dir) {
        String absent = dir.resolve("nowhere/libcuda.so.1").toString();
        CudaLibraryException e = assertThrows(CudaLibraryException.class,
                () -> NativeLibraries.load(CudaLibrary.CUDA, List.of(absent)));
        assertTrue(e.getMessage().contains("libcuda ships with the NVIDIA driver"), e.getMessage());
        assertTrue(e.getMessage().contains(dir.resolve("nowhere").toString()), e.getMessage());
        assertEquals(List.of(), e.tried());
    }

    @Test
    void aBareSonameFailureCarriesDlerror() {
        CudaLibraryException e = assertThrows(CudaLibraryException.class,
                () -> NativeLibraries.load(CudaLibrary.CUBLAS, List.of("libvramkit-no-such-library.so.99")));
        assertTrue(e.getMessage().contains("libvramkit-no-such-library.so.99: "), e.getMessage());
        assertTrue(e.getMessage().contains("No such file") || e.getMessage().contains("cannot open"),
                e.getMessage());
    }

    @Test
    void thePropertyOverrideReplacesTheSearch(@TempDir Path dir) {
        assertEquals(List.of(dir.resolve("custom.so").toString()), NativeLibraries.candidates(CudaLibrary.CUDART,
                dir.resolve("custom.so").toString(), Map.of("CUDA_HOME", "/opt/cuda"), List.of(), dir));
        assertEquals(List.of(dir.resolve("libcudart.so.13").toString(), dir.resolve("libcudart.so.12").toString(),
                        dir.resolve("libcudart.so").toString()),
                NativeLibraries.candidates(CudaLibrary.CUDART, dir.toString(), Map.of(), List.of(), dir));
        assertEquals("vramkit.cuda.cudart.path", CudaLibrary.CUDART.property());
        assertEquals("vramkit.cuda.cublaslt.path", CudaLibrary.CUBLASLT.property());
    }

    @Test
    void searchOrderIsCudaHomeThenStandardThenLdLibraryPathThenLdconfigThenPipThenSoname(@TempDir Path home)
            throws IOException {
        Path pipLib = home.resolve(".local/lib/python3.12/site-packages/nvidia/cublas/lib");
        Files.createDirectories(pipLib);
        Files.createDirectories(home.resolve(".local/lib/python3.12/site-packages/nvidia/cuda_runtime/lib"));
        Path venv = home.resolve("venv");
        Path venvLib = venv.resolve("lib/python3.11/site-packages/nvidia/cu13/lib");
        Files.createDirectories(venvLib);
        List<String> ldconfig = List.of(
                "\tlibcublas.so.12 (libc6,x86-64) => /ld/libcublas.so.12",
                "\tlibcublas.so.12 (libc6) => /ld32/libcublas.so.12");
        List<String> c = NativeLibraries.candidates(CudaLibrary.CUBLAS, null,
                Map.of("CUDA_HOME", "/opt/cuda", "LD_LIBRARY_PATH", "/ldlib:", "VIRTUAL_ENV", venv.toString()),
                ldconfig, home);
        int cudaHome = c.indexOf("/opt/cuda/lib64/libcublas.so.13");
        int standard = c.indexOf("/usr/local/cuda/lib64/libcublas.so.13");
        int ld = c.indexOf("/ldlib/libcublas.so.13");
        int ldconf = c.indexOf("/ld/libcublas.so.12");
        int venvPip = c.indexOf(venvLib.resolve("libcublas.so.13").toString());
        int userPip = c.indexOf(pipLib.resolve("libcublas.so.13").toString());
        int bare = c.indexOf("libcublas.so.13");
        assertTrue(cudaHome >= 0 && standard > cudaHome && ld > standard && ldconf > ld && venvPip > ldconf
                && userPip > venvPip && bare > userPip, c.toString());
        assertTrue(c.contains(home.resolve(".local/lib/python3.12/site-packages/nvidia/cuda_runtime/lib")
                .resolve("libcublas.so.12").toString()));
        assertTrue(c.stream().noneMatch(s -> s.startsWith("/ld32/")), "32-bit ldconfig entries are ignored");
        assertTrue(c.stream().noneMatch(s -> s.contains("/stubs/")), "the stub libcuda is never a candidate");
        assertEquals(c.size(), c.stream().distinct().count(), "no duplicates");
    }

    @Test
    void pipDirsAreFoundUnderEveryPrefixInSortedOrder(@TempDir Path home) throws IOException {
        Files.createDirectories(home.resolve(".local/lib/python3.12/site-packages/nvidia/b/lib"));
        Files.createDirectories(home.resolve(".local/lib/python3.12/site-packages/nvidia/a/lib"));
        Files.createDirectories(home.resolve(".local/lib/python3.12/site-packages/nvidia/nolib"));
        Path conda = home.resolve("conda");
        Files.createDirectories(conda.resolve("lib/python3.10/site-packages/nvidia/x/lib"));
        List<Path> dirs = NativeLibraries.pipLibraryDirs(Map.of("CONDA_PREFIX", conda.toString()), home);
        List<Path> ours = dirs.stream().filter(p -> p.startsWith(home)).toList();
        assertEquals(List.of(conda.resolve("lib/python3.10/site-packages/nvidia/x/lib"),
                home.resolve(".local/lib/python3.12/site-packages/nvidia/a/lib"),
                home.resolve(".local/lib/python3.12/site-packages/nvidia/b/lib")), ours);
    }

    @Test
    void aMissingSymbolSaysTheLibraryIsTooOld() {
        org.junit.jupiter.api.Assumptions.assumeTrue(NativeLibraries.isAvailable(CudaLibrary.CUDART),
                "libcudart is not installed");
        CudaLibraryException e = assertThrows(CudaLibraryException.class,
                () -> NativeLibraries.find(CudaLibrary.CUDART, "cudaNoSuchFunctionAnywhere"));
        assertTrue(e.getMessage().contains("has no symbol cudaNoSuchFunctionAnywhere"), e.getMessage());
    }

    @Test
    void aFailedLoadIsRememberedWithTheSameDiagnosis() {
        org.junit.jupiter.api.Assumptions.assumeTrue(!NativeLibraries.isAvailable(CudaLibrary.CUBLAS),
                "libcublas is installed here");
        CudaLibraryException first = assertThrows(CudaLibraryException.class,
                () -> NativeLibraries.require(CudaLibrary.CUBLAS));
        CudaLibraryException second = assertThrows(CudaLibraryException.class,
                () -> NativeLibraries.require(CudaLibrary.CUBLAS));
        assertEquals(first.getMessage(), second.getMessage());
        assertTrue(first.getMessage().contains("cannot load libcublas"), first.getMessage());
    }
}
