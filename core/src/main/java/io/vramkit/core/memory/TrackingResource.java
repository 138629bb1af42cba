package io.vramkit.core.memory;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Remembers every live allocation through it, as RMM's {@code tracking_resource_adaptor}, and logs each allocation
 * and free at SLF4J debug level (the logging adaptor). Because it knows what is live, it turns a foreign free, a double
 * free or a wrong size into a clear {@link IllegalArgumentException} before the upstream sees it, and
 * {@link #close()} lists what was never freed. Allocation sites are recorded as {@link LeakDetection} says.
 * Thread-safe.
 */
public final class TrackingResource implements MemoryResource, LiveAllocations {

    private static final Logger LOG = LoggerFactory.getLogger(TrackingResource.class);

    private record Live(long bytes, long alignment, Stream stream, LeakDetection.AllocationSite site) {
    }

    private final MemoryResource upstream;
    private final String name;
    private final LeakDetection.Level level;
    private final Map<Long, Live> live = new ConcurrentHashMap<>();

    /** Tracks {@code upstream} under the name "tracked", with the JVM-wide leak-detection level. */
    public TrackingResource(MemoryResource upstream) {
        this(upstream, "tracked", LeakDetection.LEVEL);
    }

    /**
     * Tracks {@code upstream} under {@code name}.
     *
     * @param upstream the resource to track; not owned
     * @param name     the name in log lines and reports
     * @param level    how allocation sites are captured
     * @throws IllegalArgumentException if an argument is null
     */
    public TrackingResource(MemoryResource upstream, String name, LeakDetection.Level level) {
        if (upstream == null) {
            throw new IllegalArgumentException("upstream must not be null");
        }
        if (name == null) {
            throw new IllegalArgumentException("name must not be null");
        }
        if (level == null) {
            throw new IllegalArgumentException("level must not be null");
        }
        this.upstream = upstream;
        this.name = name;
        this.level = level;
    }

    @Override
    public long allocate(long bytes, long alignment, Stream stream) {
        MemoryResource.checkAllocateArgs(bytes, alignment, stream);
        long address = upstream.allocate(bytes, alignment, stream);
        live.put(address, new Live(bytes, alignment, stream, LeakDetection.captureSite(level)));
        if (LOG.isDebugEnabled()) {
            LOG.debug("{}: allocate {} bytes at 0x{} on {}", name, bytes, Long.toHexString(address), stream);
        }
        return address;
    }

    @Override
    public void deallocate(long address, long bytes, long alignment, Stream stream) {
        Live l = live.get(address);
        if (l == null) {
            throw new IllegalArgumentException(String.format(
                    "address 0x%x (bytes %d) is not live in '%s': never allocated here, or already freed "
                            + "(double free)", address, bytes, name));
        }
        if (l.bytes != bytes) {
            throw new IllegalArgumentException(String.format(
                    "bytes %d does not match the %d bytes allocated at 0x%x in '%s'", bytes, l.bytes, address, name));
        }
        if (!live.remove(address, l)) {
            throw new IllegalArgumentException(String.format(
                    "address 0x%x in '%s' was freed concurrently by another thread (double free)", address, name));
        }
        try {
            upstream.deallocate(address, bytes, alignment, stream);
        } catch (RuntimeException e) {
            live.put(address, l);
            throw e;
        }
        if (LOG.isDebugEnabled()) {
            LOG.debug("{}: free {} bytes at 0x{} on {}", name, bytes, Long.toHexString(address), stream);
        }
    }

    @Override
    public long liveAllocationCount() {
        return live.size();
    }

    @Override
    public long liveAllocationBytes() {
        return live.values().stream().mapToLong(Live::bytes).sum();
    }

    @Override
    public List<String> describeLiveAllocations(int max) {
        if (max < 0) {
            throw new IllegalArgumentException("max must not be negative, got " + max);
        }
        List<Map.Entry<Long, Live>> entries = new ArrayList<>(live.entrySet());
        entries.sort(Comparator.comparingLong(Map.Entry::getKey));
        List<String> out = new ArrayList<>();
        for (Map.Entry<Long, Live> e : entries) {
            if (out.size() == max) {
                break;
            }
            Live l = e.getValue();
            out.add(String.format(Locale.ROOT, "0x%x: %d bytes on %s, %s", e.getKey(), l.bytes, l.stream,
                    LeakDetection.siteHint(l.site)));
        }
        return out;
    }

    /**
     * Reports live allocations, if any, at ERROR level and through {@link LeakDetection}'s listeners. It frees
     * nothing: the memory stays with the upstream.
     */
    @Override
    public void close() {
        if (!live.isEmpty()) {
            StringBuilder sb = new StringBuilder();
            sb.append("'").append(name).append("' closed with ").append(live.size()).append(" live allocations (")
                    .append(ByteSizes.exact(liveAllocationBytes())).append("):");
            for (String l : describeLiveAllocations(20)) {
                sb.append("\n  ").append(l);
            }
            LeakDetection.report(sb.toString());
        }
    }

    @Override
    public MemoryKind kind() {
        return upstream.kind();
    }

    @Override
    public long capacityBytes() {
        return upstream.capacityBytes();
    }

    @Override
    public String toString() {
        return "TrackingResource['" + name + "', " + live.size() + " live]";
    }
}
