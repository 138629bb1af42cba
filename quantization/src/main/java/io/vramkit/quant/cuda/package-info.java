/**
 * CUDA launchers for the quantization kernels: {@link io.vramkit.quant.cuda.CudaQuantizedTensor} (a quantized
 * tensor copied to the device) and {@link io.vramkit.quant.cuda.CudaQuantKernels} (quantize, dequantize, W4A16/W8A16 GEMV).
 * Verified on an NVIDIA H200 by the {@code gpu}-tagged tests (2026-11-26).
 */
package io.vramkit.quant.cuda;
