package io.vramkit.jmh.cuda;

import io.vramkit.cuda.Cuda;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.results.format.ResultFormatType;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/**
 * Runs the GPU benchmarks ({@link CudaAllocBenchmark}, {@link PinnedCopyBenchmark}, {@link GemmBenchmark}) and prints
 * derived figures: allocation ratios against cudaMalloc and cudaMallocAsync, bandwidth in GB/s, GEMM TFLOP/s. Exits
 * 0 with one line when no GPU answers. {@code scripts/gpu-check} calls it.
 *
 * <p>Usage: {@code java -cp benchmarks.jar io.vramkit.jmh.cuda.GpuBenchmarks [--out DIR] [--quick]}: {@code --out}
 * writes {@code gpu-benchmarks.json} (JMH's JSON, which {@code scripts/gpu-check-summary.py} reads) and
 * {@code gpu-benchmarks.txt} (the summary) there; {@code --quick} uses one warm-up and two measurements of half a
 * second each.
 */
public final class GpuBenchmarks {

    private GpuBenchmarks() {
    }

    /**
     * Entry point.
     *
     * @param args {@code [--out DIR] [--quick] [--include REGEX]}
     * @throws RunnerException if JMH fails
     * @throws IOException     if the summary cannot be written
     */
    public static void main(String[] args) throws RunnerException, IOException {
        Path out = null;
        boolean quick = false;
        String include = GpuBenchmarks.class.getPackageName() + ".*Benchmark";
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--out" -> out = Path.of(args[++i]);
                case "--quick" -> quick = true;
                case "--include" -> include = args[++i];
                default -> {
                    System.err.println("usage: GpuBenchmarks [--out DIR] [--quick] [--include REGEX]");
                    System.exit(2);
                }
            }
        }
        Cuda.CudaStatus status = Cuda.status();
        if (!status.usable()) {
            System.out.println("GPU benchmarks skipped: no usable CUDA device (" + status.reason() + "): "
                    + status.message());
            return;
        }
        ChainedOptionsBuilder options = new OptionsBuilder().include(include).forks(1)
                .jvmArgsAppend("--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED")
                .shouldFailOnError(false);
        if (quick) {
            // About 3 s per case with the fork: the 32 cases of the three benchmarks fit gpu-check's 210 s step.
            options.warmupIterations(1).warmupTime(TimeValue.milliseconds(500)).measurementIterations(2)
                    .measurementTime(TimeValue.milliseconds(500));
        } else {
            options.warmupIterations(2).warmupTime(TimeValue.seconds(1)).measurementIterations(3)
                    .measurementTime(TimeValue.seconds(2));
        }
        if (out != null) {
            Files.createDirectories(out);
            options.resultFormat(ResultFormatType.JSON).result(out.resolve("gpu-benchmarks.json").toString());
        }
        Collection<RunResult> results = new Runner(options.build()).run();
        List<String> summary = summarize(results);
        summary.forEach(System.out::println);
        if (out != null) {
            Files.write(out.resolve("gpu-benchmarks.txt"), summary, StandardCharsets.UTF_8);
        }
    }

    /** One line per result, with the derived unit and the ratio against the baseline of the same run. */
    static List<String> summarize(Collection<RunResult> results) {
        Map<String, Double> scores = new HashMap<>();
        for (RunResult r : results) {
            scores.put(key(r), r.getPrimaryResult().getScore());
        }
        List<String> lines = new ArrayList<>();
        lines.add(String.format(Locale.ROOT, "%-48s %14s  %s", "GPU benchmark", "figure", "against baseline"));
        for (RunResult r : results) {
            String bench = r.getParams().getBenchmark();
            String method = bench.substring(bench.lastIndexOf('.') + 1);
            double score = r.getPrimaryResult().getScore();
            String label = bench.substring(bench.lastIndexOf('.', bench.lastIndexOf('.') - 1) + 1) + params(r);
            String figure;
            String versus = "";
            if (bench.contains("CudaAllocBenchmark")) {
                figure = String.format(Locale.ROOT, "%.0f ns/op", score);
                String bytes = r.getParams().getParam("bytes");
                Double malloc = scores.get("CudaAllocBenchmark.cudaMallocFree" + "|" + bytes);
                Double async = scores.get("CudaAllocBenchmark.cudaMallocAsyncFree" + "|" + bytes);
                if (method.startsWith("cachingPool") && malloc != null && async != null) {
                    versus = String.format(Locale.ROOT, "%.1fx faster than cudaMalloc+Free, %.1fx than "
                            + "cudaMallocAsync+FreeAsync", malloc / score, async / score);
                }
            } else if (bench.contains("PinnedCopyBenchmark")) {
                double bytes = Double.parseDouble(r.getParams().getParam("bytes"));
                figure = String.format(Locale.ROOT, "%.1f GB/s", bytes / (score * 1e-6) / 1e9);
                String baseline = method.replace("Pinned", "Pageable");
                Double base = scores.get("PinnedCopyBenchmark." + baseline + "|" + r.getParams().getParam("bytes"));
                if (method.endsWith("Pinned") && base != null) {
                    versus = String.format(Locale.ROOT, "%.2fx pageable", base / score);
                }
            } else if (bench.contains("GemmBenchmark")) {
                double n = Double.parseDouble(r.getParams().getParam("n"));
                figure = String.format(Locale.ROOT, "%.1f TFLOP/s", 2 * n * n * n / (score * 1e-6) / 1e12);
                versus = "compare torch.matmul in torch-matmul.txt";
            } else {
                figure = String.format(Locale.ROOT, "%.3f %s", score, r.getPrimaryResult().getScoreUnit());
            }
            lines.add(String.format(Locale.ROOT, "%-48s %14s  %s", label, figure, versus));
        }
        return lines;
    }

    private static String key(RunResult r) {
        String bench = r.getParams().getBenchmark();
        String shortName = bench.substring(bench.lastIndexOf('.', bench.lastIndexOf('.') - 1) + 1);
        String bytes = r.getParams().getParam("bytes");
        return shortName + "|" + (bytes == null ? "" : bytes);
    }

    private static String params(RunResult r) {
        StringBuilder sb = new StringBuilder();
        for (String p : r.getParams().getParamsKeys()) {
            sb.append(sb.isEmpty() ? " [" : ", ").append(p).append('=').append(r.getParams().getParam(p));
        }
        return sb.isEmpty() ? "" : sb.append(']').toString();
    }
}
