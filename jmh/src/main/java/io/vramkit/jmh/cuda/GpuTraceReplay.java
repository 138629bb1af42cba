package io.vramkit.jmh.cuda;

import io.vramkit.core.memory.CachingPool;
import io.vramkit.core.memory.PoolSettings;
import io.vramkit.core.memory.PoolStatistics;
import io.vramkit.core.trace.LlmServingTraceGenerator;
import io.vramkit.core.trace.ReplayReport;
import io.vramkit.core.trace.Trace;
import io.vramkit.core.trace.TraceCsv;
import io.vramkit.core.trace.TraceEvent;
import io.vramkit.core.trace.TraceReplayer;
import io.vramkit.cuda.Cuda;
import io.vramkit.cuda.CudaMallocResource;
import io.vramkit.cuda.CudaStream;
import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Replays the LLM-serving allocation trace through vramkit's {@link CachingPool} over real device memory
 * ({@link CudaMallocResource} on device 0), for issue 8's comparison with PyTorch's caching allocator: it writes the
 * trace as CSV ({@code llm-serving-trace.csv}, RMM's columns, see {@link TraceCsv}) so that
 * {@code scripts/gpu-check-torch-trace.py} replays the same events with {@code torch.empty}/{@code del}, and prints
 * peak reserved over peak allocated for the pool. The same trace is also replayed over a simulated device
 * ({@link TraceReplayer}), as a cross-check that the device run and the CPU-side figures agree.
 *
 * <p>Usage: {@code GpuTraceReplay --out DIR [--requests N] [--seed S]} (defaults 200 requests, seed 42, the
 * defaults of {@code vramkit replay --workload llm-serving}; the trace peaks at a few GiB, which any H100 holds).
 * Writes {@code DIR/llm-serving-trace.csv} and {@code DIR/gpu-trace.txt} (the summary, also printed). Exits 0 with
 * one line when no GPU answers, after writing the CSV. Pool settings are the {@code replay} command's defaults:
 * no split limit, keep every cached segment. Single-threaded; not for concurrent use.
 *
 * <p>Ran on an NVIDIA H200 (2026-11-26); figures in {@code docs/benchmarks.md}.
 */
public final class GpuTraceReplay {

    /** The file name of the trace written in the output folder. */
    public static final String TRACE_CSV = "llm-serving-trace.csv";

    /** The file name of the summary written in the output folder. */
    public static final String SUMMARY = "gpu-trace.txt";

    private static final String MEMORY_LOG_LEVEL = "org.slf4j.simpleLogger.log.io.vramkit.core.memory";

    private GpuTraceReplay() {
    }

    /**
     * Entry point.
     *
     * @param args {@code --out DIR [--requests N] [--seed S]}
     * @throws IOException              if the CSV or the summary cannot be written
     * @throws IllegalArgumentException naming the argument and its value when an argument is missing or bad
     */
    public static void main(String[] args) throws IOException {
        // The pool logs each growth at INFO; a replay grows it a hundred times.
        if (System.getProperty(MEMORY_LOG_LEVEL) == null) {
            System.setProperty(MEMORY_LOG_LEVEL, "warn");
        }
        Path out = null;
        int requests = 200;
        long seed = 42;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (i + 1 >= args.length) {
                throw new IllegalArgumentException(a + " needs a value (usage: GpuTraceReplay --out DIR "
                        + "[--requests N] [--seed S])");
            }
            String v = args[++i];
            switch (a) {
                case "--out" -> out = Path.of(v);
                case "--requests" -> {
                    requests = Integer.parseInt(v);
                    if (requests <= 0) {
                        throw new IllegalArgumentException("--requests must be positive, got " + requests);
                    }
                }
                case "--seed" -> seed = Long.parseLong(v);
                default -> throw new IllegalArgumentException("unknown argument '" + a + "' (usage: GpuTraceReplay "
                        + "--out DIR [--requests N] [--seed S])");
            }
        }
        if (out == null) {
            throw new IllegalArgumentException("--out DIR is required");
        }
        Files.createDirectories(out);
        Trace trace = LlmServingTraceGenerator.defaults(seed).withRequests(requests).generate();
        try (Writer w = Files.newBufferedWriter(out.resolve(TRACE_CSV), StandardCharsets.UTF_8)) {
            TraceCsv.write(trace.events(), w);
        }
        List<String> lines = new ArrayList<>();
        PoolSettings settings = PoolSettings.builder().name("gpu-trace").maxSplitBytes(Long.MAX_VALUE)
                .releaseThresholdBytes(Long.MAX_VALUE).build();
        ReplayReport simulated = TraceReplayer.replay(trace, "simulated", 1L << 40, up -> new CachingPool(up,
                settings));
        lines.add(String.format(Locale.ROOT, "trace: %d events, %d requests, seed %d, peak live %.1f MiB (%s)",
                trace.events().size(), requests, seed, simulated.peakAllocatedBytes() / 1048576.0, TRACE_CSV));
        lines.add(String.format(Locale.ROOT, "vramkit pool, simulated device: peak reserved %.1f MiB / peak live "
                + "%.1f MiB = %.3f", simulated.peakReservedBytes() / 1048576.0,
                simulated.peakAllocatedBytes() / 1048576.0, simulated.reservedToAllocatedRatio()));
        Cuda.CudaStatus status = Cuda.status();
        if (!status.usable()) {
            lines.add("vramkit pool on the device: skipped, no usable CUDA device (" + status.reason() + "): "
                    + status.message());
        } else {
            lines.addAll(replayOnDevice(trace, settings));
        }
        lines.forEach(System.out::println);
        Files.write(out.resolve(SUMMARY), lines, StandardCharsets.UTF_8);
    }

    /** Replays every event through a caching pool over cudaMalloc, one CUDA stream per trace stream id. */
    private static List<String> replayOnDevice(Trace trace, PoolSettings settings) {
        Map<Long, CudaStream> streams = new HashMap<>();
        Map<Long, Long> live = new HashMap<>();
        long failed = 0;
        long start;
        long elapsed;
        PoolStatistics stats;
        try (CudaMallocResource device = new CudaMallocResource(0)) {
            CachingPool pool = new CachingPool(device, settings);
            try {
                start = System.nanoTime();
                for (TraceEvent e : trace.events()) {
                    CudaStream stream = streams.computeIfAbsent(e.stream(), id -> CudaStream.create(0));
                    switch (e.action()) {
                        case ALLOCATE -> {
                            try {
                                live.put(e.address(), pool.allocate(e.bytes(), TraceReplayer.ALIGNMENT, stream));
                            } catch (io.vramkit.core.memory.OutOfMemoryException oom) {
                                failed++;
                            }
                        }
                        case FREE -> {
                            Long p = live.remove(e.address());
                            if (p != null) {
                                pool.deallocate(p, e.bytes(), TraceReplayer.ALIGNMENT, stream);
                            }
                        }
                        case ALLOCATE_FAILURE -> {
                            // Recorded failures are not replayed, as in TraceReplayer.
                        }
                    }
                }
                elapsed = System.nanoTime() - start;
                stats = pool.statistics();
            } finally {
                for (CudaStream s : streams.values()) {
                    s.synchronize();
                }
                pool.close();
                for (CudaStream s : streams.values()) {
                    s.close();
                }
            }
        }
        double requested = stats.requestedBytes().peak();
        double allocated = stats.allocatedBytes().peak();
        double reserved = stats.reservedBytes().peak();
        List<String> lines = new ArrayList<>();
        lines.add(String.format(Locale.ROOT, "vramkit pool on the device (cudaMalloc upstream): peak reserved %.1f "
                        + "MiB, peak allocated %.1f MiB, peak requested %.1f MiB; reserved/allocated = %.3f, "
                        + "reserved/requested = %.3f; %d cudaMalloc calls, %d failed allocations, %.1f ms",
                reserved / 1048576.0, allocated / 1048576.0, requested / 1048576.0, reserved / allocated,
                reserved / requested, stats.upstreamAllocations(), failed, elapsed / 1e6));
        lines.add(String.format(Locale.ROOT, "SUMMARY vramkit trace: peak reserved / peak allocated = %.3f "
                + "(reserved / requested = %.3f)", reserved / allocated, reserved / requested));
        return lines;
    }
}
