package io.vramkit.core.planner;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;

/**
 * Built-in model configs: the published Hugging Face {@code config.json} files of Llama-2 7B/13B/70B, Llama-3
 * 8B/70B, Mistral-7B-v0.1 (sliding window 4096) and Mixtral-8x7B-v0.1, shipped as resources. Thread-safe.
 */
public final class ModelPresets {

    private static final List<String> NAMES = List.of("llama-2-7b", "llama-2-13b", "llama-2-70b", "llama-3-8b",
            "llama-3-70b", "mistral-7b", "mixtral-8x7b");

    private ModelPresets() {
    }

    /** The preset names, in a stable order. */
    public static List<String> names() {
        return NAMES;
    }

    /**
     * The config of a preset, by name (case-insensitive).
     *
     * @throws IllegalArgumentException for an unknown name, listing the known ones
     */
    public static ModelConfig get(String name) {
        String key = name == null ? "" : name.toLowerCase(Locale.ROOT).trim();
        if (!NAMES.contains(key)) {
            throw new IllegalArgumentException("unknown model '" + name + "'; known models: "
                    + String.join(", ", NAMES) + " (or give a config.json path)");
        }
        try (InputStream in = ModelPresets.class.getResourceAsStream(key + ".json")) {
            if (in == null) {
                throw new IllegalStateException("preset resource " + key + ".json is missing from the jar");
            }
            return ModelConfig.fromHuggingFace(key, new String(in.readAllBytes(), StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
