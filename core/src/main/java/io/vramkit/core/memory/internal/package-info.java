/**
 * Implementation details of the memory layer: a garbage-free long-keyed hash map. Not
 * exported; nothing here is API.
 */
package io.vramkit.core.memory.internal;
