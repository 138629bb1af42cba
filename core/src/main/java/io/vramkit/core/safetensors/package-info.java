/**
 * Plain safetensors I/O: {@link io.vramkit.core.safetensors.SafetensorsReader} memory-maps a file through FFM and
 * hands out tensors as zero-copy segments; {@link io.vramkit.core.safetensors.SafetensorsWriter} writes one.
 */
package io.vramkit.core.safetensors;
