package io.vramkit.examples.simulate;

import java.util.Locale;

/** How the simulated server lays out KV memory. */
public enum KvLayout {
    /** Every request preallocates the maximum model length in one contiguous block (pre-vLLM servers). */
    CONTIGUOUS,
    /** Paged blocks of 16 tokens, allocated on demand. */
    PAGED,
    /** Paged, with hash-chained prefix sharing. */
    PAGED_PREFIX,
    /** Paged with prefix sharing, and cold blocks compressed to INT8 below a free-block watermark. */
    PAGED_COMPRESS;

    /**
     * Parses {@code contiguous | paged | paged-prefix | paged-compress}.
     *
     * @throws IllegalArgumentException naming the known layouts
     */
    public static KvLayout parse(String s) {
        return switch (s.toLowerCase(Locale.ROOT)) {
            case "contiguous" -> CONTIGUOUS;
            case "paged" -> PAGED;
            case "paged-prefix" -> PAGED_PREFIX;
            case "paged-compress" -> PAGED_COMPRESS;
            default -> throw new IllegalArgumentException(
                    "kv-layout must be contiguous, paged, paged-prefix or paged-compress, got '" + s + "'");
        };
    }

    /** The CLI spelling. */
    public String cliName() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }
}
