package io.vramkit.jmh.cuda;

import io.vramkit.attention.AttentionParams;
import io.vramkit.attention.cuda.CudaAttention;
import io.vramkit.core.DType;
import io.vramkit.core.memory.Buffer;
import io.vramkit.core.memory.StatisticsResource;
import io.vramkit.cuda.Cublas;
import io.vramkit.cuda.Cuda;
import io.vramkit.cuda.CudaDevice;
import io.vramkit.cuda.CudaEvent;
import io.vramkit.cuda.CudaLibraryException;
import io.vramkit.cuda.CudaMallocResource;
import io.vramkit.cuda.CudaStream;
import io.vramkit.quant.QuantFormat;
import io.vramkit.quant.QuantizedTensor;
import io.vramkit.quant.cuda.CudaQuantGemm;
import io.vramkit.quant.cuda.CudaQuantKernels;
import io.vramkit.quant.cuda.CudaQuantizedTensor;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.IntConsumer;

/**
 * Times vramkit's own CUDA kernels at the shapes of issues 9 and 10, in one process, with a device-to-device copy
 * measured first as the bandwidth yardstick:
 *
 * <ul>
 *   <li><b>copy</b>: {@code cudaMemcpyAsync} D2D of 1 GiB; bandwidth counts bytes read plus bytes written;</li>
 *   <li><b>gemv</b> ({@link CudaQuantKernels#gemv}): INT4_G128, NF4_B64 and INT8 (per channel) weights at
 *       8192×8192 and 28672×8192, FP16 activations, batch 1, 4 and 16, each tensor-core variant
 *       ({@link CudaQuantKernels.GemvVariant}: tc1 and tc2 for INT4 and NF4 at batch 1 and 4) named in the line;
 *       GB/s of weight bytes (codes and scales) and
 *       the fraction of the copy bandwidth. Unlike the other sections, each case first launches for 0.3 s (the GPU
 *       idles at a low clock and needs some 100 ms of work to raise it), then times 200 launches with CUDA events
 *       without a synchronize in between, rotating over as many copies of the weights as make 256 MiB (a single
 *       8192×8192 INT4 tensor, 34 MB, would stay in the 50-60 MiB L2 and be read from there), so every launch
 *       streams its weights from HBM as torch's 128 MiB FP16 GEMV does; it also prints the host's enqueue time per
 *       launch, which bounds the figure when it is the larger;</li>
 *   <li><b>gemm</b> ({@link CudaQuantGemm}): prefill-sized matmul, 4096 FP16 activation rows against INT4_G128 and
 *       INT8 weights of 8192×8192, both strategies (fused tensor-core kernel; dequantize to FP16 then cuBLAS), and
 *       cuBLAS FP16 GEMM on dense FP16 weights of the same shape as the baseline, all in this run; TFLOP/s counted
 *       as {@code 2 m n k} and the ratio to the cuBLAS FP16 time (issue 9's target: within 1.3×);</li>
 *   <li><b>prefill</b> ({@link CudaAttention#flashPrefill}): BF16, causal, 32 query heads, 8 KV heads, head
 *       dimension 128, batch 1, 4 and 8, sequence 1k, 4k and 16k; TFLOP/s counted as {@code 4 B H S^2 D / 2}
 *       (causal halves the work), the count {@code scripts/gpu-check-torch-sdpa.py} uses; then every mma.sync
 *       kernel variant ({@code vramkit.prefill.variant}) on b=1 and 4, s=4k and 16k, one line each; then one 32k-token
 *       prefill with every buffer allocated through a {@link StatisticsResource}: its peak against the inputs and
 *       outputs (q, k, v, out, logsumexp), and the device's free memory before and after (any allocation the
 *       launcher made on its own would show there);</li>
 *   <li><b>decode</b> ({@link CudaAttention#pagedDecode}): BF16 query and KV, block size 16, contexts 4k, 32k and
 *       128k, batch 1, 16 and 64 (up to 2M cached tokens), then INT8 and FP8 E4M3 KV at batch 16 and 1 with
 *       context 32k and batch 64 with context 4k, each through the tensor-core kernel ({@code mma}) and then the
 *       vectorized one ({@code vec}), named in the line;
 *       splits from {@link CudaAttention#suggestedSplitTokens} (each line names the splits and decode blocks, and
 *       "+ merge" when the merge kernel runs too); GB/s of KV bytes read and the fraction of the copy
 *       bandwidth.</li>
 * </ul>
 *
 * Inputs of the memory-bound cases (copy, GEMV, decode) are constant bit patterns: their timing does not depend on
 * the values, and correctness is the {@code gpu}-tagged tests' job. Prefill's Q, K and V are standard normal, as
 * SDPA's are in {@code scripts/gpu-check-torch-sdpa.py}: on tensor cores the values move the power draw and so the
 * clock, and the running softmax max decides how often O is rescaled. Each case (gemv excepted, see above) is launched once to warm up, then repeated for about half a
 * second (at most 50 launches) and timed with the host clock around the launches and one synchronize. A failing case
 * prints its error and the run goes on; a device fault ends the remaining sections. Prints one line per case, lines
 * starting with {@code SUMMARY} for the summary table, and writes them to {@code DIR/gpu-kernels.txt} with
 * {@code --out DIR}. Exits 0 with one line when no GPU answers. Single-threaded.
 *
 * <p>Usage: {@code GpuKernelBench [--out DIR] [--only copy,gemv,gemm,prefill,decode]}.
 *
 * <p>Ran on an NVIDIA H200 (2026-11-26, and 2026-11-27 with the random prefill inputs of {@code randomBf16});
 * figures in {@code docs/benchmarks.md}.
 */
public final class GpuKernelBench {

    /** The file name of the summary written in the output folder. */
    public static final String SUMMARY = "gpu-kernels.txt";

    private static final double CASE_SECONDS = 0.5;
    private static final int MAX_REPS = 50;
    /** Weight bytes each gemv case rotates over (at least one copy): several times the L2. */
    private static final long GEMV_ROTATION_BYTES = 256L << 20;
    private static final double GEMV_WARMUP_SECONDS = 0.3;
    private static final int GEMV_REPS = 200;
    private static final int HEADS = 32;
    private static final int KV_HEADS = 8;
    private static final int HEAD_DIM = 128;

    private final CudaStream stream;
    private final CudaMallocResource device;
    private final List<String> lines = new ArrayList<>();
    private double copyGbps = Double.NaN;

    private GpuKernelBench(CudaStream stream, CudaMallocResource device) {
        this.stream = stream;
        this.device = device;
    }

    /**
     * Entry point.
     *
     * @param args {@code [--out DIR] [--only LIST]}
     * @throws IOException              if the summary cannot be written
     * @throws IllegalArgumentException naming the argument when one is unknown or lacks its value
     */
    public static void main(String[] args) throws IOException {
        Path out = null;
        String only = "copy,gemv,gemm,prefill,decode";
        for (int i = 0; i < args.length; i++) {
            if (i + 1 >= args.length) {
                throw new IllegalArgumentException(args[i] + " needs a value (usage: GpuKernelBench [--out DIR] "
                        + "[--only copy,gemv,gemm,prefill,decode])");
            }
            switch (args[i]) {
                case "--out" -> out = Path.of(args[++i]);
                case "--only" -> only = args[++i];
                default -> throw new IllegalArgumentException("unknown argument '" + args[i]
                        + "' (usage: GpuKernelBench [--out DIR] [--only copy,gemv,gemm,prefill,decode])");
            }
        }
        Cuda.CudaStatus status = Cuda.status();
        List<String> result;
        if (!status.usable()) {
            result = List.of("vramkit kernel benchmarks skipped: no usable CUDA device (" + status.reason() + "): "
                    + status.message());
            result.forEach(System.out::println);
        } else {
            try (CudaStream stream = CudaStream.create(0); CudaMallocResource device = new CudaMallocResource(0)) {
                GpuKernelBench bench = new GpuKernelBench(stream, device);
                List<String> sections = List.of(only.split(","));
                // copy first: the others report fractions of its bandwidth
                if (sections.contains("copy") || sections.contains("gemv") || sections.contains("decode")) {
                    bench.section("copy", bench::copy);
                }
                if (sections.contains("gemv")) {
                    bench.section("gemv", bench::gemv);
                }
                if (sections.contains("gemm")) {
                    bench.section("gemm", bench::gemm);
                    bench.section("cuBLAS square GEMM", bench::cublasSquare);
                }
                if (sections.contains("prefill")) {
                    bench.section("prefill", bench::prefill);
                    bench.section("prefill memory", bench::prefillMemory);
                }
                if (sections.contains("decode")) {
                    bench.section("decode", bench::decode);
                }
                result = bench.lines;
            }
        }
        if (out != null) {
            Files.createDirectories(out);
            Files.write(out.resolve(SUMMARY), result, StandardCharsets.UTF_8);
        }
    }

    private void print(String line) {
        System.out.println(line);
        lines.add(line);
    }

    private void section(String name, Runnable body) {
        try {
            body.run();
        } catch (RuntimeException | OutOfMemoryError e) {
            print("vramkit " + name + ": FAILED: " + e);
            try {
                stream.synchronize();
            } catch (RuntimeException sticky) {
                print("vramkit " + name + ": the stream is unusable after the failure: " + sticky.getMessage());
            }
        }
    }

    /** Seconds per launch: one warm-up, then about {@link #CASE_SECONDS} of launches and one synchronize. */
    private double time(Runnable launch) {
        launch.run();
        stream.synchronize();
        long t0 = System.nanoTime();
        launch.run();
        stream.synchronize();
        double once = (System.nanoTime() - t0) / 1e9;
        int reps = (int) Math.max(1, Math.min(MAX_REPS, CASE_SECONDS / Math.max(once, 1e-6)));
        long t1 = System.nanoTime();
        for (int i = 0; i < reps; i++) {
            launch.run();
        }
        stream.synchronize();
        return (System.nanoTime() - t1) / 1e9 / reps;
    }

    private Buffer alloc(long bytes, byte fill) {
        Buffer b = Buffer.allocate(device, bytes, 256, stream);
        stream.fillAsync(b, 0, bytes, fill);
        return b;
    }

    private void copy() {
        long bytes = 1L << 30;
        try (Buffer src = alloc(bytes, (byte) 1); Buffer dst = alloc(bytes, (byte) 0)) {
            double s = time(() -> stream.copyAsync(src, 0, dst, 0, bytes));
            copyGbps = 2.0 * bytes / s / 1e9;
            print(String.format(Locale.ROOT, "vramkit D2D copy [1 GiB] %.1f GB/s (read + write)", copyGbps));
            print(String.format(Locale.ROOT, "SUMMARY vramkit D2D copy 1 GiB: %.1f GB/s (read + write)", copyGbps));
        }
    }

    private String ofCopy(double gbps) {
        return Double.isNaN(copyGbps) ? "" : String.format(Locale.ROOT, ", %.0f%% of D2D copy", 100 * gbps / copyGbps);
    }

    private void gemv() {
        int cols = 8192;
        Buffer x = alloc(2L * 16 * cols, (byte) 0x3c);
        try (x) {
            for (int rows : new int[] {8192, 28672}) {
                for (QuantFormat f : new QuantFormat[] {QuantFormat.INT4_G128, QuantFormat.NF4_B64, QuantFormat.INT8}) {
                    long weightBytes = weightBytes(f, rows, cols);
                    // enough copies that one round exceeds the L2 (50 MiB on H100, 60 MiB on H200) several times
                    int copies = (int) Math.max(1, (GEMV_ROTATION_BYTES + weightBytes - 1) / weightBytes);
                    List<CudaQuantizedTensor> ws = new ArrayList<>();
                    try (Buffer y = alloc(4L * 16 * rows, (byte) 0)) {
                        for (int i = 0; i < copies; i++) {
                            ws.add(upload(f, rows, cols));
                        }
                        for (int batch : new int[] {1, 4, 16}) {
                            // both tensor-core variants where they differ (4-bit, batch <= 8), named in the label
                            List<CudaQuantKernels.GemvVariant> variants = f.scheme() == QuantFormat.Scheme.INT8
                                    || batch > 8 ? List.of(CudaQuantKernels.GemvVariant.TC1)
                                    : List.of(CudaQuantKernels.GemvVariant.values());
                            for (CudaQuantKernels.GemvVariant v : variants) {
                                double[] s = gemvTime(i -> CudaQuantKernels.gemv(ws.get(i % copies), x, DType.FP16,
                                        batch, y, stream, v));
                                double gbps = weightBytes / s[0] / 1e9;
                                // the variant after the bracket, where gpu-check-summary.py's pattern allows it
                                String label = String.format(Locale.ROOT, "vramkit gemv %s [%dx%d, batch %d] %s", f,
                                        rows, cols, batch, v.name().toLowerCase(Locale.ROOT));
                                print(String.format(Locale.ROOT,
                                        "%s %.1f us, %.1f GB/s of weight bytes%s (%d copies, %.0f MB rotated; host "
                                                + "enqueue %.1f us per launch)", label, s[0] * 1e6, gbps, ofCopy(gbps),
                                        copies, copies * weightBytes / 1e6, s[1] * 1e6));
                                print(String.format(Locale.ROOT, "SUMMARY %s: %.1f us, %.1f GB/s weights%s", label,
                                        s[0] * 1e6, gbps, ofCopy(gbps)));
                            }
                        }
                    } finally {
                        ws.forEach(CudaQuantizedTensor::close);
                    }
                }
            }
        }
    }

    /**
     * GEMV timing, honest about clocks and caches: launches {@code launch(i)} for i = 0, 1, 2, ... (the caller rotates
     * over weight copies that together exceed the L2, so every launch streams its weights from HBM) for
     * {@link #GEMV_WARMUP_SECONDS} first, so the GPU leaves its idle clock, then without a synchronize in between
     * (the queue stays full) {@link #GEMV_REPS} launches between two timed events. Returns the device seconds per
     * launch from the events and the host seconds per launch spent enqueueing them (when that is the larger, the
     * device waited on the host and the first figure is the host's).
     */
    private double[] gemvTime(IntConsumer launch) {
        int i = 0;
        long t0 = System.nanoTime();
        while (System.nanoTime() - t0 < GEMV_WARMUP_SECONDS * 1e9) {
            launch.accept(i++);
        }
        try (CudaEvent start = stream.recordTimed()) {
            long t1 = System.nanoTime();
            for (int r = 0; r < GEMV_REPS; r++) {
                launch.accept(i++);
            }
            double host = (System.nanoTime() - t1) / 1e9 / GEMV_REPS;
            try (CudaEvent end = stream.recordTimed()) {
                end.synchronize();
                return new double[] {end.elapsedMillisSince(start) / 1e3 / GEMV_REPS, host};
            }
        }
    }

    private void gemm() {
        int m = 4096;
        int n = 8192;
        int k = 8192;
        double flops = 2.0 * m * n * k;
        Cublas blas;
        try {
            blas = Cublas.create(stream);
        } catch (CudaLibraryException e) {
            blas = null;
            print("vramkit gemm: cuBLAS strategy and baseline skipped, libcublas not found: " + e.getMessage());
        }
        Cublas cublas = blas;
        // 0x2c00 = 0.0625 in FP16: bounded sums, no infinities in the timed path
        try (Buffer x = alloc(2L * m * k, (byte) 0x2c); Buffer y = alloc(4L * m * n, (byte) 0);
             Buffer dense = alloc(2L * n * k, (byte) 0x2c)) {
            double cublasSeconds = Double.NaN;
            if (cublas != null) {
                cublasSeconds = time(() -> cublas.gemmEx(Cublas.Transpose.T, Cublas.Transpose.N, n, m, k, 1f, dense,
                        DType.FP16, k, x, DType.FP16, k, 0f, y, DType.FP32, n));
                gemmLine("cuBLAS FP16 GEMM (dense FP16 weights)", m, n, k, flops, cublasSeconds, cublasSeconds);
            }
            for (QuantFormat f : new QuantFormat[] {QuantFormat.INT4_G128, QuantFormat.INT8}) {
                try (CudaQuantizedTensor w = upload(f, n, k)) {
                    double fused = time(() -> CudaQuantGemm.gemmFused(w, x, DType.FP16, m, y, stream));
                    gemmLine("gemm fused tensor-core " + f, m, n, k, flops, fused, cublasSeconds);
                    if (cublas != null) {
                        double deq = time(() -> CudaQuantGemm.gemmDequantized(w, x, DType.FP16, m, y, cublas, dense));
                        gemmLine("gemm dequantize+cuBLAS " + f, m, n, k, flops, deq, cublasSeconds);
                    }
                }
            }
        } finally {
            if (cublas != null) {
                cublas.close();
            }
        }
    }

    /**
     * Square GEMMs through vramkit's cuBLAS binding at the shapes and dtypes {@code scripts/gpu-check-torch.py} gives
     * torch.matmul (n = 4096 and 8192, FP16 and BF16 in and out, FP32 accumulation, operands uniform in [-1, 1)), timed
     * the way that script times torch: three warm-up GEMMs, then about half a second of them (at most 50). The JMH
     * {@code GemmBenchmark} runs GEMMs back to back for seconds, which lowers the clock under the tensor cores' power
     * draw; this is the like-for-like comparison with torch.
     */
    private void cublasSquare() {
        try (Cublas blas = Cublas.create(stream, device, 32L << 20)) {
            for (int n : new int[] {4096, 8192}) {
                for (DType type : new DType[] {DType.FP16, DType.BF16}) {
                    long elements = (long) n * n;
                    try (Buffer a = randomMatrix(elements, type, 1); Buffer b = randomMatrix(elements, type, 2);
                         Buffer c = alloc(elements * 2, (byte) 0)) {
                        Runnable gemm = () -> blas.gemmEx(Cublas.Transpose.N, Cublas.Transpose.N, n, n, n, 1f, a,
                                type, n, b, type, n, 0f, c, type, n);
                        gemm.run();
                        gemm.run();
                        double seconds = time(gemm);
                        double tflops = 2.0 * n * n * n / seconds / 1e12;
                        String label = String.format(Locale.ROOT, "vramkit cuBLAS GEMM [n=%d, dtype=%s]", n, type);
                        print(String.format(Locale.ROOT, "%s %.3f ms, %.1f TFLOP/s", label, seconds * 1e3, tflops));
                        print(String.format(Locale.ROOT, "SUMMARY %s: %.1f TFLOP/s", label, tflops));
                    }
                }
            }
        }
    }

    /** A device matrix of {@code elements} FP16 or BF16 values uniform in [-1, 1), from a seeded generator. */
    private Buffer randomMatrix(long elements, DType type, long seed) {
        Buffer b = Buffer.allocate(device, elements * 2, 256, stream);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocate(elements * 2, 64);
            java.util.SplittableRandom random = new java.util.SplittableRandom(seed);
            for (long i = 0; i < elements; i++) {
                float v = (float) (random.nextDouble() * 2 - 1);
                host.setAtIndex(ValueLayout.JAVA_SHORT, i, type == DType.FP16 ? Float.floatToFloat16(v)
                        : (short) (Float.floatToRawIntBits(v) >>> 16));
            }
            stream.copyToDeviceAsync(host, b, 0);
            stream.synchronize();
        }
        return b;
    }

    private void gemmLine(String what, int m, int n, int k, double flops, double seconds, double baseline) {
        String label = String.format(Locale.ROOT, "vramkit %s [m=%d, %dx%d]", what, m, n, k);
        String ratio = Double.isNaN(baseline) ? "" : String.format(Locale.ROOT, ", %.2fx cuBLAS FP16 time",
                seconds / baseline);
        print(String.format(Locale.ROOT, "%s %.3f ms, %.1f TFLOP/s%s", label, seconds * 1e3, flops / seconds / 1e12,
                ratio));
        print(String.format(Locale.ROOT, "SUMMARY %s: %.1f TFLOP/s%s", label, flops / seconds / 1e12, ratio));
    }

    private static long weightBytes(QuantFormat f, int rows, int cols) {
        long n = (long) rows * cols;
        if (f.scheme() == QuantFormat.Scheme.INT8) {
            return n + 4L * rows;
        }
        int scaleBytes = f.scheme() == QuantFormat.Scheme.NF4 ? 4 : 2;
        return n / 2 + (long) scaleBytes * rows * (cols / f.groupSize());
    }

    /** A device tensor of constant codes and scales (0.0625 in FP16, 0.01 in FP32), uploaded and synchronized. */
    private CudaQuantizedTensor upload(QuantFormat f, int rows, int cols) {
        long n = (long) rows * cols;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment codes;
            MemorySegment scales;
            if (f.scheme() == QuantFormat.Scheme.INT8) {
                codes = arena.allocate(n, 64).fill((byte) 3);
                scales = arena.allocate(4L * rows, 64);
                for (int r = 0; r < rows; r++) {
                    scales.setAtIndex(ValueLayout.JAVA_FLOAT, r, 0.01f);
                }
            } else {
                codes = arena.allocate(n / 2, 64).fill((byte) 0x9a);
                long groups = (long) rows * (cols / f.groupSize());
                if (f.scheme() == QuantFormat.Scheme.NF4) {
                    scales = arena.allocate(4 * groups, 64);
                    for (long g = 0; g < groups; g++) {
                        scales.setAtIndex(ValueLayout.JAVA_FLOAT, g, 0.01f);
                    }
                } else {
                    scales = arena.allocate(2 * groups, 64);
                    for (long g = 0; g < groups; g++) {
                        scales.setAtIndex(ValueLayout.JAVA_SHORT, g, (short) 0x2c00);
                    }
                }
            }
            QuantizedTensor host = QuantizedTensor.wrap("bench-" + rows + "x" + cols, f, rows, cols, codes, scales,
                    MemorySegment.NULL, MemorySegment.NULL, 0f);
            CudaQuantizedTensor t = CudaQuantizedTensor.upload(host, device, stream);
            stream.synchronize();
            return t;
        }
    }

    private Buffer seqlens(int batch, int len) {
        Buffer b = Buffer.allocate(device, 4L * (batch + 1), 256, stream);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocate(4L * (batch + 1), 4);
            for (int i = 0; i <= batch; i++) {
                host.setAtIndex(ValueLayout.JAVA_INT, i, i * len);
            }
            stream.copyToDeviceAsync(host, b, 0);
            stream.synchronize();
        }
        return b;
    }

    private void prefill() {
        try (CudaAttention attention = CudaAttention.load(0)) {
            for (int batch : new int[] {1, 4, 8}) {
                for (int seq : new int[] {1024, 4096, 16384}) {
                    double s = prefillSeconds(attention, batch, seq);
                    double flops = prefillFlops(batch, seq);
                    String label = String.format(Locale.ROOT, "vramkit prefill BF16 causal [b=%d, s=%d, "
                            + "h=%d/%d, d=%d]", batch, seq, HEADS, KV_HEADS, HEAD_DIM);
                    print(String.format(Locale.ROOT, "%s %.2f ms, %.1f TFLOP/s", label, s * 1e3, flops / s / 1e12));
                    print(String.format(Locale.ROOT, "SUMMARY %s: %.1f TFLOP/s", label, flops / s / 1e12));
                }
            }
        }
        prefillVariants();
    }

    /**
     * Every mma.sync prefill variant ({@link CudaAttention#PREFILL_VARIANTS}) on the b=1 and b=4, s=4k and 16k
     * shapes, in this run, one SUMMARY line each with the variant's name (the summary adds its % of SDPA).
     */
    private void prefillVariants() {
        for (String variant : CudaAttention.PREFILL_VARIANTS) {
            try (CudaAttention attention = CudaAttention.load(0, variant)) {
                for (int batch : new int[] {1, 4}) {
                    for (int seq : new int[] {4096, 16384}) {
                        double s = prefillSeconds(attention, batch, seq);
                        print(String.format(Locale.ROOT, "SUMMARY vramkit prefill variant %s%s BF16 causal "
                                + "[b=%d, s=%d, h=%d/%d, d=%d]: %.2f ms, %.1f TFLOP/s", variant,
                                variant.equals(CudaAttention.DEFAULT_PREFILL_VARIANT) ? " (default)" : "",
                                batch, seq, HEADS, KV_HEADS, HEAD_DIM, s * 1e3, prefillFlops(batch, seq) / s / 1e12));
                    }
                }
            }
        }
    }

    /** 64 MiB of standard normal BF16 values, made once; {@link #randomBf16} tiles buffers with it. */
    private MemorySegment normalBf16;

    /**
     * A device buffer of standard normal BF16 values: a 64 MiB block drawn once from a seeded generator, repeated.
     * At the prefill shapes the period is 32k tokens of K or V, longer than any sequence timed.
     */
    private Buffer randomBf16(long bytes) {
        if (normalBf16 == null) {
            normalBf16 = Arena.ofAuto().allocate(64L << 20, 64);
            java.util.SplittableRandom random = new java.util.SplittableRandom(42);
            long n = normalBf16.byteSize() / 2;
            for (long i = 0; i < n; i++) {
                float g = (float) random.nextGaussian();
                normalBf16.setAtIndex(ValueLayout.JAVA_SHORT, i, (short) (Float.floatToRawIntBits(g) >>> 16));
            }
        }
        Buffer b = Buffer.allocate(device, bytes, 256, stream);
        for (long off = 0; off < bytes; off += normalBf16.byteSize()) {
            long chunk = Math.min(normalBf16.byteSize(), bytes - off);
            stream.copyToDeviceAsync(normalBf16.asSlice(0, chunk), b, off);
        }
        return b;
    }

    /** Causal attention FLOPs as {@code scripts/gpu-check-torch-sdpa.py} counts them: {@code 4 B H S^2 D / 2}. */
    private static double prefillFlops(int batch, int seq) {
        return 4.0 * batch * HEADS * (double) seq * seq * HEAD_DIM / 2;
    }

    /**
     * Seconds per BF16 causal prefill of {@code batch} sequences of {@code seq} tokens. Q, K and V are standard
     * normal, as {@code scripts/gpu-check-torch-sdpa.py} gives SDPA: constant inputs would flatter the kernel (the
     * tensor cores draw less power, so the clock stays higher, and the running row max never grows, so the tuned
     * variants never rescale O). Runs 1-4 of docs/benchmarks.md used constant inputs (BF16 0x3c3c).
     */
    private double prefillSeconds(CudaAttention attention, int batch, int seq) {
        AttentionParams causal = AttentionParams.builder().causal(true).build();
        long tokens = (long) batch * seq;
        long qBytes = tokens * HEADS * HEAD_DIM * 2;
        long kvBytes = tokens * KV_HEADS * HEAD_DIM * 2;
        try (Buffer q = randomBf16(qBytes); Buffer k = randomBf16(kvBytes); Buffer v = randomBf16(kvBytes);
             Buffer o = alloc(qBytes, (byte) 0); Buffer cu = seqlens(batch, seq)) {
            return time(() -> attention.flashPrefill(q, k, v, o, null, cu, cu, batch, seq, (int) tokens, HEADS,
                    KV_HEADS, HEAD_DIM, DType.BF16, causal, stream));
        }
    }

    private void prefillMemory() {
        int seq = 32768;
        AttentionParams causal = AttentionParams.builder().causal(true).build();
        StatisticsResource counted = new StatisticsResource(device);
        long qBytes = (long) seq * HEADS * HEAD_DIM * 2;
        long kvBytes = (long) seq * KV_HEADS * HEAD_DIM * 2;
        long lseBytes = 4L * seq * HEADS;
        try (CudaAttention attention = CudaAttention.load(0);
             Buffer q = Buffer.allocate(counted, qBytes, 256, stream);
             Buffer k = Buffer.allocate(counted, kvBytes, 256, stream);
             Buffer v = Buffer.allocate(counted, kvBytes, 256, stream);
             Buffer o = Buffer.allocate(counted, qBytes, 256, stream);
             Buffer lse = Buffer.allocate(counted, lseBytes, 256, stream);
             Buffer cu = Buffer.allocate(counted, 8, 256, stream)) {
            stream.fillAsync(q, 0, qBytes, (byte) 0x3c);
            stream.fillAsync(k, 0, kvBytes, (byte) 0x3c);
            stream.fillAsync(v, 0, kvBytes, (byte) 0x3c);
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment host = arena.allocate(8, 4);
                host.setAtIndex(ValueLayout.JAVA_INT, 1, seq);
                stream.copyToDeviceAsync(host, cu, 0);
            }
            stream.synchronize();
            long freeBefore = CudaDevice.get(0).memoryInfo().freeBytes();
            attention.flashPrefill(q, k, v, o, lse, cu, cu, 1, seq, seq, HEADS, KV_HEADS, HEAD_DIM, DType.BF16,
                    causal, stream);
            stream.synchronize();
            long freeAfter = CudaDevice.get(0).memoryInfo().freeBytes();
            long io = 2 * qBytes + 2 * kvBytes + lseBytes + 8;
            long peak = counted.statistics().bytes().peak();
            String label = String.format(Locale.ROOT, "vramkit prefill memory BF16 causal [b=1, s=%d, h=%d/%d, d=%d]",
                    seq, HEADS, KV_HEADS, HEAD_DIM);
            String line = String.format(Locale.ROOT, "%s: peak allocated %.1f MiB = inputs+outputs %.1f MiB + %d "
                    + "bytes workspace; device free memory changed by %d bytes across the call", label,
                    peak / 1048576.0, io / 1048576.0, peak - io, freeBefore - freeAfter);
            print(line);
            print("SUMMARY " + line);
        }
    }

    private void decode() {
        int blockSize = 16;
        try (CudaAttention attention = CudaAttention.load(0, CudaAttention.DEFAULT_PREFILL_VARIANT, "mma");
             CudaAttention vec = CudaAttention.load(0, CudaAttention.DEFAULT_PREFILL_VARIANT, "vec")) {
            for (int context : new int[] {4096, 32768, 131072}) {
                for (int batch : new int[] {1, 16, 64}) {
                    if ((long) batch * context > (2L << 20)) {
                        continue;
                    }
                    decodeCase(attention, batch, context, blockSize, DType.BF16, 0);
                }
            }
            // batch 1 with shorter splits than suggestedSplitTokens allows: at 4k its 128-token splits give half a
            // wave of blocks (ncu: 12% achieved occupancy)
            decodeCase(attention, 1, 4096, blockSize, DType.BF16, 64);
            decodeCase(attention, 1, 32768, blockSize, DType.BF16, 256);
            // the quantized caches: the tensor-core kernel (mma, the default) beside the vectorized one (vec), each
            // case twice in a row on the same inputs
            for (DType kv : new DType[] {DType.INT8, DType.FP8_E4M3}) {
                for (int[] bc : new int[][] {{16, 32768}, {1, 32768}, {64, 4096}}) {
                    decodeCase(attention, bc[0], bc[1], blockSize, kv, 0);
                    decodeCase(vec, bc[0], bc[1], blockSize, kv, 0);
                }
            }
            // batch 1 over INT8: splits around suggestedSplitTokens' choice (512 tokens at 32k, 128 at 4k), whose
            // minimum split was set for BF16 blocks, which read twice the bytes per token
            decodeCase(attention, 1, 4096, blockSize, DType.INT8, 0);
            for (int split : new int[] {256, 512}) {
                decodeCase(attention, 1, 4096, blockSize, DType.INT8, split);
            }
            for (int split : new int[] {256, 1024, 2048}) {
                decodeCase(attention, 1, 32768, blockSize, DType.INT8, split);
            }
        }
    }

    /** One decode case; {@code splitOverride} 0 takes {@link CudaAttention#suggestedSplitTokens}. */
    private void decodeCase(CudaAttention attention, int batch, int context, int blockSize, DType kvType,
                            int splitOverride) {
        int maxBlocks = (context + blockSize - 1) / blockSize;
        long numBlocks = (long) batch * maxBlocks;
        long cacheBytes = numBlocks * blockSize * KV_HEADS * HEAD_DIM * kvType.byteSize();
        boolean quantized = kvType != DType.BF16;
        // the library's own split choice for this device (about one wave of blocks, splits of at least 128 tokens)
        int splitTokens = splitOverride > 0 ? splitOverride : CudaAttention.suggestedSplitTokens(batch, KV_HEADS,
                context, CudaDevice.get(0).multiProcessorCount());
        int splits = CudaAttention.maxSplits(context, splitTokens);
        long blocks = (long) splits * KV_HEADS * batch;
        // 0x3c bytes: BF16 1.17, INT8 60, FP8 E4M3 1.5; scales 0x3c3c3c3c = 0.0115
        try (Buffer q = alloc(2L * batch * HEADS * HEAD_DIM, (byte) 0x3c);
             Buffer kc = alloc(cacheBytes, (byte) 0x3c); Buffer vc = alloc(cacheBytes, (byte) 0x3c);
             Buffer ks = quantized ? alloc(4L * numBlocks * KV_HEADS, (byte) 0x3c) : null;
             Buffer vs = quantized ? alloc(4L * numBlocks * KV_HEADS, (byte) 0x3c) : null;
             Buffer o = alloc(2L * batch * HEADS * HEAD_DIM, (byte) 0);
             Buffer tables = Buffer.allocate(device, 4L * numBlocks, 256, stream);
             Buffer lens = Buffer.allocate(device, 4L * batch, 256, stream);
             Buffer partials = splits > 1 ? alloc(CudaAttention.partialsBytes(batch, HEADS, HEAD_DIM, splits),
                     (byte) 0) : null;
             Arena arena = Arena.ofConfined()) {
            MemorySegment t = arena.allocate(4L * numBlocks, 4);
            for (long i = 0; i < numBlocks; i++) {
                t.setAtIndex(ValueLayout.JAVA_INT, i, (int) i);
            }
            MemorySegment l = arena.allocate(4L * batch, 4);
            for (int b = 0; b < batch; b++) {
                l.setAtIndex(ValueLayout.JAVA_INT, b, context);
            }
            stream.copyToDeviceAsync(t, tables, 0);
            stream.copyToDeviceAsync(l, lens, 0);
            stream.synchronize();
            double s = time(() -> attention.pagedDecode(q, kc, vc, ks, vs, tables, maxBlocks, lens, o, null,
                    partials, batch, context, HEADS, KV_HEADS, HEAD_DIM, blockSize, DType.BF16, kvType,
                    splitTokens, AttentionParams.defaults(), stream));
            double kvRead = 2.0 * batch * context * KV_HEADS * HEAD_DIM * kvType.byteSize();
            double gbps = kvRead / s / 1e9;
            // splits > 1 adds the merge launch: heads x batch x headDim/32 blocks reading the partials
            String label = String.format(Locale.ROOT, "vramkit decode %s KV%s [b=%d, ctx=%d, h=%d/%d, d=%d, "
                    + "block %d, split %d%s = %d splits, %d blocks%s]", kvType,
                    quantized ? " (" + attention.decodeVariant() + ")" : "", batch, context, HEADS, KV_HEADS,
                    HEAD_DIM, blockSize, splitTokens, splitOverride > 0 ? " (set)" : "", splits, blocks,
                    splits > 1 ? " + merge" : "");
            print(String.format(Locale.ROOT, "%s %.1f us, %.1f GB/s of KV read%s", label, s * 1e6, gbps,
                    ofCopy(gbps)));
            print(String.format(Locale.ROOT, "SUMMARY %s: %.1f GB/s KV%s", label, gbps, ofCopy(gbps)));
        }
    }
}
