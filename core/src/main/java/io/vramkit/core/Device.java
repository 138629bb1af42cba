package io.vramkit.core;

/**
 * A place where memory lives and kernels run: the host CPU, or one CUDA device by ordinal.
 *
 * <p>Immutable and thread-safe.
 *
 * @param type    the backend
 * @param ordinal the device ordinal; always 0 for the CPU
 */
public record Device(Type type, int ordinal) {

    /** The host CPU. */
    public static final Device CPU = new Device(Type.CPU, 0);

    /** Backends. */
    public enum Type {
        /** The host CPU, with the Vector API where available. */
        CPU,
        /** An NVIDIA GPU reached through the CUDA runtime and driver. */
        CUDA
    }

    /**
     * Creates a device.
     *
     * @throws IllegalArgumentException if {@code type} is null, {@code ordinal} is negative, or the CPU has a
     *                                  non-zero ordinal
     */
    public Device {
        if (type == null) {
            throw new IllegalArgumentException("type must not be null");
        }
        if (ordinal < 0) {
            throw new IllegalArgumentException("ordinal must be >= 0, got " + ordinal);
        }
        if (type == Type.CPU && ordinal != 0) {
            throw new IllegalArgumentException("ordinal of the CPU device must be 0, got " + ordinal);
        }
    }

    /** The CUDA device with this ordinal. */
    public static Device cuda(int ordinal) {
        return new Device(Type.CUDA, ordinal);
    }

    @Override
    public String toString() {
        return type == Type.CPU ? "cpu" : "cuda:" + ordinal;
    }
}
