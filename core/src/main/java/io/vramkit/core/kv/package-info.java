/**
 * The paged KV cache: {@link io.vramkit.core.kv.PagedKvCache} (block tables, prefix sharing, copy-on-write, LRU
 * eviction, sliding-window reclamation, swap, compression under pressure), its block accounting
 * {@link io.vramkit.core.kv.KvBlockPool} and the element conversions of the layout in {@code docs/kv-cache.md}.
 */
package io.vramkit.core.kv;
