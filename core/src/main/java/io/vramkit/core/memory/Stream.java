package io.vramkit.core.memory;

/**
 * An ordered queue of work on one device, as {@code cudaStream_t} is on the GPU.
 *
 * <p>Memory is stream-ordered, as in RMM: memory freed on a stream may be reused at once by later work on the same
 * stream, because that work runs after everything already queued; another stream may reuse it only once the freeing
 * stream has passed the point of the free, which a {@link StreamEvent} recorded after the free tells. A
 * {@link CachingPool} records that event lazily, when another stream needs the memory, so {@link #record()} may be
 * called long after the free: a stream that can be closed should keep answering it after closing (with an event
 * after its last work), as {@code CudaStream} does.
 *
 * <p>On the CPU backend work is synchronous, so {@link #HOST} records events that are always complete. The CUDA
 * module supplies streams backed by {@code cudaStream_t}. Implementations are thread-safe.
 */
public interface Stream {

    /** The host stream: synchronous work, every event already complete. */
    Stream HOST = HostStream.INSTANCE;

    /** A number that identifies this stream among live streams of the same device; stable for its lifetime. */
    long id();

    /** Records an event after all work currently queued on this stream. */
    StreamEvent record();

    /** Blocks until all work queued on this stream has finished. */
    void synchronize();
}
