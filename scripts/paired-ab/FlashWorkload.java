import io.vramkit.attention.AttentionParams;
import io.vramkit.attention.FlashAttention;
import io.vramkit.attention.HeadTensor;
import java.util.Random;
import java.util.function.LongUnaryOperator;

/**
 * Causal flash-attention prefill as in AttentionBenchmark (32 query heads, 8 KV heads, d = 128, FP32). Args:
 * sequence length. Rate: attention flops (4·d per visible query-key pair and head), reported in the GB/s column as
 * GFLOP/s.
 */
public class FlashWorkload implements LongUnaryOperator {
    private final HeadTensor q;
    private final HeadTensor k;
    private final HeadTensor v;
    private final HeadTensor out;
    private final int[] cu;
    private final AttentionParams params = AttentionParams.builder().causal(true).build();
    private final FlashAttention flash = new FlashAttention();
    private final long flopsPerCall;

    public FlashWorkload(String[] a) {
        int n = Integer.parseInt(a[0]);
        int heads = 32;
        int kvHeads = 8;
        int dim = 128;
        Random rnd = new Random(1);
        q = HeadTensor.of(random(rnd, n * heads * dim), n, heads, dim);
        k = HeadTensor.of(random(rnd, n * kvHeads * dim), n, kvHeads, dim);
        v = HeadTensor.of(random(rnd, n * kvHeads * dim), n, kvHeads, dim);
        out = HeadTensor.of(new float[n * heads * dim], n, heads, dim);
        cu = new int[] {0, n};
        flopsPerCall = 4L * dim * ((long) n * (n + 1) / 2) * heads;
    }

    private static float[] random(Random rnd, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        return x;
    }

    @Override
    public long applyAsLong(long nanos) {
        long t0 = System.nanoTime();
        long flops = 0;
        while (System.nanoTime() - t0 < nanos) {
            flash.forward(q, k, v, cu, cu, params, out);
            flops += flopsPerCall;
        }
        return flops;
    }
}
