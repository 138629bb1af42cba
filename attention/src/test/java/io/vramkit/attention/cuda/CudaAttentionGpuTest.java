package io.vramkit.attention.cuda;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.vramkit.attention.AttentionParams;
import io.vramkit.attention.BlockMask;
import io.vramkit.attention.FlashAttention;
import io.vramkit.attention.HeadTensor;
import io.vramkit.attention.KvCacheView;
import io.vramkit.attention.PagedDecodeAttention;
import io.vramkit.core.DType;
import io.vramkit.core.memory.Buffer;
import io.vramkit.cuda.Cuda;
import io.vramkit.cuda.CudaMallocResource;
import io.vramkit.cuda.CudaStream;
import io.vramkit.quant.Fp8;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The CUDA kernels against the CPU path on the same data. Skipped unless a CUDA device answers. */
@Tag("gpu")
class CudaAttentionGpuTest {

    private static void assumeGpu() {
        Cuda.CudaStatus status = Cuda.status();
        assumeTrue(status.usable(), "no usable CUDA device: " + status.message());
    }

    private static MemorySegment random(Arena arena, DType type, Random rnd, long n) {
        MemorySegment s = arena.allocate(Math.max(1, n * type.byteSize()), 64);
        HeadTensor t = HeadTensor.of(s, type, (int) n, 1, 1);
        for (int i = 0; i < n; i++) {
            t.set(i, 0, 0, (float) rnd.nextGaussian());
        }
        return s;
    }

    private static Buffer upload(CudaMallocResource dev, CudaStream stream, MemorySegment host) {
        Buffer b = Buffer.allocate(dev, Math.max(1, host.byteSize()), 256, stream);
        stream.copyToDeviceAsync(host, b, 0);
        return b;
    }

    private static double maxDiff(HeadTensor a, HeadTensor b) {
        double e = 0;
        for (int t = 0; t < a.tokens(); t++) {
            for (int h = 0; h < a.heads(); h++) {
                for (int c = 0; c < a.headDim(); c++) {
                    double d = Math.abs(a.get(t, h, c) - b.get(t, h, c));
                    e = Double.isNaN(d) ? Double.POSITIVE_INFINITY : Math.max(e, d);
                }
            }
        }
        return e;
    }

    @Test
    void flashPrefillMatchesTheCpuPath() {
        assumeGpu();
        Random rnd = new Random(1);
        int[] cu = {0, 100, 100, 613};
        int[] cuK = {0, 130, 141, 654};
        int heads = 8;
        int kvHeads = 2;
        try (Arena arena = Arena.ofShared(); CudaMallocResource dev = new CudaMallocResource(0);
             CudaStream stream = CudaStream.create(0); CudaAttention gpu = CudaAttention.load(0)) {
            for (DType type : new DType[] {DType.FP16, DType.BF16}) {
                for (int d : new int[] {64, 128, 80}) {
                    MemorySegment q = random(arena, type, rnd, (long) cu[3] * heads * d);
                    MemorySegment k = random(arena, type, rnd, (long) cuK[3] * kvHeads * d);
                    MemorySegment v = random(arena, type, rnd, (long) cuK[3] * kvHeads * d);
                    MemorySegment out = arena.allocate((long) cu[3] * heads * d * 2, 64);
                    AttentionParams p = AttentionParams.builder().causal(true).window(200, 0).build();
                    try (Buffer dq = upload(dev, stream, q); Buffer dk = upload(dev, stream, k);
                         Buffer dv = upload(dev, stream, v); Buffer dout = upload(dev, stream, out);
                         Buffer dcq = upload(dev, stream, arena.allocateFrom(ValueLayout.JAVA_INT, cu));
                         Buffer dck = upload(dev, stream, arena.allocateFrom(ValueLayout.JAVA_INT, cuK))) {
                        gpu.flashPrefill(dq, dk, dv, dout, null, dcq, dck, 3, 513, cu[3], heads, kvHeads, d, type, p,
                                stream);
                        stream.copyToHostAsync(dout, 0, out);
                        stream.synchronize();
                    }
                    HeadTensor ref = HeadTensor.of(new float[cu[3] * heads * d], cu[3], heads, d);
                    new FlashAttention().forward(HeadTensor.of(q, type, cu[3], heads, d),
                            HeadTensor.of(k, type, cuK[3], kvHeads, d), HeadTensor.of(v, type, cuK[3], kvHeads, d),
                            cu, cuK, p, ref);
                    double diff = maxDiff(HeadTensor.of(out, type, cu[3], heads, d), ref);
                    assertTrue(diff < (type == DType.FP16 ? 1e-2 : 4e-2), type + " d=" + d + ": " + diff);
                }
            }
        }
    }

    @Test
    void blockSparsePrefillMatchesTheCpuPathAndWritesEveryOutput() {
        assumeGpu();
        Random rnd = new Random(7);
        int[] cu = {0, 77, 300};
        int[] cuK = {0, 90, 333};
        int heads = 4;
        int kvHeads = 2;
        int d = 64;
        try (Arena arena = Arena.ofShared(); CudaMallocResource dev = new CudaMallocResource(0);
             CudaStream stream = CudaStream.create(0); CudaAttention gpu = CudaAttention.load(0)) {
            for (int[] blocks : new int[][] {{64, 64}, {32, 48}, {16, 128}}) {
                int rb = blocks[0];
                int cb = blocks[1];
                boolean[][] allowed = new boolean[(223 + rb - 1) / rb][(243 + cb - 1) / cb];
                for (boolean[] row : allowed) {
                    for (int j = 0; j < row.length; j++) {
                        row[j] = rnd.nextInt(3) != 0;
                    }
                }
                allowed[allowed.length - 1][0] = false;
                for (boolean causal : new boolean[] {false, true}) {
                    DType type = causal ? DType.BF16 : DType.FP16;
                    AttentionParams p = AttentionParams.builder().causal(causal)
                            .blockMask(BlockMask.of(rb, cb, allowed)).build();
                    MemorySegment q = random(arena, type, rnd, (long) cu[2] * heads * d);
                    MemorySegment k = random(arena, type, rnd, (long) cuK[2] * kvHeads * d);
                    MemorySegment v = random(arena, type, rnd, (long) cuK[2] * kvHeads * d);
                    MemorySegment out = arena.allocate((long) cu[2] * heads * d * 2, 64);
                    try (Buffer dq = upload(dev, stream, q); Buffer dk = upload(dev, stream, k);
                         Buffer dv = upload(dev, stream, v); Buffer dout = upload(dev, stream, out);
                         Buffer dcq = upload(dev, stream, arena.allocateFrom(ValueLayout.JAVA_INT, cu));
                         Buffer dck = upload(dev, stream, arena.allocateFrom(ValueLayout.JAVA_INT, cuK))) {
                        stream.fillAsync(dout, 0, dout.byteSize(), (byte) 0xFF);
                        gpu.flashPrefill(dq, dk, dv, dout, null, dcq, dck, 2, 223, cu[2], heads, kvHeads, d, type, p,
                                stream);
                        stream.copyToHostAsync(dout, 0, out);
                        stream.synchronize();
                    }
                    HeadTensor ref = HeadTensor.of(new float[cu[2] * heads * d], cu[2], heads, d);
                    new FlashAttention().forward(HeadTensor.of(q, type, cu[2], heads, d),
                            HeadTensor.of(k, type, cuK[2], kvHeads, d), HeadTensor.of(v, type, cuK[2], kvHeads, d),
                            cu, cuK, p, ref);
                    // a poisoned (NaN) element left unwritten makes maxDiff infinite
                    double diff = maxDiff(HeadTensor.of(out, type, cu[2], heads, d), ref);
                    assertTrue(diff < (type == DType.FP16 ? 1e-2 : 4e-2),
                            type + " blocks " + rb + "x" + cb + " causal " + causal + ": " + diff);
                }
            }
            boolean[][] tooSmall = new boolean[1][1];
            tooSmall[0][0] = true;
            AttentionParams small = AttentionParams.builder().blockMask(BlockMask.of(64, 64, tooSmall)).build();
            try (Buffer x = Buffer.allocate(dev, (long) cuK[2] * heads * d * 2, 256, stream);
                 Buffer dcq = upload(dev, stream, arena.allocateFrom(ValueLayout.JAVA_INT, cu));
                 Buffer dck = upload(dev, stream, arena.allocateFrom(ValueLayout.JAVA_INT, cuK))) {
                var e = assertThrows(IllegalArgumentException.class, () -> gpu.flashPrefill(x, x, x, x, null, dcq, dck,
                        2, 223, cu[2], heads, kvHeads, d, DType.FP16, small, stream));
                assertTrue(e.getMessage().contains("blockMask"), e.getMessage());
            }
        }
    }

    /**
     * Runs one prefill case on the GPU with the outputs poisoned (NaN) first, once with the mma.sync kernel allowed
     * and once forcing the WMMA kernel, and checks every output and LSE element of both against the CPU path.
     */
    private static void checkPrefill(CudaAttention gpu, CudaMallocResource dev, CudaStream stream, Arena arena,
                                     Random rnd, DType type, int[] cu, int[] cuK, int heads, int kvHeads, int d,
                                     AttentionParams params, String label) {
        int batch = cu.length - 1;
        int totalQ = cu[batch];
        int totalK = cuK[batch];
        int maxQ = 0;
        for (int b = 0; b < batch; b++) {
            maxQ = Math.max(maxQ, cu[b + 1] - cu[b]);
        }
        AttentionParams p = params.toBuilder().returnLse(true).build();
        MemorySegment q = random(arena, type, rnd, (long) totalQ * heads * d);
        MemorySegment k = random(arena, type, rnd, (long) totalK * kvHeads * d);
        MemorySegment v = random(arena, type, rnd, (long) totalK * kvHeads * d);
        HeadTensor ref = HeadTensor.of(new float[totalQ * heads * d], totalQ, heads, d);
        float[] refLse = new FlashAttention().forward(HeadTensor.of(q, type, totalQ, heads, d),
                HeadTensor.of(k, type, totalK, kvHeads, d), HeadTensor.of(v, type, totalK, kvHeads, d), cu, cuK, p,
                ref);
        double tolerance = type == DType.FP16 ? 1e-2 : 4e-2;
        for (boolean allowMma : new boolean[] {true, false}) {
            String what = label + " " + type + " d=" + d + " h=" + heads + "/" + kvHeads + " " + params
                    + (allowMma ? " (mma allowed)" : " (WMMA forced)");
            MemorySegment out = arena.allocate((long) totalQ * heads * d * 2, 64);
            MemorySegment lse = arena.allocate(4L * heads * totalQ, 64);
            try (Buffer dq = upload(dev, stream, q); Buffer dk = upload(dev, stream, k);
                 Buffer dv = upload(dev, stream, v);
                 Buffer dout = Buffer.allocate(dev, Math.max(1, out.byteSize()), 256, stream);
                 Buffer dlse = Buffer.allocate(dev, Math.max(1, lse.byteSize()), 256, stream);
                 Buffer dcq = upload(dev, stream, arena.allocateFrom(ValueLayout.JAVA_INT, cu));
                 Buffer dck = upload(dev, stream, arena.allocateFrom(ValueLayout.JAVA_INT, cuK))) {
                // 0xFF bytes are NaN in FP16, BF16 and FP32: an element left unwritten fails the comparison
                stream.fillAsync(dout, 0, dout.byteSize(), (byte) 0xFF);
                stream.fillAsync(dlse, 0, dlse.byteSize(), (byte) 0xFF);
                gpu.flashPrefill(dq, dk, dv, dout, dlse, dcq, dck, batch, maxQ, totalQ, heads, kvHeads, d, type, p,
                        stream, allowMma);
                stream.copyToHostAsync(dout, 0, out);
                stream.copyToHostAsync(dlse, 0, lse);
                stream.synchronize();
            }
            double diff = maxDiff(HeadTensor.of(out, type, totalQ, heads, d), ref);
            assertTrue(diff < tolerance, what + ": output differs by " + diff);
            for (int i = 0; i < heads * totalQ; i++) {
                float got = lse.getAtIndex(ValueLayout.JAVA_FLOAT, i);
                float want = refLse[i];
                boolean ok = want == Float.NEGATIVE_INFINITY ? got == Float.NEGATIVE_INFINITY
                        : Math.abs(got - want) <= 2e-3 * Math.max(1, Math.abs(want));
                assertTrue(ok, what + ": lse[" + i + "] " + got + " vs " + want);
            }
        }
    }

    @Test
    void mmaPrefillMatchesTheCpuPathOnEveryOption() {
        assumeGpu();
        // lengths 1, 63, 0, 130, 257 (not multiples of the 64-key or 128-row tiles), Lq = Lk, GQA
        int[] same = {0, 1, 64, 64, 194, 451};
        // Lq != Lk both ways (a causal query row of the second sequence sees no key), MQA
        int[] cuQ = {0, 1, 70, 270};
        int[] cuK = {0, 150, 200, 600};
        // one long sequence: many key tiles through the double buffer
        int[] longSeq = {0, 1000};
        AttentionParams[] options = {
                AttentionParams.defaults(),
                AttentionParams.builder().causal(true).build(),
                AttentionParams.builder().causal(true).window(37, 0).build(),
                AttentionParams.builder().window(20, 5).scale(0.07f).build(),
        };
        for (String variant : CudaAttention.PREFILL_VARIANTS) {
            mmaPrefillMatchesTheCpuPathOnEveryOption(variant, same, cuQ, cuK, longSeq, options);
        }
    }

    private static void mmaPrefillMatchesTheCpuPathOnEveryOption(String variant, int[] same, int[] cuQ, int[] cuK,
                                                                 int[] longSeq, AttentionParams[] options) {
        Random rnd = new Random(11);
        try (Arena arena = Arena.ofShared(); CudaMallocResource dev = new CudaMallocResource(0);
             CudaStream stream = CudaStream.create(0); CudaAttention gpu = CudaAttention.load(0, variant)) {
            for (DType type : new DType[] {DType.BF16, DType.FP16}) {
                for (int d : new int[] {64, 128, 40, 96}) {
                    // padded head dimensions (40 -> 64, 96 -> 128) on two of the options
                    for (AttentionParams p : d == 40 || d == 96 ? new AttentionParams[] {options[1], options[3]}
                            : options) {
                        assertTrue(CudaAttention.mmaPrefillCovers(d, p), "covers d=" + d + " " + p);
                        checkPrefill(gpu, dev, stream, arena, rnd, type, same, same, 8, 2, d, p, variant + " varlen");
                        checkPrefill(gpu, dev, stream, arena, rnd, type, cuQ, cuK, 4, 1, d, p, variant + " Lq != Lk");
                    }
                }
                for (int d : new int[] {64, 128}) {
                    checkPrefill(gpu, dev, stream, arena, rnd, type, longSeq, longSeq, 2, 1, d, options[0],
                            variant + " long");
                    checkPrefill(gpu, dev, stream, arena, rnd, type, longSeq, longSeq, 2, 1, d, options[1],
                            variant + " long");
                }
            }
        }
    }

    @Test
    void prefillOutsideTheMmaKernelFallsBackAndMatchesTheCpuPath() {
        assumeGpu();
        Random rnd = new Random(12);
        int[] cuQ = {0, 1, 70, 270};
        int[] cuK = {0, 150, 200, 600};
        AttentionParams causal = AttentionParams.builder().causal(true).build();
        AttentionParams softcap = AttentionParams.builder().causal(true).softcap(5f).build();
        assertTrue(!CudaAttention.mmaPrefillCovers(256, causal) && !CudaAttention.mmaPrefillCovers(100, causal)
                && !CudaAttention.mmaPrefillCovers(128, softcap), "these shapes must take the WMMA kernel");
        try (Arena arena = Arena.ofShared(); CudaMallocResource dev = new CudaMallocResource(0);
             CudaStream stream = CudaStream.create(0); CudaAttention gpu = CudaAttention.load(0)) {
            for (DType type : new DType[] {DType.BF16, DType.FP16}) {
                checkPrefill(gpu, dev, stream, arena, rnd, type, cuQ, cuK, 4, 2, 256, causal, "d=256");
                checkPrefill(gpu, dev, stream, arena, rnd, type, cuQ, cuK, 4, 2, 100, causal, "d=100");
                checkPrefill(gpu, dev, stream, arena, rnd, type, cuQ, cuK, 4, 2, 128, softcap, "softcap");
            }
        }
    }

    @Test
    void pagedDecodeMatchesTheCpuPath() {
        assumeGpu();
        Random rnd = new Random(2);
        int heads = 32;
        int kvHeads = 8;
        int d = 128;
        int bs = 16;
        int[] ctx = {1, 700, 5000};
        int maxBlocks = (5000 + bs - 1) / bs;
        int numBlocks = 3 * maxBlocks;
        try (Arena arena = Arena.ofShared(); CudaMallocResource dev = new CudaMallocResource(0);
             CudaStream stream = CudaStream.create(0); CudaAttention gpu = CudaAttention.load(0)) {
            for (DType kvType : new DType[] {DType.BF16, DType.INT8, DType.FP8_E4M3, DType.FP8_E5M2}) {
                boolean fp8 = kvType == DType.FP8_E4M3 || kvType == DType.FP8_E5M2;
                long elems = (long) numBlocks * bs * kvHeads * d;
                MemorySegment k = arena.allocate(elems * kvType.byteSize(), 64);
                MemorySegment v = arena.allocate(elems * kvType.byteSize(), 64);
                for (long i = 0; i < k.byteSize(); i++) {
                    // FP8: a sign and a magnitude code below 0x3C, so no byte is a NaN or infinity code.
                    byte x = fp8 ? (byte) (rnd.nextInt(0x3C) | (rnd.nextBoolean() ? 0x80 : 0))
                            : (byte) (rnd.nextInt(120) - 60);
                    k.set(ValueLayout.JAVA_BYTE, i, kvType == DType.BF16 && i % 2 == 1 ? (byte) 0x3F : x);
                    v.set(ValueLayout.JAVA_BYTE, i, kvType == DType.BF16 && i % 2 == 1 ? (byte) 0xBF : x);
                }
                boolean quant = kvType != DType.BF16;
                MemorySegment ks = quant ? arena.allocate(numBlocks * kvHeads * 4L, 64) : null;
                MemorySegment vs = quant ? arena.allocate(numBlocks * kvHeads * 4L, 64) : null;
                if (quant) {
                    for (int i = 0; i < numBlocks * kvHeads; i++) {
                        ks.setAtIndex(ValueLayout.JAVA_FLOAT, i, 0.01f + rnd.nextFloat() * 0.01f);
                        vs.setAtIndex(ValueLayout.JAVA_FLOAT, i, 0.01f + rnd.nextFloat() * 0.01f);
                    }
                }
                int[][] tables = new int[3][maxBlocks];
                int[] flat = new int[3 * maxBlocks];
                for (int b = 0; b < 3; b++) {
                    for (int i = 0; i < maxBlocks; i++) {
                        tables[b][i] = (b * maxBlocks + i * 7) % numBlocks;
                        flat[b * maxBlocks + i] = tables[b][i];
                    }
                }
                MemorySegment q = random(arena, DType.FP32, rnd, 3L * heads * d);
                MemorySegment out = arena.allocate(3L * heads * d * 4, 64);
                int split = 1024;
                int splits = CudaAttention.maxSplits(5000, split);
                try (Buffer dq = upload(dev, stream, q); Buffer dk = upload(dev, stream, k);
                     Buffer dv = upload(dev, stream, v); Buffer dout = upload(dev, stream, out);
                     Buffer dks = quant ? upload(dev, stream, ks) : null;
                     Buffer dvs = quant ? upload(dev, stream, vs) : null;
                     Buffer dt = upload(dev, stream, arena.allocateFrom(ValueLayout.JAVA_INT, flat));
                     Buffer dc = upload(dev, stream, arena.allocateFrom(ValueLayout.JAVA_INT, ctx));
                     Buffer part = Buffer.allocate(dev, CudaAttention.partialsBytes(3, heads, d, splits), 256,
                             stream)) {
                    gpu.pagedDecode(dq, dk, dv, dks, dvs, dt, maxBlocks, dc, dout, null, part, 3, 5000, heads,
                            kvHeads, d, bs, DType.FP32, kvType, split, null, stream);
                    stream.copyToHostAsync(dout, 0, out);
                    stream.synchronize();
                }
                KvCacheView view = new KvCacheView(k, v, kvType, numBlocks, bs, kvHeads, d, ks, vs);
                HeadTensor ref = HeadTensor.of(new float[3 * heads * d], 3, heads, d);
                new PagedDecodeAttention().decode(HeadTensor.of(q, DType.FP32, 3, heads, d), view, tables, ctx, null,
                        ref);
                double diff = maxDiff(HeadTensor.of(out, DType.FP32, 3, heads, d), ref);
                assertTrue(diff < 1e-3, kvType + ": " + diff);
            }
        }
    }

    /**
     * The vectorized decode kernel (head dimension a multiple of 8 in 32..256), the scalar one (any other) and the
     * tensor-core one (INT8/FP8 at head dimension 64, 128, 256; those cases also run through the vectorized kernel)
     * against the CPU path: every KV and query type, query groups 1 to 8 (3 and 7 run a wider kernel on zero heads),
     * block sizes 1, 7 and 16, empty and short contexts, one split or many, a left window and a softcap, with the
     * output and the logsumexp poisoned with NaN before the launch.
     */
    @Test
    void pagedDecodeKernelsMatchTheCpuPathOnRandomShapes() {
        assumeGpu();
        Random rnd = new Random(11);
        DType[] kvTypes = {DType.BF16, DType.FP16, DType.FP32, DType.INT8, DType.FP8_E4M3, DType.FP8_E5M2};
        DType[] qTypes = {DType.FP32, DType.FP16, DType.BF16};
        int[][] groups = {{8, 2}, {8, 8}, {10, 5}, {6, 2}, {16, 2}, {14, 2}};
        try (Arena arena = Arena.ofShared(); CudaMallocResource dev = new CudaMallocResource(0);
             CudaStream stream = CudaStream.create(0);
             CudaAttention gpu = CudaAttention.load(0, CudaAttention.DEFAULT_PREFILL_VARIANT, "mma");
             CudaAttention vec = CudaAttention.load(0, CudaAttention.DEFAULT_PREFILL_VARIANT, "vec")) {
            int n = 0;
            // vectorized head dimensions, then scalar ones (not a multiple of 8, or below 32)
            for (int d : new int[] {128, 64, 256, 80, 32, 59, 111, 24}) {
                for (DType kvType : kvTypes) {
                    n++;
                    DType qType = qTypes[n % qTypes.length];
                    int[] hk = groups[n % groups.length];
                    int bs = new int[] {16, 1, 7}[n % 3];
                    AttentionParams.Builder pb = AttentionParams.builder().returnLse(true);
                    if (n % 4 == 1) {
                        pb.window(rnd.nextInt(300), -1);
                    }
                    if (n % 5 == 2) {
                        pb.softcap(5f + rnd.nextFloat() * 20f);
                    }
                    int split = n % 2 == 0 ? 64 + 16 * rnd.nextInt(8) : 100_000;
                    AttentionParams p = pb.build();
                    long seed = rnd.nextLong();
                    decodeCase(arena, dev, stream, gpu, new Random(seed), qType, kvType, hk[0], hk[1], d, bs, p,
                            split);
                    if (CudaAttention.mmaDecodeCovers(kvType, d)) {
                        decodeCase(arena, dev, stream, vec, new Random(seed), qType, kvType, hk[0], hk[1], d, bs, p,
                                split);
                    }
                }
            }
        }
    }

    private static void decodeCase(Arena arena, CudaMallocResource dev, CudaStream stream, CudaAttention gpu,
                                   Random rnd, DType qType, DType kvType, int heads, int kvHeads, int d, int bs,
                                   AttentionParams p, int split) {
        int[] ctx = {0, 1, 5 + rnd.nextInt(40), 200 + rnd.nextInt(200), 1000 + rnd.nextInt(300)};
        int batch = ctx.length;
        int maxContext = 1300;
        int maxBlocks = (maxContext + bs - 1) / bs;
        int numBlocks = maxBlocks * 2;
        long elems = (long) numBlocks * bs * kvHeads * d;
        boolean quant = kvType == DType.INT8 || kvType == DType.FP8_E4M3 || kvType == DType.FP8_E5M2;
        boolean fp8 = kvType == DType.FP8_E4M3 || kvType == DType.FP8_E5M2;
        MemorySegment k;
        MemorySegment v;
        if (quant) {
            k = arena.allocate(elems, 64);
            v = arena.allocate(elems, 64);
            for (long i = 0; i < elems; i++) {
                // FP8: a sign and a magnitude code below 0x3C, so no byte is a NaN or infinity code
                k.set(ValueLayout.JAVA_BYTE, i, fp8 ? (byte) (rnd.nextInt(0x3C) | (rnd.nextBoolean() ? 0x80 : 0))
                        : (byte) (rnd.nextInt(255) - 127));
                v.set(ValueLayout.JAVA_BYTE, i, fp8 ? (byte) (rnd.nextInt(0x3C) | (rnd.nextBoolean() ? 0x80 : 0))
                        : (byte) (rnd.nextInt(255) - 127));
            }
        } else {
            k = random(arena, kvType, rnd, elems);
            v = random(arena, kvType, rnd, elems);
        }
        MemorySegment ks = quant ? arena.allocate(numBlocks * kvHeads * 4L, 64) : null;
        MemorySegment vs = quant ? arena.allocate(numBlocks * kvHeads * 4L, 64) : null;
        if (quant) {
            float base = kvType == DType.INT8 ? 0.01f : 0.5f;
            for (int i = 0; i < numBlocks * kvHeads; i++) {
                ks.setAtIndex(ValueLayout.JAVA_FLOAT, i, base * (0.5f + rnd.nextFloat()));
                vs.setAtIndex(ValueLayout.JAVA_FLOAT, i, base * (0.5f + rnd.nextFloat()));
            }
        }
        int[][] tables = new int[batch][maxBlocks];
        int[] flat = new int[batch * maxBlocks];
        for (int b = 0; b < batch; b++) {
            for (int i = 0; i < maxBlocks; i++) {
                tables[b][i] = rnd.nextInt(numBlocks);
                flat[b * maxBlocks + i] = tables[b][i];
            }
        }
        MemorySegment q = random(arena, qType, rnd, (long) batch * heads * d);
        MemorySegment out = arena.allocate((long) batch * heads * d * qType.byteSize(), 64);
        MemorySegment lse = arena.allocate((long) heads * batch * 4, 64);
        int splits = CudaAttention.maxSplits(maxContext, split);
        try (Buffer dq = upload(dev, stream, q); Buffer dk = upload(dev, stream, k);
             Buffer dv = upload(dev, stream, v); Buffer dout = upload(dev, stream, out);
             Buffer dlse = upload(dev, stream, lse);
             Buffer dks = quant ? upload(dev, stream, ks) : null;
             Buffer dvs = quant ? upload(dev, stream, vs) : null;
             Buffer dt = upload(dev, stream, arena.allocateFrom(ValueLayout.JAVA_INT, flat));
             Buffer dc = upload(dev, stream, arena.allocateFrom(ValueLayout.JAVA_INT, ctx));
             Buffer part = splits > 1 ? Buffer.allocate(dev, CudaAttention.partialsBytes(batch, heads, d, splits),
                     256, stream) : null) {
            // all-ones bytes are NaN in FP32, FP16 and BF16: an element left unwritten fails the comparison
            stream.fillAsync(dout, 0, dout.byteSize(), (byte) 0xFF);
            stream.fillAsync(dlse, 0, dlse.byteSize(), (byte) 0xFF);
            gpu.pagedDecode(dq, dk, dv, dks, dvs, dt, maxBlocks, dc, dout, dlse, part, batch, maxContext, heads,
                    kvHeads, d, bs, qType, kvType, split, p, stream);
            stream.copyToHostAsync(dout, 0, out);
            stream.copyToHostAsync(dlse, 0, lse);
            stream.synchronize();
        }
        KvCacheView view = new KvCacheView(k, v, kvType, numBlocks, bs, kvHeads, d, ks, vs);
        HeadTensor cpu = HeadTensor.of(new float[batch * heads * d], batch, heads, d);
        float[] cpuLse = new PagedDecodeAttention().decode(HeadTensor.of(q, qType, batch, heads, d), view, tables, ctx,
                p, cpu);
        HeadTensor ref = HeadTensor.of(new float[batch * heads * d], batch, heads, d);
        double[] refLse = decodeReference(HeadTensor.of(q, qType, batch, heads, d), k, v, kvType, ks, vs, kvHeads,
                bs, tables, ctx, p, ref);
        String what = qType + " q, " + kvType + " KV, h " + heads + "/" + kvHeads + ", d " + d + ", block " + bs
                + ", split " + split + ", " + p;
        double tol = switch (qType) {
            case FP32 -> 2e-3;
            case FP16 -> 5e-3;
            default -> 4e-2;
        };
        // Against the float64 reference (the CPU path's own error would add to the GPU's); the CPU path's values are
        // printed alongside. The output is checked first, and the message says which check failed first.
        StringBuilder failures = new StringBuilder();
        double diff = maxDiff(HeadTensor.of(out, qType, batch, heads, d), ref);
        if (!(diff < tol)) {
            failures.append("output differs from float64 by ").append(diff).append(" (CPU path by ")
                    .append(maxDiff(cpu, ref)).append(")");
        }
        for (int i = 0; i < heads * batch; i++) {
            float got = lse.getAtIndex(ValueLayout.JAVA_FLOAT, i);
            double want = refLse[i];
            boolean ok = want == Double.NEGATIVE_INFINITY ? got == Float.NEGATIVE_INFINITY
                    : Math.abs(got - want) < 1e-3 * Math.max(1, Math.abs(want));
            if (!ok) {
                failures.append(failures.isEmpty() ? "" : "; then ").append("lse[").append(i).append("] (head ")
                        .append(i / batch).append(", sequence ").append(i % batch).append(") ").append(got)
                        .append(" vs float64 ").append(want).append(" (CPU path ").append(cpuLse[i]).append(")");
                break;
            }
        }
        assertTrue(failures.isEmpty(), what + ": first failure: " + failures);
    }

    /** KV element {@code i}: the float value, or the code of INT8/FP8 (its block's scale not applied). */
    private static double kvElement(MemorySegment cache, HeadTensor flat, DType type, float[] fp8, long i) {
        return switch (type) {
            case INT8 -> cache.get(ValueLayout.JAVA_BYTE, i);
            case FP8_E4M3, FP8_E5M2 -> fp8[cache.get(ValueLayout.JAVA_BYTE, i) & 0xFF];
            default -> flat.get((int) i, 0, 0);
        };
    }

    /**
     * Paged decode in float64, straight from the definition: out {@code [batch, heads, d]} and the logsumexp
     * {@code [heads, batch]} (-inf for an empty context).
     */
    private static double[] decodeReference(HeadTensor q, MemorySegment k, MemorySegment v, DType kvType,
                                            MemorySegment ks, MemorySegment vs, int kvHeads, int bs, int[][] tables,
                                            int[] ctx, AttentionParams p, HeadTensor out) {
        int batch = q.tokens();
        int heads = q.heads();
        int d = q.headDim();
        float[] fp8 = kvType == DType.FP8_E4M3 || kvType == DType.FP8_E5M2
                ? Fp8.decodeTable(kvType == DType.FP8_E4M3) : null;
        boolean quant = ks != null;
        // the float caches viewed as [elements, 1, 1]
        HeadTensor kFlat = quant ? null : HeadTensor.of(k, kvType, (int) (k.byteSize() / kvType.byteSize()), 1, 1);
        HeadTensor vFlat = quant ? null : HeadTensor.of(v, kvType, (int) (v.byteSize() / kvType.byteSize()), 1, 1);
        double scale = p.scaleFor(d);
        double[] lse = new double[heads * batch];
        for (int b = 0; b < batch; b++) {
            int first = p.windowLeft() < 0 ? 0 : Math.max(0, ctx[b] - 1 - p.windowLeft());
            for (int h = 0; h < heads; h++) {
                int kvh = h / (heads / kvHeads);
                int n = ctx[b] - first;
                double[] s = new double[Math.max(1, n)];
                double m = Double.NEGATIVE_INFINITY;
                for (int t = first; t < ctx[b]; t++) {
                    int block = tables[b][t / bs];
                    long row = (((long) block * bs + t % bs) * kvHeads + kvh) * d;
                    double kScale = quant ? ks.getAtIndex(ValueLayout.JAVA_FLOAT, (long) block * kvHeads + kvh) : 1;
                    double dot = 0;
                    for (int c = 0; c < d; c++) {
                        dot += q.get(b, h, c) * scale * kvElement(k, kFlat, kvType, fp8, row + c) * kScale;
                    }
                    double x = p.softcap() > 0 ? p.softcap() * Math.tanh(dot / p.softcap()) : dot;
                    s[t - first] = x;
                    m = Math.max(m, x);
                }
                double l = 0;
                double[] o = new double[d];
                for (int t = first; t < ctx[b]; t++) {
                    int block = tables[b][t / bs];
                    long row = (((long) block * bs + t % bs) * kvHeads + kvh) * d;
                    double vScale = quant ? vs.getAtIndex(ValueLayout.JAVA_FLOAT, (long) block * kvHeads + kvh) : 1;
                    double w = Math.exp(s[t - first] - m);
                    l += w;
                    for (int c = 0; c < d; c++) {
                        o[c] += w * kvElement(v, vFlat, kvType, fp8, row + c) * vScale;
                    }
                }
                for (int c = 0; c < d; c++) {
                    out.set(b, h, c, n == 0 ? 0f : (float) (o[c] / l));
                }
                lse[h * batch + b] = n == 0 ? Double.NEGATIVE_INFINITY : m + Math.log(l);
            }
        }
        return lse;
    }

    @Test
    void suggestedSplitsFillTheDeviceWithoutTinySplits() {
        // pure arithmetic: runs without a GPU despite the class tag
        assertTrue(CudaAttention.suggestedSplitTokens(1, 8, 4096, 132) >= CudaAttention.MIN_SPLIT_TOKENS);
        assertTrue(CudaAttention.suggestedSplitTokens(1, 8, 0, 132) >= 1);
        assertTrue(CudaAttention.suggestedSplitTokens(1, 8, 50, 132) == 50);
        for (int batch : new int[] {1, 16, 64}) {
            for (int context : new int[] {4096, 32768, 131072}) {
                int split = CudaAttention.suggestedSplitTokens(batch, 8, context, 132);
                int splits = CudaAttention.maxSplits(context, split);
                long blocks = (long) batch * 8 * splits;
                long wave = (long) CudaAttention.DECODE_WAVES * CudaAttention.DECODE_BLOCKS_PER_SM * 132;
                String what = batch + "x" + context + ": split " + split + ", " + blocks + " blocks";
                assertTrue(split % 64 == 0 && split >= CudaAttention.MIN_SPLIT_TOKENS, what);
                // between half a wave and one wave of resident blocks, unless the minimum split or one split binds
                assertTrue(blocks <= wave || splits == 1, what);
                assertTrue(2 * blocks >= wave || split == CudaAttention.MIN_SPLIT_TOKENS || splits == 1, what);
            }
        }
        assertThrows(IllegalArgumentException.class, () -> CudaAttention.suggestedSplitTokens(0, 8, 10, 132));
    }

    @Test
    void decodeVariantsAreNamedAndCovered() {
        // no launch: runs without a GPU despite the class tag
        var e = assertThrows(IllegalArgumentException.class,
                () -> CudaAttention.load(0, CudaAttention.DEFAULT_PREFILL_VARIANT, "wmma"));
        assertTrue(e.getMessage().contains("decodeVariant") && e.getMessage().contains("wmma"), e.getMessage());
        for (DType t : new DType[] {DType.INT8, DType.FP8_E4M3, DType.FP8_E5M2}) {
            for (int d : new int[] {64, 128, 256}) {
                assertTrue(CudaAttention.mmaDecodeCovers(t, d), t + " d=" + d);
            }
            assertTrue(!CudaAttention.mmaDecodeCovers(t, 80) && !CudaAttention.mmaDecodeCovers(t, 32), t.toString());
        }
        for (DType t : new DType[] {DType.BF16, DType.FP16, DType.FP32}) {
            assertTrue(!CudaAttention.mmaDecodeCovers(t, 128), t.toString());
        }
        // mirrors mma_shared_bytes in paged_decode.cu: head dimension 128 leaves room for 4 blocks per H100/H200 SM
        assertTrue(4 * CudaAttention.decodeMmaSharedBytes(128) <= 228 * 1024);
    }

    @Test
    void badArgumentsAreNamedBeforeAnyLaunch() {
        assumeGpu();
        try (CudaAttention gpu = CudaAttention.load(0); CudaStream stream = CudaStream.create(0)) {
            var e = assertThrows(IllegalArgumentException.class, () -> gpu.flashPrefill(null, null, null, null, null,
                    null, null, 1, 1, 1, 8, 2, 64, DType.FP16, null, stream));
            assertTrue(e.getMessage().contains("q"), e.getMessage());
        }
    }
}
