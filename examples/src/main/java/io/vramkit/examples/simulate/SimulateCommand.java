package io.vramkit.examples.simulate;

import io.vramkit.core.planner.ByteUnits;
import io.vramkit.core.planner.ModelConfig;
import io.vramkit.core.scheduler.AdmissionPolicy;
import io.vramkit.examples.Command;
import io.vramkit.examples.plan.CliArgs;
import io.vramkit.examples.plan.JsonOut;
import io.vramkit.examples.plan.PlanCommand;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * {@code vramkit simulate}: replays a synthetic serving workload through the real scheduler and paged KV cache and
 * writes a self-contained HTML report.
 *
 * {@snippet :
 * vramkit simulate --workload sharegpt --kv-layout paged --json
 * vramkit simulate --workload alpaca --kv-layout contiguous --arrivals bursty --html report.html
 * vramkit simulate --workload sharegpt --kv-layout all
 * }
 *
 * <p>{@code --kv-layout all} runs every layout on the same trace and writes one comparative report; its JSON nests
 * one object per layout under {@code layouts}.
 */
public final class SimulateCommand implements Command {

    private static final Set<String> VALUES = Set.of("workload", "kv-layout", "policy", "requests", "rate",
            "arrivals", "kv-gib", "model", "seed", "html", "max-model-len");
    private static final Set<String> FLAGS = Set.of("json", "no-html");

    @Override
    public String name() {
        return "simulate";
    }

    @Override
    public String summary() {
        return "serving simulator: KV layouts and admission policies on ShareGPT/Alpaca-like workloads, HTML report";
    }

    @Override
    public int run(List<String> argList, PrintStream out, PrintStream err) throws IOException {
        CliArgs a = new CliArgs(argList, VALUES, FLAGS);
        Workload.Kind kind;
        List<KvLayout> layouts;
        try {
            kind = Workload.Kind.parse(a.get("workload", "sharegpt"));
            String l = a.get("kv-layout", "paged");
            layouts = l.equalsIgnoreCase("all") ? List.of(KvLayout.values()) : List.of(KvLayout.parse(l));
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage() + " (or all)");
        }
        AdmissionPolicy policy = switch (a.get("policy", "optimistic").toLowerCase(Locale.ROOT)) {
            case "optimistic" -> AdmissionPolicy.optimistic();
            case "predicted", "reserve-predicted" -> AdmissionPolicy.reservePredicted();
            case "no-evict" -> AdmissionPolicy.noEvict();
            default -> throw new UsageException("--policy must be optimistic, predicted or no-evict, got '"
                    + a.get("policy", "") + "'");
        };
        boolean alpaca = kind == Workload.Kind.ALPACA;
        int requests = a.intValue("requests", alpaca ? 2000 : 1000, 1, 10_000_000);
        double rate = a.doubleValue("rate", alpaca ? 40 : 6);
        String arrivals = a.get("arrivals", "poisson").toLowerCase(Locale.ROOT);
        if (!arrivals.equals("poisson") && !arrivals.equals("bursty")) {
            throw new UsageException("--arrivals must be poisson or bursty, got '" + arrivals + "'");
        }
        double kvGib = a.doubleValue("kv-gib", 4);
        int maxLen = a.intValue("max-model-len", 2048, 16, 1 << 20);
        long seed = a.intValue("seed", 1, Integer.MIN_VALUE, Integer.MAX_VALUE);
        ModelConfig model = PlanCommand.loadModel(a.get("model", "llama-2-7b"));
        Workload w = new Workload(kind, requests, rate, arrivals.equals("bursty"), maxLen, seed);
        List<ServingSimulator.Result> results = new ArrayList<>();
        for (KvLayout layout : layouts) {
            ServingSimulator.Config cfg = new ServingSimulator.Config(layout, policy, model,
                    (long) (kvGib * ByteUnits.GIB), maxLen, 2048, 3.35e12, 400e12 * 0.6, 25e9, 0.5e-3);
            results.add(new ServingSimulator(cfg).run(w));
        }
        CompressionErrorProbe.Result probe = layouts.contains(KvLayout.PAGED_COMPRESS)
                ? CompressionErrorProbe.run(4, 256, seed) : null;
        String probeNote = probe == null ? null : String.format(Locale.ROOT,
                "Compression cost, measured with the attention module's paged decode on a real cache: %.0f%% of "
                        + "tokens in INT8 gives %.2e relative attention-output error (FP16 alone: %.2e).",
                probe.compressedFraction() * 100, probe.relativeErrorCompressed(), probe.relativeErrorUncompressed());
        String layoutName = layouts.size() == 1 ? layouts.get(0).cliName() : "all";
        String html = null;
        if (!a.flag("no-html")) {
            Path p = Path.of(a.get("html", "simulate-" + kind.name().toLowerCase(Locale.ROOT) + "-" + layoutName
                    + ".html"));
            Files.writeString(p, HtmlReport.render("vramkit serving simulation: " + kind.name().toLowerCase(
                    Locale.ROOT) + ", " + requests + " requests, " + arrivals + " at " + rate + "/s, "
                    + kvGib + " GiB KV", results, probeNote));
            html = p.toAbsolutePath().toString();
        }
        if (a.flag("json")) {
            JsonOut j = new JsonOut().put("workload", kind.name().toLowerCase(Locale.ROOT))
                    .put("kvLayout", layoutName).put("policy", policy.toString()).put("arrivals", arrivals)
                    .put("requests", requests).put("meanPromptTokens", w.meanPromptTokens())
                    .put("meanOutputTokens", w.meanOutputTokens()).put("kvBytes", (long) (kvGib * ByteUnits.GIB));
            if (results.size() == 1) {
                describe(j, results.get(0));
            } else {
                JsonOut per = new JsonOut();
                for (ServingSimulator.Result r : results) {
                    per.put(r.layout().cliName(), describe(new JsonOut(), r));
                }
                j.put("layouts", per);
            }
            j.put("html", html);
            if (probe != null) {
                j.put("compressionAttentionRelativeError", probe.relativeErrorCompressed())
                        .put("uncompressedAttentionRelativeError", probe.relativeErrorUncompressed())
                        .put("compressedTokenFraction", probe.compressedFraction());
            }
            out.println(j);
        } else {
            out.printf(Locale.ROOT, "%s workload, %d requests (mean %.0f in / %.0f out), %s arrivals at %.1f/s; "
                            + "%s admission, %.1f GiB KV%n", kind.name().toLowerCase(Locale.ROOT), requests,
                    w.meanPromptTokens(), w.meanOutputTokens(), arrivals, rate, policy, kvGib);
            for (ServingSimulator.Result r : results) {
                out.printf(Locale.ROOT, "%s (%d blocks of %d tokens):%n", r.layout().cliName(), r.kvBlocks(),
                        r.blockSize());
                out.printf(Locale.ROOT, "  completed %d, failed %d, preemptions %d (%d by swap)%n", r.completed(),
                        r.failed(), r.preemptions(), r.preemptionsBySwap());
                out.printf(Locale.ROOT, "  KV waste %.2f%%, mean KV use %.1f%%, peak reserved %.1f%%%n",
                        r.kvWasteFraction() * 100, r.meanKvUtilization() * 100, r.peakReservedUtilization() * 100);
                out.printf(Locale.ROOT, "  throughput %.0f tokens/s, %.2f requests/s over %.1f simulated s; TTFT "
                                + "p50 %.3f s, p99 %.3f s%n", r.throughputTokensPerSecond(),
                        r.throughputRequestsPerSecond(), r.simulatedSeconds(), r.ttftP50Seconds(), r.ttftP99Seconds());
            }
            if (probeNote != null) {
                out.println("  " + probeNote);
            }
            if (html != null) {
                out.println("report: " + html);
            }
        }
        return 0;
    }

    private static JsonOut describe(JsonOut j, ServingSimulator.Result r) {
        return j.put("kvBlocks", r.kvBlocks()).put("blockSize", r.blockSize()).put("completed", r.completed())
                .put("failed", r.failed()).put("preemptions", r.preemptions())
                .put("preemptionsBySwap", r.preemptionsBySwap()).put("kvWasteFraction", r.kvWasteFraction())
                .put("meanKvUtilization", r.meanKvUtilization()).put("peakKvUtilization", r.peakKvUtilization())
                .put("peakReservedUtilization", r.peakReservedUtilization())
                .put("throughputTokensPerSecond", r.throughputTokensPerSecond())
                .put("throughputRequestsPerSecond", r.throughputRequestsPerSecond())
                .put("simulatedSeconds", r.simulatedSeconds()).put("meanQueue", r.meanQueue())
                .put("meanRunning", r.meanRunning()).put("ttftP50Seconds", r.ttftP50Seconds())
                .put("ttftP99Seconds", r.ttftP99Seconds()).put("latencyP50Seconds", r.latencyP50Seconds())
                .put("compressedBlocks", r.compressedBlocks()).put("prefixHitTokens", r.prefixHitTokens());
    }
}
