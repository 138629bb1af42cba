package io.vramkit.attention.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The heap-array loads and stores of {@link TileOps} (used by flash attention when its tensors are {@code float[]}),
 * scalar and Vector API, against plain index arithmetic: every row count from 1 to two vectors plus a tail, row
 * offsets with gaps, and the zero padding of the transposed tile.
 */
class TileOpsArrayTest {

    private static final TileOps[] IMPLS = {new ScalarTileOps(), new PanamaTileOps()};
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;

    @Test
    void loadTransposedGathersRowsAndZeroesThePadding() {
        Random rnd = new Random(3);
        int stride = 12 * 32;
        float[] src = new float[70 * stride];
        for (int i = 0; i < src.length; i++) {
            src[i] = (float) rnd.nextGaussian();
        }
        try (Arena arena = Arena.ofConfined()) {
            for (TileOps ops : IMPLS) {
                for (int rows = 1; rows <= 37; rows++) {
                    for (int n : new int[] {1, 32, 33}) {
                        int ld = TileOps.pad(64);
                        int width = TileOps.pad(rows);
                        int dst = 5;
                        MemorySegment w = arena.allocate((dst + (long) n * ld + 7) * 4L, 64);
                        w.fill((byte) 0x7f);
                        int[] offsets = new int[width];
                        for (int j = 0; j < width; j++) {
                            offsets[j] = j < rows ? j * stride : 0;
                        }
                        int off = 3 * 32 + 7;
                        ops.loadTransposed(src, off, offsets, rows, n, w, dst, ld);
                        for (int c = 0; c < n; c++) {
                            for (int j = 0; j < width; j++) {
                                float want = j < rows ? src[off + j * stride + c] : 0f;
                                assertEquals(want, w.getAtIndex(F, dst + (long) c * ld + j),
                                        ops.getClass().getSimpleName() + " rows=" + rows + " n=" + n + " c=" + c
                                                + " j=" + j);
                            }
                        }
                        // nothing before the tile is touched
                        for (int i = 0; i < dst; i++) {
                            assertEquals(Float.intBitsToFloat(0x7f7f7f7f), w.getAtIndex(F, i));
                        }
                    }
                }
            }
        }
    }

    @Test
    void loadAndStoreArrayScaleEveryElement() {
        Random rnd = new Random(4);
        try (Arena arena = Arena.ofConfined()) {
            for (TileOps ops : IMPLS) {
                for (int n : new int[] {1, 15, 16, 17, 32, 100}) {
                    float[] src = new float[n + 9];
                    for (int i = 0; i < src.length; i++) {
                        src[i] = (float) rnd.nextGaussian();
                    }
                    MemorySegment w = arena.allocate((n + 10) * 4L, 64);
                    ops.loadArray(src, 9, 0.37f, w, 3, n);
                    for (int c = 0; c < n; c++) {
                        assertEquals(src[9 + c] * 0.37f, w.getAtIndex(F, 3 + c), "load n=" + n + " c=" + c);
                    }
                    float[] dst = new float[n + 4];
                    dst[0] = 42f;
                    dst[n + 3] = 43f;
                    ops.storeArray(w, 3, 2.5f, dst, 1, n);
                    for (int c = 0; c < n; c++) {
                        assertEquals(w.getAtIndex(F, 3 + c) * 2.5f, dst[1 + c], "store n=" + n + " c=" + c);
                    }
                    assertEquals(42f, dst[0]);
                    assertEquals(43f, dst[n + 3]);
                }
            }
        }
    }
}
