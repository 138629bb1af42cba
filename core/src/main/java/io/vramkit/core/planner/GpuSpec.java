package io.vramkit.core.planner;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A set of identical GPUs: how many and how much memory each has, in bytes.
 *
 * <p>Named models carry the capacity {@code nvidia-smi} reports (for example an H100 80GB shows 81559 MiB, about
 * 85.5 GB), not the marketing label. A generic size is {@code 24GB} (10⁹ bytes) or {@code 24GiB} (2³⁰ bytes).
 * Immutable and thread-safe.
 *
 * @param name        display name
 * @param count       GPUs, {@code >= 1}
 * @param bytesPerGpu memory per GPU in bytes
 */
public record GpuSpec(String name, int count, long bytesPerGpu) {

    private static final Map<String, Long> KNOWN = new LinkedHashMap<>();

    static {
        KNOWN.put("H100-80GB", 81559L << 20);
        KNOWN.put("H200-141GB", 143771L << 20);
        KNOWN.put("A100-80GB", 81920L << 20);
        KNOWN.put("A100-40GB", 40960L << 20);
        KNOWN.put("L40S-48GB", 46068L << 20);
        KNOWN.put("L4-24GB", 23034L << 20);
        KNOWN.put("RTX4090-24GB", 24564L << 20);
        KNOWN.put("T4-16GB", 15360L << 20);
    }

    private static final Pattern SPEC = Pattern.compile("(?:(\\d+)x)?(.+)", Pattern.CASE_INSENSITIVE);
    private static final Pattern SIZE = Pattern.compile("(\\d+(?:\\.\\d+)?)(GB|GIB)", Pattern.CASE_INSENSITIVE);

    /**
     * Validates.
     *
     * @throws IllegalArgumentException naming the bad component
     */
    public GpuSpec {
        if (count <= 0) {
            throw new IllegalArgumentException("GPU count must be positive, got " + count);
        }
        if (bytesPerGpu <= 0) {
            throw new IllegalArgumentException("bytesPerGpu must be positive, got " + bytesPerGpu);
        }
    }

    /**
     * Parses {@code [N x]NAME}, e.g. {@code 2xH100-80GB}, {@code A100-40GB}, {@code 4x24GiB}, {@code 8x80GB}.
     *
     * @throws IllegalArgumentException for an unknown GPU, listing the known names
     */
    public static GpuSpec parse(String spec) {
        if (spec == null) {
            throw new IllegalArgumentException("GPU spec must not be null");
        }
        Matcher m = SPEC.matcher(spec.trim());
        if (!m.matches()) {
            throw new IllegalArgumentException("bad GPU spec '" + spec + "'");
        }
        int count = m.group(1) == null ? 1 : Integer.parseInt(m.group(1));
        String name = m.group(2).toUpperCase(Locale.ROOT);
        Long bytes = KNOWN.get(name);
        if (bytes == null) {
            Matcher s = SIZE.matcher(name);
            if (!s.matches()) {
                throw new IllegalArgumentException("unknown GPU '" + m.group(2) + "' in '" + spec + "'; known: "
                        + String.join(", ", KNOWN.keySet()) + ", or a size such as 24GB or 24GiB");
            }
            double v = Double.parseDouble(s.group(1));
            bytes = (long) (v * (s.group(2).equalsIgnoreCase("GB") ? 1e9 : (double) ByteUnits.GIB));
        }
        return new GpuSpec(name, count, bytes);
    }

    /** All GPUs' memory together. */
    public long totalBytes() {
        return bytesPerGpu * count;
    }

    @Override
    public String toString() {
        return count + "x" + name + " (" + ByteUnits.format(bytesPerGpu) + " each)";
    }
}
