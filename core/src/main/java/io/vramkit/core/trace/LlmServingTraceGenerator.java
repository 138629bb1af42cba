package io.vramkit.core.trace;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Generates an allocation trace shaped like LLM serving with continuous batching, seeded and deterministic:
 *
 * <ul>
 *   <li><b>weights</b>, loaded once at the start and freed at shutdown: token embedding and LM head, and per layer the
 *       attention projections, the MLP matrices and two small norm vectors (fp16);</li>
 *   <li><b>KV buffers</b> that grow with each request's tokens. By default a request holds KV chunks of
 *       {@code kvGrowthTokens} tokens each, as paged serving engines allocate them, and takes one more chunk whenever
 *       it outgrows what it has. With {@code reallocateKv} it holds one contiguous buffer instead, and outgrowing it
 *       allocates a larger one (by {@code kvGrowthTokens}) and frees the old one after the copy, as a naive
 *       {@code torch.cat} cache does; that pattern fragments any caching allocator badly;</li>
 *   <li><b>activation temporaries</b> for every step: prefill temporaries scale with the prompt length, decode
 *       temporaries with the batch size and context, all freed at the end of the step;</li>
 *   <li><b>varied lengths</b>: prompt and output lengths drawn log-uniformly from their ranges.</li>
 * </ul>
 *
 * Addresses in the trace are fake and unique (a counter); the stream is 0. Immutable and thread-safe.
 *
 * @param seed            the random seed
 * @param requests        how many requests are served
 * @param maxBatch        the most requests decoding at once
 * @param layers          transformer layers
 * @param hidden          model width
 * @param kvHidden        width of K (and of V) per layer: {@code hidden} for multi-head, smaller for grouped-query
 * @param ffn             MLP width
 * @param vocab           vocabulary size
 * @param minPrompt       shortest prompt, tokens
 * @param maxPrompt       longest prompt, tokens
 * @param minOutput       shortest output, tokens
 * @param maxOutput       longest output, tokens
 * @param kvGrowthTokens  tokens a KV chunk holds, and what a reallocated KV buffer grows by
 * @param reallocateKv    one contiguous, reallocated KV buffer per request instead of chunks
 */
public record LlmServingTraceGenerator(long seed, int requests, int maxBatch, int layers, int hidden, int kvHidden,
                                       int ffn, int vocab, int minPrompt, int maxPrompt, int minOutput, int maxOutput,
                                       int kvGrowthTokens, boolean reallocateKv) {

    /**
     * Checks the parameters.
     *
     * @throws IllegalArgumentException naming the first argument that is not positive or a range that is inverted
     */
    public LlmServingTraceGenerator {
        positive("requests", requests);
        positive("maxBatch", maxBatch);
        positive("layers", layers);
        positive("hidden", hidden);
        positive("kvHidden", kvHidden);
        positive("ffn", ffn);
        positive("vocab", vocab);
        positive("minPrompt", minPrompt);
        positive("minOutput", minOutput);
        positive("kvGrowthTokens", kvGrowthTokens);
        if (maxPrompt < minPrompt) {
            throw new IllegalArgumentException("maxPrompt (" + maxPrompt + ") must be at least minPrompt ("
                    + minPrompt + ")");
        }
        if (maxOutput < minOutput) {
            throw new IllegalArgumentException("maxOutput (" + maxOutput + ") must be at least minOutput ("
                    + minOutput + ")");
        }
    }

    private static void positive(String name, int v) {
        if (v <= 0) {
            throw new IllegalArgumentException(name + " must be positive, got " + v);
        }
    }

    /**
     * A 1.3B-parameter-class model (24 layers, width 2048, grouped-query KV of width 512, MLP 5504, vocabulary 32000,
     * about 2.3 GiB of fp16 weights) serving 200 requests, 16 at a time, prompts of 16 to 2048 tokens, outputs of 16
     * to 1024.
     */
    public static LlmServingTraceGenerator defaults(long seed) {
        return new LlmServingTraceGenerator(seed, 200, 16, 24, 2048, 512, 5504, 32000, 16, 2048, 16, 1024, 256, false);
    }

    /** The same workload with another number of requests. */
    public LlmServingTraceGenerator withRequests(int n) {
        return new LlmServingTraceGenerator(seed, n, maxBatch, layers, hidden, kvHidden, ffn, vocab, minPrompt,
                maxPrompt, minOutput, maxOutput, kvGrowthTokens, reallocateKv);
    }

    /** The same workload with contiguous, reallocated KV buffers ({@code true}) or KV chunks ({@code false}). */
    public LlmServingTraceGenerator withReallocatedKv(boolean realloc) {
        return new LlmServingTraceGenerator(seed, requests, maxBatch, layers, hidden, kvHidden, ffn, vocab,
                minPrompt, maxPrompt, minOutput, maxOutput, kvGrowthTokens, realloc);
    }

    /** Bytes of KV cache per token, all layers, K and V, fp16. */
    public long kvBytesPerToken() {
        return 2L * 2 * layers * kvHidden;
    }

    private final class Emitter {
        final List<TraceEvent> events = new ArrayList<>();
        long nextAddress = 0x1000_0000L;
        long time;

        long alloc(long bytes) {
            long a = nextAddress;
            nextAddress += (bytes + 255) & ~255L;
            events.add(new TraceEvent(1, time, TraceEvent.Action.ALLOCATE, a, bytes, 0));
            return a;
        }

        void free(long address, long bytes) {
            events.add(new TraceEvent(1, time, TraceEvent.Action.FREE, address, bytes, 0));
        }
    }

    private static final class Request {
        final int prompt;
        final int output;
        int generated;
        long kvAddress;
        long kvBytes;
        long kvTokens;
        final List<Long> chunks = new ArrayList<>();

        Request(int prompt, int output) {
            this.prompt = prompt;
            this.output = output;
        }
    }

    /** Generates the trace; the same parameters always give the same trace. */
    public Trace generate() {
        SplittableRandom rnd = new SplittableRandom(seed);
        Emitter em = new Emitter();
        List<long[]> weights = new ArrayList<>();
        long fp16 = 2;
        weights.add(new long[] {em.alloc((long) vocab * hidden * fp16), (long) vocab * hidden * fp16});
        for (int l = 0; l < layers; l++) {
            long[] sizes = {
                (long) hidden * fp16, // attention norm
                (long) hidden * (hidden + 2L * kvHidden) * fp16, // fused QKV projection
                (long) hidden * hidden * fp16, // output projection
                (long) hidden * fp16, // MLP norm
                (long) hidden * ffn * fp16, // gate
                (long) hidden * ffn * fp16, // up
                (long) ffn * hidden * fp16, // down
            };
            for (long s : sizes) {
                weights.add(new long[] {em.alloc(s), s});
            }
        }
        weights.add(new long[] {em.alloc((long) vocab * hidden * fp16), (long) vocab * hidden * fp16});

        Deque<Request> waiting = new ArrayDeque<>();
        for (int i = 0; i < requests; i++) {
            waiting.add(new Request(logUniform(rnd, minPrompt, maxPrompt), logUniform(rnd, minOutput, maxOutput)));
        }
        List<Request> running = new ArrayList<>();
        long kvPerToken = kvBytesPerToken();
        long chunkBytes = kvPerToken * kvGrowthTokens;
        while (!waiting.isEmpty() || !running.isEmpty()) {
            em.time += 1_000_000;
            // Admit one request per step while there is room, and prefill it (continuous batching).
            if (!waiting.isEmpty() && running.size() < maxBatch) {
                Request r = waiting.poll();
                r.kvTokens = roundUp(r.prompt + 1, kvGrowthTokens);
                if (reallocateKv) {
                    r.kvBytes = r.kvTokens * kvPerToken;
                    r.kvAddress = em.alloc(r.kvBytes);
                } else {
                    for (long c = 0; c < r.kvTokens / kvGrowthTokens; c++) {
                        r.chunks.add(em.alloc(chunkBytes));
                    }
                }
                step(em, r.prompt, r.prompt);
                running.add(r);
            }
            if (running.isEmpty()) {
                continue;
            }
            int maxContext = 0;
            for (Request r : running) {
                long context = r.prompt + r.generated + 1;
                if (context > r.kvTokens) {
                    long tokens = r.kvTokens + kvGrowthTokens;
                    if (reallocateKv) {
                        long grown = em.alloc(tokens * kvPerToken);
                        em.free(r.kvAddress, r.kvBytes);
                        r.kvAddress = grown;
                        r.kvBytes = tokens * kvPerToken;
                    } else {
                        r.chunks.add(em.alloc(chunkBytes));
                    }
                    r.kvTokens = tokens;
                }
                maxContext = (int) Math.max(maxContext, context);
            }
            step(em, running.size(), maxContext);
            for (int i = running.size() - 1; i >= 0; i--) {
                Request r = running.get(i);
                if (++r.generated >= r.output) {
                    if (reallocateKv) {
                        em.free(r.kvAddress, r.kvBytes);
                    } else {
                        for (long c : r.chunks) {
                            em.free(c, chunkBytes);
                        }
                    }
                    running.remove(i);
                }
            }
        }
        for (int i = weights.size() - 1; i >= 0; i--) {
            em.free(weights.get(i)[0], weights.get(i)[1]);
        }
        return Trace.of(em.events);
    }

    /** One forward pass over {@code tokens} rows attending to {@code context} positions: temporaries, then frees. */
    private void step(Emitter em, int tokens, int context) {
        int heads = Math.max(1, hidden / 128);
        long[] sizes = {
            (long) tokens * hidden * 2, // hidden states
            (long) tokens * (hidden + 2L * kvHidden) * 2, // QKV
            (long) tokens * heads * Math.min(context, 256) * 4, // attention score tile (flash-style)
            (long) tokens * hidden * 2, // attention output
            (long) tokens * ffn * 2 * 2, // gate and up activations
            (long) tokens * hidden * 2, // MLP output
            (long) Math.min(tokens, 16) * vocab * 4, // logits (last token per sequence)
        };
        long[] addrs = new long[sizes.length];
        for (int i = 0; i < sizes.length; i++) {
            addrs[i] = em.alloc(sizes[i]);
        }
        for (int i = sizes.length - 1; i >= 0; i--) {
            em.free(addrs[i], sizes[i]);
        }
    }

    private static int logUniform(SplittableRandom rnd, int lo, int hi) {
        if (lo == hi) {
            return lo;
        }
        double v = Math.exp(Math.log(lo) + rnd.nextDouble() * (Math.log(hi + 1.0) - Math.log(lo)));
        return (int) Math.min(hi, Math.max(lo, Math.floor(v)));
    }

    private static long roundUp(long v, long q) {
        return (v + q - 1) / q * q;
    }
}
