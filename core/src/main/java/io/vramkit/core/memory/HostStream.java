package io.vramkit.core.memory;

/** The synchronous host stream: work completes as it is issued, so every event is complete when recorded. */
final class HostStream implements Stream {

    static final HostStream INSTANCE = new HostStream();

    private static final StreamEvent DONE = new StreamEvent() {
        @Override
        public boolean isComplete() {
            return true;
        }

        @Override
        public void synchronize() {
        }

        @Override
        public String toString() {
            return "HostEvent[complete]";
        }
    };

    private HostStream() {
    }

    @Override
    public long id() {
        return 0;
    }

    @Override
    public StreamEvent record() {
        return DONE;
    }

    @Override
    public void synchronize() {
    }

    @Override
    public String toString() {
        return "Stream[host]";
    }
}
