package io.vramkit.examples.minilm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Both {@link EncoderOps} implementations (the one in use, vectorized when the Vector API is readable, and the scalar
 * fallback) against float64 definitions, on random inputs of several lengths, including lengths that leave a tail
 * shorter than a vector and ranges that start off a vector boundary.
 */
class EncoderOpsTest {

    private static final List<EncoderOps> IMPLEMENTATIONS = List.of(EncoderOps.INSTANCE, new ScalarEncoderOps());

    @Test
    void geluMatchesTheFloat64ErfGeluOnBothPaths() {
        Random rnd = new Random(21);
        for (EncoderOps ops : IMPLEMENTATIONS) {
            for (int n : new int[] {1, 15, 16, 17, 100, 4099}) {
                float[] x = new float[n + 5];
                for (int i = 0; i < x.length; i++) {
                    x[i] = (float) (rnd.nextGaussian() * (i % 3 == 0 ? 6 : 1.5));
                }
                if (n > 10) {
                    x[3] = 8f;
                    x[4] = -8f;
                    x[5] = Float.NEGATIVE_INFINITY;
                    x[6] = Float.POSITIVE_INFINITY;
                    x[7] = -0f;
                    x[8] = 7.99999f;
                    x[9] = -7.99999f;
                }
                float[] y = x.clone();
                ops.gelu(y, 2, 2 + n);
                for (int i = 0; i < x.length; i++) {
                    if (i < 2 || i >= 2 + n) {
                        assertEquals(Float.floatToIntBits(x[i]), Float.floatToIntBits(y[i]), "outside range, i=" + i);
                        continue;
                    }
                    double ref = x[i] >= 8 ? x[i] : x[i] <= -8 ? 0 : MiniLmEncoder.geluExact(x[i]);
                    assertEquals(ref, y[i], 3e-7 + 1e-7 * Math.abs(ref),
                            ops.getClass().getSimpleName() + " gelu(" + x[i] + ")");
                }
            }
            float[] nan = new float[40];
            java.util.Arrays.fill(nan, Float.NaN);
            ops.gelu(nan, 0, nan.length);
            for (float v : nan) {
                assertTrue(Float.isNaN(v), ops.getClass().getSimpleName());
            }
        }
    }

    @Test
    void addLayerNormMatchesFloat64OnBothPaths() {
        Random rnd = new Random(5);
        for (EncoderOps ops : IMPLEMENTATIONS) {
            for (int n : new int[] {1, 7, 16, 33, 384, 1536}) {
                for (boolean withBranch : new boolean[] {false, true}) {
                    int off = 3;
                    float[] x = new float[n + off + 2];
                    float[] y = new float[n + off + 2];
                    float[] g = new float[n];
                    float[] b = new float[n];
                    for (int i = 0; i < x.length; i++) {
                        // an outlier channel, as BERT's residual stream has
                        x[i] = (float) (rnd.nextGaussian() * 3 + (i == off + n / 2 ? 40 : 1));
                        y[i] = (float) rnd.nextGaussian();
                    }
                    for (int i = 0; i < n; i++) {
                        g[i] = (float) rnd.nextGaussian();
                        b[i] = (float) rnd.nextGaussian();
                    }
                    float[] out = x.clone();
                    ops.addLayerNorm(withBranch ? y : null, out, off, n, g, b, 1e-12f);
                    double[] in = new double[n];
                    double mean = 0;
                    for (int i = 0; i < n; i++) {
                        in[i] = withBranch ? (double) (y[off + i] + x[off + i]) : x[off + i];
                        mean += in[i];
                    }
                    mean /= n;
                    double var = 0;
                    for (int i = 0; i < n; i++) {
                        var += (in[i] - mean) * (in[i] - mean);
                    }
                    var /= n;
                    for (int i = 0; i < n; i++) {
                        double ref = (in[i] - mean) / Math.sqrt(var + 1e-12) * g[i] + b[i];
                        assertEquals(ref, out[off + i], 2e-6 * (1 + Math.abs(ref)),
                                ops.getClass().getSimpleName() + " n = " + n + ", i = " + i);
                    }
                    for (int i : new int[] {0, 1, 2, off + n, off + n + 1}) {
                        assertEquals(x[i], out[i], "untouched index " + i);
                    }
                }
            }
        }
    }

    @Test
    void addBiasAddsToTheGivenRowsOnly() {
        Random rnd = new Random(8);
        for (EncoderOps ops : IMPLEMENTATIONS) {
            for (int cols : new int[] {1, 16, 37, 384}) {
                int rows = 5;
                float[] y = new float[rows * cols];
                float[] bias = new float[cols];
                for (int i = 0; i < y.length; i++) {
                    y[i] = (float) rnd.nextGaussian();
                }
                for (int i = 0; i < cols; i++) {
                    bias[i] = (float) rnd.nextGaussian();
                }
                float[] out = y.clone();
                ops.addBias(out, 1, 4, cols, bias);
                for (int r = 0; r < rows; r++) {
                    for (int c = 0; c < cols; c++) {
                        float want = r >= 1 && r < 4 ? y[r * cols + c] + bias[c] : y[r * cols + c];
                        assertEquals(want, out[r * cols + c], ops.getClass().getSimpleName() + " r=" + r + " c=" + c);
                    }
                }
            }
        }
    }

    @Test
    void scaleHadamardMatchesTheFloat64BlockTransformOnBothPaths() {
        Random rnd = new Random(12);
        for (EncoderOps ops : IMPLEMENTATIONS) {
            for (int block : new int[] {2, 8, 16, 64, 128, 512}) {
                for (int blocks : new int[] {1, 3}) {
                    for (boolean scaled : new boolean[] {false, true}) {
                        int n = block * blocks;
                        int off = 5;
                        float[] x = new float[off + n + 3];
                        float[] inv = scaled ? new float[n] : null;
                        for (int i = 0; i < x.length; i++) {
                            x[i] = (float) rnd.nextGaussian();
                        }
                        for (int i = 0; scaled && i < n; i++) {
                            inv[i] = (float) (0.25 + rnd.nextDouble());
                        }
                        float[] out = new float[x.length];
                        java.util.Arrays.fill(out, 7f);
                        float[] x0 = x.clone();
                        ops.scaleHadamard(x, inv, out, off, n, block);
                        String what = ops.getClass().getSimpleName() + " block " + block + " × " + blocks
                                + (scaled ? " scaled" : "");
                        assertArrayEquals(x0, x, what + ": input untouched");
                        for (int i = 0; i < off; i++) {
                            assertEquals(7f, out[i], what + ": before the range");
                        }
                        for (int i = off + n; i < out.length; i++) {
                            assertEquals(7f, out[i], what + ": after the range");
                        }
                        for (int b = 0; b < blocks; b++) {
                            for (int i = 0; i < block; i++) {
                                double ref = 0;
                                for (int j = 0; j < block; j++) {
                                    int e = b * block + j;
                                    double v = (double) x[off + e] * (scaled ? inv[e] : 1);
                                    ref += Integer.bitCount(i & j) % 2 == 0 ? v : -v;
                                }
                                ref /= Math.sqrt(block);
                                assertEquals(ref, out[off + b * block + i], 1e-5 * Math.sqrt(block),
                                        what + ", element " + (b * block + i));
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void theVectorizedKernelsAreInUseWhenTheVectorApiIsReadable() {
        boolean vector = io.vramkit.core.cpu.VectorSupport.ENABLED;
        assertEquals(vector, EncoderOps.INSTANCE.getClass().getSimpleName().equals("PanamaEncoderOps"),
                EncoderOps.INSTANCE.getClass().getName());
    }
}
