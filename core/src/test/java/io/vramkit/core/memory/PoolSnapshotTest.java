package io.vramkit.core.memory;

import static io.vramkit.core.memory.ByteSizes.MiB;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vramkit.core.testing.ManualStream;
import io.vramkit.core.testing.NoLeaksExtension;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class PoolSnapshotTest {

    @RegisterExtension
    final NoLeaksExtension leaks = new NoLeaksExtension();

    @Test
    void jsonRoundTripKeepsEverySegmentAndBlock() {
        SimulatedResource device = leaks.track(new SimulatedResource(4L << 30));
        CachingPool pool = leaks.track(new CachingPool(device, PoolSettings.builder().name("snap \"quoted\"")
                .leakDetection(LeakDetection.Level.PARANOID).build()));
        ManualStream side = new ManualStream();
        SplittableRandom rnd = new SplittableRandom(11);
        List<long[]> live = new ArrayList<>();
        for (int i = 0; i < 300; i++) {
            if (rnd.nextInt(3) > 0 || live.isEmpty()) {
                long bytes = 1 + rnd.nextInt(rnd.nextBoolean() ? 100_000 : 30 << 20);
                live.add(new long[] {pool.allocate(bytes, 256, Stream.HOST), bytes});
            } else {
                long[] l = live.remove(rnd.nextInt(live.size()));
                pool.deallocate(l[0], l[1], 256, rnd.nextInt(5) == 0 ? side : Stream.HOST);
            }
        }
        PoolSnapshot snap = pool.snapshot();
        assertTrue(snap.segments().size() > 3);
        assertTrue(snap.segments().stream().flatMap(s -> s.blocks().stream())
                .anyMatch(b -> b.state() == PoolSnapshot.State.PENDING_FREE));
        String json = snap.toJson();
        PoolSnapshot back = PoolSnapshot.fromJson(json);
        assertEquals(snap, back);
        assertEquals(json, back.toJson());
        assertEquals(pool.statistics().allocatedBytes().current(), back.allocatedBytes());
        assertEquals(pool.statistics().reservedBytes().current(), back.reservedBytes());

        String html = snap.toHtml();
        assertTrue(html.startsWith("<!DOCTYPE html>"));
        assertTrue(html.contains("<svg") && html.contains("#d9534f") && html.contains("#5cb85c"));
        assertTrue(html.contains("snap &quot;quoted&quot;"), "names are escaped");
        assertEquals(snap.segments().stream().mapToInt(s -> s.blocks().size()).sum(),
                html.split("<rect ", -1).length - 1, "one rectangle per block");
        assertTrue(!html.contains("<script") && !html.contains("http://") || html.contains("xmlns"),
                "self-contained");
        for (long[] l : live) {
            pool.deallocate(l[0], l[1], 256, Stream.HOST);
        }
        side.complete();
    }

    @Test
    void emptyPoolSnapshotRoundTrips() {
        CachingPool pool = leaks.track(new CachingPool(leaks.track(new SimulatedResource(MiB))));
        PoolSnapshot snap = pool.snapshot();
        assertEquals(0, snap.segments().size());
        assertEquals(snap, PoolSnapshot.fromJson(snap.toJson()));
        assertTrue(snap.toHtml().contains("0 segments"));
    }

    @Test
    void malformedJsonIsRefusedClearly() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> PoolSnapshot.fromJson("{\"pool\":\"x\",\"segments\":[{\"address\":\"oops\"}]}"));
        assertTrue(e.getMessage().contains("address") || e.getMessage().contains("not a pool snapshot"),
                e.getMessage());
        IllegalArgumentException e2 = assertThrows(IllegalArgumentException.class,
                () -> PoolSnapshot.fromJson("{\"pool\": "));
        assertTrue(e2.getMessage().contains("offset"), e2.getMessage());
    }

    @Test
    void statisticsJsonHasEveryField() {
        CachingPool pool = leaks.track(new CachingPool(leaks.track(new SimulatedResource(1L << 30))));
        long a = pool.allocate(5000, 64, Stream.HOST);
        String json = pool.statistics().toJson();
        var m = io.vramkit.core.json.Json.parseObject(json);
        for (String k : List.of("allocatedBytes", "reservedBytes", "activeBytes", "inactiveSplitBytes",
                "upstreamAllocations", "retries", "ooms", "largestFreeBytes", "fragmentation")) {
            assertTrue(m.containsKey(k), k);
        }
        assertEquals(5120L, ((java.util.Map<?, ?>) m.get("allocatedBytes")).get("current"));
        pool.deallocate(a, 5000, 64, Stream.HOST);
    }
}
