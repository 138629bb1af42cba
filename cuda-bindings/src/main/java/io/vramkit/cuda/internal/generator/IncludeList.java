package io.vramkit.cuda.internal.generator;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;

/**
 * The generator's include list ({@code cuda-bindings/generator/bindings.list}): which header classes to write and,
 * for each, which functions, enum constants and macros to bind; plus which structs get a layout class.
 *
 * <p>Format, one entry a line, {@code #} starts a comment:
 * <pre>
 * header cudart_h CUDART      # class name, then the NativeLibraries.Library constant it loads
 * function cudaMalloc
 * constant cudaSuccess        # one enum constant
 * macro cudaHostAllocDefault  # an integer macro
 * struct cudaDeviceProp       # a layout class of its own
 * </pre>
 * Immutable once parsed.
 */
record IncludeList(List<Header> headers, Set<String> structs) {

    /** One generated header class. */
    record Header(String className, String libraryConstant, Set<String> functions, Set<String> constants,
                  Set<String> macros) {

        String library() {
            return libraryConstant.toLowerCase(Locale.ROOT);
        }
    }

    static IncludeList parse(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new IllegalStateException("include list not found: " + file);
        }
        List<Header> headers = new ArrayList<>();
        Set<String> structs = new TreeSet<>();
        Header current = null;
        int lineNo = 0;
        for (String raw : Files.readAllLines(file)) {
            lineNo++;
            String line = raw.replaceFirst("#.*", "").trim();
            if (line.isEmpty()) {
                continue;
            }
            String[] words = line.split("\\s+");
            String where = file + ":" + lineNo;
            if (words[0].equals("header")) {
                if (words.length != 3) {
                    throw new IllegalStateException(where + ": expected 'header CLASS LIBRARY'");
                }
                current = new Header(words[1], words[2], new TreeSet<>(), new TreeSet<>(), new TreeSet<>());
                headers.add(current);
                continue;
            }
            if (words.length != 2) {
                throw new IllegalStateException(where + ": expected 'KIND NAME', got '" + line + "'");
            }
            if (words[0].equals("struct")) {
                structs.add(words[1]);
                continue;
            }
            if (current == null) {
                throw new IllegalStateException(where + ": '" + words[0] + "' before any 'header' line");
            }
            switch (words[0]) {
                case "function" -> current.functions().add(words[1]);
                case "constant" -> current.constants().add(words[1]);
                case "macro" -> current.macros().add(words[1]);
                default -> throw new IllegalStateException(where + ": unknown kind '" + words[0] + "'");
            }
        }
        return new IncludeList(List.copyOf(headers), structs);
    }

    boolean wantsFunction(String name) {
        return headers.stream().anyMatch(h -> h.functions().contains(name));
    }

    boolean wantsStruct(String name) {
        return structs.contains(name);
    }

    boolean wantsConstant(String name) {
        return headers.stream().anyMatch(h -> h.constants().contains(name));
    }

    Set<String> allFunctions() {
        Set<String> all = new TreeSet<>();
        headers.forEach(h -> all.addAll(h.functions()));
        return all;
    }

    Set<String> constants() {
        Set<String> all = new TreeSet<>();
        headers.forEach(h -> all.addAll(h.constants()));
        return all;
    }

    Set<String> macros() {
        Set<String> all = new TreeSet<>();
        headers.forEach(h -> all.addAll(h.macros()));
        return all;
    }
}
