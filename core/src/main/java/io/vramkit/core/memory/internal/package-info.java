/**
 * Implementation details of the memory layer: a garbage-free long-keyed hash map and the transparent-huge-page
 * advice for large host allocations. Not exported; nothing here is API.
 */
package io.vramkit.core.memory.internal;
