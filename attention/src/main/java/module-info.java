/** vramkit attention: flash prefill, sliding window, block sparse and paged decode, on the CPU and on CUDA. */
module io.vramkit.attention {
    requires transitive io.vramkit.core;
    requires transitive io.vramkit.quant;
    requires static jdk.incubator.vector;

    exports io.vramkit.attention;
    exports io.vramkit.attention.cuda;
}
