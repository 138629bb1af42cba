package io.vramkit.cuda;

import java.util.List;

/**
 * A CUDA library (libcudart, libcuda, libcublas or libcublasLt) could not be opened, or lacks a symbol vramkit
 * binds. The message says which library, how to fix it, and every path tried with the dynamic linker's
 * ({@code dlerror}) text for each. Immutable.
 */
public final class CudaLibraryException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final CudaLibrary library;
    private final List<String> tried;

    /**
     * @param message the diagnosis
     * @param library the library that failed
     * @param tried   each path tried, with why it failed
     */
    public CudaLibraryException(String message, CudaLibrary library, List<String> tried) {
        super(message);
        this.library = library;
        this.tried = List.copyOf(tried);
    }

    /**
     * @param message the diagnosis
     * @param library the library that failed
     * @param tried   each path tried, with why it failed
     * @param cause   the first failure, when this one repeats it
     */
    public CudaLibraryException(String message, CudaLibrary library, List<String> tried,
                                Throwable cause) {
        super(message, cause);
        this.library = library;
        this.tried = List.copyOf(tried);
    }

    /** The library that could not be opened. */
    public CudaLibrary library() {
        return library;
    }

    /** Each path tried, as {@code "path: dlerror text"}, in search order. */
    public List<String> tried() {
        return tried;
    }
}
