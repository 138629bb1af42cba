package io.vramkit.examples.devices;

import io.vramkit.core.json.Json;
import io.vramkit.core.cpu.ParallelExecutor;
import io.vramkit.core.cpu.VectorSupport;
import io.vramkit.cuda.Cuda;
import io.vramkit.cuda.CudaDevice;
import io.vramkit.cuda.CudaException;
import io.vramkit.cuda.CudaLibrary;
import io.vramkit.cuda.KernelBundle;
import io.vramkit.cuda.PoisonOnFreeResource;
import io.vramkit.examples.Command;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * {@code vramkit devices [--json]}: lists the CUDA devices (name, memory, SMs, compute capability, driver and runtime
 * versions) and the CPU backend (Vector API state and width). With no usable GPU it says why (no runtime, no driver,
 * driver too old, no device). Always exits 0, so scripts can run it to learn what a machine has.
 *
 * <p>With {@code --json} it prints one line: {@code {"cuda":{"usable":..,"reason":..,"message":..,
 * "runtimeVersion":..,"driverVersion":..,"headerVersion":..,"kernels":..,"devices":[{"ordinal":..,"name":..,
 * "totalBytes":..,"freeBytes":..,"multiProcessors":..,"computeCapability":..,"memoryPools":..}]},
 * "cpu":{"vectorApi":..,"vectorBits":..,"vectorMode":..,"processors":..,"threads":..}}}.
 */
public final class DevicesCommand implements Command {

    /** The kernel bundles of the modules, as {@link KernelBundle} names them. */
    private static final List<String> BUNDLES = List.of(PoisonOnFreeResource.BUNDLE, "quantization", "attention");

    @Override
    public String name() {
        return "devices";
    }

    @Override
    public String summary() {
        return "list CUDA devices and the CPU backend, or say why there is no usable GPU";
    }

    private record DeviceLine(CudaDevice device, long freeBytes) {
    }

    @Override
    public int run(List<String> args, PrintStream out, PrintStream err) {
        boolean json = false;
        for (String a : args) {
            if (a.equals("--json")) {
                json = true;
            } else {
                throw new UsageException("unknown argument '" + a + "'; usage: vramkit devices [--json]");
            }
        }
        Cuda.CudaStatus status = Cuda.status();
        List<DeviceLine> devices = new ArrayList<>();
        String deviceError = null;
        if (status.usable()) {
            try {
                for (CudaDevice d : Cuda.devices()) {
                    devices.add(new DeviceLine(d, d.memoryInfo().freeBytes()));
                }
            } catch (CudaException e) {
                deviceError = e.getMessage();
            }
        }
        List<String> kernelStates = new ArrayList<>();
        for (String bundle : BUNDLES) {
            // One class loader holds every module here, so this class finds each module's manifest.
            KernelBundle kernels = KernelBundle.describe(DevicesCommand.class, bundle);
            kernelStates.add(bundle + ": " + (kernels == null ? "no manifest"
                    : kernels.built() ? kernels.kernels().size() + " kernels built (" + kernels.archs() + ")"
                    : kernels.status() + " (" + kernels.reason() + ")"));
        }
        String kernelState = String.join("; ", kernelStates);
        int vectorBits = VectorSupport.preferredVectorBits();
        int processors = Runtime.getRuntime().availableProcessors();
        if (json) {
            StringBuilder sb = new StringBuilder();
            sb.append("{\"cuda\":{\"usable\":").append(status.usable())
                    .append(",\"reason\":").append(quote(status.reason().name()))
                    .append(",\"message\":").append(quote(deviceError != null ? deviceError : status.message()))
                    .append(",\"runtimeVersion\":").append(status.runtimeVersion())
                    .append(",\"driverVersion\":").append(status.driverVersion())
                    .append(",\"headerVersion\":").append(Cuda.headerVersion())
                    .append(",\"kernels\":").append(quote(kernelState))
                    .append(",\"devices\":[");
            for (int i = 0; i < devices.size(); i++) {
                CudaDevice d = devices.get(i).device();
                sb.append(i == 0 ? "" : ",").append("{\"ordinal\":").append(d.ordinal())
                        .append(",\"name\":").append(quote(d.name()))
                        .append(",\"totalBytes\":").append(d.totalMemoryBytes())
                        .append(",\"freeBytes\":").append(devices.get(i).freeBytes())
                        .append(",\"multiProcessors\":").append(d.multiProcessorCount())
                        .append(",\"computeCapability\":").append(quote(d.computeCapability()))
                        .append(",\"memoryPools\":").append(d.memoryPoolsSupported()).append('}');
            }
            sb.append("]},\"cpu\":{\"vectorApi\":").append(VectorSupport.ENABLED)
                    .append(",\"vectorBits\":").append(vectorBits)
                    .append(",\"vectorMode\":").append(quote(VectorSupport.MODE))
                    .append(",\"processors\":").append(processors)
                    .append(",\"threads\":").append(ParallelExecutor.THREADS).append("}}");
            out.println(sb);
            return 0;
        }
        out.println("CUDA");
        if (status.usable()) {
            out.printf("  driver supports CUDA %s, runtime %s, bindings generated from CUDA %s%n",
                    Cuda.versionString(status.driverVersion()), Cuda.versionString(status.runtimeVersion()),
                    Cuda.versionString(Cuda.headerVersion()));
            for (DeviceLine line : devices) {
                CudaDevice d = line.device();
                out.printf(Locale.ROOT, "  cuda:%d  %s  compute capability %s, %d SMs, %s total, %s free%s%n",
                        d.ordinal(), d.name(), d.computeCapability(), d.multiProcessorCount(),
                        gib(d.totalMemoryBytes()), gib(line.freeBytes()),
                        d.memoryPoolsSupported() ? ", cudaMallocAsync pools" : "");
            }
            if (deviceError != null) {
                out.println("  error listing devices: " + deviceError);
            }
        } else {
            out.println("  no usable GPU (" + status.reason().name().toLowerCase(Locale.ROOT).replace('_', ' ')
                    + "): " + status.message());
            if (status.runtimeVersion() > 0) {
                out.printf("  runtime %s, driver %s, bindings generated from CUDA %s%n",
                        Cuda.versionString(status.runtimeVersion()),
                        status.driverVersion() == 0 ? "none" : Cuda.versionString(status.driverVersion()),
                        Cuda.versionString(Cuda.headerVersion()));
            } else {
                out.println("  set -D" + CudaLibrary.CUDART.property() + "=/path/to/libcudart.so to point at a runtime");
            }
        }
        out.println("  kernels: " + kernelState);
        out.println("CPU backend");
        out.printf("  Vector API %s (vramkit.vector=%s), preferred vector width %s, %d processors, %d kernel threads%n",
                VectorSupport.ENABLED ? "active" : "inactive", VectorSupport.MODE,
                vectorBits == 0 ? "n/a (scalar kernels)" : vectorBits + " bits", processors, ParallelExecutor.THREADS);
        return 0;
    }

    private static String gib(long bytes) {
        return String.format(Locale.ROOT, "%.1f GiB", bytes / (double) (1L << 30));
    }

    private static String quote(String s) {
        StringBuilder sb = new StringBuilder();
        Json.quote(s, sb);
        return sb.toString();
    }
}
