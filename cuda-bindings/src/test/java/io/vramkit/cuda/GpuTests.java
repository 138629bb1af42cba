package io.vramkit.cuda;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Shared guard of the {@code gpu}-tagged tests: each skips itself unless a CUDA device answers. */
final class GpuTests {

    private GpuTests() {
    }

    static void assumeGpu() {
        Cuda.CudaStatus status = Cuda.status();
        assumeTrue(status.usable(), "no usable CUDA device: " + status.message());
    }

    /** Normwise relative error {@code ||x - ref|| / ||ref||}. */
    static double relativeError(float[] x, double[] ref) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < ref.length; i++) {
            num += (x[i] - ref[i]) * (x[i] - ref[i]);
            den += ref[i] * ref[i];
        }
        return den == 0 ? Math.sqrt(num) : Math.sqrt(num / den);
    }
}
