package io.vramkit.cuda;

import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.Timespan;

/** JFR event: one kernel launch queued through {@link KernelFunction#launch}. Not thread-confined. */
@Name("io.vramkit.cuda.KernelLaunch")
@Label("CUDA Kernel Launch")
@Category({"vramkit", "CUDA"})
@Description("A CUDA kernel queued on a stream")
final class KernelLaunchEvent extends jdk.jfr.Event {

    @Label("Kernel")
    String kernel;

    @Label("Module")
    String module;

    @Label("Device")
    int device;

    @Label("Threads")
    long gridThreads;

    @Label("Shared Memory")
    @DataAmount
    long sharedBytes;

    @Label("Queue Time")
    @Timespan(Timespan.NANOSECONDS)
    long queueNanos;
}
