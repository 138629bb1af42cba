/**
 * vramkit core: devices, streams, buffers and dtypes; memory resources, pools, adaptors, statistics, snapshots and
 * traces; safetensors I/O; the paged KV-cache manager, scheduler and capacity planner; CPU kernel infrastructure.
 * Touches no native library other than libc.
 */
module io.vramkit.core {
    requires transitive org.slf4j;
    requires static jdk.incubator.vector;
    requires jdk.jfr;

    exports io.vramkit.core;
    exports io.vramkit.core.memory;
    exports io.vramkit.core.trace;
    exports io.vramkit.core.cpu;
    exports io.vramkit.core.kv;
    exports io.vramkit.core.scheduler;
    exports io.vramkit.core.planner;
    exports io.vramkit.core.safetensors;
    exports io.vramkit.core.json;
}
