import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.function.LongUnaryOperator;

/**
 * Compares two builds of vramkit in one JVM, alternating between them in short slices, so that the slow drift of a
 * shared virtual machine (clock, neighbours, which host cores the vCPUs land on) hits both alike.
 *
 * <p>Usage (see ../paired-ab): {@code PairedAb DRIVERS JAR_A JAR_B WORKLOAD ROUNDS SLICE_MS ARGS...}. Each build is
 * loaded by its own class loader together with the compiled workloads in {@code DRIVERS}; {@code WORKLOAD} is a
 * class there implementing {@link LongUnaryOperator} (run for the given nanoseconds, return bytes processed) with
 * a {@code String[]} constructor taking {@code ARGS}. After six warm-up slices each, the rounds run A then B, or B
 * then A on odd rounds, and the output is each build's mean rate and the median and quartiles of the per-round
 * ratio B/A.
 */
public class PairedAb {
    public static void main(String[] a) throws Exception {
        if (a.length < 6) {
            System.err.println("usage: PairedAb DRIVERS JAR_A JAR_B WORKLOAD ROUNDS SLICE_MS ARGS...");
            System.exit(2);
        }
        URL drivers = Path.of(a[0]).toUri().toURL();
        String[] args = Arrays.copyOfRange(a, 6, a.length);
        LongUnaryOperator[] run = new LongUnaryOperator[2];
        for (int i = 0; i < 2; i++) {
            URLClassLoader loader = new URLClassLoader(new URL[] {drivers, Path.of(a[1 + i]).toUri().toURL()},
                    ClassLoader.getPlatformClassLoader());
            run[i] = (LongUnaryOperator) loader.loadClass(a[3]).getConstructor(String[].class)
                    .newInstance((Object) args);
        }
        int rounds = Integer.parseInt(a[4]);
        long slice = Long.parseLong(a[5]) * 1_000_000L;
        for (int w = 0; w < 6; w++) {
            run[0].applyAsLong(slice);
            run[1].applyAsLong(slice);
        }
        double[] ratio = new double[rounds];
        double sumA = 0;
        double sumB = 0;
        for (int k = 0; k < rounds; k++) {
            double[] rate = new double[2];
            for (int s = 0; s < 2; s++) {
                int i = (k & 1) == 0 ? s : 1 - s;
                long t = System.nanoTime();
                long bytes = run[i].applyAsLong(slice);
                rate[i] = bytes / ((System.nanoTime() - t) / 1e9);
            }
            ratio[k] = rate[1] / rate[0];
            sumA += rate[0];
            sumB += rate[1];
        }
        Arrays.sort(ratio);
        System.out.printf("%s %s: A %.2f GB/s, B %.2f GB/s, B/A median %.3f (quartiles %.3f .. %.3f, %d rounds)%n",
                a[3], String.join(" ", args), sumA / rounds / 1e9, sumB / rounds / 1e9, ratio[rounds / 2],
                ratio[rounds / 4], ratio[(3 * rounds) / 4], rounds);
    }
}
