package io.vramkit.core.testing;

import io.vramkit.core.memory.Stream;
import io.vramkit.core.memory.StreamEvent;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A test {@link Stream} whose work completes only when the test says so. Every {@link #record()} returns an event
 * that completes when {@link #complete()} (or {@link #completeUpTo}) passes it: the stream keeps a counter of
 * recorded events and a counter of completed work. Thread-safe.
 */
public final class ManualStream implements Stream {

    private static final AtomicLong IDS = new AtomicLong(1000);

    private final long id = IDS.incrementAndGet();
    private final AtomicLong recorded = new AtomicLong();
    private final AtomicLong completed = new AtomicLong();

    /** An event of this stream. */
    public final class Event implements StreamEvent {
        private final long sequence;

        Event(long sequence) {
            this.sequence = sequence;
        }

        @Override
        public boolean isComplete() {
            return completed.get() >= sequence;
        }

        @Override
        public void synchronize() {
            completeUpTo(sequence);
        }

        /** Its position in the stream. */
        public long sequence() {
            return sequence;
        }
    }

    @Override
    public long id() {
        return id;
    }

    @Override
    public Event record() {
        return new Event(recorded.incrementAndGet());
    }

    /** Completes all work recorded so far. */
    public void complete() {
        completeUpTo(recorded.get());
    }

    /** Completes work up to event {@code sequence}. */
    public void completeUpTo(long sequence) {
        completed.accumulateAndGet(sequence, Math::max);
    }

    /** Synchronizing a manual stream completes its work (the test is the device). */
    @Override
    public void synchronize() {
        complete();
    }

    /** The sequence of the last event completed: every event up to it is complete. */
    public long completedEvents() {
        return completed.get();
    }

    /** Events recorded so far. */
    public long recordedEvents() {
        return recorded.get();
    }

    @Override
    public String toString() {
        return "ManualStream[" + id + "]";
    }
}
