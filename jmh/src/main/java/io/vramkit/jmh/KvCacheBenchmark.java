package io.vramkit.jmh;

import io.vramkit.core.kv.KvCacheConfig;
import io.vramkit.core.kv.PagedKvCache;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Block-accounting throughput of {@link PagedKvCache} on one thread: single-token appends (the decode hot path, with
 * a block taken every {@code blockSize} tokens and, with prefix caching, a block hashed and registered), forks
 * (reference counting a 64-block table) and allocate-then-free of 1024-token sequences.
 *
 * <p>Baseline in the same run: {@code baselineIntArrayAppend} stores the same token ids into a growable {@code int[]},
 * the least a token store can do; the ratio of {@code append} to it is the price of paging. Target: at least 10 M
 * token appends per second.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class KvCacheBenchmark {

    private static final int TOKENS = 4096;

    /** Whether full blocks are hashed into the prefix cache. */
    @Param({"false", "true"})
    public boolean prefixCaching;

    private PagedKvCache cache;
    private int parent;
    private int[] prompt;
    private int[] store = new int[64];
    private int salt;

    /** An accounting-only cache of 4096 blocks of 16 tokens (the block logic without memory). */
    @Setup
    public void setup() {
        cache = new PagedKvCache(KvCacheConfig.builder().numLayers(32).kvHeads(8).headDim(128).blockSize(16)
                .numBlocks(4096).prefixCaching(prefixCaching).build());
        prompt = new int[1024];
        Arrays.setAll(prompt, i -> i * 7 + 1);
        parent = cache.newSequence(-1);
        cache.append(parent, prompt, 0, prompt.length);
    }

    /** Appends 4096 tokens one at a time to a fresh sequence, then frees it; score is token appends per second. */
    @Benchmark
    @OperationsPerInvocation(TOKENS)
    public int append() {
        // a new salt per sequence keeps prefix hits out, so every block is allocated and (when on) hashed
        int seq = cache.newSequence(salt++);
        for (int t = 0; t < TOKENS; t++) {
            cache.append(seq, t);
        }
        int n = cache.numTokens(seq);
        cache.free(seq);
        return n;
    }

    /** The same token ids into a growable int array. */
    @Benchmark
    @OperationsPerInvocation(TOKENS)
    public int baselineIntArrayAppend() {
        int[] s = store;
        int n = 0;
        for (int t = 0; t < TOKENS; t++) {
            if (n == s.length) {
                s = Arrays.copyOf(s, s.length * 2);
            }
            s[n++] = t;
        }
        store = new int[64];
        return s[n - 1];
    }

    /** Forks a 1024-token (64-block) sequence and frees the child: two reference-count passes. */
    @Benchmark
    public int forkAndFree() {
        int child = cache.fork(parent);
        cache.free(child);
        return child;
    }

    /** Allocates a 1024-token sequence in one bulk append and frees it; score is sequences per second. */
    @Benchmark
    public int allocateAndFree() {
        int seq = cache.newSequence(salt++);
        cache.append(seq, prompt, 0, prompt.length);
        cache.free(seq);
        return seq;
    }
}
