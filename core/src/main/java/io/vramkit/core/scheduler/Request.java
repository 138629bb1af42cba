package io.vramkit.core.scheduler;

import java.util.Arrays;

/**
 * One generation request: a prompt, a limit on new tokens, a priority and an arrival time. The {@link Scheduler} owns
 * its state once submitted; callers read it. Not thread-safe.
 */
public final class Request {

    private final long id;
    private final int promptLength;
    private final int maxNewTokens;
    private final int priority;
    private final double arrivalSeconds;
    private final long salt;
    private int[] tokens;
    private int length;

    RequestState state = RequestState.WAITING;
    boolean submitted;
    int seqId = -1;
    int computed;
    int kvTokens;
    int reservedTokens;
    int preemptions;
    double firstTokenSeconds = Double.NaN;
    double finishSeconds = Double.NaN;
    String failure;

    /**
     * Creates a request.
     *
     * @param id             caller's identifier
     * @param prompt         prompt token ids (copied), at least one
     * @param maxNewTokens   tokens to generate at most, {@code >= 1}
     * @param priority       higher runs first; aging raises waiting requests over time
     * @param arrivalSeconds arrival time, {@code >= 0}
     * @param salt           prefix-cache salt (tenant isolation)
     * @throws IllegalArgumentException naming the bad argument
     */
    public Request(long id, int[] prompt, int maxNewTokens, int priority, double arrivalSeconds, long salt) {
        if (prompt == null || prompt.length == 0) {
            throw new IllegalArgumentException("prompt must hold at least one token, got "
                    + (prompt == null ? "null" : "0 tokens"));
        }
        if (maxNewTokens <= 0) {
            throw new IllegalArgumentException("maxNewTokens must be positive, got " + maxNewTokens);
        }
        if (!(arrivalSeconds >= 0)) {
            throw new IllegalArgumentException("arrivalSeconds must be >= 0, got " + arrivalSeconds);
        }
        this.id = id;
        this.promptLength = prompt.length;
        this.maxNewTokens = maxNewTokens;
        this.priority = priority;
        this.arrivalSeconds = arrivalSeconds;
        this.salt = salt;
        this.tokens = Arrays.copyOf(prompt, prompt.length + Math.min(maxNewTokens, 1024));
        this.length = prompt.length;
    }

    /** The caller's identifier. */
    public long id() {
        return id;
    }

    /** Prompt tokens. */
    public int promptLength() {
        return promptLength;
    }

    /** The limit on generated tokens. */
    public int maxNewTokens() {
        return maxNewTokens;
    }

    /** The base priority (higher first). */
    public int priority() {
        return priority;
    }

    /** Arrival time in seconds. */
    public double arrivalSeconds() {
        return arrivalSeconds;
    }

    /** The prefix-cache salt. */
    public long salt() {
        return salt;
    }

    /** The state. */
    public RequestState state() {
        return state;
    }

    /** Tokens generated so far. */
    public int generated() {
        return length - promptLength;
    }

    /** Prompt plus generated tokens. */
    public int length() {
        return length;
    }

    /** Tokens whose K/V have been computed. */
    public int computedTokens() {
        return computed;
    }

    /** Times this request was preempted. */
    public int preemptions() {
        return preemptions;
    }

    /** When its first token was produced (seconds), or NaN. */
    public double firstTokenSeconds() {
        return firstTokenSeconds;
    }

    /** When it finished (seconds), or NaN. */
    public double finishSeconds() {
        return finishSeconds;
    }

    /** Why it failed, or null. */
    public String failure() {
        return failure;
    }

    /** A copy of its prompt and generated tokens. */
    public int[] tokens() {
        return Arrays.copyOf(tokens, length);
    }

    int[] tokenArray() {
        return tokens;
    }

    void addToken(int t) {
        if (length == tokens.length) {
            tokens = Arrays.copyOf(tokens, tokens.length * 2);
        }
        tokens[length++] = t;
    }

    @Override
    public String toString() {
        return "Request[" + id + ", " + state + ", prompt " + promptLength + ", generated " + generated() + "]";
    }
}
