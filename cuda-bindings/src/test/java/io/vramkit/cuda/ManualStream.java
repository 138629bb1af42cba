package io.vramkit.cuda;

import io.vramkit.core.memory.Stream;
import io.vramkit.core.memory.StreamEvent;
import java.util.ArrayList;
import java.util.List;

/** A test stream whose events complete only when the test says so, as a busy GPU stream's would. */
final class ManualStream implements Stream {

    final class Event implements StreamEvent, AutoCloseable {
        volatile boolean complete;
        volatile boolean closed;

        @Override
        public boolean isComplete() {
            if (closed) {
                throw new IllegalStateException("event used after close");
            }
            return complete;
        }

        @Override
        public void synchronize() {
            complete = true;
        }

        @Override
        public void close() {
            if (closed) {
                throw new IllegalStateException("event closed twice");
            }
            closed = true;
        }
    }

    final List<Event> events = new ArrayList<>();
    int synchronizations;

    @Override
    public long id() {
        return 42;
    }

    @Override
    public synchronized Event record() {
        Event e = new Event();
        events.add(e);
        return e;
    }

    /** Completes every event recorded so far. */
    @Override
    public synchronized void synchronize() {
        synchronizations++;
        events.forEach(e -> e.complete = true);
    }
}
