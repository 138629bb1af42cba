package io.vramkit.core.testing;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vramkit.core.memory.CachingPool;
import io.vramkit.core.memory.SimulatedResource;
import io.vramkit.core.memory.Stream;
import java.lang.reflect.Proxy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.opentest4j.AssertionFailedError;

class NoLeaksExtensionTest {

    private static ExtensionContext context() {
        return (ExtensionContext) Proxy.newProxyInstance(ExtensionContext.class.getClassLoader(),
                new Class<?>[] {ExtensionContext.class}, (proxy, method, args) -> switch (method.getName()) {
                    case "getDisplayName" -> "fake test";
                    default -> throw new UnsupportedOperationException(method.getName());
                });
    }

    @Test
    void failsWhenAllocationsAreLiveAndNamesThem() {
        NoLeaksExtension ext = new NoLeaksExtension();
        ext.beforeEach(context());
        SimulatedResource device = ext.track(new SimulatedResource(1L << 30));
        CachingPool pool = ext.track(new CachingPool(device));
        long a = pool.allocate(5555, 64, Stream.HOST);
        AssertionFailedError e = assertThrows(AssertionFailedError.class, () -> ext.afterEach(context()));
        assertTrue(e.getMessage().contains("fake test") && e.getMessage().contains("5555 bytes"), e.getMessage());
        pool.deallocate(a, 5555, 64, Stream.HOST);
        pool.close();
    }

    @Test
    void passesAndClosesPoolsWhenEverythingWasFreed() {
        NoLeaksExtension ext = new NoLeaksExtension();
        ext.beforeEach(context());
        SimulatedResource device = ext.track(new SimulatedResource(1L << 30));
        CachingPool pool = ext.track(new CachingPool(device));
        long a = pool.allocate(5555, 64, Stream.HOST);
        pool.deallocate(a, 5555, 64, Stream.HOST);
        assertDoesNotThrow(() -> ext.afterEach(context()));
        assertTrue(pool.isClosed());
        assertTrue(device.usedBytes() == 0, "the pool returned its segments");
        assertThrows(IllegalArgumentException.class, () -> ext.track(null));
    }
}
