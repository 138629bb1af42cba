// vramkit quantization: dequantize any packed format of docs/formats.md to FP32 or FP16.
// Grid-stride over all rows*cols elements; one thread per element (one per byte pair for 4-bit formats would
// save loads, but dequantize is an offline/debug path, and this form is obviously identical to the CPU's).
#include "quant_common.cuh"

using namespace vramkit_quant;

// The tensor is passed flat (the launch API marshals scalars and pointers only).
#define VRAMKIT_TENSOR_PARAMS const uint8_t* codes, const void* scales, const uint8_t* zeros, const float* scale2, \
                              float dq_offset, int rows, int cols, int group, int scheme, int double_quant
#define VRAMKIT_TENSOR QuantTensor t{codes, scales, zeros, scale2, dq_offset, rows, cols, group, scheme, double_quant}

extern "C" __global__ void vramkit_dequantize_f32(VRAMKIT_TENSOR_PARAMS, float* __restrict__ out) {
    VRAMKIT_TENSOR;
    long n = (long) t.rows * t.cols;
    for (long i = blockIdx.x * (long) blockDim.x + threadIdx.x; i < n; i += (long) gridDim.x * blockDim.x) {
        int r = (int) (i / t.cols);
        int c = (int) (i - (long) r * t.cols);
        out[i] = dequant_one(t, r, c);
    }
}

extern "C" __global__ void vramkit_dequantize_f16(VRAMKIT_TENSOR_PARAMS, __half* __restrict__ out) {
    VRAMKIT_TENSOR;
    long n = (long) t.rows * t.cols;
    for (long i = blockIdx.x * (long) blockDim.x + threadIdx.x; i < n; i += (long) gridDim.x * blockDim.x) {
        int r = (int) (i / t.cols);
        int c = (int) (i - (long) r * t.cols);
        out[i] = __float2half_rn(dequant_one(t, r, c));
    }
}
