package io.vramkit.cuda;

import io.vramkit.core.DType;
import io.vramkit.core.memory.Buffer;
import io.vramkit.core.memory.MemoryKind;
import io.vramkit.core.memory.MemoryResource;
import io.vramkit.cuda.internal.NativeLibraries;
import io.vramkit.cuda.internal.panama.cublas_h;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A cuBLAS handle bound to one {@link CudaStream}: SGEMM, GEMM on FP16/BF16 inputs with FP32 accumulation
 * ({@code cublasGemmEx}), and strided-batched GEMM ({@code cublasGemmStridedBatchedEx}).
 *
 * <p>Matrices are column-major, as in BLAS: {@code C[m, n] = alpha * op(A)[m, k] * op(B)[k, n] + beta * C}, where
 * {@code op(A)} is A or its transpose; A is stored as {@code lda * (cols - 1) + rows} elements with {@code lda >= rows}.
 * (Row-major callers compute {@code C^T = B^T A^T} by swapping A and B.) Every call checks dimensions, leading
 * dimensions, dtypes, and that each buffer is open, device memory, and large enough, before cuBLAS runs.
 *
 * <p>The workspace comes from a caller-given {@link MemoryResource} (a pool), so cuBLAS does not allocate on its own.
 * A handle may be used from any thread, one call at a time (methods are synchronized), as cuBLAS requires.
 * libcublas is found as {@link CudaLibrary#CUBLAS} describes; when it is absent, {@link #create} throws
 * {@link CudaLibraryException} naming the paths tried.
 * Verified on an NVIDIA H200 by the {@code gpu}-tagged tests (2026-11-26).
 */
public final class Cublas implements AutoCloseable {

    /** Whether an operand is used as stored or transposed. */
    public enum Transpose {
        /** As stored ({@code CUBLAS_OP_N}). */
        N(cublas_h.CUBLAS_OP_N),
        /** Transposed ({@code CUBLAS_OP_T}). */
        T(cublas_h.CUBLAS_OP_T);

        final int code;

        Transpose(int code) {
            this.code = code;
        }
    }

    private final CudaStream stream;
    private final long handle;
    private final Buffer workspace;
    private boolean open = true;

    private Cublas(CudaStream stream, long handle, Buffer workspace) {
        this.stream = stream;
        this.handle = handle;
        this.workspace = workspace;
    }

    /**
     * Creates a handle on {@code stream} with a workspace of {@code workspaceBytes} from {@code workspaceResource}.
     *
     * @param stream            an open stream; every call is queued on it
     * @param workspaceResource device memory for cuBLAS's workspace (a pool), or null to let cuBLAS allocate its own
     * @param workspaceBytes    workspace size, 0 or more; NVIDIA recommends 32 MiB on Hopper, 4 MiB before
     * @throws IllegalArgumentException for a null stream, a negative size, or a resource that is not device memory
     * @throws CudaLibraryException     when libcublas cannot be loaded
     * @throws CudaException            when cuBLAS cannot create the handle
     */
    public static Cublas create(CudaStream stream, MemoryResource workspaceResource, long workspaceBytes) {
        if (stream == null) {
            throw new IllegalArgumentException("stream must not be null");
        }
        stream.checkOpen();
        if (workspaceBytes < 0) {
            throw new IllegalArgumentException("workspaceBytes must be >= 0, got " + workspaceBytes);
        }
        if (workspaceResource != null && workspaceResource.kind() != MemoryKind.DEVICE) {
            throw new IllegalArgumentException("workspaceResource must hold device memory, got "
                    + workspaceResource.kind());
        }
        NativeLibraries.require(CudaLibrary.CUBLAS);
        CudaNative.setDevice(stream.deviceOrdinal());
        long handle;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            check("cublasCreate_v2", cublas_h.cublasCreate_v2(out));
            handle = out.get(ValueLayout.ADDRESS, 0).address();
        }
        Buffer workspace = null;
        try {
            MemorySegment h = MemorySegment.ofAddress(handle);
            check("cublasSetStream_v2", cublas_h.cublasSetStream_v2(h, stream.handle()));
            if (workspaceResource != null && workspaceBytes > 0) {
                workspace = Buffer.allocate(workspaceResource, workspaceBytes, 256, stream);
                check("cublasSetWorkspace_v2", cublas_h.cublasSetWorkspace_v2(h,
                        MemorySegment.ofAddress(workspace.address()), workspaceBytes));
            }
            return new Cublas(stream, handle, workspace);
        } catch (RuntimeException e) {
            if (workspace != null) {
                workspace.close();
            }
            cublas_h.cublasDestroy_v2(MemorySegment.ofAddress(handle));
            throw e;
        }
    }

    /** Creates a handle on {@code stream}; cuBLAS manages its own workspace. */
    public static Cublas create(CudaStream stream) {
        return create(stream, null, 0);
    }

    /** The stream every call is queued on. */
    public CudaStream stream() {
        return stream;
    }

    /** The cuBLAS version, e.g. 130100 for 13.1.0. */
    public synchronized int version() {
        checkOpen();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.JAVA_INT);
            check("cublasGetVersion_v2", cublas_h.cublasGetVersion_v2(MemorySegment.ofAddress(handle), out));
            return out.get(ValueLayout.JAVA_INT, 0);
        }
    }

    /**
     * FP32 GEMM ({@code cublasSgemm}): {@code C = alpha * op(A) * op(B) + beta * C}, all FP32, column-major.
     *
     * @throws IllegalArgumentException naming the bad argument (dimension, leading dimension, buffer size or kind)
     * @throws IllegalStateException    if the handle or a buffer is closed
     * @throws CudaException            if cuBLAS fails
     */
    public synchronized void sgemm(Transpose transA, Transpose transB, int m, int n, int k, float alpha, Buffer a,
                                   int lda, Buffer b, int ldb, float beta, Buffer c, int ldc) {
        checkOpen();
        checkGemm(transA, transB, m, n, k, a, DType.FP32, lda, 0, b, DType.FP32, ldb, 0, c, DType.FP32, ldc, 0, 1);
        if (m == 0 || n == 0) {
            return;
        }
        CudaNative.setDevice(stream.deviceOrdinal());
        try (Arena arena = Arena.ofConfined()) {
            check("cublasSgemm_v2", cublas_h.cublasSgemm_v2(MemorySegment.ofAddress(handle), transA.code,
                    transB.code, m, n, k, arena.allocateFrom(ValueLayout.JAVA_FLOAT, alpha), ptr(a), lda, ptr(b), ldb,
                    arena.allocateFrom(ValueLayout.JAVA_FLOAT, beta), ptr(c), ldc));
        }
    }

    /**
     * Mixed-precision GEMM ({@code cublasGemmEx}) with FP32 accumulation: A and B in FP16, BF16 or FP32 (the same
     * dtype), C in FP32 or in A's dtype.
     *
     * @throws IllegalArgumentException naming the bad argument, including an unsupported dtype combination
     * @throws IllegalStateException    if the handle or a buffer is closed
     * @throws CudaException            if cuBLAS fails
     */
    public synchronized void gemmEx(Transpose transA, Transpose transB, int m, int n, int k, float alpha, Buffer a,
                                    DType aType, int lda, Buffer b, DType bType, int ldb, float beta, Buffer c,
                                    DType cType, int ldc) {
        checkOpen();
        checkGemm(transA, transB, m, n, k, a, aType, lda, 0, b, bType, ldb, 0, c, cType, ldc, 0, 1);
        if (m == 0 || n == 0) {
            return;
        }
        CudaNative.setDevice(stream.deviceOrdinal());
        try (Arena arena = Arena.ofConfined()) {
            check("cublasGemmEx", cublas_h.cublasGemmEx(MemorySegment.ofAddress(handle), transA.code, transB.code,
                    m, n, k, arena.allocateFrom(ValueLayout.JAVA_FLOAT, alpha), ptr(a), dataType(aType), lda, ptr(b),
                    dataType(bType), ldb, arena.allocateFrom(ValueLayout.JAVA_FLOAT, beta), ptr(c), dataType(cType),
                    ldc, cublas_h.CUBLAS_COMPUTE_32F, cublas_h.CUBLAS_GEMM_DEFAULT));
        }
    }

    /**
     * Strided-batched GEMM ({@code cublasGemmStridedBatchedEx}) with FP32 accumulation: {@code batchCount}
     * independent products, matrix {@code i} of each operand starting {@code i * stride} elements after the first.
     *
     * @throws IllegalArgumentException naming the bad argument, including strides smaller than a matrix
     * @throws IllegalStateException    if the handle or a buffer is closed
     * @throws CudaException            if cuBLAS fails
     */
    public synchronized void gemmStridedBatched(Transpose transA, Transpose transB, int m, int n, int k, float alpha,
                                                Buffer a, DType aType, int lda, long strideA, Buffer b, DType bType,
                                                int ldb, long strideB, float beta, Buffer c, DType cType, int ldc,
                                                long strideC, int batchCount) {
        checkOpen();
        if (batchCount < 0) {
            throw new IllegalArgumentException("batchCount must be >= 0, got " + batchCount);
        }
        checkGemm(transA, transB, m, n, k, a, aType, lda, strideA, b, bType, ldb, strideB, c, cType, ldc, strideC,
                batchCount);
        if (m == 0 || n == 0 || batchCount == 0) {
            return;
        }
        CudaNative.setDevice(stream.deviceOrdinal());
        try (Arena arena = Arena.ofConfined()) {
            check("cublasGemmStridedBatchedEx", cublas_h.cublasGemmStridedBatchedEx(MemorySegment.ofAddress(handle),
                    transA.code, transB.code, m, n, k, arena.allocateFrom(ValueLayout.JAVA_FLOAT, alpha), ptr(a),
                    dataType(aType), lda, strideA, ptr(b), dataType(bType), ldb, strideB,
                    arena.allocateFrom(ValueLayout.JAVA_FLOAT, beta), ptr(c), dataType(cType), ldc, strideC,
                    batchCount, cublas_h.CUBLAS_COMPUTE_32F, cublas_h.CUBLAS_GEMM_DEFAULT));
        }
    }

    /**
     * Checks a GEMM's arguments without touching cuBLAS; package-private so the CPU tests cover every branch.
     *
     * @throws IllegalArgumentException naming the first bad argument and its value
     * @throws IllegalStateException    if a buffer is closed
     */
    static void checkGemm(Transpose transA, Transpose transB, int m, int n, int k, Buffer a, DType aType, int lda,
                          long strideA, Buffer b, DType bType, int ldb, long strideB, Buffer c, DType cType, int ldc,
                          long strideC, int batchCount) {
        if (transA == null) {
            throw new IllegalArgumentException("transA must not be null");
        }
        if (transB == null) {
            throw new IllegalArgumentException("transB must not be null");
        }
        if (m < 0) {
            throw new IllegalArgumentException("m must be >= 0, got " + m);
        }
        if (n < 0) {
            throw new IllegalArgumentException("n must be >= 0, got " + n);
        }
        if (k < 0) {
            throw new IllegalArgumentException("k must be >= 0, got " + k);
        }
        checkTypes(aType, bType, cType);
        int aRows = transA == Transpose.N ? m : k;
        int aCols = transA == Transpose.N ? k : m;
        int bRows = transB == Transpose.N ? k : n;
        int bCols = transB == Transpose.N ? n : k;
        checkOperand("A", a, aType, aRows, aCols, lda, "lda", strideA, "strideA", batchCount);
        checkOperand("B", b, bType, bRows, bCols, ldb, "ldb", strideB, "strideB", batchCount);
        checkOperand("C", c, cType, m, n, ldc, "ldc", strideC, "strideC", batchCount);
    }

    private static void checkTypes(DType aType, DType bType, DType cType) {
        if (aType != DType.FP32 && aType != DType.FP16 && aType != DType.BF16) {
            throw new IllegalArgumentException("aType must be FP32, FP16 or BF16, got " + aType);
        }
        if (bType != aType) {
            throw new IllegalArgumentException("bType must equal aType " + aType + ", got " + bType);
        }
        if (cType != DType.FP32 && cType != aType) {
            throw new IllegalArgumentException("cType must be FP32 or aType " + aType + ", got " + cType);
        }
    }

    private static void checkOperand(String name, Buffer buffer, DType type, int rows, int cols, int ld,
                                     String ldName, long stride, String strideName, int batchCount) {
        if (buffer == null) {
            throw new IllegalArgumentException(name + " must not be null");
        }
        if (!buffer.isOpen()) {
            throw new IllegalStateException(name + " is closed: " + buffer);
        }
        MemoryKind kind = buffer.resource().kind();
        if (kind != MemoryKind.DEVICE && kind != MemoryKind.MANAGED) {
            throw new IllegalArgumentException(name + " must be device or managed memory, got " + kind);
        }
        if (ld < Math.max(1, rows)) {
            throw new IllegalArgumentException(ldName + " must be >= max(1, " + rows + ") (the rows of " + name
                    + " as stored), got " + ld);
        }
        long matrix = rows == 0 || cols == 0 ? 0 : (long) ld * (cols - 1) + rows;
        if (batchCount > 1 && stride < matrix) {
            throw new IllegalArgumentException(strideName + " must be >= " + matrix + " elements (one " + name
                    + " matrix), got " + stride);
        }
        long elements = batchCount == 0 || matrix == 0 ? 0 : stride * (batchCount - 1L) + matrix;
        long bytes = elements * type.byteSize();
        if (bytes > buffer.byteSize()) {
            throw new IllegalArgumentException(String.format(
                    "%s needs %d bytes (%d %s elements) but its buffer has %d", name, bytes, elements, type,
                    buffer.byteSize()));
        }
    }

    private static int dataType(DType type) {
        return switch (type) {
            case FP32 -> cublas_h.CUDA_R_32F;
            case FP16 -> cublas_h.CUDA_R_16F;
            case BF16 -> cublas_h.CUDA_R_16BF;
            default -> throw new IllegalArgumentException("dtype " + type + " is not supported by cuBLAS here");
        };
    }

    private static MemorySegment ptr(Buffer buffer) {
        return MemorySegment.ofAddress(buffer.address());
    }

    static void check(String function, int status) {
        if (status != cublas_h.CUBLAS_STATUS_SUCCESS) {
            throw new CudaException(CudaException.Api.CUBLAS, function, status,
                    CudaNative.cString(cublas_h.cublasGetStatusName(status), "cublasStatus " + status),
                    CudaNative.cString(cublas_h.cublasGetStatusString(status), ""), null);
        }
    }

    private void checkOpen() {
        if (!open) {
            throw new IllegalStateException("cuBLAS handle is closed");
        }
        stream.checkOpen();
    }

    /**
     * Destroys the handle and returns the workspace to its resource on the handle's stream.
     *
     * @throws IllegalStateException if already closed
     */
    @Override
    public synchronized void close() {
        if (!open) {
            throw new IllegalStateException("cuBLAS handle was already closed");
        }
        open = false;
        CudaNative.setDevice(stream.deviceOrdinal());
        try {
            check("cublasDestroy_v2", cublas_h.cublasDestroy_v2(MemorySegment.ofAddress(handle)));
        } finally {
            if (workspace != null) {
                workspace.close();
            }
        }
    }

    @Override
    public String toString() {
        return "Cublas[" + stream + (workspace == null ? "" : ", workspace " + workspace.byteSize() + " B")
                + (open ? "" : ", closed") + "]";
    }
}
