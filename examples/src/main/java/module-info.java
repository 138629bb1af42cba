/** vramkit examples: the CLI (headline demo, planner, serving simulator, pool replay) and its HTML reports. */
module io.vramkit.examples {
    requires io.vramkit.core;
    requires io.vramkit.cuda;
    requires io.vramkit.quant;
    requires io.vramkit.attention;
    requires com.microsoft.onnxruntime;
    requires static jdk.incubator.vector;

    exports io.vramkit.examples;
}
