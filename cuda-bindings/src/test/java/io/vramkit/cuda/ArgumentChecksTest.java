package io.vramkit.cuda;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vramkit.core.DType;
import io.vramkit.core.memory.Buffer;
import io.vramkit.core.memory.HostMemoryResource;
import io.vramkit.core.memory.MemoryKind;
import io.vramkit.core.memory.MemoryResource;
import io.vramkit.core.memory.Stream;
import io.vramkit.cuda.Cublas.Transpose;
import org.junit.jupiter.api.Test;

/** Argument checks that run before any native call, exercised without a GPU. */
class ArgumentChecksTest {

    /** Host memory that claims to be device memory, so the checks pass their kind test; never given to CUDA. */
    static final class FakeDeviceResource implements MemoryResource {
        final HostMemoryResource host = new HostMemoryResource();

        @Override
        public long allocate(long bytes, long alignment, Stream stream) {
            return host.allocate(bytes, alignment, stream);
        }

        @Override
        public void deallocate(long address, long bytes, long alignment, Stream stream) {
            host.deallocate(address, bytes, alignment, stream);
        }

        @Override
        public MemoryKind kind() {
            return MemoryKind.DEVICE;
        }
    }

    private static void assertMessage(Throwable e, String text) {
        assertTrue(e.getMessage().contains(text), "expected '" + text + "' in: " + e.getMessage());
    }

    @Test
    void copyRangesAreChecked() {
        HostMemoryResource host = new HostMemoryResource();
        try (Buffer b = Buffer.allocate(host, 100)) {
            assertDoesNotThrow(() -> CudaStream.checkRange("src", b, 0, 100));
            assertDoesNotThrow(() -> CudaStream.checkRange("src", b, 100, 0));
            assertMessage(assertThrows(IllegalArgumentException.class, () -> CudaStream.checkRange("src", b, 1, 100)),
                    "src range [1, 101) runs past the end of the 100-byte src buffer");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> CudaStream.checkRange("dst", b, -1, 1)),
                    "dstOffset must be >= 0, got -1");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> CudaStream.checkRange("dst", b, 0, -5)),
                    "bytes must be >= 0, got -5");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> CudaStream.checkRange("dst", b, Long.MAX_VALUE, 10)), "runs past the end");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> CudaStream.checkRange("src", null, 0, 1)), "src buffer must not be null");
        }
        Buffer closed = Buffer.allocate(host, 10);
        closed.close();
        assertMessage(assertThrows(IllegalStateException.class, () -> CudaStream.checkRange("src", closed, 0, 1)),
                "src buffer is closed");
    }

    @Test
    void gemmArgumentsAreChecked() {
        FakeDeviceResource dev = new FakeDeviceResource();
        HostMemoryResource host = new HostMemoryResource();
        int m = 3;
        int n = 4;
        int k = 5;
        try (Buffer a = Buffer.allocate(dev, 4L * m * k, 256, Stream.HOST);
             Buffer b = Buffer.allocate(dev, 4L * k * n, 256, Stream.HOST);
             Buffer c = Buffer.allocate(dev, 4L * m * n, 256, Stream.HOST);
             Buffer h = Buffer.allocate(host, 4L * m * k, 256, Stream.HOST);
             Buffer a16 = Buffer.allocate(dev, 2L * m * k, 256, Stream.HOST)) {
            assertDoesNotThrow(() -> Cublas.checkGemm(Transpose.N, Transpose.N, m, n, k, a, DType.FP32, m, 0, b,
                    DType.FP32, k, 0, c, DType.FP32, m, 0, 1));
            assertDoesNotThrow(() -> Cublas.checkGemm(Transpose.T, Transpose.T, m, n, k, a, DType.FP32, k, 0, b,
                    DType.FP32, n, 0, c, DType.FP32, m, 0, 1));
            assertDoesNotThrow(() -> Cublas.checkGemm(Transpose.N, Transpose.N, m, n, k, a16, DType.FP16, m, 0, b,
                    DType.FP16, k, 0, c, DType.FP32, m, 0, 1));
            assertMessage(assertThrows(IllegalArgumentException.class, () -> Cublas.checkGemm(Transpose.N,
                    Transpose.N, -1, n, k, a, DType.FP32, m, 0, b, DType.FP32, k, 0, c, DType.FP32, m, 0, 1)),
                    "m must be >= 0, got -1");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> Cublas.checkGemm(Transpose.N,
                    Transpose.N, m, n, k, a, DType.FP32, m - 1, 0, b, DType.FP32, k, 0, c, DType.FP32, m, 0, 1)),
                    "lda must be >= max(1, 3)");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> Cublas.checkGemm(Transpose.N,
                    Transpose.N, m, n, k + 1, a, DType.FP32, m, 0, b, DType.FP32, k + 1, 0, c, DType.FP32, m, 0, 1)),
                    "A needs 72 bytes (18 FP32 elements) but its buffer has 60");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> Cublas.checkGemm(Transpose.N,
                    Transpose.N, m, n, k, h, DType.FP32, m, 0, b, DType.FP32, k, 0, c, DType.FP32, m, 0, 1)),
                    "A must be device or managed memory, got HOST");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> Cublas.checkGemm(Transpose.N,
                    Transpose.N, m, n, k, a, DType.INT8, m, 0, b, DType.INT8, k, 0, c, DType.FP32, m, 0, 1)),
                    "aType must be FP32, FP16 or BF16, got INT8");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> Cublas.checkGemm(Transpose.N,
                    Transpose.N, m, n, k, a16, DType.FP16, m, 0, b, DType.BF16, k, 0, c, DType.FP32, m, 0, 1)),
                    "bType must equal aType FP16, got BF16");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> Cublas.checkGemm(Transpose.N,
                    Transpose.N, m, n, k, a16, DType.FP16, m, 0, b, DType.FP16, k, 0, c, DType.BF16, m, 0, 1)),
                    "cType must be FP32 or aType FP16, got BF16");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> Cublas.checkGemm(Transpose.N,
                    Transpose.N, m, n, k, a, DType.FP32, m, 10, b, DType.FP32, k, 20, c, DType.FP32, m, 12, 2)),
                    "strideA must be >= 15 elements");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> Cublas.checkGemm(Transpose.N,
                    Transpose.N, m, n, k, a, DType.FP32, m, 15, b, DType.FP32, k, 20, c, DType.FP32, m, 12, 2)),
                    "A needs 120 bytes");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> Cublas.checkGemm(null,
                    Transpose.N, m, n, k, a, DType.FP32, m, 0, b, DType.FP32, k, 0, c, DType.FP32, m, 0, 1)),
                    "transA must not be null");
            assertDoesNotThrow(() -> Cublas.checkGemm(Transpose.N, Transpose.N, 0, 0, 0, a, DType.FP32, 1, 0, b,
                    DType.FP32, 1, 0, c, DType.FP32, 1, 0, 1), "empty products are allowed");
        }
        Buffer closed = Buffer.allocate(dev, 64, 256, Stream.HOST);
        closed.close();
        assertMessage(assertThrows(IllegalStateException.class, () -> Cublas.checkGemm(Transpose.N, Transpose.N, 1,
                1, 1, closed, DType.FP32, 1, 0, closed, DType.FP32, 1, 0, closed, DType.FP32, 1, 0, 1)),
                "A is closed");
    }

    @Test
    void cudaExceptionCarriesEveryPart() {
        CudaException e = new CudaException(CudaException.Api.CUBLAS, "cublasSgemm_v2", 7,
                "CUBLAS_STATUS_INVALID_VALUE", "an invalid numeric value was used as an argument", "check lda");
        assertTrue(e.getMessage().equals("cublasSgemm_v2 failed: CUBLAS_STATUS_INVALID_VALUE (7): an invalid "
                + "numeric value was used as an argument. check lda"), e.getMessage());
    }
}
