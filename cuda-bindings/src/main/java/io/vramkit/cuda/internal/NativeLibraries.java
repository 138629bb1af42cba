package io.vramkit.cuda.internal;

import io.vramkit.cuda.CudaLibrary;
import io.vramkit.cuda.CudaLibraryException;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * Finds and opens the CUDA libraries (libcudart, libcuda, libcublas and libcublasLt) with {@code dlopen} through
 * FFM, so that a failure can report {@code dlerror}'s text and every path tried.
 *
 * <p>Search order for each library, first hit wins:
 * <ol>
 *   <li>the system property {@code vramkit.cuda.<library>.path} (a file or a folder), which replaces the search;</li>
 *   <li>{@code CUDA_HOME} and {@code CUDA_PATH} ({@code lib64}, {@code lib}, {@code targets/x86_64-linux/lib});</li>
 *   <li>the standard toolkit and driver folders ({@code /usr/local/cuda/lib64}, {@code /usr/lib/x86_64-linux-gnu},
 *       {@code /usr/lib/wsl/lib}, ...);</li>
 *   <li>{@code LD_LIBRARY_PATH};</li>
 *   <li>{@code ldconfig -p};</li>
 *   <li>the NVIDIA pip-wheel layout {@code site-packages/nvidia/*}{@code /lib} under the Python prefixes
 *       ({@code /usr/lib/python3*}, {@code /usr/local/lib/python3*}, {@code ~/.local/lib/python3*},
 *       {@code VIRTUAL_ENV}, {@code CONDA_PREFIX});</li>
 *   <li>the bare soname, left to the dynamic linker.</li>
 * </ol>
 * Sonames are tried newest major first (CUDA 13, then 12). The toolkit's {@code lib64/stubs/libcuda.so} is never
 * loaded: it links but every call fails with {@code CUDA_ERROR_STUB_LIBRARY}.
 *
 * <p>Each library is opened at most once per JVM, and stays open; a failure is remembered and thrown again with the
 * same diagnosis. Thread-safe.
 */
public final class NativeLibraries {

    /**
     * An opened library.
     *
     * @param library what it is
     * @param path    the file opened, or the bare soname when the dynamic linker found it
     * @param lookup  its symbols
     */
    public record Loaded(CudaLibrary library, String path, SymbolLookup lookup) {
    }

    private static final int RTLD_NOW = 2;
    private static final MethodHandle DLOPEN;
    private static final MethodHandle DLERROR;
    private static final MethodHandle DLSYM;

    static {
        Linker linker = Linker.nativeLinker();
        SymbolLookup libc = linker.defaultLookup();
        DLOPEN = linker.downcallHandle(libc.find("dlopen").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
        DLERROR = linker.downcallHandle(libc.find("dlerror").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.ADDRESS));
        DLSYM = linker.downcallHandle(libc.find("dlsym").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.ADDRESS));
    }

    private static final Map<CudaLibrary, Object> CACHE = new EnumMap<>(CudaLibrary.class);

    private NativeLibraries() {
    }

    /**
     * The library, opened on first use with the default search.
     *
     * @throws CudaLibraryException when no candidate opens; it lists every path tried with {@code dlerror}'s text
     */
    public static Loaded require(CudaLibrary library) {
        synchronized (CACHE) {
            Object cached = CACHE.get(library);
            if (cached instanceof Loaded loaded) {
                return loaded;
            }
            if (cached instanceof CudaLibraryException failure) {
                throw new CudaLibraryException(failure.getMessage(), failure.library(), failure.tried(), failure);
            }
            try {
                Loaded loaded = load(library, defaultCandidates(library));
                CACHE.put(library, loaded);
                return loaded;
            } catch (CudaLibraryException e) {
                CACHE.put(library, e);
                throw e;
            }
        }
    }

    /** Whether {@link #require} would succeed; opens the library if it can. Never throws. */
    public static boolean isAvailable(CudaLibrary library) {
        try {
            require(library);
            return true;
        } catch (CudaLibraryException e) {
            return false;
        }
    }

    /**
     * A symbol of the library, opening it first if needed.
     *
     * @throws CudaLibraryException when the library cannot be opened, or lacks the symbol (an older version)
     */
    public static MemorySegment find(CudaLibrary library, String symbol) {
        Loaded loaded = require(library);
        return loaded.lookup().find(symbol).orElseThrow(() -> new CudaLibraryException(
                loaded.path() + " has no symbol " + symbol + "; the installed " + library.shortName()
                        + " is older than the CUDA 13 headers vramkit was generated from", library,
                List.of(loaded.path())));
    }

    /**
     * Opens the first candidate that loads.
     *
     * @param library    what to open
     * @param candidates files (absolute paths) or bare sonames, in order
     * @return the opened library
     * @throws CudaLibraryException listing each candidate with why it failed
     */
    public static Loaded load(CudaLibrary library, List<String> candidates) {
        List<String> tried = new ArrayList<>();
        for (String candidate : candidates) {
            boolean bare = !candidate.contains("/");
            if (!bare && !Files.exists(Path.of(candidate))) {
                continue;
            }
            if (library == CudaLibrary.CUBLAS && !bare) {
                // cuBLAS links against cuBLASLt by soname. Opening the cuBLASLt beside it first lets an install
                // outside the linker's path (a pip wheel, a toolkit not in LD_LIBRARY_PATH) resolve, and keeps the
                // pair from the same release; if it fails, cuBLAS's own dlopen below reports why.
                String sibling = candidate.replace("libcublas.so", "libcublasLt.so");
                if (Files.exists(Path.of(sibling))) {
                    dlopen(sibling);
                }
            }
            MemorySegment handle = dlopen(candidate);
            if (handle.address() != 0) {
                return new Loaded(library, candidate, symbolLookup(handle));
            }
            tried.add(candidate + ": " + lastDlerror());
        }
        String hint = switch (library) {
            case CUDA -> "libcuda ships with the NVIDIA driver, not the toolkit: install the driver (or, in a "
                    + "container, run it with the NVIDIA container toolkit)";
            case CUDART -> "install the CUDA runtime (toolkit, or pip install nvidia-cuda-runtime) and set "
                    + "CUDA_HOME, or point -D" + library.property() + " at libcudart.so";
            case CUBLAS, CUBLASLT -> "install cuBLAS (toolkit, or pip install nvidia-cublas) or point -D"
                    + library.property() + " at the library";
        };
        throw new CudaLibraryException("cannot load lib" + library.shortName() + " (" + hint + "); tried "
                + (tried.isEmpty() ? "nothing that exists" : tried.size() + " candidates") + ". Paths tried: "
                + (tried.isEmpty() ? describe(candidates) : String.join("; ", tried)), library, tried);
    }

    private static String describe(List<String> candidates) {
        Set<String> dirs = new LinkedHashSet<>();
        for (String c : candidates) {
            int slash = c.lastIndexOf('/');
            dirs.add(slash < 0 ? "(dynamic linker) " + c : c.substring(0, slash));
        }
        return String.join(", ", dirs);
    }

    /**
     * The candidate files for a library in search order, for the current environment.
     *
     * @return absolute paths followed by bare sonames; never empty
     */
    public static List<String> defaultCandidates(CudaLibrary library) {
        return candidates(library, System.getProperty(library.property()), System.getenv(), ldconfigEntries(),
                Path.of(System.getProperty("user.home", "/nonexistent")));
    }

    /**
     * The candidate files for a library in search order, from explicit inputs; for tests.
     *
     * @param override  the system property value (a file or a folder), or null
     * @param env       environment variables
     * @param ldconfig  {@code ldconfig -p} lines
     * @param home      the user's home folder
     * @return absolute paths and bare sonames, without duplicates
     */
    public static List<String> candidates(CudaLibrary library, String override, Map<String, String> env,
                                          List<String> ldconfig, Path home) {
        Set<String> out = new LinkedHashSet<>();
        if (override != null && !override.isBlank()) {
            Path p = Path.of(override.trim());
            if (Files.isDirectory(p)) {
                for (String so : library.sonames()) {
                    out.add(p.resolve(so).toString());
                }
            } else {
                out.add(p.toString());
            }
            return List.copyOf(out);
        }
        List<Path> dirs = new ArrayList<>();
        for (String var : List.of("CUDA_HOME", "CUDA_PATH")) {
            String root = env.get(var);
            if (root != null && !root.isBlank()) {
                Path r = Path.of(root);
                dirs.add(r.resolve("lib64"));
                dirs.add(r.resolve("lib"));
                dirs.add(r.resolve("targets/x86_64-linux/lib"));
            }
        }
        for (String d : List.of("/usr/local/cuda/lib64", "/usr/local/cuda/lib",
                "/usr/local/cuda/targets/x86_64-linux/lib", "/usr/local/cuda-13/lib64", "/usr/local/cuda-12/lib64",
                "/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib/wsl/lib", "/usr/lib/x86_64-linux-gnu/nvidia")) {
            dirs.add(Path.of(d));
        }
        String ld = env.get("LD_LIBRARY_PATH");
        if (ld != null) {
            for (String d : ld.split(":")) {
                if (!d.isBlank()) {
                    dirs.add(Path.of(d));
                }
            }
        }
        for (Path dir : dirs) {
            for (String so : library.sonames()) {
                out.add(dir.resolve(so).toString());
            }
        }
        for (String so : library.sonames()) {
            for (String line : ldconfig) {
                String t = line.trim();
                int arrow = t.indexOf("=>");
                if (t.startsWith(so + " ") && arrow > 0 && t.contains("x86-64")) {
                    out.add(t.substring(arrow + 2).trim());
                }
            }
        }
        for (Path dir : pipLibraryDirs(env, home)) {
            for (String so : library.sonames()) {
                out.add(dir.resolve(so).toString());
            }
        }
        out.addAll(library.sonames());
        return List.copyOf(out);
    }

    /**
     * The {@code site-packages/nvidia/*}{@code /lib} folders (the NVIDIA pip-wheel layout) under the Python prefixes
     * of this machine, sorted for a stable order.
     */
    public static List<Path> pipLibraryDirs(Map<String, String> env, Path home) {
        List<Path> prefixes = new ArrayList<>();
        String venv = env.get("VIRTUAL_ENV");
        if (venv != null && !venv.isBlank()) {
            prefixes.add(Path.of(venv, "lib"));
        }
        String conda = env.get("CONDA_PREFIX");
        if (conda != null && !conda.isBlank()) {
            prefixes.add(Path.of(conda, "lib"));
        }
        prefixes.add(home.resolve(".local/lib"));
        prefixes.add(Path.of("/usr/local/lib"));
        prefixes.add(Path.of("/usr/lib"));
        prefixes.add(Path.of("/opt/conda/lib"));
        List<Path> out = new ArrayList<>();
        for (Path prefix : prefixes) {
            for (Path python : listSorted(prefix, "python3*")) {
                for (String site : List.of("site-packages", "dist-packages")) {
                    Path nvidia = python.resolve(site).resolve("nvidia");
                    for (Path pkg : listSorted(nvidia, "*")) {
                        Path lib = pkg.resolve("lib");
                        if (Files.isDirectory(lib)) {
                            out.add(lib);
                        }
                    }
                }
            }
        }
        return out;
    }

    private static List<Path> listSorted(Path dir, String glob) {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        List<Path> out = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, glob)) {
            ds.forEach(out::add);
        } catch (IOException e) {
            return List.of();
        }
        out.sort(null);
        return out;
    }

    /** Lines of {@code ldconfig -p}, or none when it cannot run within two seconds. */
    static List<String> ldconfigEntries() {
        for (String exe : List.of("/sbin/ldconfig", "/usr/sbin/ldconfig", "ldconfig")) {
            if (exe.contains("/") && !Files.isExecutable(Path.of(exe))) {
                continue;
            }
            try {
                Process p = new ProcessBuilder(exe, "-p").redirectErrorStream(true).start();
                List<String> lines = new ArrayList<>();
                try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(),
                        StandardCharsets.UTF_8))) {
                    String line;
                    while ((line = r.readLine()) != null) {
                        if (line.contains("libcu")) {
                            lines.add(line);
                        }
                    }
                }
                if (p.waitFor(2, TimeUnit.SECONDS)) {
                    return lines;
                }
                p.destroyForcibly();
            } catch (IOException e) {
                // try the next location
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return List.of();
            }
        }
        return List.of();
    }

    private static MemorySegment dlopen(String file) {
        try (Arena arena = Arena.ofConfined()) {
            return (MemorySegment) DLOPEN.invokeExact(arena.allocateFrom(file), RTLD_NOW);
        } catch (Throwable t) {
            throw new IllegalStateException("dlopen failed", t);
        }
    }

    private static String lastDlerror() {
        try {
            MemorySegment text = (MemorySegment) DLERROR.invokeExact();
            return text.address() == 0 ? "dlopen failed (no dlerror text)"
                    : text.reinterpret(4096).getString(0);
        } catch (Throwable t) {
            throw new IllegalStateException("dlerror failed", t);
        }
    }

    private static SymbolLookup symbolLookup(MemorySegment handle) {
        return name -> {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment address = (MemorySegment) DLSYM.invokeExact(handle, arena.allocateFrom(name));
                return address.address() == 0 ? Optional.empty() : Optional.of(address);
            } catch (Throwable t) {
                throw new IllegalStateException("dlsym failed", t);
            }
        };
    }
}
