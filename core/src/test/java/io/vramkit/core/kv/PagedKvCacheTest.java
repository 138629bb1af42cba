package io.vramkit.core.kv;

import io.vramkit.core.DType;
import io.vramkit.core.memory.HostMemoryResource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PagedKvCacheTest {

    /** K/V of a token as a model would produce it: a function of the whole prefix up to it, the layer and K or V. */
    static float[] kvOf(int[] tokens, int pos, int layer, int kv, int n) {
        long h = 0x1234567L;
        for (int i = 0; i <= pos; i++) {
            h = (h ^ tokens[i]) * 0x9E3779B97F4A7C15L + i;
        }
        SplittableRandom r = new SplittableRandom(h * 31 + layer * 2L + kv);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) r.nextDouble(-2, 2);
        }
        return x;
    }

    static void writeAll(PagedKvCache c, int seq, int from) {
        KvCacheConfig cfg = c.config();
        int n = cfg.kvHeads() * cfg.headDim();
        int[] toks = c.tokens(seq);
        for (int p = from; p < toks.length; p++) {
            for (int l = 0; l < cfg.numLayers(); l++) {
                c.write(seq, l, p, kvOf(toks, p, l, 0, n), kvOf(toks, p, l, 1, n));
            }
        }
    }

    static void verifyExact(PagedKvCache c, int seq) {
        KvCacheConfig cfg = c.config();
        int n = cfg.kvHeads() * cfg.headDim();
        int[] toks = c.tokens(seq);
        float[] k = new float[n];
        float[] v = new float[n];
        int firstLive = 0;
        if (cfg.slidingWindow() > 0) {
            firstLive = Math.max(0, (toks.length - cfg.slidingWindow()) / cfg.blockSize() * cfg.blockSize());
        }
        for (int p = firstLive; p < toks.length; p++) {
            for (int l = 0; l < cfg.numLayers(); l++) {
                c.read(seq, l, p, k, v);
                assertArrayEquals(kvOf(toks, p, l, 0, n), k, "seq " + seq + " K at " + p + " layer " + l);
                assertArrayEquals(kvOf(toks, p, l, 1, n), v, "seq " + seq + " V at " + p + " layer " + l);
            }
        }
    }

    @ParameterizedTest
    @CsvSource({"1, 40, 11", "4, 24, 12", "16, 12, 13", "3, 30, 14"})
    void randomOperationsKeepInvariantsAndContent(int blockSize, int numBlocks, long seed) {
        KvCacheConfig cfg = KvCacheConfig.builder().numLayers(2).kvHeads(2).headDim(4).blockSize(blockSize)
                .numBlocks(numBlocks).dtype(DType.FP32).build();
        HostMemoryResource host = new HostMemoryResource();
        HostMemoryResource pinned = new HostMemoryResource();
        SplittableRandom rnd = new SplittableRandom(seed);
        int[][] bases = new int[3][];
        for (int i = 0; i < 3; i++) {
            bases[i] = rnd.ints(3 * blockSize + 2, 0, 1000).toArray();
        }
        SwapSpace swap = new SwapSpace(pinned);
        try (PagedKvCache c = new PagedKvCache(cfg, host)) {
            List<Integer> live = new ArrayList<>();
            List<Integer> swapped = new ArrayList<>();
            int fulls = 0;
            for (int step = 0; step < 1500; step++) {
                int op = rnd.nextInt(100);
                if (op < 20 || live.isEmpty()) {
                    int[] base = bases[rnd.nextInt(3)];
                    int keep = rnd.nextInt(base.length + 1);
                    int[] prompt = new int[keep + 1 + rnd.nextInt(2 * blockSize)];
                    System.arraycopy(base, 0, prompt, 0, keep);
                    for (int i = keep; i < prompt.length; i++) {
                        prompt[i] = 1000 + rnd.nextInt(1000);
                    }
                    int seq = c.newSequence(0);
                    int before = c.availableBlocks();
                    try {
                        int cached = c.append(seq, prompt, 0, prompt.length);
                        assertEquals(0, cached % blockSize);
                        assertTrue(cached < prompt.length);
                        verifyPrefix(c, seq, cached);
                        writeAll(c, seq, cached);
                        live.add(seq);
                    } catch (KvCacheFullException e) {
                        fulls++;
                        assertEquals(0, c.numTokens(seq), "failed append left tokens");
                        assertEquals(before, c.availableBlocks(), "failed append moved blocks");
                        c.free(seq);
                    }
                } else if (op < 55) {
                    int seq = live.get(rnd.nextInt(live.size()));
                    try {
                        c.append(seq, 2000 + rnd.nextInt(100));
                        writeAll(c, seq, c.numTokens(seq) - 1);
                    } catch (KvCacheFullException e) {
                        fulls++;
                    }
                } else if (op < 63) {
                    int parent = live.get(rnd.nextInt(live.size()));
                    live.add(c.fork(parent));
                } else if (op < 80) {
                    int seq = live.remove(rnd.nextInt(live.size()));
                    verifyExact(c, seq);
                    c.free(seq);
                } else if (op < 88) {
                    int seq = live.remove(rnd.nextInt(live.size()));
                    c.swapOut(seq, swap);
                    swapped.add(seq);
                } else if (op < 95 && !swapped.isEmpty()) {
                    int seq = swapped.get(rnd.nextInt(swapped.size()));
                    if (c.blocksToSwapIn(seq) <= c.availableBlocks()) {
                        c.swapIn(seq);
                        swapped.remove((Integer) seq);
                        live.add(seq);
                        verifyExact(c, seq);
                    } else {
                        int avail = c.availableBlocks();
                        assertThrows(KvCacheFullException.class, () -> c.swapIn(seq));
                        assertEquals(avail, c.availableBlocks());
                        assertTrue(c.isSwappedOut(seq));
                    }
                } else {
                    verifyExact(c, live.get(rnd.nextInt(live.size())));
                }
                c.checkInvariants();
            }
            assertTrue(fulls > 0, "the pool never filled up; the test does not exercise pressure");
            assertTrue(c.prefixHitTokens() > 0, "no prefix hit happened");
            assertTrue(c.copyOnWrites() > 0 || blockSize == 1, "no copy-on-write happened");
            for (int seq : live) {
                c.free(seq);
            }
            for (int seq : swapped) {
                c.free(seq);
            }
            c.checkInvariants();
            assertEquals(0, c.usedBlocks());
            assertEquals(0, c.allocatedSlots());
            assertEquals(0, c.usedSlots());
            assertEquals(numBlocks, c.availableBlocks());
            assertEquals(0, swap.bytesInUse());
            assertEquals(0, pinned.usedBytes(), "swap space leaked");
        }
        assertEquals(0, host.usedBytes(), "cache leaked memory");
    }

    /** Reads every live position: exact (FP16-rounded) in primary blocks, within half an INT8 step in compressed. */
    static void verifyApprox(PagedKvCache c, int seq) {
        KvCacheConfig cfg = c.config();
        int hd = cfg.headDim();
        int n = cfg.kvHeads() * hd;
        int bs = cfg.blockSize();
        int[] toks = c.tokens(seq);
        int[] primary = c.blockTable(seq);
        int[] compressed = c.compressedBlockTable(seq);
        float[][] got = new float[2][n];
        for (int p = 0; p < toks.length; p++) {
            int b = p / bs;
            if (primary[b] < 0 && compressed[b] < 0) {
                continue;
            }
            for (int l = 0; l < cfg.numLayers(); l++) {
                c.read(seq, l, p, got[0], got[1]);
                for (int kv = 0; kv < 2; kv++) {
                    float[] want = fp16(kvOf(toks, p, l, kv, n));
                    if (primary[b] >= 0) {
                        assertArrayEquals(want, got[kv], "seq " + seq + " pos " + p);
                        continue;
                    }
                    for (int h = 0; h < cfg.kvHeads(); h++) {
                        double absmax = 0;
                        for (int q = b * bs; q < (b + 1) * bs; q++) {
                            float[] row = fp16(kvOf(toks, q, l, kv, n));
                            for (int d = 0; d < hd; d++) {
                                absmax = Math.max(absmax, Math.abs(row[h * hd + d]));
                            }
                        }
                        for (int d = 0; d < hd; d++) {
                            double err = Math.abs(got[kv][h * hd + d] - want[h * hd + d]);
                            assertTrue(err <= absmax / 127 / 2 * 1.001 + 1e-7, "compressed pos " + p + " err " + err);
                        }
                    }
                }
            }
        }
    }

    @ParameterizedTest
    @CsvSource({"4, 0, 21", "4, 12, 22", "8, 0, 23", "2, 6, 24"})
    void randomOperationsWithCompressionAndWindowKeepInvariants(int blockSize, int window, long seed) {
        KvCacheConfig cfg = KvCacheConfig.builder().numLayers(2).kvHeads(2).headDim(4).blockSize(blockSize)
                .numBlocks(30).dtype(DType.FP16).compressedDType(DType.INT8).slidingWindow(window).build();
        HostMemoryResource host = new HostMemoryResource();
        HostMemoryResource pinned = new HostMemoryResource();
        SwapSpace swap = new SwapSpace(pinned);
        SplittableRandom rnd = new SplittableRandom(seed);
        long compressedTotal = 0;
        try (PagedKvCache c = new PagedKvCache(cfg, host)) {
            List<Integer> live = new ArrayList<>();
            List<Integer> swapped = new ArrayList<>();
            for (int step = 0; step < 1200; step++) {
                int op = rnd.nextInt(100);
                if (op < 15 || live.isEmpty()) {
                    int[] prompt = rnd.ints(1 + rnd.nextInt(4 * blockSize), 0, 50).toArray();
                    int seq = c.newSequence(rnd.nextInt(2));
                    try {
                        int cached = c.append(seq, prompt, 0, prompt.length);
                        writeFp16(c, seq, cached);
                        live.add(seq);
                    } catch (KvCacheFullException e) {
                        c.free(seq);
                    }
                } else if (op < 55) {
                    int seq = live.get(rnd.nextInt(live.size()));
                    try {
                        c.append(seq, rnd.nextInt(50));
                        writeFp16(c, seq, c.numTokens(seq) - 1);
                    } catch (KvCacheFullException e) {
                        assertEquals(0, c.availableBlocks());
                    }
                } else if (op < 58) {
                    // below a watermark of a few blocks, compress the coldest blocks
                    if (c.availableBlocks() <= 4) {
                        compressedTotal += c.compressColdBlocks(c.availableBlocks() + 1 + rnd.nextInt(4));
                    }
                } else if (op < 62) {
                    live.add(c.fork(live.get(rnd.nextInt(live.size()))));
                } else if (op < 75) {
                    int seq = live.remove(rnd.nextInt(live.size()));
                    verifyApprox(c, seq);
                    c.free(seq);
                } else if (op < 82) {
                    int seq = live.remove(rnd.nextInt(live.size()));
                    c.swapOut(seq, swap);
                    swapped.add(seq);
                } else if (op < 90 && !swapped.isEmpty()) {
                    int seq = swapped.get(rnd.nextInt(swapped.size()));
                    if (c.blocksToSwapIn(seq) <= c.availableBlocks()) {
                        c.swapIn(seq);
                        swapped.remove((Integer) seq);
                        live.add(seq);
                        verifyApprox(c, seq);
                    }
                } else {
                    verifyApprox(c, live.get(rnd.nextInt(live.size())));
                }
                c.checkInvariants();
            }
            assertTrue(compressedTotal > 0, "no block was ever compressed");
            assertTrue(window == 0 || c.reclaimedBlocks() > 0, "no block left the window");
            for (int seq : live) {
                c.free(seq);
            }
            for (int seq : swapped) {
                c.free(seq);
            }
            c.checkInvariants();
            assertEquals(0, c.usedBlocks());
            assertEquals(30, c.availableBlocks());
            assertEquals(0, pinned.usedBytes());
        }
        assertEquals(0, host.usedBytes());
    }

    private static void writeFp16(PagedKvCache c, int seq, int from) {
        KvCacheConfig cfg = c.config();
        int n = cfg.kvHeads() * cfg.headDim();
        int[] toks = c.tokens(seq);
        for (int p = from; p < toks.length; p++) {
            if (c.blockTable(seq)[p / cfg.blockSize()] < 0) {
                continue;
            }
            for (int l = 0; l < cfg.numLayers(); l++) {
                c.write(seq, l, p, kvOf(toks, p, l, 0, n), kvOf(toks, p, l, 1, n));
            }
        }
    }

    private static void verifyPrefix(PagedKvCache c, int seq, int cached) {
        KvCacheConfig cfg = c.config();
        int n = cfg.kvHeads() * cfg.headDim();
        int[] toks = c.tokens(seq);
        float[] k = new float[n];
        float[] v = new float[n];
        for (int p = 0; p < cached; p++) {
            c.read(seq, 0, p, k, v);
            assertArrayEquals(kvOf(toks, p, 0, 0, n), k, "prefix hit holds wrong K at " + p);
        }
    }

    @Test
    void copyOnWriteIsCorrectByContent() {
        KvCacheConfig cfg = KvCacheConfig.builder().numLayers(1).kvHeads(1).headDim(8).blockSize(4).numBlocks(16)
                .dtype(DType.FP16).build();
        try (PagedKvCache c = new PagedKvCache(cfg, new HostMemoryResource())) {
            int a = c.newSequence(0);
            c.append(a, new int[] {1, 2, 3, 4, 5, 6}, 0, 6);
            float[][] written = new float[8][];
            for (int p = 0; p < 6; p++) {
                written[p] = randomRow(p, 8);
                c.write(a, 0, p, written[p], written[p]);
            }
            int b = c.fork(a);
            int lastBlock = c.blockTable(a)[1];
            assertEquals(2, c.refCount(lastBlock));
            c.append(b, 7);
            float[] bRow = randomRow(100, 8);
            c.write(b, 0, 6, bRow, bRow);
            c.append(a, 9);
            float[] aRow = randomRow(200, 8);
            c.write(a, 0, 6, aRow, aRow);
            assertEquals(1, c.copyOnWrites());
            assertEquals(c.blockTable(a)[0], c.blockTable(b)[0], "full first block stays shared");
            assertFalse(c.blockTable(a)[1] == c.blockTable(b)[1], "partial block was copied");
            float[] k = new float[8];
            float[] v = new float[8];
            for (int p = 0; p < 6; p++) {
                for (int s : new int[] {a, b}) {
                    c.read(s, 0, p, k, v);
                    assertArrayEquals(fp16(written[p]), k);
                }
            }
            c.read(a, 0, 6, k, v);
            assertArrayEquals(fp16(aRow), k);
            c.read(b, 0, 6, k, v);
            assertArrayEquals(fp16(bRow), k);
            c.checkInvariants();
            c.free(a);
            c.free(b);
            c.checkInvariants();
            assertEquals(0, c.usedBlocks());
        }
    }

    @Test
    void evictsLeastRecentlyReleasedCachedBlocksTailFirst() {
        KvCacheConfig cfg = KvCacheConfig.builder().numLayers(1).kvHeads(1).headDim(2).blockSize(2).numBlocks(9)
                .build();
        PagedKvCache c = new PagedKvCache(cfg);
        int[][] prompts = {{1, 2, 3, 4, 5}, {6, 7, 8, 9, 10}, {11, 12, 13, 14, 15}};
        int[][] tables = new int[3][];
        int[] ids = new int[3];
        for (int i = 0; i < 3; i++) {
            ids[i] = c.newSequence(0);
            c.append(ids[i], prompts[i], 0, 5);
            tables[i] = c.blockTable(ids[i]);
        }
        assertEquals(0, c.freeBlocks());
        for (int i = 0; i < 3; i++) {
            c.free(ids[i]);
        }
        // Partial third blocks are not cached and go to the free list; full ones become evictable, tail first.
        assertEquals(3, c.freeBlocks());
        assertArrayEquals(new int[] {tables[0][1], tables[0][0], tables[1][1], tables[1][0], tables[2][1],
                tables[2][0]}, c.evictionOrder());
        int filler = c.newSequence(0);
        c.append(filler, new int[] {90, 91, 92, 93, 94, 95, 96, 97, 98, 99}, 0, 10);
        // 5 blocks: 3 free, then A's tail and A's head are evicted.
        assertEquals(2, c.evictions());
        int[] fillerTable = c.blockTable(filler);
        assertEquals(tables[0][1], fillerTable[3], "A's tail is evicted first");
        assertEquals(tables[0][0], fillerTable[4], "then A's head");
        int hit = c.newSequence(0);
        assertEquals(4, c.append(hit, prompts[2], 0, 5), "the most recently released prefix must hit");
        assertArrayEquals(Arrays.copyOf(tables[2], 2), Arrays.copyOf(c.blockTable(hit), 2));
        assertEquals(3, c.evictions(), "its third block evicted B's tail, next in LRU order");
        c.free(hit);
        c.free(filler);
        int again = c.newSequence(0);
        assertEquals(0, c.append(again, prompts[0], 0, 5), "evicted prefix must miss");
        int salted = c.newSequence(7);
        assertEquals(0, c.append(salted, prompts[2], 0, 5), "a different salt must not share blocks");
        c.checkInvariants();
    }

    @ParameterizedTest
    @CsvSource({"FP32", "FP16", "BF16", "INT8", "FP8_E4M3"})
    void swapRoundTripIsBitExact(DType dtype) {
        KvCacheConfig cfg = KvCacheConfig.builder().numLayers(2).kvHeads(2).headDim(8).blockSize(4).numBlocks(8)
                .dtype(dtype).build();
        HostMemoryResource pinned = new HostMemoryResource();
        SwapSpace swap = new SwapSpace(pinned);
        try (PagedKvCache c = new PagedKvCache(cfg, new HostMemoryResource())) {
            int s = c.newSequence(0);
            int[] toks = new int[14];
            Arrays.setAll(toks, i -> i * 3 + 1);
            c.append(s, toks, 0, toks.length);
            writeAll(c, s, 0);
            int[][] before = snapshotBits(c, s);
            long bytes = c.swapOut(s, swap);
            assertEquals(c.swapBytes(s), bytes);
            assertEquals(bytes, pinned.usedBytes());
            assertTrue(c.isSwappedOut(s));
            assertThrows(IllegalStateException.class, () -> c.append(s, 5));
            // Reuse the released blocks with other content.
            int other = c.newSequence(0);
            int[] junk = new int[30];
            Arrays.setAll(junk, i -> 5000 + i);
            c.append(other, junk, 0, junk.length);
            writeAll(c, other, 0);
            assertThrows(KvCacheFullException.class, () -> c.swapIn(s));
            assertTrue(c.isSwappedOut(s));
            c.free(other);
            c.swapIn(s);
            assertEquals(0, pinned.usedBytes());
            int[][] after = snapshotBits(c, s);
            for (int i = 0; i < before.length; i++) {
                assertArrayEquals(before[i], after[i], "row " + i + " changed across the swap");
            }
            assertTrue(c.measuredCopyBandwidth() > 0);
            c.checkInvariants();
            c.free(s);
        }
    }

    private static int[][] snapshotBits(PagedKvCache c, int seq) {
        KvCacheConfig cfg = c.config();
        int n = cfg.kvHeads() * cfg.headDim();
        int tokens = c.numTokens(seq);
        int[][] out = new int[tokens * cfg.numLayers() * 2][n];
        float[] k = new float[n];
        float[] v = new float[n];
        int r = 0;
        for (int p = 0; p < tokens; p++) {
            for (int l = 0; l < cfg.numLayers(); l++) {
                c.read(seq, l, p, k, v);
                for (int i = 0; i < n; i++) {
                    out[r][i] = Float.floatToRawIntBits(k[i]);
                    out[r + 1][i] = Float.floatToRawIntBits(v[i]);
                }
                r += 2;
            }
        }
        return out;
    }

    @Test
    void slidingWindowReleasesBlocksThatLeftTheWindow() {
        KvCacheConfig cfg = KvCacheConfig.builder().numLayers(1).kvHeads(1).headDim(4).blockSize(4).numBlocks(6)
                .slidingWindow(8).dtype(DType.FP32).build();
        try (PagedKvCache c = new PagedKvCache(cfg, new HostMemoryResource())) {
            int s = c.newSequence(0);
            for (int t = 0; t < 30; t++) {
                c.append(s, t);
                writeAll(c, s, t);
                // dead blocks: every token at least 8 positions behind the newest
                int n = t + 1;
                int dead = Math.max(0, (n - 8) / 4);
                assertEquals(dead, c.reclaimedBlocks(), "after " + n + " tokens");
                assertEquals((n + 3) / 4 - dead, c.usedBlocks());
                c.checkInvariants();
            }
            // 30 tokens in a 6-block pool (24 slots) only fit because blocks were reclaimed.
            verifyExact(c, s);
            float[] k = new float[4];
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> c.read(s, 0, 0, k, k));
            assertTrue(e.getMessage().contains("reclaimed"), e.getMessage());
            int[] table = c.blockTable(s);
            assertEquals(-1, table[0]);
            c.free(s);
            assertEquals(6, c.availableBlocks());
        }
    }

    @Test
    void perLayerWindowsReleaseOnlyWhatLeftEveryWindow() {
        assertEquals(16, KvCacheConfig.builder().slidingWindows(8, 16, 4).build().slidingWindow());
        assertEquals(0, KvCacheConfig.builder().slidingWindows(8, 0).build().slidingWindow(),
                "a global layer keeps every block");
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
                () -> KvCacheConfig.builder().slidingWindows(8, -1));
        assertTrue(bad.getMessage().contains("windows[1]"), bad.getMessage());
        PagedKvCache c = new PagedKvCache(KvCacheConfig.builder().numLayers(2).blockSize(4).numBlocks(32)
                .slidingWindows(4, 8).build());
        int s = c.newSequence(0);
        for (int t = 0; t < 20; t++) {
            c.append(s, t);
        }
        // the 8-token window decides: (20 - 8) / 4 = 3 dead blocks
        assertEquals(3, c.reclaimedBlocks());
        c.checkInvariants();
    }

    @ParameterizedTest
    @CsvSource({"INT8", "FP8_E4M3"})
    void quantizedKvRoundTripsWithinTheRoundingBound(DType dtype) {
        KvCacheConfig cfg = KvCacheConfig.builder().numLayers(1).kvHeads(3).headDim(16).blockSize(8).numBlocks(8)
                .dtype(dtype).build();
        boolean fp8 = dtype == DType.FP8_E4M3;
        try (PagedKvCache c = new PagedKvCache(cfg, new HostMemoryResource())) {
            int s = c.newSequence(0);
            SplittableRandom r = new SplittableRandom(5);
            int n = 48;
            float[][] rows = new float[20][n];
            for (int p = 0; p < 20; p++) {
                c.append(s, p);
                for (int i = 0; i < n; i++) {
                    // growing magnitude forces the per-block scale to grow and re-encode earlier slots
                    rows[p][i] = (float) (r.nextGaussian() * (1 + p));
                }
                c.write(s, 0, p, rows[p], rows[p]);
            }
            float[] k = new float[n];
            float[] v = new float[n];
            for (int p = 0; p < 20; p++) {
                c.read(s, 0, p, k, v);
                int block = p / 8;
                for (int h = 0; h < 3; h++) {
                    // The scales the block had from p's write on: each encoding rounds once (half a step for INT8,
                    // half an ulp of 3 mantissa bits plus the subnormal step for FP8).
                    List<Double> scales = new ArrayList<>();
                    double sc = 0;
                    for (int q = block * 8; q < Math.min(20, block * 8 + 8); q++) {
                        for (int d = 0; d < 16; d++) {
                            sc = Math.max(sc, Math.abs(rows[q][h * 16 + d]) / (fp8 ? 448.0 : 127.0));
                        }
                        if (q >= p && (scales.isEmpty() || scales.get(scales.size() - 1) != sc)) {
                            scales.add(sc);
                        }
                    }
                    for (int d = 0; d < 16; d++) {
                        double x = rows[p][h * 16 + d];
                        double tol = 1e-6;
                        for (double si : scales) {
                            tol += fp8 ? (Math.abs(x) / 16 + si * 0x1p-10) * 1.07 : si / 2 * 1.001;
                        }
                        double err = Math.abs(k[h * 16 + d] - x);
                        assertTrue(err <= tol, dtype + " pos " + p + " err " + err + " tol " + tol);
                        assertEquals(k[h * 16 + d], v[h * 16 + d]);
                    }
                }
            }
            c.free(s);
        }
    }

    @Test
    void compressionUnderPressureFreesBlocksWithSmallAttentionError() {
        int hd = 32;
        KvCacheConfig cfg = KvCacheConfig.builder().numLayers(1).kvHeads(1).headDim(hd).blockSize(8).numBlocks(26)
                .dtype(DType.FP16).compressedDType(DType.INT8).build();
        try (PagedKvCache c = new PagedKvCache(cfg, new HostMemoryResource())) {
            SplittableRandom r = new SplittableRandom(9);
            int[] seqs = new int[3];
            float[][][] keys = new float[3][60][];
            float[][][] vals = new float[3][60][];
            for (int i = 0; i < 3; i++) {
                seqs[i] = c.newSequence(i);
                for (int p = 0; p < 60; p++) {
                    c.append(seqs[i], p);
                    keys[i][p] = fp16(gaussian(r, hd));
                    vals[i][p] = fp16(gaussian(r, hd));
                    c.write(seqs[i], 0, p, keys[i][p], vals[i][p]);
                }
            }
            assertEquals(2, c.availableBlocks(), "just above the watermark");
            float[] q = gaussian(r, hd);
            double[] exact = attention(q, keys[0], vals[0]);
            int compressed = c.compressColdBlocks(8);
            assertTrue(c.availableBlocks() >= 8, "compression freed only " + c.availableBlocks());
            assertTrue(compressed >= 12, "compressed " + compressed);
            assertTrue(c.usedSlots() == 180, "compressed blocks still hold their tokens");
            c.checkInvariants();
            // The oldest blocks went first, the last block never.
            int[] ct = c.compressedBlockTable(seqs[0]);
            assertTrue(ct[0] >= 0);
            assertEquals(-1, ct[ct.length - 1]);
            float[][] k2 = new float[60][hd];
            float[][] v2 = new float[60][hd];
            for (int p = 0; p < 60; p++) {
                c.read(seqs[0], 0, p, k2[p], v2[p]);
            }
            double[] approx = attention(q, k2, v2);
            double num = 0;
            double den = 0;
            for (int d = 0; d < hd; d++) {
                num += (approx[d] - exact[d]) * (approx[d] - exact[d]);
                den += exact[d] * exact[d];
            }
            double relErr = Math.sqrt(num / den);
            assertTrue(relErr < 0.02, "attention output relative error " + relErr);
            assertTrue(relErr > 0, "compression changed nothing");
            // The freed room is usable: a new sequence fits now.
            int s = c.newSequence(5);
            c.append(s, new int[40], 0, 40);
            c.checkInvariants();
            for (int id : seqs) {
                c.free(id);
            }
            c.free(s);
            c.checkInvariants();
            assertEquals(26, c.availableBlocks());
        }
    }

    /** Single-query attention in float64: softmax(q·k / sqrt(d)) · v. */
    static double[] attention(float[] q, float[][] k, float[][] v) {
        int d = q.length;
        double[] s = new double[k.length];
        double max = Double.NEGATIVE_INFINITY;
        for (int t = 0; t < k.length; t++) {
            double dot = 0;
            for (int i = 0; i < d; i++) {
                dot += (double) q[i] * k[t][i];
            }
            s[t] = dot / Math.sqrt(d);
            max = Math.max(max, s[t]);
        }
        double sum = 0;
        for (int t = 0; t < k.length; t++) {
            s[t] = Math.exp(s[t] - max);
            sum += s[t];
        }
        double[] out = new double[d];
        for (int t = 0; t < k.length; t++) {
            for (int i = 0; i < d; i++) {
                out[i] += s[t] / sum * v[t][i];
            }
        }
        return out;
    }

    @Test
    void badInputRaisesClearErrorsAndChangesNothing() {
        KvCacheConfig cfg = KvCacheConfig.builder().numLayers(1).kvHeads(1).headDim(4).blockSize(4).numBlocks(2)
                .dtype(DType.FP32).build();
        try (PagedKvCache c = new PagedKvCache(cfg, new HostMemoryResource())) {
            int s = c.newSequence(0);
            c.append(s, new int[] {1, 2, 3}, 0, 3);
            c.free(s);
            IllegalStateException fin = assertThrows(IllegalStateException.class, () -> c.append(s, 4));
            assertTrue(fin.getMessage().contains("sequence " + s + " is finished"), fin.getMessage());
            assertThrows(IllegalStateException.class, () -> c.free(s));
            int reused = c.newSequence(0);
            assertTrue(reused != s, "a freed id is never handed out again while its slot is reused");
            assertThrows(IllegalStateException.class, () -> c.numTokens(s));
            c.free(reused);
            IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class, () -> c.append(99, 1));
            assertTrue(unknown.getMessage().contains("seqId 99"), unknown.getMessage());
            int t = c.newSequence(0);
            KvCacheFullException full = assertThrows(KvCacheFullException.class,
                    () -> c.append(t, new int[9], 0, 9));
            assertEquals(3, full.blocksNeeded());
            assertEquals(0, c.numTokens(t));
            c.append(t, 1);
            IllegalArgumentException len = assertThrows(IllegalArgumentException.class,
                    () -> c.write(t, 0, 0, new float[3], new float[4]));
            assertTrue(len.getMessage().contains("key"), len.getMessage());
            IllegalArgumentException pos = assertThrows(IllegalArgumentException.class,
                    () -> c.write(t, 0, 1, new float[4], new float[4]));
            assertTrue(pos.getMessage().contains("position"), pos.getMessage());
            IllegalArgumentException layer = assertThrows(IllegalArgumentException.class,
                    () -> c.write(t, 1, 0, new float[4], new float[4]));
            assertTrue(layer.getMessage().contains("layer"), layer.getMessage());
            assertThrows(IllegalStateException.class, () -> c.compressColdBlocks(1));
            c.checkInvariants();
            c.free(t);
        }
        KvBlockPool pool = new KvBlockPool(4, 2, 1, 100);
        int b = pool.allocate();
        pool.release(b);
        IllegalStateException twice = assertThrows(IllegalStateException.class, () -> pool.release(b));
        assertTrue(twice.getMessage().contains("block " + b + " freed twice"), twice.getMessage());
        pool.checkConsistency();
        assertEquals(4, pool.freeBlocks());
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
                () -> KvCacheConfig.builder().headDim(0).build());
        assertTrue(bad.getMessage().contains("headDim"), bad.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> KvCacheConfig.builder().dtype(DType.INT8).compressedDType(DType.INT8).build());
        PagedKvCache acc = new PagedKvCache(cfg);
        int a = acc.newSequence(0);
        acc.append(a, 1);
        assertThrows(IllegalStateException.class, () -> acc.write(a, 0, 0, new float[4], new float[4]));
    }

    @Test
    void compressedPoolDoubleFreeIsRejected() {
        KvBlockPool pool = new KvBlockPool(2, 4, 2, 10);
        int c1 = pool.allocateCompressed();
        int c2 = pool.allocateCompressed();
        assertEquals(c1 / 2, c2 / 2, "two compressed blocks share one page");
        assertEquals(1, pool.freeBlocks());
        pool.releaseCompressed(c1);
        assertThrows(IllegalStateException.class, () -> pool.releaseCompressed(c1));
        pool.releaseCompressed(c2);
        assertEquals(2, pool.freeBlocks());
        pool.checkConsistency();
    }

    private static float[] randomRow(long seed, int n) {
        return gaussian(new SplittableRandom(seed), n);
    }

    private static float[] gaussian(SplittableRandom r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) r.nextGaussian();
        }
        return x;
    }

    private static float[] fp16(float[] x) {
        float[] y = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            y[i] = Float.float16ToFloat(Float.floatToFloat16(x[i]));
        }
        return y;
    }

    @Test
    void e4m3MatchesReferenceRounding() {
        // Every code decodes and re-encodes to itself (NaN aside); values between codes round to nearest even.
        for (int c = 0; c < 256; c++) {
            float v = KvQuant.fromE4M3((byte) c);
            if (!Float.isNaN(v)) {
                assertEquals(c == 0x80 ? 0x80 : c, KvQuant.toE4M3(v) & 0xFF, "code " + c);
            }
        }
        assertEquals(0x7E, KvQuant.toE4M3(1e9f) & 0xFF);
        assertEquals(0x7F, KvQuant.toE4M3(Float.NaN));
        Map<Float, Integer> cases = new HashMap<>();
        cases.put(1.0625f, 0x38);
        cases.put(1.1875f, 0x3A);
        for (var e : cases.entrySet()) {
            assertEquals((int) e.getValue(), KvQuant.toE4M3(e.getKey()) & 0xFF, "value " + e.getKey());
        }
        assertEquals(Float.floatToRawIntBits(1.0f), Float.floatToRawIntBits(KvQuant.fromBf16(KvQuant.toBf16(1.0f))));
    }
}
