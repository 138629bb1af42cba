package io.vramkit.core.memory;

import io.vramkit.core.json.Json;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Every segment and block of a {@link CachingPool} at one moment, as PyTorch's {@code torch.cuda.memory._snapshot()}.
 * Export it with {@link #toJson()} (read back with {@link #fromJson}) or {@link #toHtml()}, a self-contained page
 * with one bar per segment. Immutable and thread-safe.
 *
 * @param pool     the pool's name
 * @param settings the pool's settings, as {@link PoolSettings#describe()} prints them
 * @param segments the segments in address order
 */
public record PoolSnapshot(String pool, String settings, List<Segment> segments) {

    /** What a block is doing. */
    public enum State {
        /** Handed to a caller. */
        ALLOCATED,
        /** Free for any stream. */
        FREE,
        /**
         * Freed on a stream, reusable at once by that stream, by others only once an event recorded on it after the
         * free completes: either no such event exists yet (the pool records it on demand, when another stream needs
         * memory; the pool calls such blocks unfenced) or it is recorded and not yet complete.
         */
        PENDING_FREE
    }

    /**
     * One segment, a piece of upstream memory that the pool splits into blocks.
     *
     * @param address the upstream address of its first byte
     * @param bytes   its size in bytes
     * @param small   whether it belongs to the small pool
     * @param stream  the id of the stream it was allocated for
     * @param blocks  its blocks in address order; their sizes sum to {@code bytes}
     */
    public record Segment(long address, long bytes, boolean small, long stream, List<Block> blocks) {
        /** Copies the block list. */
        public Segment {
            blocks = List.copyOf(blocks);
        }
    }

    /**
     * One block of a segment.
     *
     * @param offset         bytes from the segment's start
     * @param bytes          the block size in bytes (rounded)
     * @param requestedBytes the size the caller asked for, 0 when not allocated
     * @param state          allocated, free, or freed but pending on its stream
     * @param stream         the id of the stream that allocated or last freed it
     * @param site           where it was allocated when the leak-detection level captured that, else null
     */
    public record Block(long offset, long bytes, long requestedBytes, State state, long stream, String site) {
    }

    /** Copies the segment list. */
    public PoolSnapshot {
        segments = List.copyOf(segments);
    }

    /** Bytes of all segments. */
    public long reservedBytes() {
        return segments.stream().mapToLong(Segment::bytes).sum();
    }

    /** Bytes of all allocated blocks. */
    public long allocatedBytes() {
        return sumOf(State.ALLOCATED);
    }

    /** Bytes of all blocks that are not allocated. */
    public long freeBytes() {
        return sumOf(State.FREE) + sumOf(State.PENDING_FREE);
    }

    private long sumOf(State state) {
        long sum = 0;
        for (Segment s : segments) {
            for (Block b : s.blocks) {
                if (b.state == state) {
                    sum += b.bytes;
                }
            }
        }
        return sum;
    }

    /** The snapshot as one JSON object; the format is in docs/memory.md. */
    public String toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("pool", pool);
        m.put("settings", settings);
        m.put("reservedBytes", reservedBytes());
        m.put("allocatedBytes", allocatedBytes());
        List<Object> segs = new ArrayList<>();
        for (Segment s : segments) {
            Map<String, Object> sm = new LinkedHashMap<>();
            sm.put("address", s.address);
            sm.put("bytes", s.bytes);
            sm.put("pool", s.small ? "small" : "large");
            sm.put("stream", s.stream);
            List<Object> blocks = new ArrayList<>();
            for (Block b : s.blocks) {
                Map<String, Object> bm = new LinkedHashMap<>();
                bm.put("offset", b.offset);
                bm.put("bytes", b.bytes);
                bm.put("requestedBytes", b.requestedBytes);
                bm.put("state", b.state.name().toLowerCase(Locale.ROOT));
                bm.put("stream", b.stream);
                bm.put("site", b.site);
                blocks.add(bm);
            }
            sm.put("blocks", blocks);
            segs.add(sm);
        }
        m.put("segments", segs);
        return Json.write(m);
    }

    /**
     * Reads a snapshot written by {@link #toJson()}.
     *
     * @throws IllegalArgumentException if the text is not such a snapshot, naming what is wrong
     */
    @SuppressWarnings("unchecked")
    public static PoolSnapshot fromJson(String json) {
        Map<String, Object> m = Json.parseObject(json);
        try {
            List<Segment> segs = new ArrayList<>();
            for (Object o : (List<Object>) m.get("segments")) {
                Map<String, Object> sm = (Map<String, Object>) o;
                List<Block> blocks = new ArrayList<>();
                for (Object bo : (List<Object>) sm.get("blocks")) {
                    Map<String, Object> bm = (Map<String, Object>) bo;
                    blocks.add(new Block(num(bm, "offset"), num(bm, "bytes"), num(bm, "requestedBytes"),
                            State.valueOf(((String) bm.get("state")).toUpperCase(Locale.ROOT)), num(bm, "stream"),
                            (String) bm.get("site")));
                }
                segs.add(new Segment(num(sm, "address"), num(sm, "bytes"), "small".equals(sm.get("pool")),
                        num(sm, "stream"), blocks));
            }
            return new PoolSnapshot((String) m.get("pool"), (String) m.get("settings"), segs);
        } catch (ClassCastException | NullPointerException e) {
            throw new IllegalArgumentException("not a pool snapshot: " + e.getMessage(), e);
        }
    }

    private static long num(Map<String, Object> m, String key) {
        Object v = m.get(key);
        if (!(v instanceof Long l)) {
            throw new IllegalArgumentException("field '" + key + "' must be an integer, got " + v);
        }
        return l;
    }

    /**
     * A self-contained HTML page (inline SVG, no scripts or external files) drawing each segment as a bar whose length
     * is proportional to its size, allocated blocks in red, free blocks in green and stream-pending blocks in amber;
     * hovering a block shows its offset, size, state, stream and site.
     *
     * @param title the page heading
     */
    public String toHtml(String title) {
        long maxSeg = Math.max(1, segments.stream().mapToLong(Segment::bytes).max().orElse(1));
        int width = 1000;
        int rowHeight = 18;
        int labelWidth = 190;
        int height = segments.size() * rowHeight + 10;
        StringBuilder sb = new StringBuilder();
        sb.append("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>").append(esc(title))
                .append("</title>\n<style>body{font-family:sans-serif;margin:20px}")
                .append(".k{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px}</style></head><body>\n")
                .append("<h1>").append(esc(title)).append("</h1>\n<p>pool <b>").append(esc(pool))
                .append("</b>: ").append(segments.size()).append(" segments, reserved ")
                .append(ByteSizes.exact(reservedBytes())).append(", allocated ")
                .append(ByteSizes.exact(allocatedBytes())).append(", free ").append(ByteSizes.exact(freeBytes()))
                .append("</p>\n<p><small>").append(esc(settings)).append("</small></p>\n<p>")
                .append("<span class=\"k\" style=\"background:#d9534f\"></span>allocated")
                .append("<span class=\"k\" style=\"background:#5cb85c\"></span>free")
                .append("<span class=\"k\" style=\"background:#f0ad4e\"></span>freed, pending on its stream")
                .append("</p>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"").append(width + labelWidth + 10)
                .append("\" height=\"").append(height).append("\" font-size=\"11\">\n");
        int y = 5;
        for (Segment s : segments) {
            sb.append("<text x=\"0\" y=\"").append(y + 12).append("\">")
                    .append(String.format(Locale.ROOT, "0x%x %s", s.address, ByteSizes.human(s.bytes)))
                    .append(s.small ? " S" : " L").append("</text>\n");
            double scale = (double) width / maxSeg;
            for (Block b : s.blocks) {
                double x = labelWidth + b.offset * scale;
                double w = Math.max(0.5, b.bytes * scale);
                String colour = switch (b.state) {
                    case ALLOCATED -> "#d9534f";
                    case FREE -> "#5cb85c";
                    case PENDING_FREE -> "#f0ad4e";
                };
                sb.append(String.format(Locale.ROOT,
                        "<rect x=\"%.2f\" y=\"%d\" width=\"%.2f\" height=\"%d\" fill=\"%s\" stroke=\"#fff\" "
                                + "stroke-width=\"0.3\"><title>", x, y, w, rowHeight - 4, colour));
                sb.append(esc(String.format(Locale.ROOT, "offset %d, %s, %s, stream %d%s%s", b.offset,
                        ByteSizes.exact(b.bytes), b.state.name().toLowerCase(Locale.ROOT), b.stream,
                        b.requestedBytes > 0 ? ", requested " + b.requestedBytes + " bytes" : "",
                        b.site != null ? ", " + b.site : "")));
                sb.append("</title></rect>\n");
            }
            y += rowHeight;
        }
        sb.append("</svg>\n</body></html>\n");
        return sb.toString();
    }

    /** {@link #toHtml(String)} with a title naming the pool. */
    public String toHtml() {
        return toHtml("vramkit memory map: " + pool);
    }

    private static String esc(String s) {
        if (s == null) {
            return "";
        }
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
