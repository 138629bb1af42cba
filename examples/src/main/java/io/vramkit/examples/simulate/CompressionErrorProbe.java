package io.vramkit.examples.simulate;

import io.vramkit.attention.AttentionParams;
import io.vramkit.attention.HeadTensor;
import io.vramkit.attention.KvCacheView;
import io.vramkit.attention.PagedDecodeAttention;
import io.vramkit.core.DType;
import io.vramkit.core.kv.KvCacheConfig;
import io.vramkit.core.kv.KvSequenceView;
import io.vramkit.core.kv.PagedKvCache;
import io.vramkit.core.memory.HostMemoryResource;

import java.util.SplittableRandom;

/**
 * Measures what compression under pressure costs in attention accuracy: fills a real (host-memory) paged KV cache
 * with random K/V, compresses the cold blocks to INT8, and runs the attention module's paged decode over both tiers
 * (the FP16 view for hot blocks, the INT8 view of the same bytes for compressed blocks, merged by log-sum-exp),
 * against a float64 reference over the values written.
 */
public final class CompressionErrorProbe {

    /**
     * The measured error.
     *
     * @param compressedFraction     fraction of the tokens that were compressed
     * @param relativeErrorUncompressed relative L2 error of the FP16 cache alone (the floor)
     * @param relativeErrorCompressed relative L2 error with cold blocks in INT8
     */
    public record Result(double compressedFraction, double relativeErrorUncompressed,
                         double relativeErrorCompressed) {
    }

    private CompressionErrorProbe() {
    }

    /**
     * Runs the probe: {@code sequences} sequences of {@code tokens} tokens, 2 KV heads of 64 with 8 query heads.
     *
     * @param seed random seed
     */
    public static Result run(int sequences, int tokens, long seed) {
        int kvHeads = 2;
        int heads = 8;
        int hd = 64;
        int bs = 16;
        int blocksPerSeq = (tokens + bs - 1) / bs;
        KvCacheConfig cfg = KvCacheConfig.builder().numLayers(1).kvHeads(kvHeads).headDim(hd).blockSize(bs)
                .numBlocks(sequences * blocksPerSeq + 2).dtype(DType.FP16).compressedDType(DType.INT8)
                .prefixCaching(false).build();
        SplittableRandom r = new SplittableRandom(seed);
        HostMemoryResource host = new HostMemoryResource();
        try (PagedKvCache cache = new PagedKvCache(cfg, host)) {
            float[][][] k = new float[sequences][tokens][];
            float[][][] v = new float[sequences][tokens][];
            int[] ids = new int[sequences];
            for (int s = 0; s < sequences; s++) {
                ids[s] = cache.newSequence(s);
                for (int t = 0; t < tokens; t++) {
                    cache.append(ids[s], t);
                    k[s][t] = fp16(gaussian(r, kvHeads * hd));
                    v[s][t] = fp16(gaussian(r, kvHeads * hd));
                    cache.write(ids[s], 0, t, k[s][t], v[s][t]);
                }
            }
            PagedDecodeAttention attn = new PagedDecodeAttention();
            float[][] q = new float[sequences][];
            for (int s = 0; s < sequences; s++) {
                q[s] = gaussian(r, heads * hd);
            }
            double before = error(cache, attn, ids, q, k, v, heads, hd);
            // compress about half of each sequence's blocks (the oldest)
            int target = cache.availableBlocks() + sequences * blocksPerSeq / 4;
            cache.compressColdBlocks(target);
            long compressedTokens = 0;
            for (int id : ids) {
                for (int c : cache.compressedBlockTable(id)) {
                    if (c >= 0) {
                        compressedTokens += bs;
                    }
                }
            }
            double after = error(cache, attn, ids, q, k, v, heads, hd);
            for (int id : ids) {
                cache.free(id);
            }
            return new Result((double) compressedTokens / ((long) sequences * tokens), before, after);
        }
    }

    private static double error(PagedKvCache cache, PagedDecodeAttention attn, int[] ids, float[][] q,
                                float[][][] k, float[][][] v, int heads, int hd) {
        KvCacheConfig cfg = cache.config();
        double num = 0;
        double den = 0;
        for (int s = 0; s < ids.length; s++) {
            KvSequenceView view = cache.view(ids[s], 0);
            int bs = view.blockSize();
            int[] hot = view.blockTable();
            int[] cold = view.compressedTable();
            int nCold = 0;
            while (nCold < cold.length && cold[nCold] >= 0) {
                nCold++;
            }
            int[] hotTable = java.util.Arrays.copyOfRange(hot, nCold, hot.length);
            int[] coldTable = java.util.Arrays.copyOf(cold, nCold);
            int coldTokens = nCold * bs;
            int hotTokens = view.numTokens() - coldTokens;
            AttentionParams p = AttentionParams.builder().returnLse(true).build();
            HeadTensor qt = HeadTensor.of(q[s], 1, heads, hd);
            float[] outHot = new float[heads * hd];
            KvCacheView hotView = KvCacheView.of(view.keyCache(), view.valueCache(), DType.FP16, cfg.numBlocks(), bs,
                    cfg.kvHeads(), hd);
            float[] lseHot = attn.decode(qt, hotView, new int[][] {hotTable}, new int[] {hotTokens}, p,
                    HeadTensor.of(outHot, 1, heads, hd));
            float[] out = outHot;
            if (nCold > 0) {
                float[] outCold = new float[heads * hd];
                KvCacheView coldView = new KvCacheView(view.keyCache(), view.valueCache(), DType.INT8,
                        cfg.numBlocks() * cfg.compressionRatio(), bs, cfg.kvHeads(), hd, view.keyCompressedScales(),
                        view.valueCompressedScales());
                float[] lseCold = attn.decode(qt, coldView, new int[][] {coldTable}, new int[] {coldTokens}, p,
                        HeadTensor.of(outCold, 1, heads, hd));
                out = new float[heads * hd];
                for (int h = 0; h < heads; h++) {
                    // merge two partial softmaxes by their log-sum-exp
                    double m = Math.max(lseHot[h], lseCold[h]);
                    double wh = Math.exp(lseHot[h] - m);
                    double wc = Math.exp(lseCold[h] - m);
                    for (int d = 0; d < hd; d++) {
                        out[h * hd + d] = (float) ((wh * outHot[h * hd + d] + wc * outCold[h * hd + d]) / (wh + wc));
                    }
                }
            }
            double[] ref = reference(q[s], k[s], v[s], heads, cfg.kvHeads(), hd);
            for (int i = 0; i < ref.length; i++) {
                num += (out[i] - ref[i]) * (out[i] - ref[i]);
                den += ref[i] * ref[i];
            }
        }
        return Math.sqrt(num / den);
    }

    /** Decode attention in float64 with GQA: query head h reads KV head h / (heads / kvHeads). */
    static double[] reference(float[] q, float[][] k, float[][] v, int heads, int kvHeads, int hd) {
        double[] out = new double[heads * hd];
        int group = heads / kvHeads;
        double scale = 1 / Math.sqrt(hd);
        for (int h = 0; h < heads; h++) {
            int kh = h / group;
            double[] s = new double[k.length];
            double max = Double.NEGATIVE_INFINITY;
            for (int t = 0; t < k.length; t++) {
                double dot = 0;
                for (int d = 0; d < hd; d++) {
                    dot += (double) q[h * hd + d] * k[t][kh * hd + d];
                }
                s[t] = dot * scale;
                max = Math.max(max, s[t]);
            }
            double sum = 0;
            for (int t = 0; t < k.length; t++) {
                s[t] = Math.exp(s[t] - max);
                sum += s[t];
            }
            for (int t = 0; t < k.length; t++) {
                for (int d = 0; d < hd; d++) {
                    out[h * hd + d] += s[t] / sum * v[t][kh * hd + d];
                }
            }
        }
        return out;
    }

    private static float[] gaussian(SplittableRandom r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) r.nextGaussian();
        }
        return x;
    }

    private static float[] fp16(float[] x) {
        for (int i = 0; i < x.length; i++) {
            x[i] = Float.float16ToFloat(Float.floatToFloat16(x[i]));
        }
        return x;
    }
}
