package io.vramkit.cuda;

import io.vramkit.core.memory.Buffer;
import io.vramkit.cuda.internal.panama.cuda_h;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * One kernel of a {@link KernelModule}, launched with {@code cuLaunchKernel}.
 *
 * <p>Arguments map to C parameters in order: a {@link Buffer} passes its device address (a pointer), a
 * {@link MemorySegment} its address, and {@code Long}, {@code Integer}, {@code Short}, {@code Byte}, {@code Float},
 * {@code Double} and {@code Boolean} pass by value at their C width. The caller must match the kernel's signature;
 * the driver cannot check it. Thread-safe.
 * Verified on an NVIDIA H200 by the {@code gpu}-tagged tests (2026-11-26).
 */
public final class KernelFunction {

    /** Most threads one block may have on every supported GPU. */
    public static final int MAX_THREADS_PER_BLOCK = 1024;

    /** Dynamic shared memory a kernel may use without opting in through {@code cuFuncSetAttribute}. */
    public static final int DEFAULT_MAX_DYNAMIC_SHARED_BYTES = 48 * 1024;

    private final KernelModule module;
    private final String name;
    private final long function;
    /** The dynamic shared-memory limit this function has been opted in to; grows only. */
    private int sharedLimitBytes = DEFAULT_MAX_DYNAMIC_SHARED_BYTES;

    KernelFunction(KernelModule module, String name, long function) {
        this.module = module;
        this.name = name;
        this.function = function;
    }

    /** The kernel's name. */
    public String name() {
        return name;
    }

    /** Launches a one-dimensional grid without dynamic shared memory. */
    public void launch(int gridX, int blockX, CudaStream stream, Object... args) {
        launch(Dim3.of(gridX), Dim3.of(blockX), 0, stream, args);
    }

    /**
     * Queues the kernel on {@code stream}.
     *
     * @param grid        blocks in the grid
     * @param block       threads per block; at most {@value #MAX_THREADS_PER_BLOCK} in all
     * @param sharedBytes dynamic shared memory per block in bytes, at least 0; above
     *                    {@value #DEFAULT_MAX_DYNAMIC_SHARED_BYTES} the function is first opted in with
     *                    {@code cuFuncSetAttribute(CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES)}, which the
     *                    driver refuses beyond the device's per-block opt-in limit (227 KiB on sm_90)
     * @param stream      an open stream on the module's device
     * @param args        the kernel's arguments
     * @throws IllegalArgumentException naming the bad argument: null grid, block or stream, too many threads,
     *                                  negative shared memory, a stream of another device, or an argument of an
     *                                  unsupported type (by index)
     * @throws IllegalStateException    if the module, stream or a buffer argument is closed
     * @throws CudaException            if the driver refuses the launch
     */
    public void launch(Dim3 grid, Dim3 block, int sharedBytes, CudaStream stream, Object... args) {
        if (grid == null) {
            throw new IllegalArgumentException("grid must not be null");
        }
        if (block == null) {
            throw new IllegalArgumentException("block must not be null");
        }
        if (block.volume() > MAX_THREADS_PER_BLOCK) {
            throw new IllegalArgumentException("block must have at most " + MAX_THREADS_PER_BLOCK
                    + " threads, got " + block + " = " + block.volume());
        }
        if (sharedBytes < 0) {
            throw new IllegalArgumentException("sharedBytes must be >= 0, got " + sharedBytes);
        }
        if (stream == null) {
            throw new IllegalArgumentException("stream must not be null");
        }
        if (stream.deviceOrdinal() != module.deviceOrdinal()) {
            throw new IllegalArgumentException("stream is on cuda:" + stream.deviceOrdinal() + " but kernel " + name
                    + " is loaded on cuda:" + module.deviceOrdinal());
        }
        Object[] values = args == null ? new Object[0] : args;
        module.checkOpen();
        stream.checkOpen();
        long start = System.nanoTime();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment params = marshalArgs(arena, name, values);
            CudaNative.setDevice(module.deviceOrdinal());
            raiseSharedLimit(sharedBytes);
            CudaNative.checkDriver("cuLaunchKernel(" + name + ", grid " + grid + ", block " + block + ", "
                    + sharedBytes + " bytes shared)", cuda_h.cuLaunchKernel(MemorySegment.ofAddress(function),
                    grid.x(), grid.y(), grid.z(), block.x(), block.y(), block.z(), sharedBytes, stream.handle(),
                    params, MemorySegment.NULL));
        }
        KernelLaunchEvent event = new KernelLaunchEvent();
        if (event.shouldCommit()) {
            event.kernel = name;
            event.module = module.bundle();
            event.device = module.deviceOrdinal();
            event.gridThreads = grid.volume() * block.volume();
            event.sharedBytes = sharedBytes;
            event.queueNanos = System.nanoTime() - start;
            event.commit();
        }
    }

    private synchronized void raiseSharedLimit(int sharedBytes) {
        if (sharedBytes <= sharedLimitBytes) {
            return;
        }
        CudaNative.checkDriver("cuFuncSetAttribute(" + name + ", MAX_DYNAMIC_SHARED_SIZE_BYTES, " + sharedBytes + ")",
                cuda_h.cuFuncSetAttribute(MemorySegment.ofAddress(function),
                        cuda_h.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, sharedBytes));
        sharedLimitBytes = sharedBytes;
    }

    /**
     * Builds the {@code void**} kernel-parameter array: one pointer per argument, to a copy of its value.
     *
     * @throws IllegalArgumentException naming the index of a null or unsupported argument
     * @throws IllegalStateException    naming the index of a closed buffer
     */
    static MemorySegment marshalArgs(Arena arena, String name, Object[] values) {
        MemorySegment params = arena.allocate(ValueLayout.ADDRESS, Math.max(1, values.length));
        for (int i = 0; i < values.length; i++) {
            params.setAtIndex(ValueLayout.ADDRESS, i, marshal(arena, name, i, values[i]));
        }
        return params;
    }

    private static MemorySegment marshal(Arena arena, String name, int index, Object value) {
        return switch (value) {
            case null -> throw new IllegalArgumentException("args[" + index + "] of kernel " + name + " is null");
            case Buffer b -> {
                if (!b.isOpen()) {
                    throw new IllegalStateException("args[" + index + "] of kernel " + name + " is a closed buffer: "
                            + b);
                }
                yield arena.allocateFrom(ValueLayout.JAVA_LONG, b.address());
            }
            case MemorySegment s -> arena.allocateFrom(ValueLayout.JAVA_LONG, s.address());
            case Long l -> arena.allocateFrom(ValueLayout.JAVA_LONG, l);
            case Integer n -> arena.allocateFrom(ValueLayout.JAVA_INT, n);
            case Short s -> arena.allocateFrom(ValueLayout.JAVA_SHORT, s);
            case Byte b -> arena.allocateFrom(ValueLayout.JAVA_BYTE, b);
            case Float f -> arena.allocateFrom(ValueLayout.JAVA_FLOAT, f);
            case Double d -> arena.allocateFrom(ValueLayout.JAVA_DOUBLE, d);
            case Boolean b -> arena.allocateFrom(ValueLayout.JAVA_BYTE, (byte) (b ? 1 : 0));
            default -> throw new IllegalArgumentException("args[" + index + "] of kernel " + name
                    + " has unsupported type " + value.getClass().getName()
                    + "; pass a Buffer, MemorySegment or a boxed primitive");
        };
    }

    @Override
    public String toString() {
        return "KernelFunction[" + name + " in " + module + "]";
    }
}
