/**
 * Implementation details of the memory layer: a garbage-free long-keyed hash map and a small JSON reader and
 * writer. Not exported; nothing here is API.
 */
package io.vramkit.core.memory.internal;
