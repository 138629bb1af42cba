package io.vramkit.examples.minilm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vramkit.quant.QuantFormat;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The encoder's building blocks against float64 references, and its input checks. */
class MiniLmEncoderTest {

    private static MiniLmWeights weights;
    private static MiniLmEncoder encoder;

    @BeforeAll
    static void load() {
        weights = MiniLmModel.weights();
        encoder = new MiniLmEncoder(weights, lin -> QuantLinear.of(lin, QuantFormat.FP32), Kernels.attention());
    }

    @AfterAll
    static void close() {
        encoder.close();
    }

    @Test
    void erfIsAccurate() {
        // float64 reference: the Maclaurin series, which converges for every x used here.
        for (double x = -4; x <= 4; x += 0.01) {
            double sum = 0;
            double term = x;
            for (int n = 0; n < 200; n++) {
                sum += term / (2 * n + 1);
                term *= -x * x / (n + 1);
            }
            double ref = 2 / Math.sqrt(Math.PI) * sum;
            assertEquals(ref, MiniLmEncoder.erf(x), 2e-7, "erf(" + x + ")");
        }
    }

    @Test
    void geluMatchesTheFloat64ErfGelu() {
        Random rnd = new Random(13);
        float[] x = new float[20000];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (rnd.nextGaussian() * (i % 2 == 0 ? 1 : 5));
        }
        x[0] = 8f;
        x[1] = -8f;
        x[2] = 7.9999f;
        x[3] = 100f;
        x[4] = -100f;
        x[5] = 0f;
        float[] y = x.clone();
        MiniLmEncoder.gelu(y);
        for (int i = 0; i < x.length; i++) {
            double ref = 0.5 * x[i] * (1 + MiniLmEncoder.erf(x[i] / Math.sqrt(2)));
            assertEquals(ref, y[i], 3e-7 + 1e-7 * Math.abs(ref), "gelu(" + x[i] + ")");
        }
        float[] nan = {Float.NaN};
        MiniLmEncoder.gelu(nan);
        assertTrue(Float.isNaN(nan[0]));
    }

    @Test
    void layerNormMatchesFloat64() {
        Random rnd = new Random(9);
        for (int n : new int[] {1, 7, 384}) {
            float[] x = new float[n + 3];
            float[] g = new float[n];
            float[] b = new float[n];
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) (rnd.nextGaussian() * 3 + 1);
            }
            for (int i = 0; i < n; i++) {
                g[i] = (float) rnd.nextGaussian();
                b[i] = (float) rnd.nextGaussian();
            }
            float[] y = x.clone();
            MiniLmEncoder.layerNorm(y, 3, n, g, b, 1e-12f);
            double mean = 0;
            for (int i = 0; i < n; i++) {
                mean += x[3 + i];
            }
            mean /= n;
            double var = 0;
            for (int i = 0; i < n; i++) {
                var += (x[3 + i] - mean) * (x[3 + i] - mean);
            }
            var /= n;
            for (int i = 0; i < n; i++) {
                double ref = (x[3 + i] - mean) / Math.sqrt(var + 1e-12) * g[i] + b[i];
                assertEquals(ref, y[3 + i], 1e-5 * (1 + Math.abs(ref)), "n = " + n + ", i = " + i);
            }
            assertArrayEquals(new float[] {x[0], x[1], x[2]}, new float[] {y[0], y[1], y[2]});
        }
    }

    @Test
    void poolingIsMeanThenUnitNorm() {
        float[] x = {1, 2, 3, 4, 0, 0, 5, 6};
        float[] p = MiniLmEncoder.pool(x, new int[] {0, 2, 4}, 2);
        double m0 = 2;
        double m1 = 3;
        double n0 = Math.hypot(m0, m1);
        assertEquals(m0 / n0, p[0], 1e-7);
        assertEquals(m1 / n0, p[1], 1e-7);
        assertEquals(2.5 / Math.hypot(2.5, 3), p[2], 1e-7);
    }

    @Test
    void packedBatchEqualsOneSequenceAtATime() {
        WordPieceTokenizer tok = MiniLmModel.tokenizer();
        List<int[]> batch = new ArrayList<>();
        for (String s : List.of("Hi", "The quick brown fox jumps over the lazy dog.", "猫はソファの上で寝ています。")) {
            batch.add(tok.encode(s).ids());
        }
        MiniLmEncoder.Output all = encoder.encode(batch, null);
        int h = weights.hidden();
        for (int s = 0; s < batch.size(); s++) {
            MiniLmEncoder.Output one = encoder.encode(List.of(batch.get(s)), null);
            assertTrue(Metrics.cosine(all.pooled(), padTo(one.pooled(), s * h, all.pooled().length), s * h, h)
                    > 0.999999, "sequence " + s + " is independent of its batch neighbours");
        }
    }

    private static float[] padTo(float[] v, int off, int len) {
        float[] out = new float[len];
        System.arraycopy(v, 0, out, off, v.length);
        return out;
    }

    @Test
    void badBatchesAreNamedAndLeaveTheEncoderUsable() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> encoder.encode(List.of(), null));
        assertTrue(e.getMessage().contains("batch"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> encoder.encode(List.of(new int[] {101, 30522}), null));
        assertTrue(e.getMessage().contains("batch[0][1] = 30522"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> encoder.encode(List.of(new int[0]), null));
        assertTrue(e.getMessage().contains("batch[0] has 0 tokens"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> encoder.encode(List.of(new int[513]), null));
        assertTrue(e.getMessage().contains("513"), e.getMessage());
        MiniLmEncoder.Output ok = encoder.encode(List.of(new int[] {101, 7592, 102}), null);
        assertEquals(1.0, Metrics.cosine(ok.pooled(), ok.pooled(), 0, weights.hidden()), 1e-9);
    }

    @Test
    void aFailingLinearFactoryClosesWhatItMade() {
        List<QuantLinear> made = new ArrayList<>();
        int[] calls = {0};
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> new MiniLmEncoder(weights, lin -> {
            if (++calls[0] == 5) {
                throw new IllegalStateException("factory failed at " + lin.name());
            }
            QuantLinear q = QuantLinear.of(lin, QuantFormat.INT8);
            made.add(q);
            return q;
        }, Kernels.attention()));
        assertTrue(e.getMessage().contains("layer.0.intermediate.dense"), e.getMessage());
        assertEquals(4, made.size());
        for (QuantLinear q : made) {
            assertThrows(IllegalStateException.class, () -> q.apply(new float[q.in()], 1, new float[q.out()]),
                    "closed by the failed constructor");
        }
    }
}
