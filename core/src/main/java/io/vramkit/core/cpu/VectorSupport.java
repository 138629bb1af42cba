package io.vramkit.core.cpu;

import java.util.Locale;
import java.util.Optional;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decides, once per JVM, whether CPU kernels use the Vector API ({@code jdk.incubator.vector}) or their scalar
 * fallbacks, following Lucene's {@code VectorizationProvider} pattern.
 *
 * <p>The incubator module never appears in a public signature. Each kernel family has an interface, a scalar
 * implementation, and a Panama implementation that is loaded reflectively by {@link #load} only when the module is
 * readable. The system property {@code vramkit.vector} selects the path:
 * <ul>
 *   <li>{@code auto} (default): Panama when {@code jdk.incubator.vector} is readable, scalar otherwise, with one log
 *       line naming the flag to add ({@code --add-modules jdk.incubator.vector});</li>
 *   <li>{@code scalar}: always the scalar path (tests use this to cross-check);</li>
 *   <li>{@code panama}: the Vector API, failing loudly if it is missing.</li>
 * </ul>
 * The property is read once into a {@code static final}. Thread-safe.
 */
public final class VectorSupport {

    private static final Logger LOG = LoggerFactory.getLogger(VectorSupport.class);

    /** The value of {@code vramkit.vector}, lower-cased; read once. */
    public static final String MODE =
            System.getProperty("vramkit.vector", "auto").trim().toLowerCase(Locale.ROOT);

    private static final boolean MODULE_PRESENT =
            ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();

    /** Whether vectorized kernels are in use in this JVM. */
    public static final boolean ENABLED = decide();

    private VectorSupport() {
    }

    private static boolean decide() {
        switch (MODE) {
            case "scalar":
                LOG.info("vramkit.vector=scalar: CPU kernels use their scalar fallbacks");
                return false;
            case "panama":
                if (!MODULE_PRESENT) {
                    throw new IllegalStateException(
                            "vramkit.vector=panama but jdk.incubator.vector is not readable: add "
                                    + "--add-modules jdk.incubator.vector to the JVM flags");
                }
                return true;
            case "auto":
                if (!MODULE_PRESENT) {
                    LOG.warn("jdk.incubator.vector is not readable, so vramkit's CPU kernels run scalar code "
                            + "(several times slower). Add --add-modules jdk.incubator.vector to the JVM flags.");
                    return false;
                }
                return true;
            default:
                throw new IllegalArgumentException(
                        "vramkit.vector must be auto, scalar or panama, got '" + MODE + "'");
        }
    }

    /** The preferred vector width in bits of this CPU, or 0 when the Vector API is not in use. */
    public static int preferredVectorBits() {
        if (!ENABLED) {
            return 0;
        }
        try {
            // Reflect through the exported interface: the species' concrete class is not exported.
            Object preferred = Class.forName("jdk.incubator.vector.FloatVector").getField("SPECIES_PREFERRED")
                    .get(null);
            return (Integer) Class.forName("jdk.incubator.vector.VectorSpecies").getMethod("vectorBitSize")
                    .invoke(preferred);
        } catch (ReflectiveOperationException | RuntimeException e) {
            return 0;
        }
    }

    /**
     * Loads the implementation of a kernel family.
     *
     * @param type        the kernel interface
     * @param panamaClass the fully qualified name of the Vector API implementation, which must have a public no-arg
     *                    constructor and live in the same module as {@code type}
     * @param scalar      makes the scalar fallback
     * @param <T>         the kernel interface
     * @return the Panama implementation when {@link #ENABLED}, else the scalar one
     */
    public static <T> T load(Class<T> type, String panamaClass, Supplier<? extends T> scalar) {
        if (!ENABLED) {
            return scalar.get();
        }
        Optional<T> panama = tryLoad(type, panamaClass);
        if (panama.isPresent()) {
            return panama.get();
        }
        if (MODE.equals("panama")) {
            throw new IllegalStateException("vramkit.vector=panama but " + panamaClass + " could not be loaded");
        }
        return scalar.get();
    }

    private static <T> Optional<T> tryLoad(Class<T> type, String panamaClass) {
        try {
            Class<?> impl = Class.forName(panamaClass, true, type.getClassLoader());
            return Optional.of(type.cast(impl.getConstructor().newInstance()));
        } catch (ReflectiveOperationException | LinkageError e) {
            LOG.warn("could not load {} ({}); using the scalar fallback", panamaClass, e.toString());
            return Optional.empty();
        }
    }
}
