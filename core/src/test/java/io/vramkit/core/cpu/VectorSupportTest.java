package io.vramkit.core.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class VectorSupportTest {

    interface Kernel {
        String name();
    }

    public static final class PanamaKernel implements Kernel {
        @Override
        public String name() {
            return "panama";
        }
    }

    static final class ScalarKernel implements Kernel {
        @Override
        public String name() {
            return "scalar";
        }
    }

    @Test
    void testJvmHasTheVectorModuleAndUsesIt() {
        // The parent pom gives test JVMs --add-modules jdk.incubator.vector, and vramkit.vector defaults to auto.
        assertEquals("auto", VectorSupport.MODE);
        assertTrue(VectorSupport.ENABLED);
        assertTrue(VectorSupport.preferredVectorBits() >= 128, "vector bits " + VectorSupport.preferredVectorBits());
    }

    @Test
    void loadPicksThePanamaImplementationWhenEnabled() {
        Kernel k = VectorSupport.load(Kernel.class, PanamaKernel.class.getName(), ScalarKernel::new);
        assertEquals(VectorSupport.ENABLED ? "panama" : "scalar", k.name());
    }

    @Test
    void missingPanamaClassFallsBackToScalar() {
        Kernel k = VectorSupport.load(Kernel.class, "io.vramkit.NoSuchKernel", ScalarKernel::new);
        assertInstanceOf(ScalarKernel.class, k);
    }
}
