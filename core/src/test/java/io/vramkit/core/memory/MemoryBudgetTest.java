package io.vramkit.core.memory;

import static io.vramkit.core.memory.ByteSizes.MiB;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vramkit.core.testing.NoLeaksExtension;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class MemoryBudgetTest {

    @RegisterExtension
    final NoLeaksExtension leaks = new NoLeaksExtension();

    @Test
    void childReservationIsTakenFromTheParentAtOnce() {
        MemoryBudget root = MemoryBudget.root("gpu", 100 * MiB);
        MemoryBudget a = root.child("a", 30 * MiB, 60 * MiB);
        assertEquals(30 * MiB, root.usedBytes());
        assertEquals(70 * MiB, root.headroomBytes());
        assertEquals(60 * MiB, a.headroomBytes(), "own limit binds");
        a.reserve(20 * MiB);
        assertEquals(30 * MiB, root.usedBytes(), "use within the reservation does not charge the parent");
        a.reserve(20 * MiB);
        assertEquals(40 * MiB, root.usedBytes(), "use beyond it does");
        assertEquals(20 * MiB, a.headroomBytes());
        a.release(40 * MiB);
        assertEquals(30 * MiB, root.usedBytes());
        a.close();
        assertEquals(0, root.usedBytes());
        root.close();
    }

    @Test
    void headroomIsTheSmallerOfOwnAndParents() {
        MemoryBudget root = MemoryBudget.root("gpu", 100 * MiB);
        MemoryBudget a = root.child("a", 10 * MiB, 80 * MiB);
        MemoryBudget b = root.child("b", 50 * MiB, 90 * MiB);
        assertEquals(50 * MiB, a.headroomBytes(), "10 reserved + 40 the root has left");
        b.reserve(50 * MiB);
        assertEquals(50 * MiB, a.headroomBytes(), "b's use within its reservation changes nothing for a");
        b.reserve(30 * MiB);
        assertEquals(20 * MiB, a.headroomBytes());
        OutOfMemoryException e = assertThrows(OutOfMemoryException.class, () -> a.reserve(21 * MiB));
        assertTrue(e.getMessage().contains("budget 'a'") && e.getMessage().contains("parent 'gpu'"),
                e.getMessage());
        assertEquals(0, a.usedBytes(), "a refused reserve changes nothing");
        assertEquals(90 * MiB, root.usedBytes());
        a.reserve(20 * MiB);
        assertEquals(0, a.headroomBytes());
        assertEquals(100 * MiB, root.usedBytes());
        a.release(20 * MiB);
        b.release(80 * MiB);
        a.close();
        b.close();
        root.close();
    }

    @Test
    void nestedBudgetsChargeEveryAncestor() {
        MemoryBudget root = MemoryBudget.root("gpu", 100 * MiB);
        MemoryBudget tenant = root.child("tenant", 0, 50 * MiB);
        MemoryBudget model = tenant.child("model", 0, 40 * MiB);
        model.reserve(30 * MiB);
        assertEquals(30 * MiB, tenant.usedBytes());
        assertEquals(30 * MiB, root.usedBytes());
        assertEquals(10 * MiB, model.headroomBytes());
        assertThrows(IllegalStateException.class, tenant::close, "a budget with an open child cannot close");
        assertThrows(IllegalStateException.class, model::close, "a budget with bytes charged cannot close");
        model.release(30 * MiB);
        model.close();
        tenant.close();
        root.close();
        assertThrows(IllegalStateException.class, () -> root.reserve(1));
    }

    @Test
    void badArgumentsAreNamed() {
        MemoryBudget root = MemoryBudget.root("gpu", 100 * MiB);
        assertTrue(assertThrows(IllegalArgumentException.class, () -> root.reserve(0)).getMessage()
                .contains("bytes"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> root.release(5)).getMessage()
                .contains("bytes 5"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> root.child("x", 20, 10)).getMessage()
                .contains("reservationBytes"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> root.child("x", 0, 0)).getMessage()
                .contains("limitBytes"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> MemoryBudget.root(" ", 1)).getMessage()
                .contains("name"));
        OutOfMemoryException e = assertThrows(OutOfMemoryException.class,
                () -> root.child("big", 200 * MiB, 300 * MiB));
        assertTrue(e.getMessage().contains("reservation of child budget 'big'"), e.getMessage());
        assertEquals(0, root.usedBytes());
        root.close();
    }

    @Test
    void budgetedResourceRefusesPastTheBudgetAndKeepsCountsExact() {
        SimulatedResource device = leaks.track(new SimulatedResource(1L << 30));
        CachingPool pool = leaks.track(new CachingPool(device));
        MemoryBudget root = MemoryBudget.root("gpu", 64 * MiB);
        MemoryBudget tenant = root.child("tenant", 8 * MiB, 32 * MiB);
        BudgetedResource r = new BudgetedResource(pool, tenant);
        SplittableRandom rnd = new SplittableRandom(7);
        List<long[]> live = new ArrayList<>();
        long used = 0;
        for (int i = 0; i < 400; i++) {
            if (rnd.nextBoolean() || live.isEmpty()) {
                long bytes = 1 + rnd.nextInt(4 << 20);
                if (used + bytes > 32 * MiB) {
                    long before = pool.statistics().allocatedBytes().current();
                    assertThrows(OutOfMemoryException.class, () -> r.allocate(bytes, 64, Stream.HOST));
                    assertEquals(used, tenant.usedBytes());
                    assertEquals(before, pool.statistics().allocatedBytes().current());
                } else {
                    live.add(new long[] {r.allocate(bytes, 64, Stream.HOST), bytes});
                    used += bytes;
                }
            } else {
                long[] l = live.remove(rnd.nextInt(live.size()));
                r.deallocate(l[0], l[1], 64, Stream.HOST);
                used -= l[1];
            }
            assertEquals(used, tenant.usedBytes());
            assertEquals(8 * MiB + Math.max(0, used - 8 * MiB), root.usedBytes());
        }
        for (long[] l : live) {
            r.deallocate(l[0], l[1], 64, Stream.HOST);
        }
        if (!live.isEmpty()) {
            assertThrows(IllegalArgumentException.class, () -> r.deallocate(live.getFirst()[0], live.getFirst()[1],
                    64, Stream.HOST), "a double free through the budget is refused");
        }
        assertEquals(0, tenant.usedBytes());
        tenant.close();
        root.close();
    }
}
