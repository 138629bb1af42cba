package io.vramkit.cuda.internal.generator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** The committed bindings are exactly what the generator writes from the installed CUDA headers. */
class BindingGeneratorTest {

    static final Path GENERATOR_DIR = Path.of("generator");
    static final Path COMMITTED = Path.of("src/main/java/io/vramkit/cuda/internal/panama");

    static Path cudaInclude() {
        String home = System.getenv("CUDA_HOME");
        return Path.of(home != null ? home : "/usr/local/cuda", "include");
    }

    @Test
    void generatedSourcesMatchTheCommittedOnes() throws IOException {
        assumeTrue(LibClang.available(), "libclang 14 is not installed (apt-get install libclang1-14); CI installs "
                + "it, so this check runs there");
        assumeTrue(Files.isRegularFile(cudaInclude().resolve("cuda_runtime_api.h")),
                "CUDA headers not found in " + cudaInclude());
        Map<String, String> generated = BindingGenerator.generate(cudaInclude(), GENERATOR_DIR);
        TreeSet<String> committed;
        try (Stream<Path> files = Files.list(COMMITTED)) {
            committed = files.map(p -> p.getFileName().toString()).collect(Collectors.toCollection(TreeSet::new));
        }
        assertEquals(committed, new TreeSet<>(generated.keySet()), "generated file set; run cuda-bindings/regenerate");
        for (Map.Entry<String, String> e : generated.entrySet()) {
            assertEquals(Files.readString(COMMITTED.resolve(e.getKey())), e.getValue(),
                    e.getKey() + " differs from the generator's output; run cuda-bindings/regenerate");
        }
    }

    @Test
    void outputIsDeterministic() throws IOException {
        assumeTrue(LibClang.available(), "libclang 14 is not installed");
        assumeTrue(Files.isRegularFile(cudaInclude().resolve("cuda_runtime_api.h")), "CUDA headers not found");
        assertEquals(BindingGenerator.generate(cudaInclude(), GENERATOR_DIR),
                BindingGenerator.generate(cudaInclude(), GENERATOR_DIR));
    }

    @Test
    void everyCommittedFileNamesItsGeneratorAndHeaders() throws IOException {
        try (Stream<Path> files = Files.list(COMMITTED)) {
            for (Path p : files.toList()) {
                String first = Files.readAllLines(p).getFirst();
                assertTrue(first.contains("io.vramkit.cuda.internal.generator.BindingGenerator"), p + ": " + first);
                assertTrue(Files.readString(p).contains("cuda_runtime_api.h and cuda.h (CUDA_VERSION"), p.toString());
            }
        }
    }

    @Test
    void includeListRejectsMalformedLines(@org.junit.jupiter.api.io.TempDir Path dir) throws IOException {
        Path list = dir.resolve("bindings.list");
        Files.writeString(list, "function cudaMalloc\n");
        var e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
                () -> IncludeList.parse(list));
        assertTrue(e.getMessage().contains("before any 'header' line"), e.getMessage());
        Files.writeString(list, "header a_h CUDART\nfunctoin cudaMalloc\n");
        e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class, () -> IncludeList.parse(list));
        assertTrue(e.getMessage().contains("unknown kind 'functoin'") && e.getMessage().contains(":2"),
                e.getMessage());
    }

    @Test
    void missingNamesAreReported(@org.junit.jupiter.api.io.TempDir Path dir) throws IOException {
        assumeTrue(LibClang.available(), "libclang 14 is not installed");
        assumeTrue(Files.isRegularFile(cudaInclude().resolve("cuda_runtime_api.h")), "CUDA headers not found");
        Files.copy(GENERATOR_DIR.resolve("cublas_vramkit.h"), dir.resolve("cublas_vramkit.h"));
        Files.writeString(dir.resolve("bindings.list"), "header x_h CUDART\nfunction cudaNoSuchFunction\n"
                + "constant cudaNoSuchConstant\n");
        var e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
                () -> BindingGenerator.generate(cudaInclude(), dir));
        assertTrue(e.getMessage().contains("function cudaNoSuchFunction")
                && e.getMessage().contains("constant cudaNoSuchConstant"), e.getMessage());
    }
}
