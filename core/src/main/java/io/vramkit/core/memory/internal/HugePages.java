package io.vramkit.core.memory.internal;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Locale;

/**
 * Asks Linux to back large host allocations with transparent huge pages ({@code madvise(MADV_HUGEPAGE)}, reached
 * through FFM in libc).
 *
 * <p>Why: where transparent huge pages are in {@code madvise} mode (a common distribution default, see
 * {@code /sys/kernel/mm/transparent_hugepage/enabled}), fresh anonymous memory is faulted in 4 KiB at a time; on a
 * virtual machine a fault can cost several microseconds, so first-touching 64 MiB took ~250 ms. With the advice
 * the kernel faults 2 MiB at a time.
 *
 * <p>Advice only: it never changes what the memory holds, and any failure (another OS, no {@code madvise} symbol,
 * an error return) is ignored; {@link #advise} then returns {@code false}. Stateless and thread-safe.
 */
public final class HugePages {

    /** Size of an x86-64 / AArch64 (4 KiB base page) transparent huge page: 2 MiB. */
    public static final long HUGE_PAGE_BYTES = 2L << 20;

    /** Allocations from this size on are aligned to {@link #HUGE_PAGE_BYTES} and advised: 4 MiB. */
    public static final long THRESHOLD_BYTES = 4L << 20;

    /** Linux {@code MADV_HUGEPAGE}. */
    private static final int MADV_HUGEPAGE = 14;

    /** {@code int madvise(void*, size_t, int)}, or {@code null} where it does not apply. */
    private static final MethodHandle MADVISE = lookup();

    private HugePages() {
    }

    private static MethodHandle lookup() {
        if (!System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("linux")) {
            return null;
        }
        try {
            Linker linker = Linker.nativeLinker();
            return linker.defaultLookup().find("madvise")
                    .map(f -> linker.downcallHandle(f, FunctionDescriptor.of(ValueLayout.JAVA_INT,
                            ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT)))
                    .orElse(null);
        } catch (RuntimeException | LinkageError e) {
            return null;
        }
    }

    /** Whether the advice is available on this platform (Linux with libc's {@code madvise}). */
    public static boolean available() {
        return MADVISE != null;
    }

    /**
     * Advises huge pages for the whole 2-MiB-aligned pages inside {@code [address, address + bytes)}; a range that
     * contains no whole huge page is left alone.
     *
     * @param address first byte of the range
     * @param bytes   length of the range in bytes
     * @return whether the kernel accepted the advice for a non-empty range
     * @throws IllegalArgumentException if {@code address} or {@code bytes} is negative
     */
    public static boolean advise(long address, long bytes) {
        if (address < 0 || bytes < 0) {
            throw new IllegalArgumentException("address and bytes must not be negative, got address = " + address
                    + ", bytes = " + bytes);
        }
        long start = (address + HUGE_PAGE_BYTES - 1) & -HUGE_PAGE_BYTES;
        long end = (address + bytes) & -HUGE_PAGE_BYTES;
        if (MADVISE == null || end <= start) {
            return false;
        }
        try {
            return (int) MADVISE.invokeExact(MemorySegment.ofAddress(start), end - start, MADV_HUGEPAGE) == 0;
        } catch (Throwable t) {
            return false;
        }
    }
}
