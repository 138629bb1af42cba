package io.vramkit.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Kernel bundles as the build leaves them, and the diagnosis when kernels are missing; no GPU needed. */
class KernelModuleTest {

    @Test
    void theBuildRecordsThisModulesKernels() {
        KernelBundle bundle = KernelBundle.describe(PoisonOnFreeResource.class, "cuda-bindings");
        assertNotNull(bundle, "scripts/build-kernels should have written the manifest during process-classes");
        assertEquals(List.of("vramkit_poison_fill"), bundle.kernels());
        assertEquals(List.of("debug_fill.cu"), bundle.sources());
        assertEquals("sm_80,sm_86,sm_89,sm_90,compute_90", bundle.archs());
    }

    @Test
    void aBuiltFatbinStartsWithTheFatbinMagic() throws IOException {
        KernelBundle bundle = KernelBundle.describe(PoisonOnFreeResource.class, "cuda-bindings");
        assumeTrue(bundle != null && bundle.built(), "the build had no nvcc: " + bundle);
        try (InputStream in = KernelBundle.open(PoisonOnFreeResource.class, "cuda-bindings.fatbin")) {
            assertNotNull(in);
            byte[] head = in.readNBytes(8);
            // fatBinaryCtl magic 0xBA55ED50, little-endian.
            assertEquals(0x50, head[0] & 0xff);
            assertEquals(0xED, head[1] & 0xff);
            assertEquals(0x55, head[2] & 0xff);
            assertEquals(0xBA, head[3] & 0xff);
        }
    }

    @Test
    void unbuiltKernelsAreNamedWithTheReasonBeforeAnyCudaCall() {
        KernelUnavailableException e = assertThrows(KernelUnavailableException.class,
                () -> KernelModule.load(KernelModuleTest.class, "test-unbuilt"));
        assertEquals(List.of("test_kernel_a", "test_kernel_b"), e.missingKernels());
        assertTrue(e.getMessage().contains("[test_kernel_a, test_kernel_b]"), e.getMessage());
        assertTrue(e.getMessage().contains("META-INF/vramkit-kernels/test-unbuilt.fatbin was not built"),
                e.getMessage());
        assertTrue(e.getMessage().contains("nvcc-missing: nvcc was not found"), e.getMessage());
    }

    @Test
    void anUnknownBundleSaysNeitherFatbinNorManifestIsThere() {
        assertNull(KernelBundle.describe(KernelModuleTest.class, "no-such-module"));
        KernelUnavailableException e = assertThrows(KernelUnavailableException.class,
                () -> KernelModule.load(KernelModuleTest.class, "no-such-module"));
        assertTrue(e.getMessage().contains("neither META-INF/vramkit-kernels/no-such-module.fatbin nor its manifest"),
                e.getMessage());
    }

    @Test
    void badArgumentsAreNamed() {
        var e = assertThrows(IllegalArgumentException.class, () -> KernelModule.load(null, "x"));
        assertTrue(e.getMessage().contains("anchor"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> KernelModule.load(KernelModuleTest.class, " "));
        assertTrue(e.getMessage().contains("bundle"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> KernelModule.load(KernelModuleTest.class, "a/b"));
        assertTrue(e.getMessage().contains("'a/b'"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Dim3.of(0));
        assertTrue(e.getMessage().contains("x must be >= 1, got 0"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new Dim3(1, -2, 1));
        assertTrue(e.getMessage().contains("y must be >= 1, got -2"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new Dim3(1, 1, 0));
        assertTrue(e.getMessage().contains("z must be >= 1, got 0"), e.getMessage());
        assertEquals(24, new Dim3(2, 3, 4).volume());
    }

    @Test
    void withoutDriverAPresentFatbinFailsOnTheDriverNotTheResource() {
        KernelBundle bundle = KernelBundle.describe(PoisonOnFreeResource.class, "cuda-bindings");
        assumeTrue(bundle != null && bundle.built(), "the build had no nvcc");
        assumeTrue(!Cuda.isAvailable(), "a GPU is present");
        RuntimeException e = assertThrows(RuntimeException.class,
                () -> KernelModule.load(PoisonOnFreeResource.class, "cuda-bindings"));
        assertTrue(e instanceof CudaException || e instanceof CudaLibraryException, e.toString());
    }
}
