package io.vramkit.examples.minilm;

import io.vramkit.core.cpu.ParallelExecutor;

/** Plain FP32 kernels used until the quantization and attention modules land. */
final class InterimKernels {

    private InterimKernels() {
    }

    static EncoderLinear fp32(MiniLmWeights.Linear l) {
        return new EncoderLinear() {
            @Override
            public int in() {
                return l.in();
            }

            @Override
            public int out() {
                return l.out();
            }

            @Override
            public long weightBytes() {
                return 4L * l.in() * l.out();
            }

            @Override
            public void apply(float[] x, int rows, float[] y) {
                int in = l.in();
                int out = l.out();
                float[] wt = l.weight();
                float[] b = l.bias();
                ParallelExecutor.parallelFor(0, rows, 8, (r0, r1) -> {
                    for (int r = r0; r < r1; r++) {
                        for (int o = 0; o < out; o++) {
                            float s = 0;
                            for (int i = 0; i < in; i++) {
                                s += x[r * in + i] * wt[o * in + i];
                            }
                            y[r * out + o] = s + b[o];
                        }
                    }
                });
            }
        };
    }

    static final EncoderAttention ATTENTION = (q, k, v, out, cu, heads, d, scale) -> {
        int h = heads * d;
        for (int s = 0; s + 1 < cu.length; s++) {
            int s0 = cu[s];
            int n = cu[s + 1] - s0;
            ParallelExecutor.parallelFor(0, heads * n, 4, (i0, i1) -> {
                float[] p = new float[n];
                for (int idx = i0; idx < i1; idx++) {
                    int hd = idx / n;
                    int i = idx % n;
                    float max = Float.NEGATIVE_INFINITY;
                    for (int j = 0; j < n; j++) {
                        float dot = 0;
                        for (int c = 0; c < d; c++) {
                            dot += q[(s0 + i) * h + hd * d + c] * k[(s0 + j) * h + hd * d + c];
                        }
                        p[j] = dot * scale;
                        max = Math.max(max, p[j]);
                    }
                    float sum = 0;
                    for (int j = 0; j < n; j++) {
                        p[j] = (float) Math.exp(p[j] - max);
                        sum += p[j];
                    }
                    for (int c = 0; c < d; c++) {
                        float acc = 0;
                        for (int j = 0; j < n; j++) {
                            acc += p[j] * v[(s0 + j) * h + hd * d + c];
                        }
                        out[(s0 + i) * h + hd * d + c] = acc / sum;
                    }
                }
            });
        }
    };
}
