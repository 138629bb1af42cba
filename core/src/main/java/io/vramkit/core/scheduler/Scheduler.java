package io.vramkit.core.scheduler;

import io.vramkit.core.kv.KvCacheFullException;
import io.vramkit.core.kv.PagedKvCache;
import io.vramkit.core.kv.SwapSpace;
import io.vramkit.core.memory.OutOfMemoryException;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.PriorityQueue;

/**
 * A memory-aware continuous-batching scheduler over a {@link PagedKvCache}.
 *
 * <p>Each {@link #schedule(double)} plans one step under a token budget:
 * <ol>
 *   <li>running requests, highest effective priority first: one decode token each, or the next prefill chunk
 *       (chunked prefill); when the cache has no block for one, cold blocks are compressed if configured, else the
 *       lowest-priority running request is preempted, by swap or recompute, whichever costs less;</li>
 *   <li>swapped requests come back when their blocks fit (before any new admission);</li>
 *   <li>waiting requests are admitted in effective-priority order while the admission policy's reservation fits in
 *       the free blocks not reserved by others.</li>
 * </ol>
 * The effective priority is {@code priority + agingPerSecond × secondsWaited}, so low priorities cannot starve. The
 * KV slots of every planned token are appended before the plan is returned; the caller runs the model, writes K/V,
 * samples, and reports with {@link #complete}.
 *
 * {@snippet :
 * Scheduler s = new Scheduler(SchedulerConfig.defaults(AdmissionPolicy.noEvict()), cache, swapSpace);
 * s.submit(new Request(1, prompt, 256, 0, now, 0));
 * while (s.hasWork()) {
 *     StepPlan plan = s.schedule(now);
 *     // run the model on plan.chunks(), sample one token per chunk that producesToken()
 *     s.complete(plan, sampled, stop, now);
 * }
 * }
 *
 * <p>Not thread-safe: one serving loop owns it and its cache.
 */
public final class Scheduler {

    private final SchedulerConfig config;
    private final PagedKvCache kv;
    private final SwapSpace swap;
    private final OutputLengthPredictor predictor = new OutputLengthPredictor(1000, 0.9);
    // effective priority p + aging × (now − arrival) orders waiting requests as p − aging × arrival does, which does
    // not change with time, so a heap keeps the queue in order without re-sorting every step
    private final PriorityQueue<Request> waiting;
    private final List<Request> running = new ArrayList<>();
    private final List<Request> swapped = new ArrayList<>();
    private final List<PreemptionEvent> preemptionLog = new ArrayList<>();
    private long step;
    private long finished;
    private long failed;
    private long bySwap;
    private long byRecompute;
    private long compressedTotal;
    private StepPlan pending;

    /**
     * @param config settings
     * @param kv     the cache it allocates from (borrowed)
     * @param swap   where swapped requests go, or null to preempt only by recompute
     * @throws IllegalArgumentException if {@code config} or {@code kv} is null
     */
    public Scheduler(SchedulerConfig config, PagedKvCache kv, SwapSpace swap) {
        if (config == null) {
            throw new IllegalArgumentException("config must not be null");
        }
        if (kv == null) {
            throw new IllegalArgumentException("kv must not be null");
        }
        this.config = config;
        this.kv = kv;
        this.swap = swap;
        double aging = config.agingPerSecond();
        this.waiting = new PriorityQueue<>(Comparator.comparingDouble((Request r) -> -(r.priority()
                - aging * r.arrivalSeconds())).thenComparingDouble(Request::arrivalSeconds)
                .thenComparingLong(Request::id));
    }

    /** The settings. */
    public SchedulerConfig config() {
        return config;
    }

    /** The output-length predictor the reserve-predicted policy learns into. */
    public OutputLengthPredictor predictor() {
        return predictor;
    }

    /**
     * Queues a request. A request that can never fit (its blocks exceed the whole cache under the policy) fails at
     * once, with {@link Request#failure()} saying by how much.
     *
     * @throws IllegalArgumentException if the request is null or was already submitted
     */
    public void submit(Request r) {
        if (r == null) {
            throw new IllegalArgumentException("request must not be null");
        }
        if (r.submitted) {
            throw new IllegalArgumentException("request " + r.id() + " was already submitted (state " + r.state
                    + ")");
        }
        r.submitted = true;
        int tokens = config.policy().guaranteesNoEviction() ? r.promptLength() + r.maxNewTokens() : r.promptLength();
        int blocks = blocksFor(tokens);
        if (blocks > kv.totalBlocks()) {
            fail(r, String.format("request %d needs %d KV blocks for %d tokens under policy %s but the cache holds "
                    + "only %d blocks (short by %d)", r.id(), blocks, tokens, config.policy(), kv.totalBlocks(),
                    blocks - kv.totalBlocks()));
            return;
        }
        waiting.add(r);
    }

    /** Whether any request is waiting, running or swapped. */
    public boolean hasWork() {
        return !waiting.isEmpty() || !running.isEmpty() || !swapped.isEmpty();
    }

    private int blocksFor(int tokens) {
        int bs = kv.config().blockSize();
        int blocks = (tokens + bs - 1) / bs;
        int w = kv.config().slidingWindow();
        if (w > 0) {
            blocks = Math.min(blocks, (w + bs - 1) / bs + 1);
        }
        return blocks;
    }

    private int outstanding(Request except) {
        int n = 0;
        for (Request r : running) {
            if (r != except && r.reservedTokens > 0) {
                n += Math.max(0, blocksFor(r.reservedTokens) - blocksFor(r.kvTokens));
            }
        }
        return n;
    }

    private Comparator<Request> byPriority(double now) {
        return Comparator.comparingDouble((Request r) -> -effectivePriority(r, now))
                .thenComparingDouble(Request::arrivalSeconds).thenComparingLong(Request::id);
    }

    /** {@code priority + agingPerSecond × (now − arrival)}. */
    public double effectivePriority(Request r, double now) {
        return r.priority() + config.agingPerSecond() * Math.max(0, now - r.arrivalSeconds());
    }

    /**
     * Plans one step at time {@code now} (seconds) and appends the KV slots of every planned token.
     *
     * @return the plan; pass it to {@link #complete} before the next call
     * @throws IllegalStateException if the previous plan was not completed
     */
    public StepPlan schedule(double now) {
        if (pending != null) {
            throw new IllegalStateException("step " + pending.step() + " was not completed; call complete() first");
        }
        List<ScheduledChunk> chunks = new ArrayList<>();
        List<PreemptionEvent> pre = new ArrayList<>();
        List<Request> in = new ArrayList<>();
        int compressed = compressToWatermark();
        int budget = config.maxBatchTokens();

        List<Request> order = new ArrayList<>(running);
        order.sort(byPriority(now));
        for (int i = 0; i < order.size() && budget > 0; i++) {
            Request r = order.get(i);
            if (r.state != RequestState.RUNNING) {
                continue;
            }
            int n = Math.min(r.length() - r.kvTokens, budget);
            if (n <= 0) {
                continue;
            }
            while (true) {
                int need = kv.blocksNeeded(r.seqId, n);
                if (need <= kv.availableBlocks()) {
                    break;
                }
                if (kv.config().compressedDType() != null && config.compressionWatermark() > 0) {
                    int c = kv.compressColdBlocks(need);
                    compressed += c;
                    if (need <= kv.availableBlocks()) {
                        break;
                    }
                }
                Request victim = r;
                for (int j = order.size() - 1; j > i; j--) {
                    if (order.get(j).state == RequestState.RUNNING) {
                        victim = order.get(j);
                        break;
                    }
                }
                if (victim == r && running.size() == 1) {
                    fail(r, String.format("request %d needs %d more KV blocks to grow to %d tokens but the cache "
                                    + "has only %d blocks and nothing else to preempt", r.id(), need,
                            r.kvTokens + n, kv.totalBlocks()));
                    running.remove(r);
                    n = 0;
                    break;
                }
                pre.add(preempt(victim, r, need, now));
                if (victim == r) {
                    n = 0;
                    break;
                }
            }
            if (n > 0) {
                chunks.add(appendChunk(r, n));
                budget -= n;
            }
        }

        if (pre.isEmpty()) {
            swapped.sort(byPriority(now));
            while (!swapped.isEmpty() && running.size() < config.maxRunning()) {
                Request r = swapped.get(0);
                if (kv.blocksToSwapIn(r.seqId) > kv.availableBlocks() - outstanding(null)) {
                    break;
                }
                kv.swapIn(r.seqId);
                swapped.remove(0);
                r.state = RequestState.RUNNING;
                running.add(r);
                in.add(r);
                int n = Math.min(r.length() - r.kvTokens, budget);
                if (n > 0 && kv.blocksNeeded(r.seqId, n) <= kv.availableBlocks()) {
                    chunks.add(appendChunk(r, n));
                    budget -= n;
                }
            }
        }

        if (pre.isEmpty() && swapped.isEmpty()) {
            while (!waiting.isEmpty() && budget > 0 && running.size() < config.maxRunning()) {
                Request w = waiting.peek();
                int cached = kv.cachedPrefixTokens(w.salt(), w.tokenArray(), 0, w.length());
                int chunk = Math.min(w.length(), cached + budget);
                int reserve = Math.max(config.policy().reservedTokens(w, predictor), 0);
                if (reserve > 0) {
                    reserve = Math.max(reserve, w.length());
                }
                int bs = kv.config().blockSize();
                int needNow = blocksFor(chunk) - cached / bs;
                // a reservation larger than the whole cache could never be met; cap it so the queue cannot stall
                int needTotal = Math.max(Math.min(blocksFor(reserve), kv.totalBlocks()) - cached / bs, needNow);
                if (needTotal > kv.availableBlocks() - outstanding(null)) {
                    break;
                }
                int seq = kv.newSequence(w.salt());
                int hit;
                try {
                    hit = kv.append(seq, w.tokenArray(), 0, chunk);
                } catch (KvCacheFullException e) {
                    kv.free(seq);
                    break;
                }
                waiting.poll();
                w.seqId = seq;
                w.state = RequestState.RUNNING;
                w.reservedTokens = reserve;
                w.computed = hit;
                w.kvTokens = chunk;
                running.add(w);
                chunks.add(new ScheduledChunk(w, seq, hit, chunk - hit, true, chunk == w.length()));
                budget -= chunk - hit;
            }
        }
        compressedTotal += compressed;
        chunks.sort(Comparator.comparing(ScheduledChunk::prefill));
        StepPlan plan = new StepPlan(step++, List.copyOf(chunks), List.copyOf(pre), List.copyOf(in), compressed);
        pending = plan;
        return plan;
    }

    private ScheduledChunk appendChunk(Request r, int n) {
        kv.append(r.seqId, r.tokenArray(), r.kvTokens, n);
        int start = r.kvTokens;
        r.kvTokens += n;
        boolean produces = r.kvTokens == r.length();
        boolean prefill = !(n == 1 && produces && r.generated() > 0 && r.computed == r.length() - 1);
        return new ScheduledChunk(r, r.seqId, start, n, prefill, produces);
    }

    private int compressToWatermark() {
        if (kv.config().compressedDType() == null || config.compressionWatermark() <= 0) {
            return 0;
        }
        int target = (int) Math.ceil(config.compressionWatermark() * kv.totalBlocks());
        return kv.availableBlocks() < target ? kv.compressColdBlocks(target) : 0;
    }

    private PreemptionEvent preempt(Request victim, Request needer, int need, double now) {
        double recompute = config.costModel().recomputeSeconds(victim.kvTokens);
        double swapCost = config.costModel().swapSeconds(kv.swapBytes(victim.seqId), kv.measuredCopyBandwidth());
        PreemptionMode mode = config.preemptionMode();
        if (mode == PreemptionMode.AUTO) {
            mode = swapCost < recompute ? PreemptionMode.SWAP : PreemptionMode.RECOMPUTE;
        }
        if (swap == null) {
            mode = PreemptionMode.RECOMPUTE;
        }
        if (mode == PreemptionMode.SWAP) {
            try {
                kv.swapOut(victim.seqId, swap);
            } catch (OutOfMemoryException e) {
                mode = PreemptionMode.RECOMPUTE;
            }
        }
        running.remove(victim);
        victim.preemptions++;
        if (mode == PreemptionMode.SWAP) {
            victim.state = RequestState.SWAPPED;
            swapped.add(victim);
            bySwap++;
        } else {
            kv.free(victim.seqId);
            victim.seqId = -1;
            victim.computed = 0;
            victim.kvTokens = 0;
            victim.reservedTokens = 0;
            victim.state = RequestState.WAITING;
            waiting.add(victim);
            byRecompute++;
        }
        String reason = String.format("KV cache out of blocks: request %d needed %d more blocks with %d free or "
                        + "evictable of %d; request %d had the lowest priority (effective %.2f) and was preempted by "
                        + "%s (recompute %.3f ms vs swap %.3f ms)", needer.id(), need, kv.availableBlocks(),
                kv.totalBlocks(), victim.id(), effectivePriority(victim, now), mode, recompute * 1e3,
                swapCost * 1e3);
        PreemptionEvent e = new PreemptionEvent(step, victim.id(), mode, reason, recompute, swapCost);
        preemptionLog.add(e);
        return e;
    }

    /**
     * Reports a step's results: every chunk's tokens are now computed; each chunk that {@code producesToken} gets
     * {@code sampled[i]}, and finishes when {@code stop[i]} or its {@code maxNewTokens} is reached (its blocks are
     * freed and the predictor learns its length).
     *
     * @param plan    the plan from the last {@link #schedule}
     * @param sampled one token per chunk (ignored for chunks that produce none)
     * @param stop    one end-of-sequence flag per chunk
     * @param now     the time the step ended, seconds
     * @throws IllegalArgumentException if the plan is not the pending one or the arrays do not match its chunks
     */
    public void complete(StepPlan plan, int[] sampled, boolean[] stop, double now) {
        if (plan == null || plan != pending) {
            throw new IllegalArgumentException("plan must be the one returned by the last schedule(), got "
                    + (plan == null ? "null" : "step " + plan.step()));
        }
        int n = plan.chunks().size();
        if (sampled == null || sampled.length != n || stop == null || stop.length != n) {
            throw new IllegalArgumentException("sampled and stop must have one entry per chunk (" + n + "), got "
                    + (sampled == null ? "null" : sampled.length) + " and " + (stop == null ? "null" : stop.length));
        }
        pending = null;
        for (int i = 0; i < n; i++) {
            ScheduledChunk c = plan.chunks().get(i);
            Request r = c.request();
            if (r.state != RequestState.RUNNING) {
                continue;
            }
            r.computed = c.start() + c.count();
            if (c.producesToken()) {
                r.addToken(sampled[i]);
                if (Double.isNaN(r.firstTokenSeconds)) {
                    r.firstTokenSeconds = now;
                }
                if (stop[i] || r.generated() >= r.maxNewTokens()) {
                    kv.free(r.seqId);
                    r.seqId = -1;
                    r.state = RequestState.FINISHED;
                    r.finishSeconds = now;
                    running.remove(r);
                    predictor.observe(r.generated());
                    finished++;
                }
            }
        }
    }

    private void fail(Request r, String why) {
        if (r.seqId >= 0) {
            kv.free(r.seqId);
            r.seqId = -1;
        }
        r.state = RequestState.FAILED;
        r.failure = why;
        failed++;
    }

    /** Requests queued, in no particular order (a copy). */
    public List<Request> waiting() {
        return List.copyOf(waiting);
    }

    /** Requests holding KV blocks (a copy). */
    public List<Request> running() {
        return List.copyOf(running);
    }

    /** Requests swapped out (a copy). */
    public List<Request> swapped() {
        return List.copyOf(swapped);
    }

    /** Every preemption so far, oldest first (unmodifiable view). */
    public List<PreemptionEvent> preemptionLog() {
        return Collections.unmodifiableList(preemptionLog);
    }

    /** A snapshot of queue lengths, preemptions and KV use. */
    public SchedulerMetrics metrics() {
        double total = kv.totalBlocks();
        return new SchedulerMetrics(step, waiting.size(), running.size(), swapped.size(), finished, failed, bySwap,
                byRecompute, kv.usedBlocks() / total, (kv.usedBlocks() + outstanding(null)) / total,
                kv.wasteFraction(), compressedTotal);
    }
}
