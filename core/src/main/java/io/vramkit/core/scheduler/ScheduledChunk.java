package io.vramkit.core.scheduler;

/**
 * Work for one request in one step: compute K/V (and the forward pass) for tokens {@code [start, start + count)} of
 * its token list. The KV slots for them are already appended in the cache.
 *
 * @param request       the request
 * @param seqId         its KV-cache sequence id
 * @param start         first token position
 * @param count         tokens to compute, {@code >= 1}
 * @param prefill       whether these are prompt (or recomputed) tokens rather than one decode token
 * @param producesToken whether the chunk reaches the end of the known tokens, so the step samples a new token
 */
public record ScheduledChunk(Request request, int seqId, int start, int count, boolean prefill,
                             boolean producesToken) {
}
