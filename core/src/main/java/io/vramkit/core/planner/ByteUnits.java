package io.vramkit.core.planner;

import java.util.Locale;

/**
 * Formats byte counts with both decimal (GB = 10⁹ bytes, as GPU vendors label memory) and binary (GiB = 2³⁰ bytes,
 * as allocators and {@code nvidia-smi} count) units, always named explicitly. Stateless and thread-safe.
 */
public final class ByteUnits {

    /** 10⁹ bytes. */
    public static final long GB = 1_000_000_000L;
    /** 2³⁰ bytes. */
    public static final long GIB = 1L << 30;
    /** 2²⁰ bytes. */
    public static final long MIB = 1L << 20;

    private ByteUnits() {
    }

    /** {@code bytes} in GB (10⁹). */
    public static double toGB(long bytes) {
        return bytes / 1e9;
    }

    /** {@code bytes} in GiB (2³⁰). */
    public static double toGiB(long bytes) {
        return bytes / (double) GIB;
    }

    /** For example {@code "68.98 GB (64.24 GiB)"}; small sizes in MB/MiB or KiB. */
    public static String format(long bytes) {
        long a = Math.abs(bytes);
        if (a >= 1_000_000_000L) {
            return String.format(Locale.ROOT, "%.2f GB (%.2f GiB)", bytes / 1e9, bytes / (double) GIB);
        }
        if (a >= 1_000_000L) {
            return String.format(Locale.ROOT, "%.2f MB (%.2f MiB)", bytes / 1e6, bytes / (double) MIB);
        }
        return String.format(Locale.ROOT, "%d bytes (%.2f KiB)", bytes, bytes / 1024.0);
    }
}
