package io.vramkit.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.vramkit.core.DType;
import io.vramkit.core.memory.Buffer;
import io.vramkit.core.memory.CachingPool;
import io.vramkit.cuda.Cublas.Transpose;
import io.vramkit.cuda.internal.NativeLibraries;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The poison-fill kernel through KernelModule, and cuBLAS against float64 references. Skipped without a GPU. */
@Tag("gpu")
class KernelAndCublasGpuTest {

    @Test
    void poisonKernelFillsExactlyTheRangeWithThePattern() {
        GpuTests.assumeGpu();
        try (CudaMallocResource dev = new CudaMallocResource(0); CudaStream stream = CudaStream.create(0);
             Arena arena = Arena.ofConfined();
             Buffer buf = Buffer.allocate(dev, 1 << 20, 256, stream)) {
            MemorySegment host = arena.allocate(buf.byteSize(), 64);
            Random rnd = new Random(3);
            for (int trial = 0; trial < 12; trial++) {
                long offset = rnd.nextInt(64);
                long bytes = trial == 0 ? 0 : trial == 1 ? 1 : trial < 6 ? rnd.nextInt(40) : rnd.nextInt(900_000);
                int pattern = rnd.nextInt();
                stream.fillAsync(buf, 0, buf.byteSize(), (byte) 0x11);
                PoisonOnFreeResource.poison(buf, offset, bytes, pattern, stream);
                stream.copyToHostAsync(buf, 0, host);
                stream.synchronize();
                for (long i = 0; i < buf.byteSize(); i++) {
                    byte expected = i >= offset && i < offset + bytes
                            ? PoisonOnFreeResource.expectedByte(buf.address() + i, pattern) : 0x11;
                    if (expected != host.get(ValueLayout.JAVA_BYTE, i)) {
                        throw new AssertionError("trial " + trial + " offset " + offset + " bytes " + bytes
                                + ": byte " + i + " is " + host.get(ValueLayout.JAVA_BYTE, i) + ", want " + expected);
                    }
                }
            }
        }
    }

    @Test
    void kernelModuleLoadsLaunchesAndDiagnoses() {
        GpuTests.assumeGpu();
        try (KernelModule module = KernelModule.load(PoisonOnFreeResource.class, "cuda-bindings");
             CudaStream stream = CudaStream.create(0)) {
            KernelFunction f = module.function(PoisonOnFreeResource.KERNEL);
            assertTrue(f == module.function(PoisonOnFreeResource.KERNEL), "functions are cached");
            KernelUnavailableException e = assertThrows(KernelUnavailableException.class,
                    () -> module.function("vramkit_no_such_kernel"));
            assertTrue(e.getMessage().contains("[vramkit_poison_fill]"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> f.launch(Dim3.of(1), new Dim3(1024, 2, 1), 0,
                    stream));
            // A configuration only the driver can refuse (block z above 64, grid y above 65535): a CudaException
            // naming the kernel, and the stream stays usable (the error is not sticky).
            Dim3[][] refused = {{Dim3.of(1), new Dim3(1, 1, 65)}, {new Dim3(1, 70000, 1), Dim3.of(32)}};
            for (Dim3[] config : refused) {
                CudaException bad = assertThrows(CudaException.class, () -> f.launch(config[0], config[1], 0, stream,
                        0L, 0L, 0));
                assertTrue(bad.getMessage().contains("vramkit_poison_fill"), bad.getMessage());
            }
            try (CudaMallocResource dev = new CudaMallocResource(0);
                 Buffer probe = Buffer.allocate(dev, 256, 256, stream)) {
                stream.fillAsync(probe, 0, 256, (byte) 7);
                stream.synchronize();
            }
            assertThrows(IllegalArgumentException.class, () -> f.launch(1, 32, stream, "not an argument"));
            assertThrows(IllegalArgumentException.class, () -> f.launch(1, 32, stream, (Object) null));
        }
    }

    @Test
    void poisonOnFreeOverAPoolPoisonsBlocksAsTheyReturn() {
        GpuTests.assumeGpu();
        try (CudaMallocResource dev = new CudaMallocResource(0); CudaStream stream = CudaStream.create(0);
             Arena arena = Arena.ofConfined()) {
            PoisonOnFreeResource poison = new PoisonOnFreeResource(dev);
            CachingPool pool = new CachingPool(poison);
            Buffer a = Buffer.allocate(pool, 1 << 20, 256, stream);
            long address = a.address();
            stream.fillAsync(a, 0, a.byteSize(), (byte) 7);
            a.close();
            pool.trim();
            // The segment went back through the poison adaptor; the pool now allocates afresh and we can only check
            // that the adaptor ran without error and left the device usable.
            Buffer b = Buffer.allocate(pool, 4096, 256, stream);
            MemorySegment host = arena.allocate(4096);
            stream.copyToHostAsync(b, 0, host);
            stream.synchronize();
            b.close();
            pool.close();
            poison.close();
            assertTrue(address != 0);
        }
    }

    private static float[] random(Random rnd, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (rnd.nextGaussian());
        }
        return x;
    }

    /** Column-major {@code C = alpha op(A) op(B) + beta C} in float64. */
    private static double[] reference(boolean ta, boolean tb, int m, int n, int k, float alpha, float[] a, int lda,
                                      float[] b, int ldb, float beta, float[] c, int ldc) {
        // Rows m..ldc-1 of C are padding that GEMM must leave as they were.
        double[] out = new double[ldc * n];
        for (int i = 0; i < out.length; i++) {
            out[i] = c[i];
        }
        for (int j = 0; j < n; j++) {
            for (int i = 0; i < m; i++) {
                double s = 0;
                for (int p = 0; p < k; p++) {
                    double av = ta ? a[p + i * lda] : a[i + p * lda];
                    double bv = tb ? b[j + p * ldb] : b[p + j * ldb];
                    s += av * bv;
                }
                out[i + j * ldc] = alpha * s + beta * c[i + j * ldc];
            }
        }
        return out;
    }

    private static Buffer upload(CachingPool pool, CudaStream stream, Arena arena, float[] data, DType type) {
        MemorySegment host = arena.allocate((long) data.length * type.byteSize(), 64);
        for (int i = 0; i < data.length; i++) {
            switch (type) {
                case FP32 -> host.setAtIndex(ValueLayout.JAVA_FLOAT, i, data[i]);
                case FP16 -> host.setAtIndex(ValueLayout.JAVA_SHORT, i, Float.floatToFloat16(data[i]));
                case BF16 -> host.setAtIndex(ValueLayout.JAVA_SHORT, i, (short) (bf16Bits(data[i]) >>> 16));
                default -> throw new IllegalArgumentException(type.toString());
            }
        }
        Buffer buf = Buffer.allocate(pool, Math.max(host.byteSize(), 4), 256, stream);
        stream.copyToDeviceAsync(host, buf, 0);
        stream.synchronize();
        return buf;
    }

    /** Rounds to the nearest BF16 (ties to even) and returns the float's bits with the low half cleared. */
    private static int bf16Bits(float x) {
        int bits = Float.floatToRawIntBits(x);
        return (bits + 0x7FFF + ((bits >>> 16) & 1)) & 0xFFFF0000;
    }

    private static float[] rounded(float[] x, DType type) {
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = switch (type) {
                case FP16 -> Float.float16ToFloat(Float.floatToFloat16(x[i]));
                case BF16 -> Float.intBitsToFloat(bf16Bits(x[i]));
                default -> x[i];
            };
        }
        return out;
    }

    private static float[] download(CudaStream stream, Arena arena, Buffer buf, int n) {
        MemorySegment host = arena.allocate(4L * n, 64);
        stream.copyToHostAsync(buf, 0, host);
        stream.synchronize();
        return host.toArray(ValueLayout.JAVA_FLOAT);
    }

    @Test
    void gemmMatchesFloat64References() {
        GpuTests.assumeGpu();
        assumeTrue(NativeLibraries.isAvailable(CudaLibrary.CUBLAS), "libcublas is not installed");
        Random rnd = new Random(11);
        int[][] shapes = {{1, 1, 1}, {17, 33, 65}, {128, 64, 256}, {255, 3, 1000}};
        try (CudaMallocResource dev = new CudaMallocResource(0); CudaStream stream = CudaStream.create(0);
             Arena arena = Arena.ofConfined()) {
            CachingPool pool = new CachingPool(dev);
            try (Cublas blas = Cublas.create(stream, pool, 4 << 20)) {
                assertTrue(blas.version() > 0);
                for (int[] s : shapes) {
                    for (DType type : new DType[] {DType.FP32, DType.FP16, DType.BF16}) {
                        for (boolean ta : new boolean[] {false, true}) {
                            int m = s[0];
                            int n = s[1];
                            int k = s[2];
                            boolean tb = !ta;
                            int lda = (ta ? k : m) + 3;
                            int ldb = tb ? n : k;
                            int ldc = m + 1;
                            float[] a = rounded(random(rnd, lda * (ta ? m : k)), type);
                            float[] b = rounded(random(rnd, ldb * (tb ? k : n)), type);
                            float[] c = random(rnd, ldc * n);
                            float alpha = 0.75f;
                            float beta = 0.5f;
                            double[] ref = reference(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
                            try (Buffer da = upload(pool, stream, arena, a, type);
                                 Buffer db = upload(pool, stream, arena, b, type);
                                 Buffer dc = upload(pool, stream, arena, c, DType.FP32)) {
                                Transpose opA = ta ? Transpose.T : Transpose.N;
                                Transpose opB = tb ? Transpose.T : Transpose.N;
                                if (type == DType.FP32) {
                                    blas.sgemm(opA, opB, m, n, k, alpha, da, lda, db, ldb, beta, dc, ldc);
                                } else {
                                    blas.gemmEx(opA, opB, m, n, k, alpha, da, type, lda, db, type, ldb, beta, dc,
                                            DType.FP32, ldc);
                                }
                                float[] got = download(stream, arena, dc, ldc * n);
                                double err = GpuTests.relativeError(got, ref);
                                // Inputs are exactly representable, accumulation is FP32: error ~ sqrt(k) * 2^-24.
                                assertTrue(err < 1e-5 * Math.sqrt(k) + 1e-6, type + " " + m + "x" + n + "x" + k
                                        + " ta=" + ta + ": relative error " + err);
                            }
                        }
                    }
                }
            }
            pool.close();
        }
    }

    @Test
    void stridedBatchedGemmMatchesPerBatchReferences() {
        GpuTests.assumeGpu();
        assumeTrue(NativeLibraries.isAvailable(CudaLibrary.CUBLAS), "libcublas is not installed");
        Random rnd = new Random(12);
        int m = 24;
        int n = 40;
        int k = 56;
        int batch = 5;
        long strideA = (long) m * k + 7;
        long strideB = (long) k * n;
        long strideC = (long) m * n + 1;
        try (CudaMallocResource dev = new CudaMallocResource(0); CudaStream stream = CudaStream.create(0);
             Arena arena = Arena.ofConfined()) {
            CachingPool pool = new CachingPool(dev);
            for (DType type : new DType[] {DType.FP32, DType.FP16, DType.BF16}) {
                float[] a = rounded(random(rnd, (int) (strideA * batch)), type);
                float[] b = rounded(random(rnd, (int) (strideB * batch)), type);
                float[] c = new float[(int) (strideC * batch)];
                try (Cublas blas = Cublas.create(stream, pool, 1 << 20);
                     Buffer da = upload(pool, stream, arena, a, type);
                     Buffer db = upload(pool, stream, arena, b, type);
                     Buffer dc = upload(pool, stream, arena, c, DType.FP32)) {
                    blas.gemmStridedBatched(Transpose.N, Transpose.N, m, n, k, 1f, da, type, m, strideA, db, type, k,
                            strideB, 0f, dc, DType.FP32, m, strideC, batch);
                    float[] got = download(stream, arena, dc, c.length);
                    for (int i = 0; i < batch; i++) {
                        float[] ai = java.util.Arrays.copyOfRange(a, (int) (i * strideA), (int) (i * strideA + m * k));
                        float[] bi = java.util.Arrays.copyOfRange(b, (int) (i * strideB), (int) (i * strideB + k * n));
                        double[] ref = reference(false, false, m, n, k, 1f, ai, m, bi, k, 0f, new float[m * n], m);
                        float[] gi = java.util.Arrays.copyOfRange(got, (int) (i * strideC),
                                (int) (i * strideC + m * n));
                        double err = GpuTests.relativeError(gi, ref);
                        assertTrue(err < 1e-4, type + " batch " + i + ": relative error " + err);
                    }
                    assertEquals(0f, got[m * n], "the gap between C matrices is untouched");
                }
            }
            pool.close();
        }
    }
}
