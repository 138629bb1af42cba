/** Quantized formats, tensors and kernels, and the mixed-precision planner. */
package io.vramkit.quant;
