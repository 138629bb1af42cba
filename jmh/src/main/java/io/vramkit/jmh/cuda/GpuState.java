package io.vramkit.jmh.cuda;

import io.vramkit.cuda.Cuda;

/** Shared guard of the GPU benchmarks: a clear message instead of a CUDA stack trace when there is no GPU. */
final class GpuState {

    private GpuState() {
    }

    /**
     * Throws when no CUDA device answers, naming why; JMH reports it and moves on to the next benchmark.
     *
     * @throws IllegalStateException with {@link Cuda#status()}'s diagnosis
     */
    static void requireGpu() {
        Cuda.CudaStatus status = Cuda.status();
        if (!status.usable()) {
            throw new IllegalStateException("GPU benchmark skipped: no usable CUDA device (" + status.reason() + "): "
                    + status.message());
        }
    }
}
