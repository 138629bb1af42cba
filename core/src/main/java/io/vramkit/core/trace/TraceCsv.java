package io.vramkit.core.trace;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Reads and writes allocation traces in RMM's CSV log format:
 *
 * <pre>
 * Thread,Time,Action,Pointer,Size,Stream
 * 1,00:00:00.001000,allocate,0x7f0000000000,1048576,0x0
 * 1,00:00:00.002000,free,0x7f0000000000,1048576,0x0
 * </pre>
 *
 * <p>Thread is a decimal id; Time is {@code HH:MM:SS.ffffff} (or a plain count of nanoseconds when read); Action is
 * {@code allocate}, {@code free} or {@code allocate failure}; Pointer and Stream are hexadecimal with {@code 0x} (or
 * decimal when read); Size is decimal bytes. The header line and blank lines are skipped. Stateless and thread-safe.
 */
public final class TraceCsv {

    /** The header line. */
    public static final String HEADER = "Thread,Time,Action,Pointer,Size,Stream";

    private TraceCsv() {
    }

    /** One CSV line (without the line break) for {@code e}. */
    public static String line(TraceEvent e) {
        return e.thread() + "," + formatTime(e.timeNanos()) + "," + e.action().csv() + ",0x"
                + Long.toHexString(e.address()) + "," + e.bytes() + ",0x" + Long.toHexString(e.stream());
    }

    /**
     * Writes the header and one line per event.
     *
     * @throws UncheckedIOException if {@code out} fails
     */
    public static void write(List<TraceEvent> events, Appendable out) {
        try {
            out.append(HEADER).append('\n');
            for (TraceEvent e : events) {
                out.append(line(e)).append('\n');
            }
        } catch (IOException ex) {
            throw new UncheckedIOException(ex);
        }
    }

    /** {@code nanos} as {@code HH:MM:SS.ffffff}, wrapping at 100 hours. */
    static String formatTime(long nanos) {
        long micros = Math.floorDiv(nanos, 1000L);
        long s = micros / 1_000_000;
        return String.format(Locale.ROOT, "%02d:%02d:%02d.%06d", (s / 3600) % 100, (s / 60) % 60, s % 60,
                micros % 1_000_000);
    }

    /**
     * Reads a trace.
     *
     * @throws TraceFormatException naming the line number of the first malformed line
     * @throws UncheckedIOException if reading fails
     */
    public static Trace read(Reader in) {
        List<TraceEvent> events = new ArrayList<>();
        List<Integer> lines = new ArrayList<>();
        BufferedReader r = in instanceof BufferedReader b ? b : new BufferedReader(in);
        int lineNo = 0;
        try {
            String line;
            while ((line = r.readLine()) != null) {
                lineNo++;
                String t = line.strip();
                if (t.isEmpty() || (events.isEmpty() && t.regionMatches(true, 0, "Thread", 0, 6))) {
                    continue;
                }
                events.add(parseLine(t, lineNo));
                lines.add(lineNo);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return new Trace(events, lines.stream().mapToInt(Integer::intValue).toArray());
    }

    /**
     * Parses one data line.
     *
     * @throws TraceFormatException naming {@code lineNo} and what is wrong
     */
    public static TraceEvent parseLine(String line, int lineNo) {
        String[] f = line.split(",", -1);
        if (f.length != 6) {
            throw new TraceFormatException(lineNo, "expected 6 comma-separated fields (" + HEADER + "), got "
                    + f.length + ": '" + line + "'");
        }
        long thread = parseNumber(f[0], "Thread", lineNo);
        long time = parseTime(f[1].strip(), lineNo);
        TraceEvent.Action action = switch (f[2].strip().toLowerCase(Locale.ROOT)) {
            case "allocate" -> TraceEvent.Action.ALLOCATE;
            case "free" -> TraceEvent.Action.FREE;
            case "allocate failure" -> TraceEvent.Action.ALLOCATE_FAILURE;
            default -> throw new TraceFormatException(lineNo,
                    "Action must be 'allocate', 'free' or 'allocate failure', got '" + f[2].strip() + "'");
        };
        long address = parseNumber(f[3], "Pointer", lineNo);
        long size = parseNumber(f[4], "Size", lineNo);
        if (size <= 0) {
            throw new TraceFormatException(lineNo, "Size must be positive, got " + size);
        }
        long stream = parseNumber(f[5], "Stream", lineNo);
        return new TraceEvent(thread, time, action, address, size, stream);
    }

    private static long parseNumber(String field, String column, int lineNo) {
        String s = field.strip();
        try {
            if (s.startsWith("0x") || s.startsWith("0X")) {
                return Long.parseUnsignedLong(s.substring(2), 16);
            }
            return Long.parseLong(s);
        } catch (NumberFormatException e) {
            throw new TraceFormatException(lineNo, column + " must be a number (decimal, or hex with 0x), got '"
                    + s + "'");
        }
    }

    private static long parseTime(String s, int lineNo) {
        try {
            if (s.indexOf(':') < 0) {
                return Long.parseLong(s);
            }
            String[] hms = s.split(":");
            if (hms.length != 3) {
                throw new NumberFormatException();
            }
            String[] secFrac = hms[2].split("\\.", -1);
            long h = Long.parseLong(hms[0]);
            long m = Long.parseLong(hms[1]);
            long sec = Long.parseLong(secFrac[0]);
            long nanos = 0;
            if (secFrac.length == 2) {
                String frac = (secFrac[1] + "000000000").substring(0, 9);
                nanos = Long.parseLong(frac);
            } else if (secFrac.length > 2) {
                throw new NumberFormatException();
            }
            return ((h * 60 + m) * 60 + sec) * 1_000_000_000L + nanos;
        } catch (NumberFormatException e) {
            throw new TraceFormatException(lineNo, "Time must be HH:MM:SS.ffffff or nanoseconds, got '" + s + "'");
        }
    }
}
