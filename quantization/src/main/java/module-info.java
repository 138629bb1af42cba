/** vramkit quantization: INT8, INT4, NF4 and FP8 formats, quantized matmul kernels and the mixed-precision planner. */
module io.vramkit.quant {
    requires transitive io.vramkit.core;
    requires transitive io.vramkit.cuda;
    requires static jdk.incubator.vector;

    exports io.vramkit.quant;
    exports io.vramkit.quant.planner;
    exports io.vramkit.quant.cuda;

}
