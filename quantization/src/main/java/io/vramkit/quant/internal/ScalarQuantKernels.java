package io.vramkit.quant.internal;

import io.vramkit.quant.Fp8;
import io.vramkit.quant.QuantFormat;
import io.vramkit.quant.QuantizedTensor;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * Scalar reference implementation of {@link QuantKernels}: plain loops, the fallback when the Vector API is not
 * readable, and the oracle the Panama kernels are cross-checked against. Stateless and thread-safe.
 */
public class ScalarQuantKernels implements QuantKernels {

    /**
     * Scale candidates tried per group: the absmax scale shrunk by {@code k × step}, {@code k < SEARCH_STEPS}; the
     * candidate with the least squared error wins (clipping search, as llama.cpp's {@code make_qx_quants} and AWQ's
     * auto-clip). It cuts heavy-tailed INT4 error by about a tenth.
     */
    public static final int SEARCH_STEPS = 8;
    /** Shrink step of the INT4 scale search. */
    public static final float INT4_SHRINK = 0.025f;
    /** Shrink step of the INT8 scale search. */
    public static final float INT8_SHRINK = 0.01f;

    /** Absmax candidates of the NF4 search (without double quantization). */
    public static final int NF4_SEARCH_STEPS = 4;
    /** Shrink step of the NF4 search. */
    public static final float NF4_SHRINK = 0.03f;

    /** Creates the kernels (stateless). */
    public ScalarQuantKernels() {
    }

    /** Squared error of NF4-quantizing {@code w[base, base + n)} with block absmax {@code a}. */
    protected float nf4SqError(float[] w, int base, int n, float a) {
        float inv = 1f / a;
        float e = 0f;
        for (int i = base; i < base + n; i++) {
            float d = Layouts.NF4[Layouts.nf4Code(w[i] * inv)] * a - w[i];
            e += d * d;
        }
        return e;
    }

    /**
     * Squared error of quantizing {@code w[base, base + n)} with scale {@code s} and zero-point {@code z}:
     * {@code Σ ((clamp(rint(w/s) + z, qmin, qmax) − z)·s − w)²}, with {@code 1/s} computed once.
     */
    protected float groupSqError(float[] w, int base, int n, float s, float z, float qmin, float qmax) {
        float inv = s == 0f ? 0f : 1f / s;
        float e = 0f;
        for (int i = base; i < base + n; i++) {
            float q = Math.min(qmax, Math.max(qmin, rint(w[i] * inv) + z));
            float d = (q - z) * s - w[i];
            e += d * d;
        }
        return e;
    }

    static float rint(float v) {
        return (float) Math.rint(v);
    }

    @Override
    public void nf4Absmax(String name, float[] w, int cols, int blockSize, int r0, int r1, float[] out) {
        int gpr = cols / blockSize;
        for (int r = r0; r < r1; r++) {
            for (int gi = 0; gi < gpr; gi++) {
                out[r * gpr + gi] = nf4Scale(name, w, cols, r * cols + gi * blockSize, blockSize);
            }
        }
    }

    /** The searched NF4 scale of one block. */
    private float nf4Scale(String name, float[] w, int cols, int base, int g) {
        float a = absmax(w, base, g);
        if (!Float.isFinite(a)) {
            throw Checks.nonFinite(name, w, cols, base, base + g);
        }
        float m = a;
        float best = Float.POSITIVE_INFINITY;
        for (int k = 0; k < NF4_SEARCH_STEPS && a > 0f; k++) {
            float cand = a * (1f - NF4_SHRINK * k);
            float e = nf4SqError(w, base, g, cand);
            if (e < best) {
                best = e;
                m = cand;
            }
        }
        return m;
    }

    /** Absmax of {@code w[base, base + n)}; NaN or infinity if any element is not finite. */
    protected float absmax(float[] w, int base, int n) {
        float m = 0f;
        for (int i = 0; i < n; i++) {
            m = Math.max(m, Math.abs(w[base + i]));
        }
        return m;
    }

    @Override
    public void quantizeRows(float[] w, QuantizedTensor t, MemorySegment codes, MemorySegment scales,
                             MemorySegment zeros, int r0, int r1) {
        QuantFormat f = t.format();
        int cols = t.cols();
        int g = f.groupSize() == QuantFormat.PER_CHANNEL ? cols : f.groupSize();
        int gpr = cols / g;
        String name = t.name();
        for (int r = r0; r < r1; r++) {
            for (int gi = 0; gi < gpr; gi++) {
                int base = r * cols + gi * g;
                long gidx = (long) r * gpr + gi;
                switch (f.scheme()) {
                    case FP32 -> {
                        if (!Float.isFinite(absmax(w, base, g))) {
                            throw Checks.nonFinite(name, w, cols, base, base + g);
                        }
                        MemorySegment.copy(w, base, codes, Layouts.F32, 4L * base, g);
                    }
                    case FP16 -> {
                        for (int i = base; i < base + g; i++) {
                            if (!Float.isFinite(w[i])) {
                                throw Checks.nonFinite(name, w, cols, i, i + 1);
                            }
                            short h = Float.floatToFloat16(w[i]);
                            if (Float.isInfinite(Float.float16ToFloat(h))) {
                                throw Checks.valueOverflow(name, i, w[i], "FP16");
                            }
                            codes.setAtIndex(Layouts.I16, i, h);
                        }
                    }
                    case BF16 -> {
                        for (int i = base; i < base + g; i++) {
                            if (!Float.isFinite(w[i])) {
                                throw Checks.nonFinite(name, w, cols, i, i + 1);
                            }
                            short h = Layouts.toBf16(w[i]);
                            if (Float.isInfinite(Layouts.fromBf16(h))) {
                                throw Checks.valueOverflow(name, i, w[i], "BF16");
                            }
                            codes.setAtIndex(Layouts.I16, i, h);
                        }
                    }
                    case INT8 -> {
                        float m = absmax(w, base, g);
                        if (!Float.isFinite(m)) {
                            throw Checks.nonFinite(name, w, cols, base, base + g);
                        }
                        boolean fp16 = f.groupSize() != QuantFormat.PER_CHANNEL;
                        if (fp16 && Float.isInfinite(Checks.roundFp16(m / 127f))) {
                            throw Checks.scaleOverflow(name, r, gi, m / 127f);
                        }
                        float s = 0f;
                        float best = Float.POSITIVE_INFINITY;
                        for (int k = 0; k < SEARCH_STEPS && m > 0f; k++) {
                            float cand = m * (1f - INT8_SHRINK * k) / 127f;
                            cand = fp16 ? Checks.roundFp16(cand) : cand;
                            float e = groupSqError(w, base, g, cand, 0f, -127f, 127f);
                            if (e < best) {
                                best = e;
                                s = cand;
                            }
                        }
                        if (fp16) {
                            scales.setAtIndex(Layouts.I16, gidx, Float.floatToFloat16(s));
                        } else {
                            scales.setAtIndex(Layouts.F32, r, s);
                        }
                        quantizeInt8(w, base, g, s == 0f ? 0f : 1f / s, codes, base);
                    }
                    case INT4_SYM -> {
                        float m = absmax(w, base, g);
                        if (!Float.isFinite(m)) {
                            throw Checks.nonFinite(name, w, cols, base, base + g);
                        }
                        // llama.cpp Q4_0's trick: the signed scale maps the largest-magnitude weight exactly onto
                        // code -8, so all 16 codes are used (step absmax/8 rather than absmax/7).
                        float s0 = signedMax(w, base, g, m) / -8f;
                        if (Float.isInfinite(Checks.roundFp16(s0))) {
                            throw Checks.scaleOverflow(name, r, gi, m / 8f);
                        }
                        float s = 0f;
                        float best = Float.POSITIVE_INFINITY;
                        for (int k = 0; k < SEARCH_STEPS && m > 0f; k++) {
                            float cand = Checks.roundFp16(s0 * (1f - INT4_SHRINK * k));
                            float e = groupSqError(w, base, g, cand, 0f, -8f, 7f);
                            if (e < best) {
                                best = e;
                                s = cand;
                            }
                        }
                        scales.setAtIndex(Layouts.I16, gidx, Float.floatToFloat16(s));
                        quantizeInt4(w, base, g, s == 0f ? 0f : 1f / s, 8, codes, base / 2);
                    }
                    case INT4_ASYM -> {
                        float lo = 0f;
                        float hi = 0f;
                        for (int i = base; i < base + g; i++) {
                            lo = Math.min(lo, w[i]);
                            hi = Math.max(hi, w[i]);
                        }
                        if (!Float.isFinite(lo) || !Float.isFinite(hi)) {
                            throw Checks.nonFinite(name, w, cols, base, base + g);
                        }
                        if (Float.isInfinite(Checks.roundFp16((hi - lo) / 15f))) {
                            throw Checks.scaleOverflow(name, r, gi, (hi - lo) / 15f);
                        }
                        float s = 0f;
                        int z = 0;
                        float best = Float.POSITIVE_INFINITY;
                        for (int k = 0; k < SEARCH_STEPS && hi > lo; k++) {
                            float shrink = 1f - INT4_SHRINK * k;
                            float cand = Checks.roundFp16((hi - lo) * shrink / 15f);
                            float ci = cand == 0f ? 0f : 1f / cand;
                            int cz = (int) Math.min(15f, Math.max(0f, rint(-lo * shrink * ci)));
                            float e = groupSqError(w, base, g, cand, cz, 0f, 15f);
                            if (e < best) {
                                best = e;
                                s = cand;
                                z = cz;
                            }
                        }
                        float inv = s == 0f ? 0f : 1f / s;
                        scales.setAtIndex(Layouts.I16, gidx, Float.floatToFloat16(s));
                        zeros.set(Layouts.I8, gidx, (byte) z);
                        quantizeInt4(w, base, g, inv, z, codes, base / 2);
                    }
                    case NF4 -> {
                        float m;
                        if (f.doubleQuant()) {
                            m = t.scale(r, gi);
                        } else {
                            m = nf4Scale(name, w, cols, base, g);
                            scales.setAtIndex(Layouts.F32, gidx, m);
                        }
                        quantizeNf4(w, base, g, m == 0f ? 0f : 1f / m, codes, base / 2);
                    }
                    case FP8_E4M3, FP8_E5M2 -> {
                        float m = absmax(w, base, g);
                        if (!Float.isFinite(m)) {
                            throw Checks.nonFinite(name, w, cols, base, base + g);
                        }
                        boolean e4 = f.scheme() == QuantFormat.Scheme.FP8_E4M3;
                        float s = m / (e4 ? Fp8.E4M3_MAX : Fp8.E5M2_MAX);
                        scales.setAtIndex(Layouts.F32, r, s);
                        float inv = s == 0f ? 0f : 1f / s;
                        for (int i = base; i < base + g; i++) {
                            codes.set(Layouts.I8, i, e4 ? Fp8.toE4M3(w[i] * inv) : Fp8.toE5M2(w[i] * inv));
                        }
                    }
                }
            }
        }
    }

    /** The first element of {@code w[base, base + n)} whose magnitude equals {@code absmax}, with its sign. */
    static float signedMax(float[] w, int base, int n, float absmax) {
        for (int i = base; i < base + n; i++) {
            if (Math.abs(w[i]) == absmax) {
                return w[i];
            }
        }
        return absmax;
    }

    /** INT8 codes {@code clamp(rint(w × inv), -127, 127)} of {@code n} weights. */
    protected void quantizeInt8(float[] w, int base, int n, float inv, MemorySegment codes, long codeOff) {
        for (int i = 0; i < n; i++) {
            float q = Math.min(127f, Math.max(-127f, rint(w[base + i] * inv)));
            codes.set(Layouts.I8, codeOff + i, (byte) (int) q);
        }
    }

    /** INT4 codes {@code clamp(rint(w × inv) + z, 0, 15)}, packed low nibble first, of {@code n} (even) weights. */
    protected void quantizeInt4(float[] w, int base, int n, float inv, int z, MemorySegment codes, long byteOff) {
        float zf = z;
        for (int i = 0; i < n; i += 2) {
            int q0 = (int) Math.min(15f, Math.max(0f, rint(w[base + i] * inv) + zf));
            int q1 = (int) Math.min(15f, Math.max(0f, rint(w[base + i + 1] * inv) + zf));
            codes.set(Layouts.I8, byteOff + i / 2, (byte) (q0 | (q1 << 4)));
        }
    }

    /** NF4 codes of {@code n} (even) weights normalized by {@code inv}, packed low nibble first. */
    protected void quantizeNf4(float[] w, int base, int n, float inv, MemorySegment codes, long byteOff) {
        for (int i = 0; i < n; i += 2) {
            int q0 = Layouts.nf4Code(w[base + i] * inv);
            int q1 = Layouts.nf4Code(w[base + i + 1] * inv);
            codes.set(Layouts.I8, byteOff + i / 2, (byte) (q0 | (q1 << 4)));
        }
    }

    @Override
    public void dequantizeRows(QuantizedTensor t, int r0, int r1, float[] out, int outOff) {
        QuantFormat f = t.format();
        int cols = t.cols();
        int g = f.groupSize() == QuantFormat.PER_CHANNEL ? cols : f.groupSize();
        int gpr = cols / g;
        MemorySegment codes = t.codes();
        float[] fp8 = f.scheme() == QuantFormat.Scheme.FP8_E4M3 ? Fp8.decodeTable(true)
                : f.scheme() == QuantFormat.Scheme.FP8_E5M2 ? Fp8.decodeTable(false) : null;
        for (int r = r0; r < r1; r++) {
            for (int gi = 0; gi < gpr; gi++) {
                int c0 = gi * g;
                long base = (long) r * cols + c0;
                int o = outOff + (r - r0) * cols + c0;
                float s = t.scale(r, gi);
                switch (f.scheme()) {
                    case FP32 -> MemorySegment.copy(codes, Layouts.F32, base * 4, out, o, g);
                    case FP16 -> {
                        for (int i = 0; i < g; i++) {
                            out[o + i] = Float.float16ToFloat(codes.getAtIndex(Layouts.I16, base + i));
                        }
                    }
                    case BF16 -> {
                        for (int i = 0; i < g; i++) {
                            out[o + i] = Layouts.fromBf16(codes.getAtIndex(Layouts.I16, base + i));
                        }
                    }
                    case INT8 -> {
                        for (int i = 0; i < g; i++) {
                            out[o + i] = codes.get(Layouts.I8, base + i) * s;
                        }
                    }
                    case FP8_E4M3, FP8_E5M2 -> {
                        for (int i = 0; i < g; i++) {
                            out[o + i] = fp8[codes.get(Layouts.I8, base + i) & 0xFF] * s;
                        }
                    }
                    case INT4_SYM, INT4_ASYM -> {
                        int z = t.zero(r, gi);
                        for (int i = 0; i < g; i += 2) {
                            int b = codes.get(Layouts.I8, (base + i) / 2);
                            out[o + i] = ((b & 0xF) - z) * s;
                            out[o + i + 1] = (((b >> 4) & 0xF) - z) * s;
                        }
                    }
                    case NF4 -> {
                        for (int i = 0; i < g; i += 2) {
                            int b = codes.get(Layouts.I8, (base + i) / 2);
                            out[o + i] = Layouts.NF4[b & 0xF] * s;
                            out[o + i + 1] = Layouts.NF4[(b >> 4) & 0xF] * s;
                        }
                    }
                }
            }
        }
    }

    @Override
    public void gemv(QuantizedTensor t, float[] x, int batch, float[] y, int r0, int r1) {
        int cols = t.cols();
        int rows = t.rows();
        float[] row = new float[cols];
        for (int r = r0; r < r1; r++) {
            dequantizeRows(t, r, r + 1, row, 0);
            for (int b = 0; b < batch; b++) {
                y[b * rows + r] = dot(row, 0, x, b * cols, cols);
            }
        }
    }

    @Override
    public void gemvW4a8(QuantizedTensor t, byte[] xq, float[] xs, int batch, float[] y, int r0, int r1) {
        int cols = t.cols();
        int rows = t.rows();
        int gpr = t.groupsPerRow();
        int g = cols / gpr;
        MemorySegment codes = t.codes();
        int[] u = new int[cols];
        for (int r = r0; r < r1; r++) {
            long rowByte = (long) r * (cols / 2);
            for (int c = 0; c < cols; c += 2) {
                int v = codes.get(Layouts.I8, rowByte + c / 2) & 0xFF;
                u[c] = (v & 15) - 8;
                u[c + 1] = (v >>> 4) - 8;
            }
            for (int b = 0; b < batch; b++) {
                float acc = 0f;
                for (int gi = 0; gi < gpr; gi++) {
                    int d = 0;
                    int xo = b * cols + gi * g;
                    for (int c = 0; c < g; c++) {
                        d += u[gi * g + c] * xq[xo + c];
                    }
                    acc += d * (t.scale(r, gi) * xs[b * gpr + gi]);
                }
                y[b * rows + r] = acc;
            }
        }
    }

    @Override
    public void quantizeActivationGroups(float[] x, int batch, int cols, int g, byte[] xq, float[] xs) {
        int gpr = cols / g;
        for (int i = 0; i < batch * cols; i++) {
            if (!Float.isFinite(x[i])) {
                throw new IllegalArgumentException("activation x[" + i + "] (row " + i / cols + ", col " + i % cols
                        + ") is " + x[i] + "; INT8 activation quantization (W8A8, W4A8) needs finite activations");
            }
        }
        for (int b = 0; b < batch; b++) {
            for (int j = 0; j < gpr; j++) {
                int o = b * cols + j * g;
                float m = 0f;
                for (int c = o; c < o + g; c++) {
                    m = Math.max(m, Math.abs(x[c]));
                }
                float s = m / 127f;
                float inv = s == 0f ? 0f : 1f / s;
                xs[b * gpr + j] = s;
                for (int c = o; c < o + g; c++) {
                    float q = (float) Math.rint(x[c] * inv);
                    xq[c] = (byte) (int) Math.min(127f, Math.max(-127f, q));
                }
            }
        }
    }

    /** Eight activation rows per panel: the inner loop over them is independent, so the JIT may unroll it. */
    @Override
    public int gemmPanelRows() {
        return 8;
    }

    @Override
    public void gemmTile(float[] xp, int batch, int cols, float[] wt, int nr, float[] y, int rows, int r0,
                         int p0, int p1) {
        int pr = gemmPanelRows();
        float[] acc = new float[pr];
        for (int p = p0; p < p1; p++) {
            int b0 = p * pr;
            int nb = Math.min(pr, batch - b0);
            int xo = p * cols * pr;
            for (int j = 0; j < nr; j++) {
                Arrays.fill(acc, 0f);
                int wo = j * cols;
                for (int c = 0; c < cols; c++) {
                    float wv = wt[wo + c];
                    int xi = xo + c * pr;
                    for (int i = 0; i < pr; i++) {
                        acc[i] += xp[xi + i] * wv;
                    }
                }
                for (int i = 0; i < nb; i++) {
                    y[(b0 + i) * rows + r0 + j] = acc[i];
                }
            }
        }
    }

    @Override
    public float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        float s = 0f;
        for (int i = 0; i < n; i++) {
            s += a[aOff + i] * b[bOff + i];
        }
        return s;
    }

    @Override
    public int dotInt8(MemorySegment w, long wOff, byte[] x, int xOff, int n) {
        int s = 0;
        for (int i = 0; i < n; i++) {
            s += w.get(Layouts.I8, wOff + i) * x[xOff + i];
        }
        return s;
    }
}
