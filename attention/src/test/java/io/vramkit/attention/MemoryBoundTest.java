package io.vramkit.attention;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vramkit.core.cpu.ParallelExecutor;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Working memory of causal flash attention is bounded by the tiles, measured through the scratch resource. */
class MemoryBoundTest {

    private static long run(Fixtures.PeakResource scratch, int n, long seed) {
        Random rnd = new Random(seed);
        int d = 32;
        HeadTensor q = Fixtures.tensor(rnd, n, 1, d, 1f);
        HeadTensor k = Fixtures.tensor(rnd, n, 1, d, 1f);
        HeadTensor v = Fixtures.tensor(rnd, n, 1, d, 1f);
        HeadTensor out = HeadTensor.of(new float[n * d], n, 1, d);
        FlashAttention flash = new FlashAttention(scratch, 64, 64);
        scratch.resetPeak();
        AttentionParams p = AttentionParams.builder().causal(true).build();
        flash.forward(q, k, v, new int[] {0, n}, new int[] {0, n}, p, out);
        assertEquals(0, scratch.used());
        // Spot-check the last rows (they see every key) against the float64 reference on a small slice.
        int tail = 2;
        HeadTensor qt = HeadTensor.of(new float[tail * d], tail, 1, d);
        for (int t = 0; t < tail; t++) {
            for (int c = 0; c < d; c++) {
                qt.set(t, 0, c, q.get(n - tail + t, 0, c));
            }
        }
        var ref = ReferenceAttention.forward(qt, k, v, new int[] {0, tail}, new int[] {0, n}, p);
        for (int t = 0; t < tail; t++) {
            for (int c = 0; c < d; c++) {
                assertEquals(ref.out()[t * d + c], out.get(n - tail + t, 0, c), 1e-4);
            }
        }
        return scratch.peak();
    }

    @Test
    void causal32kTokensUseTileBoundedScratchIndependentOfLength() {
        Fixtures.PeakResource scratch = new Fixtures.PeakResource();
        long peak8k = run(scratch, 8192, 1);
        long peak32k = run(scratch, 32768, 2);
        long perWorker = FlashAttention.scratchBytes(32, 64, 64);
        long bound = (ParallelExecutor.THREADS + 1L) * perWorker;
        long naiveScores = 32768L * 32768L * 4L;
        System.out.printf("flash scratch peak: 8k=%d bytes, 32k=%d bytes (per worker %d, bound %d); "
                + "a materialized 32k score matrix is %d MiB%n", peak8k, peak32k, perWorker, bound,
                naiveScores >> 20);
        assertTrue(peak8k > 0 && peak32k > 0, "scratch must come from the resource");
        assertTrue(peak8k <= bound, "8k peak " + peak8k + " > bound " + bound);
        assertTrue(peak32k <= bound, "32k peak " + peak32k + " > bound " + bound);
        assertTrue(peak32k < 64 * 1024 * 1024 / 100, "32k peak is not tile-sized: " + peak32k);
    }
}
