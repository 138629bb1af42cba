/**
 * CUDA launchers for the quantization kernels: {@link io.vramkit.quant.cuda.CudaQuantizedTensor} (a quantized
 * tensor copied to the device) and {@link io.vramkit.quant.cuda.CudaQuantKernels} (dequantize, W4A16/W8A16 GEMV).
 * <b>Unverified on a GPU</b>.
 */
package io.vramkit.quant.cuda;
