package io.vramkit.core.scheduler;

import io.vramkit.core.DType;
import io.vramkit.core.kv.KvCacheConfig;
import io.vramkit.core.kv.PagedKvCache;
import io.vramkit.core.kv.SwapSpace;
import io.vramkit.core.memory.HostMemoryResource;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SchedulerTest {

    /** Drives a scheduler to completion; each request stops after its own target length. Returns peak running. */
    static final class Driver {
        final Scheduler s;
        final PagedKvCache kv;
        final Map<Request, Integer> target = new HashMap<>();
        int peakRunning;
        double peakReserved;
        int steps;
        double now;

        Driver(Scheduler s, PagedKvCache kv) {
            this.s = s;
            this.kv = kv;
        }

        void add(Request r, int outputTokens) {
            target.put(r, outputTokens);
            s.submit(r);
        }

        StepPlan step() {
            StepPlan plan = s.schedule(now);
            int n = plan.chunks().size();
            int[] sampled = new int[n];
            boolean[] stop = new boolean[n];
            for (int i = 0; i < n; i++) {
                ScheduledChunk c = plan.chunks().get(i);
                Request r = c.request();
                sampled[i] = (int) (r.id() * 31 + r.generated());
                stop[i] = c.producesToken() && r.generated() + 1 >= target.getOrDefault(r, Integer.MAX_VALUE);
                assertTrue(c.count() >= 1);
                assertEquals(c.start() + c.count(), kv.numTokens(c.seqId()), "KV slots appended for the chunk");
            }
            assertTrue(plan.totalTokens() <= s.config().maxBatchTokens(), "token budget exceeded");
            now += 0.01;
            s.complete(plan, sampled, stop, now);
            kv.checkInvariants();
            SchedulerMetrics m = s.metrics();
            peakRunning = Math.max(peakRunning, m.running());
            peakReserved = Math.max(peakReserved, m.kvReservedUtilization());
            steps++;
            return plan;
        }

        void runAll(int maxSteps) {
            while (s.hasWork()) {
                step();
                assertTrue(steps < maxSteps, "did not finish in " + maxSteps + " steps: " + s.metrics());
            }
        }

        void assertAllFinishedCorrectly() {
            for (var e : target.entrySet()) {
                Request r = e.getKey();
                assertEquals(RequestState.FINISHED, r.state(), r.toString());
                assertEquals(Math.min(e.getValue(), r.maxNewTokens()), r.generated(), r.toString());
                int[] toks = r.tokens();
                for (int g = 0; g < r.generated(); g++) {
                    assertEquals((int) (r.id() * 31 + g), toks[r.promptLength() + g], "token " + g + " of " + r);
                }
            }
            assertEquals(0, kv.usedBlocks(), "blocks leaked after all requests finished");
            assertEquals(0, kv.liveSequences());
        }
    }

    static PagedKvCache cache(int blocks) {
        return new PagedKvCache(KvCacheConfig.builder().numLayers(2).kvHeads(2).headDim(8).blockSize(16)
                .numBlocks(blocks).build());
    }

    static List<int[]> workload(long seed, int n, int[] outs) {
        SplittableRandom r = new SplittableRandom(seed);
        List<int[]> prompts = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            prompts.add(r.ints(20 + r.nextInt(150), 0, 30000).toArray());
            outs[i] = 10 + r.nextInt(200);
        }
        return prompts;
    }

    private static Driver runPolicy(AdmissionPolicy policy, int blocks, long seed) {
        PagedKvCache kv = cache(blocks);
        Scheduler s = new Scheduler(SchedulerConfig.defaults(policy).withMaxBatchTokens(512), kv, new SwapSpace(null));
        Driver d = new Driver(s, kv);
        int[] outs = new int[60];
        List<int[]> prompts = workload(seed, 60, outs);
        for (int i = 0; i < 60; i++) {
            d.add(new Request(i, prompts.get(i), 256, 0, 0, 0), outs[i]);
        }
        d.runAll(20_000);
        d.assertAllFinishedCorrectly();
        return d;
    }

    @Test
    void noEvictNeverPreemptsAndReservesUpToTheCacheSize() {
        Driver d = runPolicy(AdmissionPolicy.noEvict(), 120, 1);
        assertEquals(0, d.s.metrics().preemptions());
        assertEquals(0, d.s.metrics().failed());
        assertTrue(d.peakReserved >= 0.9, "peak reserved utilization " + d.peakReserved);
    }

    @Test
    void optimisticPreemptsUnderPressureAndStillFinishesEverything() {
        Driver d = runPolicy(AdmissionPolicy.optimistic(), 120, 1);
        assertTrue(d.s.metrics().preemptions() > 0, "optimistic admission should overcommit: " + d.s.metrics());
        for (PreemptionEvent e : d.s.preemptionLog()) {
            assertTrue(e.reason().contains("KV cache out of blocks"), e.reason());
        }
    }

    @Test
    void reservePredictedLearnsLengthsAndSitsBetweenTheOthers() {
        Driver none = runPolicy(AdmissionPolicy.noEvict(), 120, 1);
        Driver opt = runPolicy(AdmissionPolicy.optimistic(), 120, 1);
        Driver pred = runPolicy(AdmissionPolicy.reservePredicted(), 120, 1);
        assertTrue(pred.s.predictor().observations() == 60);
        assertTrue(pred.peakRunning > none.peakRunning, "predicted " + pred.peakRunning + " vs no-evict "
                + none.peakRunning);
        assertTrue(pred.s.metrics().preemptions() < opt.s.metrics().preemptions(), "predicted "
                + pred.s.metrics().preemptions() + " vs optimistic " + opt.s.metrics().preemptions());
        Request r = new Request(99, new int[10], 1000, 0, 0, 0);
        int p = pred.s.predictor().predict(r);
        assertTrue(p >= 150 && p <= 210, "p90 of outputs 10..209 is about 190, predicted " + p);
    }

    @Test
    void aPredictionLargerThanTheCacheDoesNotStallTheQueue() {
        PagedKvCache kv = cache(10);
        Scheduler s = new Scheduler(SchedulerConfig.defaults(AdmissionPolicy.reservePredicted()), kv, null);
        for (int i = 0; i < 5; i++) {
            s.predictor().observe(1000);
        }
        Driver d = new Driver(s, kv);
        Request r = new Request(1, new int[20], 1000, 0, 0, 0);
        d.add(r, 50);
        d.runAll(500);
        d.assertAllFinishedCorrectly();
    }

    @Test
    void preemptionModeIsChosenByCost() {
        for (boolean cheapCompute : new boolean[] {true, false}) {
            CostModel cost = cheapCompute ? new CostModel(1, 0, 1e15, 1e6) : new CostModel(1e12, 0, 1e9, 1e12);
            PagedKvCache kv = new PagedKvCache(KvCacheConfig.builder().numLayers(1).kvHeads(1).headDim(8)
                    .blockSize(4).numBlocks(12).dtype(DType.FP32).build(), new HostMemoryResource());
            SwapSpace space = new SwapSpace(new HostMemoryResource());
            Scheduler s = new Scheduler(new SchedulerConfig(64, 8, AdmissionPolicy.optimistic(), PreemptionMode.AUTO,
                    0, cost, 0), kv, space);
            Driver d = new Driver(s, kv);
            d.add(new Request(1, new int[8], 40, 1, 0, 0), 40);
            d.add(new Request(2, new int[8], 40, 0, 0, 0), 40);
            d.runAll(1000);
            d.assertAllFinishedCorrectly();
            assertTrue(!s.preemptionLog().isEmpty());
            PreemptionEvent e = s.preemptionLog().get(0);
            assertEquals(2, e.requestId(), "the lower priority request is the victim");
            assertEquals(cheapCompute ? PreemptionMode.RECOMPUTE : PreemptionMode.SWAP, e.mode(), e.reason());
            if (!cheapCompute) {
                assertTrue(kv.measuredCopyBandwidth() > 0);
                assertEquals(0, space.bytesInUse());
            }
            kv.close();
        }
    }

    @Test
    void agingPreventsStarvation() {
        for (double aging : new double[] {0, 50}) {
            PagedKvCache kv = cache(64);
            Scheduler s = new Scheduler(SchedulerConfig.defaults(AdmissionPolicy.noEvict()).withMaxRunning(1)
                    .withAgingPerSecond(aging), kv, null);
            Driver d = new Driver(s, kv);
            Request low = new Request(0, new int[5], 5, 0, 0, 0);
            d.add(low, 5);
            long id = 1;
            for (int step = 0; step < 400 && low.state() != RequestState.FINISHED; step++) {
                // a new high-priority request arrives every step, more than one runner can serve
                d.add(new Request(id++, new int[5], 5, 10, d.now, 0), 5);
                d.step();
            }
            if (aging == 0) {
                assertEquals(RequestState.WAITING, low.state(), "without aging the low priority starves");
            } else {
                assertEquals(RequestState.FINISHED, low.state(), "with aging it must be served");
                assertTrue(low.finishSeconds() < 2, "served after " + low.finishSeconds() + " s");
            }
        }
    }

    @Test
    void chunkedPrefillRespectsTheTokenBudgetAndKeepsDecoding() {
        PagedKvCache kv = cache(200);
        Scheduler s = new Scheduler(SchedulerConfig.defaults(AdmissionPolicy.noEvict()).withMaxBatchTokens(256), kv,
                null);
        Driver d = new Driver(s, kv);
        Request small = new Request(1, new int[10], 50, 0, 0, 0);
        d.add(small, 50);
        d.step();
        Request big = new Request(2, new SplittableRandom(3).ints(1000, 0, 100).toArray(), 5, 0, 0.001, 0);
        d.add(big, 5);
        List<Integer> chunks = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            StepPlan p = d.step();
            boolean decoded = false;
            for (ScheduledChunk c : p.chunks()) {
                if (c.request() == big) {
                    chunks.add(c.count());
                    assertEquals(c.start() + c.count() == 1000, c.producesToken());
                }
                if (c.request() == small) {
                    decoded = true;
                    assertEquals(1, c.count());
                    assertTrue(!c.prefill());
                }
            }
            assertTrue(decoded, "decode continues during a long prefill");
            assertEquals(i < 3 ? 256 : 236, p.totalTokens());
        }
        assertEquals(List.of(255, 255, 255, 235), chunks);
        assertEquals(1, big.generated(), "the last prefill chunk samples the first token");
        d.runAll(1000);
        d.assertAllFinishedCorrectly();
    }

    @Test
    void compressionUnderPressureAvoidsPreemptions() {
        long[] pre = new long[2];
        for (int withCompression = 0; withCompression < 2; withCompression++) {
            KvCacheConfig cfg = KvCacheConfig.builder().numLayers(1).kvHeads(1).headDim(8).blockSize(16)
                    .numBlocks(100).compressedDType(withCompression == 1 ? DType.INT8 : null).build();
            PagedKvCache kv = new PagedKvCache(cfg);
            SchedulerConfig sc = SchedulerConfig.defaults(AdmissionPolicy.optimistic()).withMaxBatchTokens(512)
                    .withCompressionWatermark(withCompression == 1 ? 0.05 : 0)
                    .withPreemptionMode(PreemptionMode.RECOMPUTE);
            Scheduler s = new Scheduler(sc, kv, null);
            Driver d = new Driver(s, kv);
            int[] outs = new int[40];
            List<int[]> prompts = workload(5, 40, outs);
            for (int i = 0; i < 40; i++) {
                d.add(new Request(i, prompts.get(i), 256, 0, 0, 0), outs[i]);
            }
            d.runAll(20_000);
            d.assertAllFinishedCorrectly();
            pre[withCompression] = s.metrics().preemptions();
            if (withCompression == 1) {
                assertTrue(s.metrics().compressedBlocks() > 0);
            }
        }
        assertTrue(pre[1] < pre[0], "compression should replace preemptions: " + pre[1] + " vs " + pre[0]);
    }

    @Test
    void badInputIsRejectedClearly() {
        PagedKvCache kv = cache(10);
        Scheduler s = new Scheduler(SchedulerConfig.defaults(AdmissionPolicy.noEvict()), kv, null);
        Request huge = new Request(7, new int[100], 1000, 0, 0, 0);
        s.submit(huge);
        assertEquals(RequestState.FAILED, huge.state());
        assertTrue(huge.failure().contains("short by 59"), huge.failure());
        Request r = new Request(8, new int[10], 10, 0, 0, 0);
        s.submit(r);
        assertThrows(IllegalArgumentException.class, () -> s.submit(r));
        StepPlan p = s.schedule(0);
        assertThrows(IllegalStateException.class, () -> s.schedule(0));
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
                () -> s.complete(p, new int[0], new boolean[0], 0));
        assertTrue(bad.getMessage().contains("one entry per chunk"), bad.getMessage());
        s.complete(p, new int[1], new boolean[] {true}, 0);
        assertEquals(RequestState.FINISHED, r.state());
        assertThrows(IllegalArgumentException.class, () -> new Request(1, new int[0], 5, 0, 0, 0));
        IllegalArgumentException neg = assertThrows(IllegalArgumentException.class,
                () -> new Request(1, new int[3], 0, 0, 0, 0));
        assertTrue(neg.getMessage().contains("maxNewTokens"));
        assertThrows(IllegalArgumentException.class, () -> new SchedulerConfig(0, 1, AdmissionPolicy.noEvict(),
                PreemptionMode.AUTO, 0, CostModel.defaultModel(), 0));
        assertEquals(0, kv.usedBlocks());
    }
}
