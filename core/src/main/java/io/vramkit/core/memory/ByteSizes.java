package io.vramkit.core.memory;

import java.util.Locale;

/**
 * Prints sizes for people: GiB, MiB or KiB with the unit spelled out, plus the exact byte count where it matters.
 * Stateless and thread-safe.
 */
public final class ByteSizes {

    /** One kibibyte, 1024 bytes. */
    public static final long KiB = 1L << 10;
    /** One mebibyte, 1024 KiB. */
    public static final long MiB = 1L << 20;
    /** One gibibyte, 1024 MiB. */
    public static final long GiB = 1L << 30;

    private ByteSizes() {
    }

    /** {@code bytes} in the largest unit that keeps the number at least 1, e.g. {@code "1.50 GiB"}, {@code "512 bytes"}. */
    public static String human(long bytes) {
        if (bytes == Long.MAX_VALUE) {
            return "unlimited";
        }
        long abs = Math.abs(bytes);
        if (abs >= GiB) {
            return String.format(Locale.ROOT, "%.2f GiB", bytes / (double) GiB);
        }
        if (abs >= MiB) {
            return String.format(Locale.ROOT, "%.2f MiB", bytes / (double) MiB);
        }
        if (abs >= KiB) {
            return String.format(Locale.ROOT, "%.2f KiB", bytes / (double) KiB);
        }
        return bytes + (abs == 1 ? " byte" : " bytes");
    }

    /** {@link #human} followed by the exact count, e.g. {@code "1.50 GiB (1610612736 bytes)"}. */
    public static String exact(long bytes) {
        if (bytes == Long.MAX_VALUE || Math.abs(bytes) < KiB) {
            return human(bytes);
        }
        return human(bytes) + " (" + bytes + " bytes)";
    }
}
