package io.vramkit.attention;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class BlockSparseAttentionTest {

    private final Fixtures.PeakResource scratch = new Fixtures.PeakResource();
    private final FlashAttention flash = new FlashAttention(scratch, 64, 64);
    private final NaiveAttention naive = new NaiveAttention();

    @AfterEach
    void scratchReturned() {
        assertEquals(0, scratch.used());
    }

    private static BlockMask randomMask(Random rnd, int rb, int cb, int lq, int lk, double density) {
        boolean[][] a = new boolean[(lq + rb - 1) / rb][(lk + cb - 1) / cb];
        for (boolean[] row : a) {
            for (int j = 0; j < row.length; j++) {
                row[j] = rnd.nextDouble() < density;
            }
        }
        return BlockMask.of(rb, cb, a);
    }

    private void checkAgainstReference(HeadTensor q, HeadTensor k, HeadTensor v, int[] cuQ, int[] cuK,
                                       AttentionParams p) {
        var ref = ReferenceAttention.forward(q, k, v, cuQ, cuK, p);
        HeadTensor outF = Fixtures.output(null, io.vramkit.core.DType.FP32, q.tokens(), q.heads(), q.headDim());
        HeadTensor outN = Fixtures.output(null, io.vramkit.core.DType.FP32, q.tokens(), q.heads(), q.headDim());
        flash.forward(q, k, v, cuQ, cuK, p, outF);
        naive.forward(q, k, v, cuQ, cuK, p, outN);
        double errF = Fixtures.maxErr(outF, ref.out());
        double errN = Fixtures.maxErr(outN, ref.out());
        assertTrue(errF <= 2 * errN + 1e-5, () -> "flash " + errF + " naive " + errN + " " + p);
    }

    @Test
    void randomBlockMasksOfSeveralBlockSizes() {
        Random rnd = new Random(21);
        int[][] blocks = {{64, 64}, {128, 128}, {16, 32}, {48, 80}, {1, 7}};
        for (int[] bl : blocks) {
            int small = bl[0] * bl[1] < 256 ? 2 : 1;
            int lq = (200 + rnd.nextInt(100)) / small;
            int lk = (250 + rnd.nextInt(150)) / small;
            HeadTensor q = Fixtures.tensor(rnd, lq, 4, 64, 1f);
            HeadTensor k = Fixtures.tensor(rnd, lk, 2, 64, 1f);
            HeadTensor v = Fixtures.tensor(rnd, lk, 2, 64, 1f);
            BlockMask m = randomMask(rnd, bl[0], bl[1], lq, lk, 0.4);
            int[] cuQ = {0, lq};
            int[] cuK = {0, lk};
            checkAgainstReference(q, k, v, cuQ, cuK, AttentionParams.builder().blockMask(m).build());
            checkAgainstReference(q, k, v, cuQ, cuK, AttentionParams.builder().blockMask(m).causal(true)
                    .window(100, -1).build());
        }
    }

    @Test
    void maskedBlocksAreNeverRead() {
        Random rnd = new Random(22);
        int lq = 256;
        int lk = 384;
        HeadTensor q = Fixtures.tensor(rnd, lq, 2, 64, 1f);
        float[] kd = Fixtures.randn(rnd, lk * 2 * 64, 1f);
        float[] vd = Fixtures.randn(rnd, lk * 2 * 64, 1f);
        boolean[][] allowed = new boolean[2][3];
        allowed[0][0] = true;
        allowed[1][0] = true;
        allowed[1][2] = true;
        // Key block 1 (keys 128..255) is masked for every query block: poison it. Reading it would spread NaN.
        for (int t = 128; t < 256; t++) {
            for (int i = 0; i < 2 * 64; i++) {
                kd[t * 128 + i] = Float.NaN;
                vd[t * 128 + i] = Float.NaN;
            }
        }
        HeadTensor k = HeadTensor.of(kd, lk, 2, 64);
        HeadTensor v = HeadTensor.of(vd, lk, 2, 64);
        AttentionParams p = AttentionParams.builder().blockMask(BlockMask.of(128, 128, allowed)).build();
        HeadTensor out = Fixtures.output(null, io.vramkit.core.DType.FP32, lq, 2, 64);
        flash.forward(q, k, v, new int[] {0, lq}, new int[] {0, lk}, p, out);
        var ref = ReferenceAttention.forward(q, k, v, new int[] {0, lq}, new int[] {0, lk}, p);
        double err = Fixtures.maxErr(out, ref.out());
        assertFalse(Double.isInfinite(err), "masked block was read");
        assertTrue(err < 1e-5, "error " + err);
    }

    @Test
    void causalAndWindowAsBlockMaskPlusInBlockMaskingEqualThePlainMasks() {
        Random rnd = new Random(23);
        int lq = 300;
        int lk = 420;
        HeadTensor q = Fixtures.tensor(rnd, lq, 2, 32, 1f);
        HeadTensor k = Fixtures.tensor(rnd, lk, 2, 32, 1f);
        HeadTensor v = Fixtures.tensor(rnd, lk, 2, 32, 1f);
        int[] cuQ = {0, lq};
        int[] cuK = {0, lk};
        for (int[] w : new int[][] {{-1, 0}, {50, 0}, {30, 10}}) {
            AttentionParams plain = AttentionParams.builder().window(w[0], w[1]).build();
            AttentionParams sparse = plain.toBuilder()
                    .blockMask(BlockMask.window(64, 64, lq, lk, w[0], w[1])).build();
            HeadTensor a = Fixtures.output(null, io.vramkit.core.DType.FP32, lq, 2, 32);
            HeadTensor b = Fixtures.output(null, io.vramkit.core.DType.FP32, lq, 2, 32);
            flash.forward(q, k, v, cuQ, cuK, plain, a);
            flash.forward(q, k, v, cuQ, cuK, sparse, b);
            assertTrue(Fixtures.maxDiff(a, b) < 1e-6, "window " + w[0] + "," + w[1]);
        }
        BlockMask causal = BlockMask.causal(64, 64, lq, lk);
        assertTrue(causal.density() < 1.0 && causal.density() > 0.5, causal.toString());
    }

    @Test
    void variableLengthBatchSharesOneMask() {
        Random rnd = new Random(24);
        int[] cuQ = Fixtures.cu(100, 257, 3);
        int[] cuK = Fixtures.cu(130, 300, 64);
        HeadTensor q = Fixtures.tensor(rnd, cuQ[3], 3, 40, 1f);
        HeadTensor k = Fixtures.tensor(rnd, cuK[3], 1, 40, 1f);
        HeadTensor v = Fixtures.tensor(rnd, cuK[3], 1, 40, 1f);
        BlockMask m = randomMask(rnd, 64, 64, 257, 300, 0.5);
        checkAgainstReference(q, k, v, cuQ, cuK, AttentionParams.builder().blockMask(m).causal(true).build());
    }

    @Test
    void badMasksAreRejected() {
        var e = assertThrows(IllegalArgumentException.class, () -> BlockMask.of(0, 64, new boolean[][] {{true}}));
        assertTrue(e.getMessage().contains("rowBlock"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> BlockMask.of(64, 64, new boolean[][] {{true, false}, {true}}));
        assertTrue(e.getMessage().contains("allowed[1]"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> BlockMask.window(64, 64, 10, 10, -3, 0));
        assertTrue(e.getMessage().contains("left") && e.getMessage().contains("-3"), e.getMessage());
    }
}
