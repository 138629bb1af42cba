// vramkit quantization: dequantize any packed format of docs/formats.md to FP32, FP16 or BF16.
// vramkit_dequantize_{f32,f16,bf16}: grid-stride over all rows*cols elements, one thread per element, any shape.
// vramkit_dequantize16_{f16,bf16}: sixteen consecutive weights per thread with 16-byte stores, for the
// dequantize-then-cuBLAS prefill GEMM (CudaQuantGemm), which needs cols % 32 == 0 and 16-aligned groups.
#include "quant_common.cuh"

using namespace vramkit_quant;

// The tensor is passed flat (the launch API marshals scalars and pointers only).
#define VRAMKIT_TENSOR_PARAMS const uint8_t* codes, const void* scales, const uint8_t* zeros, const float* scale2, \
                              float dq_offset, int rows, int cols, int group, int scheme, int flags
#define VRAMKIT_TENSOR QuantTensor t{codes, scales, zeros, scale2, dq_offset, rows, cols, group, scheme, flags}

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

extern "C" __global__ void vramkit_dequantize_bf16(VRAMKIT_TENSOR_PARAMS, __nv_bfloat16* __restrict__ out) {
    VRAMKIT_TENSOR;
    long n = (long) t.rows * t.cols;
    for (long i = blockIdx.x * (long) blockDim.x + threadIdx.x; i < n; i += (long) gridDim.x * blockDim.x) {
        int r = (int) (i / t.cols);
        int c = (int) (i - (long) r * t.cols);
        out[i] = __float2bfloat16_rn(dequant_one(t, r, c));
    }
}

template <typename T>
__device__ __forceinline__ void dequantize16(const QuantTensor& t, T* __restrict__ out) {
    const long chunks = (long) t.rows * (t.cols / 16);
    for (long i = blockIdx.x * (long) blockDim.x + threadIdx.x; i < chunks; i += (long) gridDim.x * blockDim.x) {
        const int r = (int) (i / (t.cols / 16));
        const int k = (int) (i - (long) r * (t.cols / 16)) * 16;
        float w[16];
        dequant16(t, r, k, w);
        alignas(16) T h[16];
        #pragma unroll
        for (int e = 0; e < 16; e++) h[e] = to_16bit<T>(w[e]);
        uint4* dst = reinterpret_cast<uint4*>(out + (long) r * t.cols + k);
        dst[0] = reinterpret_cast<const uint4*>(h)[0];
        dst[1] = reinterpret_cast<const uint4*>(h)[1];
    }
}

extern "C" __global__ void vramkit_dequantize16_f16(VRAMKIT_TENSOR_PARAMS, __half* __restrict__ out) {
    VRAMKIT_TENSOR;
    dequantize16<__half>(t, out);
}

extern "C" __global__ void vramkit_dequantize16_bf16(VRAMKIT_TENSOR_PARAMS, __nv_bfloat16* __restrict__ out) {
    VRAMKIT_TENSOR;
    dequantize16<__nv_bfloat16>(t, out);
}
