package io.vramkit.core.testing;

import static org.junit.jupiter.api.Assertions.fail;

import io.vramkit.core.memory.CachingPool;
import io.vramkit.core.memory.LiveAllocations;
import io.vramkit.core.memory.MemoryResource;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Asserts after each test that nothing leaked, in the style of Chronicle's test bases: every resource registered
 * with {@link #track} must have no live allocations, and every tracked {@link CachingPool} is closed (so its segments
 * return upstream, and the upstream is checked after). Resources are checked in the reverse order of registration,
 * so register the upstream first and the pool after.
 *
 * {@snippet :
 * class MyKernelTest {
 *     @RegisterExtension
 *     final NoLeaksExtension leaks = new NoLeaksExtension();
 *
 *     @Test
 *     void works() {
 *         HostMemoryResource host = leaks.track(new HostMemoryResource());
 *         CachingPool pool = leaks.track(new CachingPool(host));
 *         try (Buffer b = Buffer.allocate(pool, 1024)) {
 *             // ...
 *         }
 *     } // the extension fails the test if b had not been closed
 * }
 * }
 *
 * <p>A tracked resource that is neither {@link LiveAllocations} nor a pool is only closed. Not thread-safe: register
 * from the test thread.
 */
public final class NoLeaksExtension implements BeforeEachCallback, AfterEachCallback {

    private final List<MemoryResource> tracked = new ArrayList<>();

    /** Registers {@code resource} to be checked (and closed, if it is a pool) after the test; returns it. */
    public <R extends MemoryResource> R track(R resource) {
        if (resource == null) {
            throw new IllegalArgumentException("resource must not be null");
        }
        tracked.add(resource);
        return resource;
    }

    @Override
    public void beforeEach(ExtensionContext context) {
        tracked.clear();
    }

    @Override
    public void afterEach(ExtensionContext context) {
        List<String> problems = new ArrayList<>();
        for (int i = tracked.size() - 1; i >= 0; i--) {
            MemoryResource r = tracked.get(i);
            if (r instanceof LiveAllocations la && la.liveAllocationCount() != 0) {
                problems.add(r + " has " + la.liveAllocationCount() + " live allocations ("
                        + la.liveAllocationBytes() + " bytes):\n    "
                        + String.join("\n    ", la.describeLiveAllocations(10)));
                continue;
            }
            if (r instanceof CachingPool pool) {
                try {
                    pool.close();
                } catch (RuntimeException e) {
                    problems.add(e.getMessage());
                }
            }
        }
        tracked.clear();
        if (!problems.isEmpty()) {
            fail("leak check after " + context.getDisplayName() + ":\n  " + String.join("\n  ", problems));
        }
    }
}
