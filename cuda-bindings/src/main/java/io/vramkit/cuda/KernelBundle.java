package io.vramkit.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;

/**
 * What the build recorded about one module's CUDA kernels: the manifest {@code scripts/build-kernels} writes next
 * to the fatbin, readable without a GPU.
 *
 * <p>Resources live under {@value #RESOURCE_DIR} (a folder name that is not a Java package, so a named module's
 * encapsulation does not hide them): {@code <bundle>.fatbin} and {@code <bundle>.properties}, where the bundle is
 * the Maven module's folder name ({@code cuda-bindings}, {@code quantization}, {@code attention}). Immutable.
 *
 * @param name    the bundle name
 * @param status  {@code built}, {@code nvcc-missing} or {@code failed}
 * @param reason  why the fatbin is absent, or empty when built
 * @param kernels the {@code extern "C" __global__} kernels found in the sources, sorted
 * @param sources the {@code .cu} files, sorted
 * @param archs   the targets compiled, e.g. {@code sm_80,sm_86,sm_89,sm_90,compute_90}
 * @param nvcc    the nvcc version line, or empty
 */
public record KernelBundle(String name, String status, String reason, List<String> kernels, List<String> sources,
                           String archs, String nvcc) {

    /** The resource folder, relative to the class-path root. */
    public static final String RESOURCE_DIR = "META-INF/vramkit-kernels/";

    /**
     * Reads a bundle's manifest through {@code anchor}'s class loader.
     *
     * @param anchor a class of the module that owns the kernels
     * @param bundle the bundle name
     * @return the manifest, or null when the module has no manifest (no {@code src/main/cuda}, or not built)
     * @throws IllegalArgumentException if {@code anchor} or {@code bundle} is null or blank
     */
    public static KernelBundle describe(Class<?> anchor, String bundle) {
        checkArgs(anchor, bundle);
        try (InputStream in = open(anchor, bundle + ".properties")) {
            if (in == null) {
                return null;
            }
            Properties p = new Properties();
            p.load(in);
            return new KernelBundle(bundle, p.getProperty("status", "unknown"), p.getProperty("reason", ""),
                    split(p.getProperty("kernels", "")), split(p.getProperty("sources", "")),
                    p.getProperty("archs", ""), p.getProperty("nvcc", ""));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read kernel manifest of " + bundle, e);
        }
    }

    /** Whether the build produced the fatbin. */
    public boolean built() {
        return status.equals("built");
    }

    static void checkArgs(Class<?> anchor, String bundle) {
        if (anchor == null) {
            throw new IllegalArgumentException("anchor must not be null");
        }
        if (bundle == null || bundle.isBlank() || bundle.contains("/")) {
            throw new IllegalArgumentException("bundle must be a module folder name such as 'quantization', got '"
                    + bundle + "'");
        }
    }

    static InputStream open(Class<?> anchor, String file) {
        ClassLoader loader = anchor.getClassLoader();
        return loader == null ? ClassLoader.getSystemResourceAsStream(RESOURCE_DIR + file)
                : loader.getResourceAsStream(RESOURCE_DIR + file);
    }

    private static List<String> split(String csv) {
        return csv.isBlank() ? List.of() : Arrays.stream(csv.split(",")).map(String::trim).sorted().toList();
    }
}
