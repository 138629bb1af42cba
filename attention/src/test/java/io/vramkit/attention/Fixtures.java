package io.vramkit.attention;

import io.vramkit.attention.internal.Elements;
import io.vramkit.core.DType;
import io.vramkit.core.memory.HostMemoryResource;
import io.vramkit.core.memory.MemoryKind;
import io.vramkit.core.memory.MemoryResource;
import io.vramkit.core.memory.Stream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;

/** Shared test fixtures: random tensors, error measures, and a scratch resource that records its peak. */
final class Fixtures {

    private Fixtures() {
    }

    static float[] randn(Random rnd, int n, float std) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) (rnd.nextGaussian() * std);
        }
        return a;
    }

    static HeadTensor tensor(Random rnd, int tokens, int heads, int d, float std) {
        return HeadTensor.of(randn(rnd, tokens * heads * d, std), tokens, heads, d);
    }

    /** A tensor of {@code type} in a native segment of the given arena, filled with rounded random values. */
    static HeadTensor tensor(Arena arena, DType type, Random rnd, int tokens, int heads, int d, float std) {
        if (type == DType.FP32 && arena == null) {
            return tensor(rnd, tokens, heads, d, std);
        }
        MemorySegment seg = arena.allocate(Math.max(1L, (long) tokens * heads * d * type.byteSize()), 64);
        HeadTensor t = HeadTensor.of(seg, type, tokens, heads, d);
        for (int i = 0; i < tokens; i++) {
            for (int h = 0; h < heads; h++) {
                for (int c = 0; c < d; c++) {
                    t.set(i, h, c, (float) (rnd.nextGaussian() * std));
                }
            }
        }
        return t;
    }

    static HeadTensor output(Arena arena, DType type, int tokens, int heads, int d) {
        if (type == DType.FP32 && arena == null) {
            return HeadTensor.of(new float[tokens * heads * d], tokens, heads, d);
        }
        return HeadTensor.of(arena.allocate(Math.max(1L, (long) tokens * heads * d * type.byteSize()), 64), type,
                tokens, heads, d);
    }

    static double maxErr(HeadTensor out, double[] ref) {
        double e = 0;
        int d = out.headDim();
        for (int t = 0; t < out.tokens(); t++) {
            for (int h = 0; h < out.heads(); h++) {
                for (int c = 0; c < d; c++) {
                    double x = out.get(t, h, c);
                    double diff = Math.abs(x - ref[(t * out.heads() + h) * d + c]);
                    if (Double.isNaN(diff)) {
                        return Double.POSITIVE_INFINITY;
                    }
                    e = Math.max(e, diff);
                }
            }
        }
        return e;
    }

    static double maxDiff(HeadTensor a, HeadTensor b) {
        double e = 0;
        for (int t = 0; t < a.tokens(); t++) {
            for (int h = 0; h < a.heads(); h++) {
                for (int c = 0; c < a.headDim(); c++) {
                    double diff = Math.abs(a.get(t, h, c) - b.get(t, h, c));
                    if (Double.isNaN(diff)) {
                        return Double.POSITIVE_INFINITY;
                    }
                    e = Math.max(e, diff);
                }
            }
        }
        return e;
    }

    static int[] cu(int... lens) {
        int[] c = new int[lens.length + 1];
        for (int i = 0; i < lens.length; i++) {
            c[i + 1] = c[i] + lens[i];
        }
        return c;
    }

    static float round(float f, DType t) {
        return Elements.round(f, t);
    }

    /** Host scratch that records its peak usage, so tests measure working memory rather than assume it. */
    static final class PeakResource implements MemoryResource {
        final HostMemoryResource inner = new HostMemoryResource();
        private final AtomicLong used = new AtomicLong();
        private final AtomicLong peak = new AtomicLong();

        @Override
        public long allocate(long bytes, long alignment, Stream stream) {
            long a = inner.allocate(bytes, alignment, stream);
            peak.accumulateAndGet(used.addAndGet(bytes), Math::max);
            return a;
        }

        @Override
        public void deallocate(long address, long bytes, long alignment, Stream stream) {
            inner.deallocate(address, bytes, alignment, stream);
            used.addAndGet(-bytes);
        }

        @Override
        public MemoryKind kind() {
            return MemoryKind.HOST;
        }

        long peak() {
            return peak.get();
        }

        long used() {
            return used.get();
        }

        void resetPeak() {
            peak.set(used.get());
        }
    }
}
