package io.vramkit.core.memory;

import static io.vramkit.core.memory.ByteSizes.MiB;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MemoryEventsTest {

    @Test
    void flightRecorderSeesAllocationFreeGrowthTrimAndOom(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("pool.jfr");
        try (Recording rec = new Recording()) {
            for (String name : List.of("io.vramkit.Allocation", "io.vramkit.Free", "io.vramkit.PoolGrowth",
                    "io.vramkit.PoolTrim", "io.vramkit.OutOfMemory")) {
                rec.enable(name);
            }
            rec.start();
            CachingPool pool = new CachingPool(new SimulatedResource(64 * MiB),
                    PoolSettings.builder().name("jfr-pool").build());
            long a = pool.allocate(3000, 64, Stream.HOST);
            pool.deallocate(a, 3000, 64, Stream.HOST);
            assertThrows(PoolOutOfMemoryException.class, () -> pool.allocate(100 * MiB, 256, Stream.HOST));
            pool.close();
            rec.stop();
            rec.dump(file);
        }
        Map<String, Integer> counts = new HashMap<>();
        RecordedEvent allocation = null;
        for (RecordedEvent e : RecordingFile.readAllEvents(file)) {
            String name = e.getEventType().getName();
            if (!"jfr-pool".equals(e.getString("pool"))) {
                continue;
            }
            counts.merge(name, 1, Integer::sum);
            if (name.equals("io.vramkit.Allocation")) {
                allocation = e;
            }
        }
        assertEquals(1, counts.get("io.vramkit.Allocation"), counts.toString());
        assertEquals(1, counts.get("io.vramkit.Free"), counts.toString());
        assertEquals(1, counts.get("io.vramkit.PoolGrowth"), counts.toString());
        assertTrue(counts.get("io.vramkit.PoolTrim") >= 1, counts.toString());
        assertEquals(1, counts.get("io.vramkit.OutOfMemory"), counts.toString());
        assertEquals(3000, allocation.getLong("requestedBytes"));
        assertEquals(3072, allocation.getLong("blockBytes"));
        assertTrue(Files.size(file) > 0);
    }
}
