package io.vramkit.attention;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vramkit.attention.internal.PanamaTileOps;
import io.vramkit.attention.internal.ScalarTileOps;
import io.vramkit.core.DType;
import java.lang.foreign.Arena;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class FlashAttentionTest {

    private final Fixtures.PeakResource scratch = new Fixtures.PeakResource();
    private final FlashAttention flash = new FlashAttention(scratch, 64, 64);
    private final NaiveAttention naive = new NaiveAttention();

    @AfterEach
    void scratchReturned() {
        assertEquals(0, scratch.used(), "scratch bytes still held after the call");
        assertEquals(0, scratch.inner.liveAllocations(), "scratch allocations leaked");
    }

    /** Runs flash and naive on the same inputs and applies FlashAttention's rule: err ≤ 2·naive + 1e-5. */
    private double check(HeadTensor q, HeadTensor k, HeadTensor v, int[] cuQ, int[] cuK, AttentionParams p,
                         Arena arena, DType outType, FlashAttention impl) {
        var ref = ReferenceAttention.forward(q, k, v, cuQ, cuK, p);
        HeadTensor outF = Fixtures.output(arena, outType, q.tokens(), q.heads(), q.headDim());
        HeadTensor outN = Fixtures.output(arena, outType, q.tokens(), q.heads(), q.headDim());
        float[] lse = impl.forward(q, k, v, cuQ, cuK, p, outF);
        naive.forward(q, k, v, cuQ, cuK, p, outN);
        double errF = Fixtures.maxErr(outF, ref.out());
        double errN = Fixtures.maxErr(outN, ref.out());
        assertTrue(errF <= 2 * errN + 1e-5, () -> "flash error " + errF + " > 2 x naive " + errN + " + 1e-5 for "
                + p + " q=" + q + " k=" + k);
        if (lse != null) {
            for (int i = 0; i < lse.length; i++) {
                double r = ref.lse()[i];
                if (r == Double.NEGATIVE_INFINITY) {
                    assertEquals(Float.NEGATIVE_INFINITY, lse[i], "lse[" + i + "]");
                } else {
                    assertEquals(r, lse[i], 1e-4 * Math.max(1, Math.abs(r)), "lse[" + i + "]");
                }
            }
        }
        return errF;
    }

    static Stream<Arguments> shapes() {
        return Stream.of(
                Arguments.of(1, 128, 4, 4, 64, 1L),
                Arguments.of(1, 128, 8, 2, 128, 2L),
                Arguments.of(113, 203, 4, 4, 96, 3L),
                Arguments.of(113, 203, 6, 2, 59, 4L),
                Arguments.of(113, 203, 3, 1, 111, 5L),
                Arguments.of(1023, 1024, 2, 1, 64, 6L),
                Arguments.of(1, 4097, 4, 1, 128, 7L),
                Arguments.of(1, 4097, 2, 2, 80, 8L));
    }

    @ParameterizedTest(name = "lq={0} lk={1} heads={2}/{3} d={4}")
    @MethodSource("shapes")
    void matchesFloat64ReferenceOnIssueShapes(int lq, int lk, int heads, int kvHeads, int d, long seed) {
        Random rnd = new Random(seed);
        HeadTensor q = Fixtures.tensor(rnd, lq, heads, d, 1f);
        HeadTensor k = Fixtures.tensor(rnd, lk, kvHeads, d, 1f);
        HeadTensor v = Fixtures.tensor(rnd, lk, kvHeads, d, 1f);
        int[] cuQ = {0, lq};
        int[] cuK = {0, lk};
        check(q, k, v, cuQ, cuK, AttentionParams.builder().returnLse(true).build(), null, DType.FP32, flash);
        check(q, k, v, cuQ, cuK, AttentionParams.builder().causal(true).returnLse(true).build(), null, DType.FP32,
                flash);
        int left = rnd.nextInt(lk + 1) - 1;
        int right = rnd.nextInt(Math.max(1, lk / 4)) - 1;
        check(q, k, v, cuQ, cuK, AttentionParams.builder().window(left, right).softcap(rnd.nextBoolean() ? 0f : 5f)
                .returnLse(true).build(), null, DType.FP32, flash);
    }

    @Test
    void everyHeadDimFrom32To256IncludingOddOnes() {
        Random rnd = new Random(11);
        for (int d : new int[] {32, 59, 64, 80, 96, 111, 128, 200, 256}) {
            HeadTensor q = Fixtures.tensor(rnd, 37, 4, d, 1f);
            HeadTensor k = Fixtures.tensor(rnd, 70, 2, d, 1f);
            HeadTensor v = Fixtures.tensor(rnd, 70, 2, d, 1f);
            check(q, k, v, new int[] {0, 37}, new int[] {0, 70},
                    AttentionParams.builder().causal(true).returnLse(true).build(), null, DType.FP32, flash);
        }
    }

    @Test
    void variableLengthBatchesWithEmptyAndSingleTokenSequences() {
        Random rnd = new Random(12);
        int[] lq = {5, 0, 130, 64, 1, 77};
        int[] lk = {9, 3, 130, 200, 1, 0};
        int[] cuQ = Fixtures.cu(lq);
        int[] cuK = Fixtures.cu(lk);
        HeadTensor q = Fixtures.tensor(rnd, cuQ[lq.length], 6, 48, 1f);
        HeadTensor k = Fixtures.tensor(rnd, cuK[lk.length], 3, 48, 1f);
        HeadTensor v = Fixtures.tensor(rnd, cuK[lk.length], 3, 48, 1f);
        for (AttentionParams p : new AttentionParams[] {
                AttentionParams.builder().returnLse(true).build(),
                AttentionParams.builder().causal(true).returnLse(true).build(),
                AttentionParams.builder().causal(true).window(17, 0).returnLse(true).build(),
                AttentionParams.builder().window(3, 5).scale(0.3f).returnLse(true).build()}) {
            check(q, k, v, cuQ, cuK, p, null, DType.FP32, flash);
        }
    }

    @Test
    void halfPrecisionInputsAndOutputs() {
        Random rnd = new Random(13);
        try (Arena arena = Arena.ofShared()) {
            for (DType type : new DType[] {DType.FP16, DType.BF16}) {
                int[] cuQ = Fixtures.cu(70, 33);
                int[] cuK = Fixtures.cu(90, 150);
                HeadTensor q = Fixtures.tensor(arena, type, rnd, 103, 4, 72, 1f);
                HeadTensor k = Fixtures.tensor(arena, type, rnd, 240, 2, 72, 1f);
                HeadTensor v = Fixtures.tensor(arena, type, rnd, 240, 2, 72, 1f);
                check(q, k, v, cuQ, cuK, AttentionParams.builder().causal(true).build(), arena, type, flash);
                check(q, k, v, cuQ, cuK, AttentionParams.builder().window(20, 3).build(), arena, type, flash);
                // FP32 storage in a native segment too.
                HeadTensor q32 = Fixtures.tensor(arena, DType.FP32, rnd, 103, 4, 72, 1f);
                HeadTensor k32 = Fixtures.tensor(arena, DType.FP32, rnd, 240, 2, 72, 1f);
                HeadTensor v32 = Fixtures.tensor(arena, DType.FP32, rnd, 240, 2, 72, 1f);
                check(q32, k32, v32, cuQ, cuK, AttentionParams.builder().causal(true).build(), arena, type, flash);
            }
        }
    }

    @Test
    void rowsThatSeeNoKeyOutputZerosAndMinusInfinityLse() {
        Random rnd = new Random(14);
        // Bottom-right causal with lq > lk: the first lq - lk queries see no key.
        HeadTensor q = Fixtures.tensor(rnd, 50, 2, 32, 1f);
        HeadTensor k = Fixtures.tensor(rnd, 20, 2, 32, 1f);
        HeadTensor v = Fixtures.tensor(rnd, 20, 2, 32, 1f);
        float[] outData = new float[50 * 2 * 32];
        java.util.Arrays.fill(outData, 7f);
        HeadTensor out = HeadTensor.of(outData, 50, 2, 32);
        float[] lse = flash.forward(q, k, v, new int[] {0, 50}, new int[] {0, 20},
                AttentionParams.builder().causal(true).returnLse(true).build(), out);
        for (int t = 0; t < 30; t++) {
            for (int h = 0; h < 2; h++) {
                for (int c = 0; c < 32; c++) {
                    assertEquals(0f, out.get(t, h, c), "row " + t + " sees no key");
                }
                assertEquals(Float.NEGATIVE_INFINITY, lse[h * 50 + t]);
            }
        }
        assertTrue(out.get(30, 0, 0) != 0f);
        check(q, k, v, new int[] {0, 50}, new int[] {0, 20},
                AttentionParams.builder().causal(true).returnLse(true).build(), null, DType.FP32, flash);
    }

    @Test
    void tileSizesDoNotChangeTheResult() {
        Random rnd = new Random(15);
        HeadTensor q = Fixtures.tensor(rnd, 97, 2, 40, 1f);
        HeadTensor k = Fixtures.tensor(rnd, 131, 1, 40, 1f);
        HeadTensor v = Fixtures.tensor(rnd, 131, 1, 40, 1f);
        AttentionParams p = AttentionParams.builder().causal(true).window(40, -1).build();
        HeadTensor base = Fixtures.output(null, DType.FP32, 97, 2, 40);
        flash.forward(q, k, v, new int[] {0, 97}, new int[] {0, 131}, p, base);
        for (int[] tiles : new int[][] {{1, 1}, {3, 7}, {16, 128}, {128, 16}, {256, 512}}) {
            FlashAttention other = new FlashAttention(scratch, tiles[0], tiles[1]);
            HeadTensor out = Fixtures.output(null, DType.FP32, 97, 2, 40);
            other.forward(q, k, v, new int[] {0, 97}, new int[] {0, 131}, p, out);
            assertTrue(Fixtures.maxDiff(base, out) < 2e-6, "tiles " + tiles[0] + "x" + tiles[1]);
        }
    }

    @Test
    void scalarAndVectorKernelsAgree() {
        Random rnd = new Random(16);
        FlashAttention scalar = new FlashAttention(scratch, 64, 64, new ScalarTileOps());
        FlashAttention vector = new FlashAttention(scratch, 64, 64, new PanamaTileOps());
        for (int d : new int[] {59, 128}) {
            int[] cuQ = Fixtures.cu(65, 3);
            int[] cuK = Fixtures.cu(129, 70);
            HeadTensor q = Fixtures.tensor(rnd, 68, 2, d, 1f);
            HeadTensor k = Fixtures.tensor(rnd, 199, 1, d, 1f);
            HeadTensor v = Fixtures.tensor(rnd, 199, 1, d, 1f);
            AttentionParams p = AttentionParams.builder().causal(true).softcap(8f).returnLse(true).build();
            check(q, k, v, cuQ, cuK, p, null, DType.FP32, scalar);
            check(q, k, v, cuQ, cuK, p, null, DType.FP32, vector);
            HeadTensor a = Fixtures.output(null, DType.FP32, 68, 2, d);
            HeadTensor b = Fixtures.output(null, DType.FP32, 68, 2, d);
            float[] la = scalar.forward(q, k, v, cuQ, cuK, p, a);
            float[] lb = vector.forward(q, k, v, cuQ, cuK, p, b);
            assertTrue(Fixtures.maxDiff(a, b) < 1e-5, "scalar vs vector, d=" + d);
            assertArrayEquals(la, lb, 1e-4f);
        }
    }

    @Test
    void badInputIsRejectedWithTheArgumentNamedAndNothingWritten() {
        Random rnd = new Random(17);
        HeadTensor q = Fixtures.tensor(rnd, 10, 6, 32, 1f);
        HeadTensor k4 = Fixtures.tensor(rnd, 10, 4, 32, 1f);
        float[] outData = new float[10 * 6 * 32];
        HeadTensor out = HeadTensor.of(outData, 10, 6, 32);
        int[] cu = {0, 10};
        var e = assertThrows(IllegalArgumentException.class,
                () -> flash.forward(q, k4, k4, cu, cu, null, out));
        assertTrue(e.getMessage().contains("kvHeads") && e.getMessage().contains("6"), e.getMessage());

        e = assertThrows(IllegalArgumentException.class, () -> HeadTensor.of(new float[300], 1, 1, 300));
        assertTrue(e.getMessage().contains("headDim") && e.getMessage().contains("300"), e.getMessage());

        e = assertThrows(IllegalArgumentException.class, () -> AttentionParams.builder().window(-2, 0));
        assertTrue(e.getMessage().contains("windowLeft") && e.getMessage().contains("-2"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> AttentionParams.builder().window(0, -5));
        assertTrue(e.getMessage().contains("windowRight") && e.getMessage().contains("-5"), e.getMessage());

        HeadTensor k3 = Fixtures.tensor(rnd, 10, 3, 32, 1f);
        e = assertThrows(IllegalArgumentException.class,
                () -> flash.forward(q, k3, k3, new int[] {0, 6, 4, 10}, new int[] {0, 3, 5, 10}, null, out));
        assertTrue(e.getMessage().contains("cuSeqlensQ") && e.getMessage().contains("non-decreasing"),
                e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> flash.forward(q, k3, k3, new int[] {0, 4, 10}, new int[] {0, 11}, null, out));
        assertTrue(e.getMessage().contains("cuSeqlensK"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> flash.forward(q, k3, k3, new int[] {0, 9}, new int[] {0, 10}, null, out));
        assertTrue(e.getMessage().contains("cuSeqlensQ[1] = 9"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> flash.forward(q, k3, k3, new int[] {1, 10}, new int[] {0, 10}, null, out));
        assertTrue(e.getMessage().contains("cuSeqlensQ[0]"), e.getMessage());
        BlockMask small = BlockMask.causal(4, 4, 4, 4);
        e = assertThrows(IllegalArgumentException.class, () -> flash.forward(q, k3, k3, cu, cu,
                AttentionParams.builder().blockMask(small).build(), out));
        assertTrue(e.getMessage().contains("blockMask"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new FlashAttention(scratch, 0, 64));
        assertTrue(e.getMessage().contains("blockQ"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> AttentionParams.builder().softcap(-1f));
        assertTrue(e.getMessage().contains("softcap"), e.getMessage());
        for (float f : outData) {
            assertEquals(0f, f, "output written despite the error");
        }
        // The instance still works after the errors.
        check(q, k3, k3, cu, cu, AttentionParams.builder().causal(true).build(), null, DType.FP32, flash);
    }
}
