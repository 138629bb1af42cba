package io.vramkit.examples.minilm;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The demo's input sentences, one per line: the bundled default set ({@value #DEFAULT_RESOURCE}, 260 sentences of
 * everyday text, paraphrase pairs, numbers, code, logs, thirteen languages, very short inputs, and long ones, one of
 * them over 512 tokens) or a user file. Lines are used as they are, except that a trailing carriage return is
 * dropped and empty lines are skipped. Stateless.
 */
public final class SentenceSet {

    /** Classpath location of the default set. */
    public static final String DEFAULT_RESOURCE = "io/vramkit/examples/minilm/sentences.txt";

    private SentenceSet() {
    }

    /**
     * The default sentence set.
     *
     * @throws UncheckedIOException if the resource cannot be read
     */
    public static List<String> defaults() {
        try (InputStream in = SentenceSet.class.getClassLoader().getResourceAsStream(DEFAULT_RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException("resource " + DEFAULT_RESOURCE + " is missing from the classpath");
            }
            return parse(new String(in.readAllBytes(), StandardCharsets.UTF_8), DEFAULT_RESOURCE);
        } catch (IOException e) {
            throw new UncheckedIOException("reading " + DEFAULT_RESOURCE, e);
        }
    }

    /**
     * Reads a UTF-8 file with one sentence per line.
     *
     * @throws IOException              if the file cannot be read
     * @throws IllegalArgumentException if it holds no non-empty line
     */
    public static List<String> read(Path file) throws IOException {
        return parse(Files.readString(file, StandardCharsets.UTF_8), file.toString());
    }

    static List<String> parse(String text, String source) {
        List<String> out = new ArrayList<>();
        for (String line : text.split("\n", -1)) {
            String s = line.endsWith("\r") ? line.substring(0, line.length() - 1) : line;
            if (!s.isEmpty()) {
                out.add(s);
            }
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException("sentence file " + source + " holds no non-empty line");
        }
        return out;
    }
}
