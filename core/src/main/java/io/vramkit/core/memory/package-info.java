/**
 * Stream-ordered memory: the {@link io.vramkit.core.memory.MemoryResource} SPI, upstreams, the caching pool and the
 * adaptors that compose over it (limits, budgets, statistics, tracking, retry).
 */
package io.vramkit.core.memory;
