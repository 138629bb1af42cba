package io.vramkit.attention;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vramkit.attention.internal.Elements;
import io.vramkit.attention.internal.DecodeKernel;
import io.vramkit.attention.internal.PanamaDecodeKernel;
import io.vramkit.attention.internal.ScalarDecodeKernel;
import io.vramkit.core.DType;
import io.vramkit.quant.Fp8;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class PagedDecodeAttentionTest {

    private final Fixtures.PeakResource scratch = new Fixtures.PeakResource();
    private final FlashAttention flash = new FlashAttention(scratch, 64, 64);

    @AfterEach
    void scratchReturned() {
        assertEquals(0, scratch.used());
    }

    /** A paged cache holding the given contiguous K/V, blocks scattered at random, unused blocks poisoned. */
    static final class Paged {
        final KvCacheView view;
        final int[][] tables;
        final float[] kDeq;
        final float[] vDeq;

        Paged(Arena arena, Random rnd, DType type, float[] k, float[] v, int[] ctx, int kvHeads, int d, int bs) {
            int needed = 0;
            for (int c : ctx) {
                needed += (c + bs - 1) / bs;
            }
            int numBlocks = needed + 3;
            List<Integer> ids = new ArrayList<>();
            for (int i = 0; i < numBlocks; i++) {
                ids.add(i);
            }
            Collections.shuffle(ids, rnd);
            long elems = (long) numBlocks * bs * kvHeads * d;
            MemorySegment ks = arena.allocate(elems * type.byteSize(), 64);
            MemorySegment vs = arena.allocate(elems * type.byteSize(), 64);
            boolean quant = type == DType.INT8 || type == DType.FP8_E4M3 || type == DType.FP8_E5M2;
            MemorySegment kSc = quant ? arena.allocate(numBlocks * kvHeads * 4L, 64) : null;
            MemorySegment vSc = quant ? arena.allocate(numBlocks * kvHeads * 4L, 64) : null;
            // Poison everything; only blocks in the tables get real data.
            if (type == DType.INT8) {
                ks.fill((byte) 0x7F);
                vs.fill((byte) 0x7F);
                kSc.fill((byte) 0xFF);
                vSc.fill((byte) 0xFF);
            } else if (quant) {
                ks.fill(Fp8.NAN_CODE);
                vs.fill(Fp8.NAN_CODE);
                kSc.fill((byte) 0xFF);
                vSc.fill((byte) 0xFF);
            } else {
                for (long i = 0; i < elems; i++) {
                    Elements.set(ks, type, i, Float.NaN);
                    Elements.set(vs, type, i, Float.NaN);
                }
            }
            view = new KvCacheView(ks, vs, type, numBlocks, bs, kvHeads, d, kSc, vSc);
            tables = new int[ctx.length][];
            kDeq = new float[k.length];
            vDeq = new float[v.length];
            int next = 0;
            int base = 0;
            for (int b = 0; b < ctx.length; b++) {
                int nb = (ctx[b] + bs - 1) / bs;
                tables[b] = new int[nb + 2];
                for (int i = 0; i < nb; i++) {
                    tables[b][i] = ids.get(next++);
                }
                // Entries past the context are never read, so they may hold anything.
                tables[b][nb] = -1;
                tables[b][nb + 1] = Integer.MAX_VALUE;
                for (int i = 0; i < nb; i++) {
                    int block = tables[b][i];
                    int t0 = i * bs;
                    int t1 = Math.min(ctx[b], t0 + bs);
                    for (int h = 0; h < kvHeads; h++) {
                        store(type, ks, kSc, k, kDeq, base, block, t0, t1, h, kvHeads, d, bs);
                        store(type, vs, vSc, v, vDeq, base, block, t0, t1, h, kvHeads, d, bs);
                    }
                }
                base += ctx[b];
            }
        }

        private static void store(DType type, MemorySegment cache, MemorySegment scales, float[] src, float[] deq,
                                  int base, int block, int t0, int t1, int h, int kvHeads, int d, int bs) {
            float scale = 1f;
            if (scales != null) {
                float amax = 0f;
                for (int t = t0; t < t1; t++) {
                    for (int c = 0; c < d; c++) {
                        amax = Math.max(amax, Math.abs(src[((base + t) * kvHeads + h) * d + c]));
                    }
                }
                float qmax = type == DType.INT8 ? 127f : type == DType.FP8_E4M3 ? Fp8.E4M3_MAX : Fp8.E5M2_MAX;
                scale = amax == 0f ? 1f : amax / qmax;
                scales.setAtIndex(ValueLayout.JAVA_FLOAT, (long) block * kvHeads + h, scale);
            }
            for (int t = t0; t < t1; t++) {
                long row = (((long) block * bs + (t - t0 + (t0 % bs))) * kvHeads + h) * d;
                for (int c = 0; c < d; c++) {
                    int si = ((base + t) * kvHeads + h) * d + c;
                    float x = src[si];
                    float y;
                    switch (type) {
                        case INT8 -> {
                            byte code = (byte) Math.max(-127, Math.min(127, Math.round(x / scale)));
                            cache.set(ValueLayout.JAVA_BYTE, row + c, code);
                            y = code * scale;
                        }
                        case FP8_E4M3 -> {
                            byte code = Fp8.toE4M3(x / scale);
                            cache.set(ValueLayout.JAVA_BYTE, row + c, code);
                            y = Fp8.fromE4M3(code) * scale;
                        }
                        case FP8_E5M2 -> {
                            byte code = Fp8.toE5M2(x / scale);
                            cache.set(ValueLayout.JAVA_BYTE, row + c, code);
                            y = Fp8.fromE5M2(code) * scale;
                        }
                        default -> {
                            Elements.set(cache, type, row + c, x);
                            y = Elements.round(x, type);
                        }
                    }
                    deq[si] = y;
                }
            }
        }
    }

    /** Decodes through the paged cache and through contiguous flash attention on the dequantized data. */
    private double[] compare(PagedDecodeAttention decode, DType type, int[] ctx, int heads, int kvHeads, int d,
                             int bs, AttentionParams p, long seed) {
        return compare(decode, type, ctx, heads, kvHeads, d, bs, p, seed, false);
    }

    /** As above; {@code heap} copies the K and V caches into heap segments first. */
    private double[] compare(PagedDecodeAttention decode, DType type, int[] ctx, int heads, int kvHeads, int d,
                             int bs, AttentionParams p, long seed, boolean heap) {
        Random rnd = new Random(seed);
        int total = 0;
        for (int c : ctx) {
            total += c;
        }
        float[] k = Fixtures.randn(rnd, total * kvHeads * d, 1f);
        float[] v = Fixtures.randn(rnd, total * kvHeads * d, 1f);
        HeadTensor q = Fixtures.tensor(rnd, ctx.length, heads, d, 1f);
        try (Arena arena = Arena.ofShared()) {
            Paged paged = new Paged(arena, rnd, type, k, v, ctx, kvHeads, d, bs);
            KvCacheView view = paged.view;
            if (heap) {
                MemorySegment hk = MemorySegment.ofArray(new byte[(int) view.keys().byteSize()]).copyFrom(view.keys());
                MemorySegment hv = MemorySegment.ofArray(new byte[(int) view.values().byteSize()])
                        .copyFrom(view.values());
                view = new KvCacheView(hk, hv, type, view.numBlocks(), bs, kvHeads, d, view.keyScaleSegment(),
                        view.valueScaleSegment());
            }
            HeadTensor out = Fixtures.output(null, DType.FP32, ctx.length, heads, d);
            float[] lse = decode.decode(q, view, paged.tables, ctx, p.toBuilder().returnLse(true).build(), out);
            int[] cuQ = new int[ctx.length + 1];
            for (int b = 0; b < ctx.length; b++) {
                cuQ[b + 1] = cuQ[b] + 1;
            }
            int[] cuK = Fixtures.cu(ctx);
            HeadTensor kc = HeadTensor.of(paged.kDeq, total, kvHeads, d);
            HeadTensor vc = HeadTensor.of(paged.vDeq, total, kvHeads, d);
            HeadTensor ref = Fixtures.output(null, DType.FP32, ctx.length, heads, d);
            AttentionParams fp = p.toBuilder().causal(true).returnLse(true).build();
            float[] refLse = flash.forward(q, kc, vc, cuQ, cuK, fp, ref);
            double contiguousDiff = Fixtures.maxDiff(out, ref);
            for (int i = 0; i < lse.length; i++) {
                if (refLse[i] == Float.NEGATIVE_INFINITY) {
                    assertEquals(Float.NEGATIVE_INFINITY, lse[i]);
                } else {
                    assertEquals(refLse[i], lse[i], 1e-4 * Math.max(1, Math.abs(refLse[i])), "lse " + i);
                }
            }
            var exact = ReferenceAttention.forward(q, HeadTensor.of(k, total, kvHeads, d),
                    HeadTensor.of(v, total, kvHeads, d), cuQ, cuK, fp);
            return new double[] {contiguousDiff, Fixtures.maxErr(out, exact.out())};
        }
    }

    @Test
    void pagedDecodeEqualsContiguousAttentionForFloatCaches() {
        PagedDecodeAttention decode = new PagedDecodeAttention(scratch, 64);
        long seed = 30;
        for (DType type : new DType[] {DType.FP32, DType.FP16, DType.BF16}) {
            for (int bs : new int[] {1, 3, 16}) {
                for (int[] hk : new int[][] {{2, 2}, {8, 2}, {4, 1}}) {
                    double[] r = compare(decode, type, new int[] {1, 17, 100, 300, 0}, hk[0], hk[1], 64, bs,
                            AttentionParams.defaults(), seed++);
                    assertTrue(r[0] < 1e-5, type + " bs=" + bs + " heads " + hk[0] + "/" + hk[1] + ": " + r[0]);
                }
            }
        }
    }

    @Test
    void splitKvMergeWindowAndSoftcap() {
        for (int split : new int[] {1, 7, 64, 100000}) {
            PagedDecodeAttention decode = new PagedDecodeAttention(scratch, split);
            double[] r = compare(decode, DType.FP32, new int[] {500, 33, 1}, 8, 2, 96, 16,
                    AttentionParams.builder().softcap(10f).build(), 40 + split);
            assertTrue(r[0] < 1e-5, "split " + split + ": " + r[0]);
            r = compare(decode, DType.FP32, new int[] {500, 33, 1}, 8, 2, 59, 5,
                    AttentionParams.builder().window(40, -1).build(), 50 + split);
            assertTrue(r[0] < 1e-5, "window, split " + split + ": " + r[0]);
        }
    }

    @Test
    void longContextAndScalarVectorAgreement() {
        for (var decode : new PagedDecodeAttention[] {new PagedDecodeAttention(scratch, 1024, new ScalarDecodeKernel()),
                new PagedDecodeAttention(scratch, 1024, new PanamaDecodeKernel())}) {
            for (DType type : new DType[] {DType.FP32, DType.BF16, DType.INT8}) {
                double[] r = compare(decode, type, new int[] {4097, 128}, 8, 2, 128, 16, AttentionParams.defaults(),
                        60);
                assertTrue(r[0] < 1e-5, decode + " " + type + ": " + r[0]);
            }
        }
    }

    @Test
    void batchedValueRowsCoverGroupAndColumnRemainders() {
        // Group 5 = one 4-row register block + one single row; head dims 80 and 144 leave column vectors after the
        // 4-vector blocks; contexts not multiples of the 64-token chunk leave short batches.
        var decode = new PagedDecodeAttention(scratch, 100, new PanamaDecodeKernel());
        long seed = 90;
        for (int dim : new int[] {80, 144, 16}) {
            for (DType type : new DType[] {DType.FP32, DType.BF16, DType.INT8}) {
                double[] r = compare(decode, type, new int[] {1, 65, 230}, 10, 2, dim, 16,
                        AttentionParams.defaults(), seed++);
                assertTrue(r[0] < 1e-5, type + " d=" + dim + ": " + r[0]);
            }
        }
    }

    /**
     * Bound on the max abs error vs float64 for N(0,1) data over short contexts, where an output is close to a single
     * rounded value row: a few units of the KV type's relative rounding times the largest |v| (about 4).
     */
    private static double errorBound(DType type) {
        return switch (type) {
            case FP32 -> 1e-5;
            case FP16 -> 2e-3;
            case BF16 -> 2e-2;
            case INT8 -> 5e-2;
            case FP8_E4M3 -> 0.15;
            default -> 0.25;
        };
    }

    @Test
    void tiledKernelsMatchContiguousAndFloat64ForEveryTypeBlockSizeAndGrouping() {
        // Contexts end mid-block and mid-tile; GQA (group 4), MHA (1) and MQA (6, padded to 8 rows); d = 64 reads the
        // cache in place, d = 80 goes through the FP32 staging tile.
        long seed = 200;
        for (DecodeKernel kernel : new DecodeKernel[] {new PanamaDecodeKernel(), new ScalarDecodeKernel()}) {
            var decode = new PagedDecodeAttention(scratch, 96, kernel);
            for (DType type : new DType[] {DType.FP32, DType.FP16, DType.BF16, DType.INT8, DType.FP8_E4M3,
                    DType.FP8_E5M2}) {
                for (int bs : new int[] {1, 3, 16, 17}) {
                    for (int[] hk : new int[][] {{8, 2}, {3, 3}, {6, 1}}) {
                        int d = seed % 2 == 0 ? 64 : 80;
                        double[] r = compare(decode, type, new int[] {1, 15, 17, 77, 300}, hk[0], hk[1], d, bs,
                                AttentionParams.defaults(), seed++);
                        String what = kernel.getClass().getSimpleName() + " " + type + " bs=" + bs + " heads "
                                + hk[0] + "/" + hk[1] + " d=" + d;
                        assertTrue(r[0] < 1e-5, what + " differs from contiguous: " + r[0]);
                        assertTrue(r[1] < errorBound(type), what + " error " + r[1]);
                    }
                }
            }
        }
    }

    /**
     * A block table may name one physical block twice (shared prefixes do). With block size 7 a 16-token tile spans
     * logical blocks 0..2 mapped to physical A, B, A: the tile's first and last tokens share a physical block but the
     * middle ones do not, so each token must take its own block's scales. Checked against float64 from the definition.
     */
    @Test
    void repeatedPhysicalBlocksInOneTileKeepEachTokensScales() {
        int bs = 7;
        int d = 64;
        int heads = 2;
        int ctx = 21;
        int[] table = {0, 1, 0};
        float[] kScale = {0.01f, 0.05f};
        float[] vScale = {0.02f, 0.07f};
        Random rnd = new Random(5);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment k = arena.allocate(2L * bs * d);
            MemorySegment v = arena.allocate(2L * bs * d);
            for (long i = 0; i < k.byteSize(); i++) {
                k.set(ValueLayout.JAVA_BYTE, i, (byte) (rnd.nextInt(201) - 100));
                v.set(ValueLayout.JAVA_BYTE, i, (byte) (rnd.nextInt(201) - 100));
            }
            MemorySegment ks = arena.allocateFrom(ValueLayout.JAVA_FLOAT, kScale);
            MemorySegment vs = arena.allocateFrom(ValueLayout.JAVA_FLOAT, vScale);
            KvCacheView view = new KvCacheView(k, v, DType.INT8, 2, bs, 1, d, ks, vs);
            float[] qv = new float[heads * d];
            for (int i = 0; i < qv.length; i++) {
                qv[i] = (float) rnd.nextGaussian();
            }
            // float64 reference straight from the definition
            double scale = 1 / Math.sqrt(d);
            double[] want = new double[heads * d];
            double[] wantLse = new double[heads];
            for (int h = 0; h < heads; h++) {
                double[] sc = new double[ctx];
                double max = Double.NEGATIVE_INFINITY;
                for (int t = 0; t < ctx; t++) {
                    int blk = table[t / bs];
                    long row = ((long) blk * bs + t % bs) * d;
                    double dot = 0;
                    for (int c = 0; c < d; c++) {
                        dot += qv[h * d + c] * (double) k.get(ValueLayout.JAVA_BYTE, row + c) * kScale[blk];
                    }
                    sc[t] = dot * scale;
                    max = Math.max(max, sc[t]);
                }
                double sum = 0;
                for (int t = 0; t < ctx; t++) {
                    sum += Math.exp(sc[t] - max);
                }
                wantLse[h] = max + Math.log(sum);
                for (int t = 0; t < ctx; t++) {
                    int blk = table[t / bs];
                    long row = ((long) blk * bs + t % bs) * d;
                    double p = Math.exp(sc[t] - max) / sum;
                    for (int c = 0; c < d; c++) {
                        want[h * d + c] += p * v.get(ValueLayout.JAVA_BYTE, row + c) * vScale[blk];
                    }
                }
            }
            for (DecodeKernel kernel : new DecodeKernel[] {new PanamaDecodeKernel(), new ScalarDecodeKernel()}) {
                var decode = new PagedDecodeAttention(scratch, 96, kernel);
                HeadTensor out = HeadTensor.of(new float[heads * d], 1, heads, d);
                float[] lse = decode.decode(HeadTensor.of(qv, 1, heads, d), view, new int[][] {table}, new int[] {ctx},
                        AttentionParams.defaults().toBuilder().returnLse(true).build(), out);
                String what = kernel.getClass().getSimpleName();
                for (int h = 0; h < heads; h++) {
                    assertEquals(wantLse[h], lse[h], 1e-5, what + " lse of head " + h);
                    for (int c = 0; c < d; c++) {
                        assertEquals(want[h * d + c], out.get(0, h, c), 1e-5, what + " head " + h + " column " + c);
                    }
                }
            }
        }
    }

    @Test
    void heapSegmentsAndSoftcapGoThroughTheStagedPath() {
        var decode = new PagedDecodeAttention(scratch, 64, new PanamaDecodeKernel());
        long seed = 300;
        for (DType type : new DType[] {DType.FP32, DType.BF16, DType.INT8}) {
            double[] r = compare(decode, type, new int[] {130, 5}, 8, 2, 128, 16, AttentionParams.defaults(), seed++,
                    true);
            assertTrue(r[0] < 1e-5, "heap " + type + ": " + r[0]);
            assertTrue(r[1] < errorBound(type), "heap " + type + " error " + r[1]);
            r = compare(decode, type, new int[] {130, 5}, 8, 2, 128, 16, AttentionParams.builder().softcap(5f).build(),
                    seed++);
            assertTrue(r[0] < 1e-5, "softcap " + type + ": " + r[0]);
        }
    }

    @Test
    void quantizedKvIsDequantizedInTheKernelAndItsErrorIsReported() {
        PagedDecodeAttention decode = new PagedDecodeAttention(scratch, 256);
        StringBuilder report = new StringBuilder("quantized KV decode, max abs error vs float64 (N(0,1) data, "
                + "per-block per-head scales, ctx 300/129, 8/2 heads, d=128):");
        for (DType type : new DType[] {DType.FP32, DType.BF16, DType.FP16, DType.INT8, DType.FP8_E4M3,
                DType.FP8_E5M2}) {
            double[] r = compare(decode, type, new int[] {300, 129}, 8, 2, 128, 16, AttentionParams.defaults(), 70);
            assertTrue(r[0] < 1e-5, type + " kernel dequantization differs from contiguous: " + r[0]);
            double bound = switch (type) {
                case FP32 -> 1e-5;
                case FP16 -> 1e-3;
                case BF16 -> 5e-3;
                case INT8 -> 2e-2;
                case FP8_E4M3 -> 0.08;
                default -> 0.12;
            };
            assertTrue(r[1] < bound, type + " error " + r[1] + " above " + bound);
            report.append(String.format(" %s=%.3g", type, r[1]));
        }
        System.out.println(report);
    }

    @Test
    void rollingBufferDecodeEqualsSlidingWindowAttentionOverTheFullHistory() {
        Random rnd = new Random(80);
        int window = 32;
        int kvHeads = 2;
        int heads = 4;
        int d = 48;
        RollingKvLayout layout = new RollingKvLayout(window);
        long[] lengths = {100, 20, 32};
        int[] blocks = {2, 0, 1};
        try (Arena arena = Arena.ofShared()) {
            for (DType type : new DType[] {DType.FP32, DType.BF16}) {
                long bytes = 3L * window * kvHeads * d * type.byteSize();
                KvCacheView cache = KvCacheView.of(arena.allocate(bytes, 64), arena.allocate(bytes, 64), type, 3,
                        window, kvHeads, d);
                HeadTensor q = Fixtures.tensor(rnd, 3, heads, d, 1f);
                int total = 0;
                for (long l : lengths) {
                    total += (int) l;
                }
                HeadTensor k = Fixtures.tensor(rnd, total, kvHeads, d, 1f);
                HeadTensor v = Fixtures.tensor(rnd, total, kvHeads, d, 1f);
                int base = 0;
                for (int b = 0; b < 3; b++) {
                    for (int t = 0; t < lengths[b]; t++) {
                        layout.write(cache, blocks[b], t, k, v, base + t);
                    }
                    base += (int) lengths[b];
                }
                HeadTensor out = Fixtures.output(null, DType.FP32, 3, heads, d);
                new PagedDecodeAttention(scratch, 16).decodeRolling(q, cache, layout, blocks, lengths, null, out);
                HeadTensor kr = HeadTensor.of(round(k, type), total, kvHeads, d);
                HeadTensor vr = HeadTensor.of(round(v, type), total, kvHeads, d);
                HeadTensor ref = Fixtures.output(null, DType.FP32, 3, heads, d);
                flash.forward(q, kr, vr, new int[] {0, 1, 2, 3}, Fixtures.cu(100, 20, 32),
                        AttentionParams.builder().causal(true).window(window - 1, 0).build(), ref);
                assertTrue(Fixtures.maxDiff(out, ref) < 1e-5, type + ": " + Fixtures.maxDiff(out, ref));
            }
            assertEquals(4, layout.slot(100));
            assertEquals(32, layout.validSlots(100));
            assertEquals(20, layout.validSlots(20));
        }
    }

    private static float[] round(HeadTensor t, DType type) {
        float[] a = new float[t.tokens() * t.heads() * t.headDim()];
        int i = 0;
        for (int x = 0; x < t.tokens(); x++) {
            for (int h = 0; h < t.heads(); h++) {
                for (int c = 0; c < t.headDim(); c++) {
                    a[i++] = Elements.round(t.get(x, h, c), type);
                }
            }
        }
        return a;
    }

    @Test
    void badInputIsRejectedWithTheArgumentNamed() {
        PagedDecodeAttention decode = new PagedDecodeAttention(scratch, 64);
        Random rnd = new Random(90);
        try (Arena arena = Arena.ofShared()) {
            long bytes = 4L * 16 * 2 * 32 * 4;
            KvCacheView cache = KvCacheView.of(arena.allocate(bytes), arena.allocate(bytes), DType.FP32, 4, 16, 2,
                    32);
            HeadTensor q = Fixtures.tensor(rnd, 2, 4, 32, 1f);
            float[] outData = new float[2 * 4 * 32];
            HeadTensor out = HeadTensor.of(outData, 2, 4, 32);
            var e = assertThrows(IllegalArgumentException.class,
                    () -> decode.decode(q, cache, new int[][] {{0, 1}, {2, 4}}, new int[] {20, 20}, null, out));
            assertTrue(e.getMessage().contains("blockTables[1][1] = 4") && e.getMessage().contains("4 blocks"),
                    e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> decode.decode(q, cache, new int[][] {{0, 1}, {-1}}, new int[] {20, 3}, null, out));
            assertTrue(e.getMessage().contains("blockTables[1][0] = -1"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> decode.decode(q, cache, new int[][] {{0}, {2}}, new int[] {20, 3}, null, out));
            assertTrue(e.getMessage().contains("blockTables[0]") && e.getMessage().contains("at least 2"),
                    e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> decode.decode(q, cache, new int[][] {{0}, {2}}, new int[] {-1, 3}, null, out));
            assertTrue(e.getMessage().contains("contextLens[0]"), e.getMessage());
            HeadTensor q3 = Fixtures.tensor(rnd, 2, 3, 32, 1f);
            e = assertThrows(IllegalArgumentException.class, () -> decode.decode(q3, cache, new int[][] {{0}, {2}},
                    new int[] {1, 3}, null, HeadTensor.of(new float[2 * 3 * 32], 2, 3, 32)));
            assertTrue(e.getMessage().contains("kvHeads"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> new KvCacheView(arena.allocate(bytes),
                    arena.allocate(bytes), DType.INT8, 4, 16, 2, 32, null, null));
            assertTrue(e.getMessage().contains("keyScales"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> KvCacheView.of(arena.allocate(bytes),
                    arena.allocate(bytes), DType.FP32, 5, 16, 2, 32));
            assertTrue(e.getMessage().contains("keys holds"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> KvCacheView.of(arena.allocate(bytes),
                    arena.allocate(bytes), DType.FP32, 4, 0, 2, 32));
            assertTrue(e.getMessage().contains("blockSize"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> new RollingKvLayout(0));
            assertTrue(e.getMessage().contains("window"), e.getMessage());
            for (float f : outData) {
                assertEquals(0f, f);
            }
            // Still usable after the errors.
            decode.decode(q, cache, new int[][] {{0}, {2}}, new int[] {0, 0}, null, out);
        }
    }
}
