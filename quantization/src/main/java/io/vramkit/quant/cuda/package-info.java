/**
 * CUDA launchers for the quantization kernels: {@link io.vramkit.quant.cuda.CudaQuantizedTensor} (a quantized
 * tensor copied to the device) and {@link io.vramkit.quant.cuda.CudaQuantKernels} (dequantize, W4A16/W8A16 GEMV).
 * Verified on an NVIDIA H200 by the {@code gpu}-tagged tests, except {@code CudaQuantKernels.quantize}.
 */
package io.vramkit.quant.cuda;
