package io.vramkit.examples.replay;

import io.vramkit.core.memory.ByteSizes;
import io.vramkit.core.memory.CachingPool;
import io.vramkit.core.memory.PoolSettings;
import io.vramkit.core.trace.LlmServingTraceGenerator;
import io.vramkit.core.trace.ReplayReport;
import io.vramkit.core.trace.Trace;
import io.vramkit.core.trace.TraceCsv;
import io.vramkit.core.trace.TraceReplayer;
import io.vramkit.examples.Command;
import java.io.PrintStream;
import java.io.Reader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;

/**
 * {@code vramkit replay --workload llm-serving | --trace FILE.csv [options] [--json]}: replays an allocation trace
 * against vramkit's caching pool and against an upstream with no pooling, both over a simulated device of fixed
 * capacity, and prints peak allocated, peak reserved and failed allocations for each.
 *
 * <p>Options: {@code --capacity-gib G} (simulated device, default 80), {@code --requests N} and {@code --seed S}
 * (for the generated workload, defaults 200 and 42), {@code --realloc-kv} (contiguous reallocated KV buffers instead
 * of KV chunks), {@code --max-split-mib M} (the pool's maxSplitBytes), {@code --release-threshold-mib M} (the pool's
 * releaseThresholdBytes), {@code --save-trace FILE.csv} (write the
 * generated trace in RMM's CSV format), {@code --out DIR} (where the memory map goes; default the current folder).
 *
 * <p>It writes {@code replay-memory-map.html} in the output folder: the pool's segments and blocks at the moment of
 * peak reservation. With {@code --json} it prints one JSON line whose fields are {@code peakAllocatedBytes},
 * {@code peakReservedBytes}, {@code failedAllocations}, {@code reservedToAllocatedRatio} and more for the pool, the
 * same under {@code noPooling}, and {@code memoryMap}, the HTML file's path. The memory layer's INFO log lines
 * (pool growth and trim) are turned down to WARN unless {@code -Dorg.slf4j.simpleLogger.log.io.vramkit.core.memory}
 * is set. Stateless.
 */
public final class ReplayCommand implements Command {

    /** The file name of the memory map written in the output folder. */
    public static final String MEMORY_MAP = "replay-memory-map.html";

    @Override
    public String name() {
        return "replay";
    }

    @Override
    public String summary() {
        return "replay an allocation trace (--workload llm-serving or --trace FILE.csv) against the caching pool";
    }

    /** slf4j-simple's per-logger level property for the memory layer, read when its loggers are created. */
    private static final String MEMORY_LOG_LEVEL = "org.slf4j.simpleLogger.log.io.vramkit.core.memory";

    @Override
    public int run(List<String> args, PrintStream out, PrintStream err) throws Exception {
        // A replay grows the pool hundreds of times; its INFO lines would bury the report. Users can still ask for them.
        if (System.getProperty(MEMORY_LOG_LEVEL) == null) {
            System.setProperty(MEMORY_LOG_LEVEL, "warn");
        }
        String workload = null;
        Path traceFile = null;
        Path saveTrace = null;
        Path outDir = Path.of(".");
        boolean json = false;
        boolean reallocKv = false;
        long capacity = 80L << 30;
        int requests = 200;
        long seed = 42;
        long maxSplit = Long.MAX_VALUE;
        long releaseThreshold = Long.MAX_VALUE;
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            switch (a) {
                case "--json" -> json = true;
                case "--workload" -> {
                    workload = value(args, ++i, a);
                    if (!workload.equals("llm-serving")) {
                        throw new UsageException("--workload must be 'llm-serving', got '" + workload + "'");
                    }
                }
                case "--trace" -> traceFile = Path.of(value(args, ++i, a));
                case "--save-trace" -> saveTrace = Path.of(value(args, ++i, a));
                case "--out" -> outDir = Path.of(value(args, ++i, a));
                case "--realloc-kv" -> reallocKv = true;
                case "--capacity-gib" -> capacity = (long) (positiveDouble(args, ++i, a) * (1L << 30));
                case "--requests" -> requests = (int) positiveLong(args, ++i, a);
                case "--seed" -> seed = parseLong(args, ++i, a);
                case "--max-split-mib" -> maxSplit = positiveLong(args, ++i, a) << 20;
                case "--release-threshold-mib" -> releaseThreshold = nonNegativeLong(args, ++i, a) << 20;
                default -> throw new UsageException("unknown argument '" + a + "'");
            }
        }
        if ((workload == null) == (traceFile == null)) {
            throw new UsageException("give exactly one of --workload llm-serving or --trace FILE.csv");
        }
        if (capacity <= 0) {
            throw new UsageException("--capacity-gib must be positive");
        }
        Trace trace;
        String source;
        if (traceFile != null) {
            if (!Files.isRegularFile(traceFile)) {
                throw new UsageException("--trace: no such file '" + traceFile + "'");
            }
            try (Reader r = Files.newBufferedReader(traceFile, StandardCharsets.UTF_8)) {
                trace = TraceCsv.read(r);
            }
            source = traceFile.toString();
        } else {
            trace = LlmServingTraceGenerator.defaults(seed).withRequests(requests).withReallocatedKv(reallocKv)
                    .generate();
            source = "llm-serving";
            if (saveTrace != null) {
                try (Writer w = Files.newBufferedWriter(saveTrace, StandardCharsets.UTF_8)) {
                    TraceCsv.write(trace.events(), w);
                }
            }
        }
        PoolSettings settings;
        try {
            settings = PoolSettings.builder().name("replay").maxSplitBytes(maxSplit)
                    .releaseThresholdBytes(releaseThreshold).build();
        } catch (IllegalArgumentException e) {
            throw new UsageException("bad pool setting: " + e.getMessage());
        }
        ReplayReport pooled = TraceReplayer.replay(trace, "caching pool", capacity,
                up -> new CachingPool(up, settings));
        ReplayReport none = TraceReplayer.replay(trace, "no pooling", capacity, Function.identity());

        Files.createDirectories(outDir);
        Path map = outDir.resolve(MEMORY_MAP);
        String html = pooled.peakSnapshot() != null
                ? pooled.peakSnapshot().toHtml("vramkit replay of " + source + ": memory at peak reservation")
                : "<!DOCTYPE html><html><body><p>nothing was allocated</p></body></html>\n";
        Files.writeString(map, html, StandardCharsets.UTF_8);

        if (json) {
            String pooledJson = pooled.toJson();
            out.println("{\"command\":\"replay\",\"source\":" + quote(source) + ","
                    + pooledJson.substring(1, pooledJson.length() - 1)
                    + ",\"noPooling\":" + none.toJson()
                    + ",\"memoryMap\":" + quote(map.toAbsolutePath().normalize().toString()) + "}");
        } else {
            out.println("vramkit replay of " + source + " (" + trace.events().size() + " events) on a simulated "
                    + ByteSizes.human(capacity) + " device");
            out.println();
            out.println(pooled.describe());
            out.println(none.describe());
            out.println();
            out.printf(Locale.ROOT, "caching pool: peak reserved / peak allocated = %.3f, with %d upstream "
                            + "allocations instead of %d%n", pooled.reservedToAllocatedRatio(),
                    pooled.upstreamAllocations(), none.upstreamAllocations());
            out.println("memory map at peak reservation: " + map.toAbsolutePath().normalize());
        }
        return 0;
    }

    private static String quote(String s) {
        StringBuilder sb = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                default -> {
                    if (c < 0x20) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        return sb.append('"').toString();
    }

    private static String value(List<String> args, int i, String flag) {
        if (i >= args.size()) {
            throw new UsageException(flag + " needs a value");
        }
        return args.get(i);
    }

    private static long parseLong(List<String> args, int i, String flag) {
        String v = value(args, i, flag);
        try {
            return Long.parseLong(v);
        } catch (NumberFormatException e) {
            throw new UsageException(flag + " must be an integer, got '" + v + "'");
        }
    }

    private static long positiveLong(List<String> args, int i, String flag) {
        long v = parseLong(args, i, flag);
        if (v <= 0 || v > Integer.MAX_VALUE) {
            throw new UsageException(flag + " must be a positive integer, got " + v);
        }
        return v;
    }

    private static long nonNegativeLong(List<String> args, int i, String flag) {
        long v = parseLong(args, i, flag);
        if (v < 0 || v > Integer.MAX_VALUE) {
            throw new UsageException(flag + " must be a non-negative integer, got " + v);
        }
        return v;
    }

    private static double positiveDouble(List<String> args, int i, String flag) {
        String v = value(args, i, flag);
        try {
            double d = Double.parseDouble(v);
            if (!(d > 0) || d > 1e6) {
                throw new NumberFormatException();
            }
            return d;
        } catch (NumberFormatException e) {
            throw new UsageException(flag + " must be a positive number, got '" + v + "'");
        }
    }
}
