package io.vramkit.cuda;

import java.util.List;

/**
 * Kernels cannot be used: their module's fatbin resource is absent (the build had no nvcc, or the resource name is
 * wrong), or the fatbin lacks a kernel, or has no code for this GPU. The message names the missing kernels, the
 * resource, and the reason the build recorded. Immutable.
 */
public final class KernelUnavailableException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final List<String> missingKernels;

    /**
     * @param message        the diagnosis
     * @param missingKernels the kernels that cannot be launched
     * @param cause          the underlying failure, or null
     */
    public KernelUnavailableException(String message, List<String> missingKernels, Throwable cause) {
        super(message, cause);
        this.missingKernels = List.copyOf(missingKernels);
    }

    /** The kernels that cannot be launched. */
    public List<String> missingKernels() {
        return missingKernels;
    }
}
