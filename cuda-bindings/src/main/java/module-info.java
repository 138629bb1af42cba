/**
 * vramkit CUDA bindings: FFM bindings generated from the CUDA headers (internal), library loading, the idiomatic
 * CUDA layer, CUDA memory resources for core's pools, cuBLAS and kernel modules.
 */
module io.vramkit.cuda {
    requires transitive io.vramkit.core;
    requires jdk.jfr;

    exports io.vramkit.cuda;
}
