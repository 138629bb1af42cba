/**
 * Allocation traces: record what a {@link io.vramkit.core.memory.MemoryResource} is asked (RMM's CSV log format),
 * replay a trace against any resource over a simulated fixed-capacity device, and generate an LLM-serving-like trace.
 */
package io.vramkit.core.trace;
