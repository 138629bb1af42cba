package io.vramkit.attention.internal;

import io.vramkit.core.cpu.VectorSupport;
import java.lang.foreign.MemorySegment;

/**
 * The inner loop of CPU paged-decode attention: one work item, a range of a sequence's tokens for a range of KV
 * heads, with the online softmax state kept in the worker's scratch ({@link DecodeProblem} describes its layout).
 *
 * <p>On entry the scratch holds the scaled queries (zero-padded), {@code M = -Infinity}, {@code L = 0} and
 * {@code O = 0} for the item's rows, or the state left by an earlier call on the same rows; on return {@code M},
 * {@code L} and the unnormalized {@code O} (natural element order) include tokens {@code [lo, hi)}. Implementations
 * are stateless and thread-safe; two threads must not share a scratch segment.
 */
public interface DecodeKernel {

    /** The implementation this JVM uses: Vector API when available, else scalar. */
    DecodeKernel INSTANCE = VectorSupport.load(DecodeKernel.class,
            "io.vramkit.attention.internal.PanamaDecodeKernel", ScalarDecodeKernel::new);

    /**
     * Attends the queries of KV heads {@code kv0 .. kv0+kvCount-1} to tokens {@code [lo, hi)} of one sequence.
     *
     * @param p       the call's constants and scratch layout
     * @param table   the sequence's block table (entries for the tokens read were checked by the caller)
     * @param lo      first token, >= 0
     * @param hi      end token, {@code lo <= hi}
     * @param kv0     first KV head
     * @param kvCount KV heads, 1..{@link DecodeProblem#kvLocal}
     * @param w       the worker's scratch, at least {@link DecodeProblem#floats} floats, native
     */
    void attend(DecodeProblem p, int[] table, int lo, int hi, int kv0, int kvCount, MemorySegment w);

    /**
     * Floats of scratch {@link #attend} needs for {@code p}: all of {@link DecodeProblem#floats}, or less when the
     * staging tiles (the last regions of the layout) go unused.
     */
    default int scratchFloats(DecodeProblem p) {
        return p.floats;
    }
}
