package io.vramkit.examples.simulate;

import io.vramkit.core.DType;
import io.vramkit.core.kv.KvCacheConfig;
import io.vramkit.core.kv.PagedKvCache;
import io.vramkit.core.kv.SwapSpace;
import io.vramkit.core.planner.CapacityPlanner;
import io.vramkit.core.planner.ModelConfig;
import io.vramkit.core.planner.WeightPlan;
import io.vramkit.core.planner.WeightPrecision;
import io.vramkit.core.scheduler.AdmissionPolicy;
import io.vramkit.core.scheduler.CostModel;
import io.vramkit.core.scheduler.PreemptionMode;
import io.vramkit.core.scheduler.Request;
import io.vramkit.core.scheduler.RequestState;
import io.vramkit.core.scheduler.ScheduledChunk;
import io.vramkit.core.scheduler.Scheduler;
import io.vramkit.core.scheduler.SchedulerConfig;
import io.vramkit.core.scheduler.SchedulerMetrics;
import io.vramkit.core.scheduler.StepPlan;

import java.util.ArrayList;
import java.util.List;

/**
 * Replays a {@link Workload} through the real {@link Scheduler} and {@link PagedKvCache} (in accounting-only mode:
 * the same block logic, no memory) with a modeled step time, and records KV memory, queue depth, preemptions and
 * waste over time.
 *
 * <p>Step time (a roofline of one GPU): {@code overhead + max(weights + KV read) / HBM bandwidth, prefill FLOPs /
 * compute) + swap bytes / PCIe bandwidth}. The defaults describe Llama-2-7B in FP16 on an H100-class GPU (3.35 TB/s,
 * 400 TFLOP/s dense FP16 at 60% utilization, PCIe 4 at 25 GB/s). Requests carry their true output length as
 * {@code maxNewTokens}, as vLLM's serving benchmark does. Not thread-safe.
 */
public final class ServingSimulator {

    /**
     * Simulation settings.
     *
     * @param layout         KV layout
     * @param policy         admission policy
     * @param model          the model (sizes KV per token and the step-time model)
     * @param kvBytes        KV memory budget in bytes
     * @param maxModelLen    longest sequence (and the contiguous layout's per-request allocation)
     * @param maxBatchTokens token budget per step
     * @param hbmBytesPerSecond  GPU memory bandwidth
     * @param flopsPerSecond sustained compute
     * @param pcieBytesPerSecond host-device bandwidth for swaps
     * @param stepOverheadSeconds fixed cost per step
     */
    public record Config(KvLayout layout, AdmissionPolicy policy, ModelConfig model, long kvBytes, int maxModelLen,
                         int maxBatchTokens, double hbmBytesPerSecond, double flopsPerSecond,
                         double pcieBytesPerSecond, double stepOverheadSeconds) {

        /** Llama-2-7B-shaped defaults on an H100-class GPU with {@code kvBytes} of KV. */
        public static Config defaults(KvLayout layout, AdmissionPolicy policy, ModelConfig model, long kvBytes) {
            return new Config(layout, policy, model, kvBytes, 2048, 2048, 3.35e12, 400e12 * 0.6, 25e9, 0.5e-3);
        }
    }

    /**
     * One sample of the time series, taken after a step.
     *
     * @param seconds             simulated time
     * @param kvAllocatedBytes    bytes of the referenced blocks
     * @param kvUsedBytes         bytes of the tokens held (at the primary precision)
     * @param wasteFraction       allocated slots without a token over allocated slots
     * @param waiting             queued requests
     * @param running             running requests
     * @param swapped             swapped-out requests
     * @param preemptions         preemptions so far
     * @param reservedUtilization referenced plus reserved blocks over all blocks
     */
    public record Sample(double seconds, long kvAllocatedBytes, long kvUsedBytes, double wasteFraction, int waiting,
                         int running, int swapped, long preemptions, double reservedUtilization) {
    }

    /**
     * The outcome.
     *
     * @param layout                layout simulated
     * @param policy                admission policy
     * @param requests              requests in the trace
     * @param completed             requests finished
     * @param failed                requests rejected
     * @param preemptions           preemptions (swap + recompute)
     * @param preemptionsBySwap     of which by swap
     * @param simulatedSeconds      simulated time until the last request finished
     * @param generatedTokens       output tokens produced
     * @param throughputTokensPerSecond output tokens per simulated second
     * @param throughputRequestsPerSecond completed requests per simulated second
     * @param kvWasteFraction       time-weighted allocated-but-unused KV slots over allocated slots
     * @param meanKvUtilization     time-weighted referenced blocks over all blocks
     * @param peakKvUtilization     the highest referenced blocks over all blocks
     * @param peakReservedUtilization the highest referenced-plus-reserved blocks over all blocks
     * @param meanQueue             time-weighted waiting requests
     * @param meanRunning           time-weighted running requests
     * @param ttftP50Seconds        median time to first token
     * @param ttftP99Seconds        99th percentile time to first token
     * @param latencyP50Seconds     median request latency
     * @param compressedBlocks      blocks compressed under pressure
     * @param prefixHitTokens       prompt tokens served from the prefix cache
     * @param kvBlocks              blocks in the pool
     * @param blockSize             tokens per block
     * @param samples               the time series (downsampled to at most 2000 points)
     * @param firstPreemptionReason the first preemption's explanation, or null
     */
    public record Result(KvLayout layout, String policy, int requests, long completed, long failed, long preemptions,
                         long preemptionsBySwap, double simulatedSeconds, long generatedTokens,
                         double throughputTokensPerSecond, double throughputRequestsPerSecond,
                         double kvWasteFraction, double meanKvUtilization, double peakKvUtilization,
                         double peakReservedUtilization, double meanQueue, double meanRunning,
                         double ttftP50Seconds, double ttftP99Seconds, double latencyP50Seconds,
                         long compressedBlocks, long prefixHitTokens, int kvBlocks, int blockSize,
                         List<Sample> samples, String firstPreemptionReason) {
    }

    private final Config config;

    /** @param config settings */
    public ServingSimulator(Config config) {
        if (config == null) {
            throw new IllegalArgumentException("config must not be null");
        }
        this.config = config;
    }

    /**
     * Runs the workload to completion.
     *
     * @throws IllegalArgumentException if the KV budget holds no block
     */
    public Result run(Workload workload) {
        ModelConfig m = config.model();
        KvLayout layout = config.layout();
        int blockSize = layout == KvLayout.CONTIGUOUS ? config.maxModelLen() : 16;
        long blockBytes = CapacityPlanner.kvBlockBytes(m, DType.FP16, blockSize);
        int blocks = (int) Math.min(Integer.MAX_VALUE / blockSize, config.kvBytes() / blockBytes);
        if (blocks < 1) {
            throw new IllegalArgumentException("kvBytes " + config.kvBytes() + " holds no block of " + blockBytes
                    + " bytes");
        }
        KvCacheConfig kvc = KvCacheConfig.builder().numLayers(m.numLayers()).kvHeads(m.numKvHeads())
                .headDim(m.headDim()).blockSize(blockSize).numBlocks(blocks).dtype(DType.FP16)
                .slidingWindow(m.slidingWindow())
                .prefixCaching(layout == KvLayout.PAGED_PREFIX || layout == KvLayout.PAGED_COMPRESS)
                .compressedDType(layout == KvLayout.PAGED_COMPRESS ? DType.INT8 : null).build();
        PagedKvCache kv = new PagedKvCache(kvc);
        long weightBytes = WeightPlan.uniform(WeightPrecision.FP16).weightBytes(m);
        double flopsPerToken = 2.0 * m.activeParameters();
        CostModel cost = new CostModel(flopsPerToken, 2.0 * m.numLayers() * m.hiddenSize(),
                config.flopsPerSecond(), config.pcieBytesPerSecond());
        SchedulerConfig sc = new SchedulerConfig(config.maxBatchTokens(), 256, config.policy(), PreemptionMode.AUTO,
                1.0, cost, layout == KvLayout.PAGED_COMPRESS ? 0.05 : 0);
        SwapSpace swap = new SwapSpace(null);
        Scheduler s = new Scheduler(sc, kv, swap);
        List<Workload.Item> items = workload.items();
        List<Request> reqs = new ArrayList<>(items.size());
        int[] target = new int[items.size()];
        long kvPerToken = m.kvElementsPerToken() * 2;

        double now = 0;
        int next = 0;
        long generated = 0;
        double wasteNum = 0;
        double wasteDen = 0;
        double utilTime = 0;
        double queueTime = 0;
        double runTime = 0;
        double peakUtil = 0;
        double peakReserved = 0;
        long lastSwapBytes = 0;
        List<Sample> samples = new ArrayList<>();
        while (next < items.size() || s.hasWork()) {
            while (next < items.size() && items.get(next).arrivalSeconds() <= now) {
                Workload.Item it = items.get(next);
                Request r = new Request(it.id(), it.prompt(), it.outputTokens(), 0, it.arrivalSeconds(), 0);
                reqs.add(r);
                target[next] = it.outputTokens();
                s.submit(r);
                next++;
            }
            if (!s.hasWork()) {
                now = items.get(next).arrivalSeconds();
                continue;
            }
            StepPlan plan = s.schedule(now);
            int n = plan.chunks().size();
            if (n == 0) {
                // Nothing could run (everything waits for memory that only arrivals or time can free).
                s.complete(plan, new int[0], new boolean[0], now);
                if (next < items.size()) {
                    now = Math.max(now, items.get(next).arrivalSeconds());
                    continue;
                }
                throw new IllegalStateException("simulation stalled at " + now + " s: " + s.metrics());
            }
            long kvRead = 0;
            int[] sampled = new int[n];
            boolean[] stop = new boolean[n];
            for (int i = 0; i < n; i++) {
                ScheduledChunk c = plan.chunks().get(i);
                Request r = c.request();
                kvRead += (long) (c.start() + c.count()) * kvPerToken;
                sampled[i] = (int) ((r.id() * 1_000_003L + r.generated()) & 0x7FFF);
                stop[i] = c.producesToken() && r.generated() + 1 >= target[(int) r.id()];
            }
            long swapBytes = swap.bytesSwappedOut() + swap.bytesSwappedIn() - lastSwapBytes;
            lastSwapBytes = swap.bytesSwappedOut() + swap.bytesSwappedIn();
            double memTime = (weightBytes + kvRead) / config.hbmBytesPerSecond();
            double computeTime = (plan.totalTokens() * flopsPerToken) / config.flopsPerSecond();
            double dt = config.stepOverheadSeconds() + Math.max(memTime, computeTime)
                    + swapBytes / config.pcieBytesPerSecond();
            now += dt;
            s.complete(plan, sampled, stop, now);
            for (ScheduledChunk c : plan.chunks()) {
                if (c.producesToken()) {
                    generated++;
                }
            }
            SchedulerMetrics mt = s.metrics();
            long alloc = kv.allocatedSlots();
            long used = kv.usedSlots();
            wasteNum += (alloc - used) * dt;
            wasteDen += alloc * dt;
            utilTime += mt.kvUtilization() * dt;
            queueTime += mt.waiting() * dt;
            runTime += mt.running() * dt;
            peakUtil = Math.max(peakUtil, mt.kvUtilization());
            peakReserved = Math.max(peakReserved, mt.kvReservedUtilization());
            samples.add(new Sample(now, (long) kv.usedBlocks() * blockBytes, used * kvPerToken,
                    alloc == 0 ? 0 : (double) (alloc - used) / alloc, mt.waiting(), mt.running(), mt.swapped(),
                    mt.preemptions(), mt.kvReservedUtilization()));
        }
        SchedulerMetrics mt = s.metrics();
        double[] ttft = reqs.stream().filter(r -> r.state() == RequestState.FINISHED)
                .mapToDouble(r -> r.firstTokenSeconds() - r.arrivalSeconds()).sorted().toArray();
        double[] lat = reqs.stream().filter(r -> r.state() == RequestState.FINISHED)
                .mapToDouble(r -> r.finishSeconds() - r.arrivalSeconds()).sorted().toArray();
        return new Result(layout, config.policy().toString(), items.size(), mt.finished(), mt.failed(),
                mt.preemptions(), mt.preemptionsBySwap(), now, generated, generated / now, mt.finished() / now,
                wasteDen == 0 ? 0 : wasteNum / wasteDen, utilTime / now, peakUtil, peakReserved, queueTime / now,
                runTime / now, pct(ttft, 0.5), pct(ttft, 0.99), pct(lat, 0.5), mt.compressedBlocks(),
                kv.prefixHitTokens(), blocks, blockSize, downsample(samples, 2000),
                s.preemptionLog().isEmpty() ? null : s.preemptionLog().get(0).reason());
    }

    private static double pct(double[] sorted, double q) {
        if (sorted.length == 0) {
            return Double.NaN;
        }
        return sorted[Math.min(sorted.length - 1, (int) Math.floor(q * sorted.length))];
    }

    private static List<Sample> downsample(List<Sample> in, int max) {
        if (in.size() <= max) {
            return List.copyOf(in);
        }
        List<Sample> out = new ArrayList<>(max);
        double stride = (double) in.size() / max;
        for (int i = 0; i < max; i++) {
            out.add(in.get((int) (i * stride)));
        }
        out.set(max - 1, in.get(in.size() - 1));
        return out;
    }
}
