package io.vramkit.attention.internal;

import io.vramkit.core.DType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** Plain-Java {@link TileOps}: the fallback when the Vector API is absent, and the cross-check for it. */
public final class ScalarTileOps implements TileOps {

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;

    /** Creates the scalar kernels (stateless). */
    public ScalarTileOps() {
    }

    @Override
    public void qkT(MemorySegment w, int q, int ldQ, int kt, int ldK, int s, int ldS, int rows, int depth,
                    int cols) {
        for (int i = 0; i < rows; i++) {
            int si = s + i * ldS;
            for (int j = 0; j < cols; j++) {
                w.setAtIndex(F, si + j, 0f);
            }
            for (int c = 0; c < depth; c++) {
                float a = w.getAtIndex(F, q + i * ldQ + c);
                int kr = kt + c * ldK;
                for (int j = 0; j < cols; j++) {
                    w.setAtIndex(F, si + j, Math.fma(a, w.getAtIndex(F, kr + j), w.getAtIndex(F, si + j)));
                }
            }
        }
    }

    @Override
    public void pv(MemorySegment w, int p, int ldP, int v, int ldV, int o, int ldO, int rows, int inner,
                   int width) {
        for (int i = 0; i < rows; i++) {
            int oi = o + i * ldO;
            for (int j = 0; j < inner; j++) {
                float a = w.getAtIndex(F, p + i * ldP + j);
                if (a == 0f) {
                    continue;
                }
                int vr = v + j * ldV;
                for (int c = 0; c < width; c++) {
                    w.setAtIndex(F, oi + c, Math.fma(a, w.getAtIndex(F, vr + c), w.getAtIndex(F, oi + c)));
                }
            }
        }
    }

    @Override
    public float max(MemorySegment w, int x, int n) {
        float m = Float.NEGATIVE_INFINITY;
        for (int j = 0; j < n; j++) {
            m = Math.max(m, w.getAtIndex(F, x + j));
        }
        return m;
    }

    @Override
    public float expSub(MemorySegment w, int x, int n, float sub) {
        float sum = 0f;
        for (int j = 0; j < n; j++) {
            float e = (float) Math.exp(w.getAtIndex(F, x + j) - sub);
            w.setAtIndex(F, x + j, e);
            sum += e;
        }
        return sum;
    }

    @Override
    public void scale(MemorySegment w, int x, int n, float f) {
        for (int j = 0; j < n; j++) {
            w.setAtIndex(F, x + j, w.getAtIndex(F, x + j) * f);
        }
    }

    @Override
    public float dot(MemorySegment w, int x, int y, int n) {
        float sum = 0f;
        for (int c = 0; c < n; c++) {
            sum = Math.fma(w.getAtIndex(F, x + c), w.getAtIndex(F, y + c), sum);
        }
        return sum;
    }

    @Override
    public void axpy(MemorySegment w, float a, int x, int y, int n) {
        for (int c = 0; c < n; c++) {
            w.setAtIndex(F, y + c, Math.fma(a, w.getAtIndex(F, x + c), w.getAtIndex(F, y + c)));
        }
    }

    @Override
    public void loadTransposed(float[] src, int off, int[] rowOffsets, int rows, int n, MemorySegment w, int dst,
                               int ld) {
        int width = TileOps.pad(rows);
        for (int c = 0; c < n; c++) {
            long base = dst + (long) c * ld;
            for (int j = 0; j < rows; j++) {
                w.setAtIndex(ValueLayout.JAVA_FLOAT, base + j, src[off + rowOffsets[j] + c]);
            }
            for (int j = rows; j < width; j++) {
                w.setAtIndex(ValueLayout.JAVA_FLOAT, base + j, 0f);
            }
        }
    }

    @Override
    public void loadArray(float[] src, int off, float scale, MemorySegment w, int dst, int n) {
        for (int c = 0; c < n; c++) {
            w.setAtIndex(ValueLayout.JAVA_FLOAT, dst + c, src[off + c] * scale);
        }
    }

    @Override
    public void storeArray(MemorySegment w, int src, float factor, float[] dst, int off, int n) {
        for (int c = 0; c < n; c++) {
            dst[off + c] = w.getAtIndex(ValueLayout.JAVA_FLOAT, src + c) * factor;
        }
    }

    @Override
    public void load(MemorySegment src, long byteOffset, DType type, float scale, float[] fp8Table, MemorySegment w,
                     int dst, int n) {
        long base = byteOffset / type.byteSize();
        if (byteOffset % type.byteSize() != 0) {
            throw new IllegalArgumentException("byteOffset " + byteOffset + " is not a multiple of " + type);
        }
        for (int c = 0; c < n; c++) {
            w.setAtIndex(F, dst + c, Elements.get(src, type, base + c, fp8Table) * scale);
        }
    }
}
