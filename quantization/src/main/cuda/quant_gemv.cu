// vramkit quantization: fused dequantize-GEMV for decode, W4A16 (INT4 symmetric/asymmetric, NF4) and W8A16
// (INT8 per-channel or grouped), batch 1-16: y[b, r] = sum_c x[b, c] * W[r, c], FP16 or BF16 activations, FP32
// accumulation and FP32 output. Layouts of docs/formats.md.
//
// One warp per output row; each lane reads 16 contiguous code bytes per step (32 weights for 4-bit, 16 for
// INT8) with one 128-bit load, so a warp streams 512 bytes of the row per step, fully coalesced. Requirements
// (checked by the launcher): cols % 32 == 0 and group % 32 == 0 (4-bit) or group % 16 == 0 (INT8), and 16-byte
// aligned row starts (cols % 32 == 0 guarantees it for 4-bit, cols % 16 == 0 for INT8).
#include "quant_common.cuh"

using namespace vramkit_quant;

namespace {

__device__ __forceinline__ float2 pair_to_float2(__half2 h) {
    return __half22float2(h);
}

__device__ __forceinline__ float2 pair_to_float2(__nv_bfloat162 h) {
    return __bfloat1622float2(h);
}

// Pair type of an activation dtype: __half -> __half2, __nv_bfloat16 -> __nv_bfloat162.
template <typename T> struct Pair;
template <> struct Pair<__half> { using type = __half2; };
template <> struct Pair<__nv_bfloat16> { using type = __nv_bfloat162; };

template <int BATCH, typename T>
__device__ __forceinline__ void accumulate8(float (&acc)[BATCH], const T* __restrict__ x, long xstride, int c,
                                           const float (&wv)[8]) {
    #pragma unroll
    for (int b = 0; b < BATCH; b++) {
        uint4 raw = *reinterpret_cast<const uint4*>(x + b * xstride + c);
        const typename Pair<T>::type* h = reinterpret_cast<const typename Pair<T>::type*>(&raw);
        float s = 0.0f;
        #pragma unroll
        for (int k = 0; k < 4; k++) {
            float2 f = pair_to_float2(h[k]);
            s = fmaf(wv[2 * k], f.x, s);
            s = fmaf(wv[2 * k + 1], f.y, s);
        }
        acc[b] += s;
    }
}

template <int BATCH, typename T>
__device__ void gemv4_row(const QuantTensor& t, const T* __restrict__ x, float* __restrict__ y, int r) {
    const int lane = threadIdx.x % 32;
    const bool nf4 = t.scheme == NF4;
    float acc[BATCH];
    #pragma unroll
    for (int b = 0; b < BATCH; b++) acc[b] = 0.0f;
    const uint8_t* row = t.codes + (long) r * (t.cols / 2);
    for (int c = lane * 32; c < t.cols; c += 32 * 32) {
        uint4 raw = *reinterpret_cast<const uint4*>(row + c / 2);
        const uint8_t* bytes = reinterpret_cast<const uint8_t*>(&raw);
        const int g = c / t.group;
        const float s = group_scale(t, r, g);
        const float z = (float) group_zero(t, r, g);
        #pragma unroll
        for (int part = 0; part < 4; part++) {
            float wv[8];
            #pragma unroll
            for (int k = 0; k < 4; k++) {
                uint8_t bt = bytes[part * 4 + k];
                int lo = bt & 15;
                int hi = bt >> 4;
                wv[2 * k] = nf4 ? kNf4[lo] * s : ((float) lo - z) * s;
                wv[2 * k + 1] = nf4 ? kNf4[hi] * s : ((float) hi - z) * s;
            }
            accumulate8<BATCH, T>(acc, x, t.cols, c + part * 8, wv);
        }
    }
    #pragma unroll
    for (int b = 0; b < BATCH; b++) {
        float v = warp_sum(acc[b]);
        if (lane == 0) y[(long) b * t.rows + r] = v;
    }
}

template <int BATCH, typename T>
__device__ void gemv8_row(const QuantTensor& t, const T* __restrict__ x, float* __restrict__ y, int r) {
    const int lane = threadIdx.x % 32;
    float acc[BATCH];
    #pragma unroll
    for (int b = 0; b < BATCH; b++) acc[b] = 0.0f;
    const int8_t* row = reinterpret_cast<const int8_t*>(t.codes) + (long) r * t.cols;
    for (int c = lane * 16; c < t.cols; c += 32 * 16) {
        uint4 raw = *reinterpret_cast<const uint4*>(row + c);
        const int8_t* q = reinterpret_cast<const int8_t*>(&raw);
        const float s = group_scale(t, r, c / t.group);
        #pragma unroll
        for (int part = 0; part < 2; part++) {
            float wv[8];
            #pragma unroll
            for (int k = 0; k < 8; k++) wv[k] = (float) q[part * 8 + k] * s;
            accumulate8<BATCH, T>(acc, x, t.cols, c + part * 8, wv);
        }
    }
    #pragma unroll
    for (int b = 0; b < BATCH; b++) {
        float v = warp_sum(acc[b]);
        if (lane == 0) y[(long) b * t.rows + r] = v;
    }
}

template <int BATCH, typename T>
__device__ __forceinline__ void gemv_kernel(QuantTensor t, const T* __restrict__ x, float* __restrict__ y) {
    const int warps = blockDim.x / 32;
    for (int r = blockIdx.x * warps + threadIdx.x / 32; r < t.rows; r += gridDim.x * warps) {
        if (t.scheme == INT8) {
            gemv8_row<BATCH, T>(t, x, y, r);
        } else {
            gemv4_row<BATCH, T>(t, x, y, r);
        }
    }
}

}  // namespace

// Entry points with C names for the driver API, one per activation dtype and batch size (vramkit_gemv_b<B> for FP16
// activations, vramkit_gemv_bf16_b<B> for BF16); the launcher splits other batch sizes into powers of two
// (offsetting x and y). The tensor is passed flat (the launch API marshals scalars and pointers only) and rebuilt
// into a QuantTensor here.
#define VRAMKIT_GEMV_ENTRY(NAME, T, B)                                                                        \
    extern "C" __global__ void NAME(const uint8_t* codes, const void* scales, const uint8_t* zeros,           \
                                    const float* scale2, float dq_offset, int rows, int cols, int group,        \
                                    int scheme, int double_quant, const T* x, float* y) {                       \
        QuantTensor t{codes, scales, zeros, scale2, dq_offset, rows, cols, group, scheme, double_quant};         \
        gemv_kernel<B, T>(t, x, y);                                                                             \
    }

VRAMKIT_GEMV_ENTRY(vramkit_gemv_b1, __half, 1)
VRAMKIT_GEMV_ENTRY(vramkit_gemv_b2, __half, 2)
VRAMKIT_GEMV_ENTRY(vramkit_gemv_b4, __half, 4)
VRAMKIT_GEMV_ENTRY(vramkit_gemv_b8, __half, 8)
VRAMKIT_GEMV_ENTRY(vramkit_gemv_b16, __half, 16)
VRAMKIT_GEMV_ENTRY(vramkit_gemv_bf16_b1, __nv_bfloat16, 1)
VRAMKIT_GEMV_ENTRY(vramkit_gemv_bf16_b2, __nv_bfloat16, 2)
VRAMKIT_GEMV_ENTRY(vramkit_gemv_bf16_b4, __nv_bfloat16, 4)
VRAMKIT_GEMV_ENTRY(vramkit_gemv_bf16_b8, __nv_bfloat16, 8)
VRAMKIT_GEMV_ENTRY(vramkit_gemv_bf16_b16, __nv_bfloat16, 16)
