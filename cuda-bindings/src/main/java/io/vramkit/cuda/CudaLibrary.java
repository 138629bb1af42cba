package io.vramkit.cuda;

import java.util.List;
import java.util.Locale;

/** The native libraries vramkit binds, with the file names searched for each. Immutable. */
public enum CudaLibrary {
    /** The CUDA runtime. */
    CUDART("cudart", List.of("libcudart.so.13", "libcudart.so.12", "libcudart.so")),
    /** The CUDA driver, installed with the NVIDIA driver rather than the toolkit. */
    CUDA("cuda", List.of("libcuda.so.1", "libcuda.so")),
    /** cuBLAS. */
    CUBLAS("cublas", List.of("libcublas.so.13", "libcublas.so.12", "libcublas.so")),
    /** cuBLASLt, which cuBLAS depends on; the one beside the chosen libcublas is opened first. */
    CUBLASLT("cublasLt", List.of("libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so"));

    private final String shortName;
    private final List<String> sonames;

    CudaLibrary(String shortName, List<String> sonames) {
        this.shortName = shortName;
        this.sonames = sonames;
    }

    /** The short name, as in {@code libcudart}: {@code cudart}. */
    public String shortName() {
        return shortName;
    }

    /** The file names tried in each folder, newest major version first. */
    public List<String> sonames() {
        return sonames;
    }

    /** The system property that overrides the search: {@code vramkit.cuda.<shortName>.path}, lower case. */
    public String property() {
        return "vramkit.cuda." + shortName.toLowerCase(Locale.ROOT) + ".path";
    }
}
