package io.vramkit.core.memory;

import java.lang.ref.Cleaner;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Leak detection and allocation-site capture, as Netty's {@code ResourceLeakDetector}: named levels, sampled, read
 * once from system properties into {@code static final} fields so the JIT folds the checks away.
 *
 * <ul>
 *   <li>{@code -Dvramkit.leakDetection=disabled}: no leak reports, no allocation sites.</li>
 *   <li>{@code simple} (the default): a {@link Buffer} that becomes unreachable while still open is reported, without
 *       its allocation site.</li>
 *   <li>{@code sampled}: as simple, and one allocation in {@code vramkit.leakDetection.samplingInterval} (default 128)
 *       records its allocation site, shown in leak reports, live-buffer lists and pool snapshots.</li>
 *   <li>{@code paranoid}: every allocation records its site. Slow; for finding a leak.</li>
 * </ul>
 *
 * <p>A report is logged at ERROR on the logger {@code io.vramkit.core.memory.LeakDetection} and passed to every
 * listener. A leak report never frees memory: the buffer's memory stays allocated, so a leak is loud, never silent
 * reuse of memory someone may still be writing. Thread-safe.
 */
public final class LeakDetection {

    /** The detection levels, from cheapest to most thorough. */
    public enum Level {
        /** No leak reports and no allocation sites. */
        DISABLED,
        /** Leak reports for unclosed buffers, without allocation sites. */
        SIMPLE,
        /** Leak reports; one allocation in the sampling interval records its site. */
        SAMPLED,
        /** Leak reports; every allocation records its site. */
        PARANOID;

        /**
         * Parses a level name, case-insensitively.
         *
         * @throws IllegalArgumentException naming the value and the accepted names
         */
        public static Level parse(String name) {
            try {
                return valueOf(name.trim().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException | NullPointerException e) {
                throw new IllegalArgumentException("vramkit.leakDetection must be one of disabled, simple, sampled, "
                        + "paranoid; got '" + name + "'");
            }
        }
    }

    /** The system property that sets the level. */
    public static final String LEVEL_PROPERTY = "vramkit.leakDetection";
    /** The system property that sets the sampling interval of {@link Level#SAMPLED}. */
    public static final String INTERVAL_PROPERTY = "vramkit.leakDetection.samplingInterval";

    private static final Logger LOG = LoggerFactory.getLogger(LeakDetection.class);

    /** The level in force for this JVM, read once at class initialization. */
    public static final Level LEVEL;
    /** One allocation in this many records its site at {@link Level#SAMPLED}. */
    public static final int SAMPLING_INTERVAL;

    static {
        Level level = Level.SIMPLE;
        String value = System.getProperty(LEVEL_PROPERTY);
        if (value != null) {
            try {
                level = Level.parse(value);
            } catch (IllegalArgumentException e) {
                LOG.warn("{}; using simple", e.getMessage());
            }
        }
        LEVEL = level;
        int interval = 128;
        String iv = System.getProperty(INTERVAL_PROPERTY);
        if (iv != null) {
            try {
                interval = Math.max(1, Integer.parseInt(iv.trim()));
            } catch (NumberFormatException e) {
                LOG.warn("{} must be a positive integer, got '{}'; using 128", INTERVAL_PROPERTY, iv);
            }
        }
        SAMPLING_INTERVAL = interval;
    }

    static final Cleaner CLEANER = Cleaner.create();
    private static final AtomicLong SAMPLE = new AtomicLong();
    private static final List<Consumer<String>> LISTENERS = new CopyOnWriteArrayList<>();
    private static final AtomicLong REPORTED = new AtomicLong();

    private LeakDetection() {
    }

    /**
     * Where an allocation was made: a throwable whose stack trace is the allocating call chain. Created only when
     * the level asks for it.
     */
    static final class AllocationSite extends Throwable {
        private static final long serialVersionUID = 1L;

        AllocationSite() {
            super("allocated here", null, false, true);
        }

        /** The first few frames after the memory layer's own, joined by {@code <-}. */
        String describe() {
            StringBuilder sb = new StringBuilder();
            int shown = 0;
            boolean leading = true;
            for (StackTraceElement e : getStackTrace()) {
                if (leading && INTERNAL_FRAMES.contains(e.getClassName())) {
                    continue;
                }
                leading = false;
                if (shown > 0) {
                    sb.append(" <- ");
                }
                sb.append(e);
                if (++shown == 4) {
                    break;
                }
            }
            return sb.toString();
        }
    }

    /** The classes whose frames an allocation site skips: the allocation machinery itself. */
    private static final java.util.Set<String> INTERNAL_FRAMES = java.util.Set.of(
            "io.vramkit.core.memory.LeakDetection", "io.vramkit.core.memory.LeakDetection$AllocationSite",
            "io.vramkit.core.memory.CachingPool", "io.vramkit.core.memory.TrackingResource",
            "io.vramkit.core.memory.Buffer", "io.vramkit.core.memory.BudgetedResource",
            "io.vramkit.core.memory.LimitingResource", "io.vramkit.core.memory.StatisticsResource",
            "io.vramkit.core.trace.RecordingResource");

    /** A site for this allocation at {@code level}, or null when the level or the sampling says not to. */
    static AllocationSite captureSite(Level level) {
        return switch (level) {
            case DISABLED, SIMPLE -> null;
            case SAMPLED -> SAMPLE.getAndIncrement() % SAMPLING_INTERVAL == 0 ? new AllocationSite() : null;
            case PARANOID -> new AllocationSite();
        };
    }

    /** {@link #captureSite(Level)} at the JVM-wide {@link #LEVEL}. */
    static AllocationSite captureSite() {
        return captureSite(LEVEL);
    }

    /** The hint leak reports give when no site was captured. */
    static String siteHint(AllocationSite site) {
        if (site != null) {
            return "allocated at " + site.describe();
        }
        return "allocation site not recorded; run with -D" + LEVEL_PROPERTY + "=paranoid to record it";
    }

    /**
     * Adds a listener that receives every leak report (the same text as the log line). For tests and monitoring.
     *
     * @throws IllegalArgumentException if {@code listener} is null
     */
    public static void addListener(Consumer<String> listener) {
        if (listener == null) {
            throw new IllegalArgumentException("listener must not be null");
        }
        LISTENERS.add(listener);
    }

    /** Removes a listener added by {@link #addListener}; does nothing if it is not registered. */
    public static void removeListener(Consumer<String> listener) {
        LISTENERS.remove(listener);
    }

    /** How many leaks were reported in this JVM so far. */
    public static long reportedLeaks() {
        return REPORTED.get();
    }

    static void report(String message) {
        REPORTED.incrementAndGet();
        LOG.error(message);
        for (Consumer<String> l : LISTENERS) {
            try {
                l.accept(message);
            } catch (RuntimeException e) {
                LOG.warn("leak listener failed", e);
            }
        }
    }
}
