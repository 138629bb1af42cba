// Shared helpers of vramkit's attention kernels: element conversions and the mask of AttentionParams.
// Same semantics as the CPU path (io.vramkit.attention): query i of Lq sits at key position p = i + Lk - Lq
// (bottom-right alignment, FlashAttention >= 2.1) and sees key j when
//   causal: j <= p;  window (left, right), -1 unbounded: p - left <= j <= p + right.
#pragma once
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <cuda_fp8.h>
#include <stdint.h>

namespace vramkit {

template <typename T> __device__ __forceinline__ float to_float(T x);
template <> __device__ __forceinline__ float to_float<float>(float x) { return x; }
template <> __device__ __forceinline__ float to_float<__half>(__half x) { return __half2float(x); }
template <> __device__ __forceinline__ float to_float<__nv_bfloat16>(__nv_bfloat16 x) { return __bfloat162float(x); }

template <typename T> __device__ __forceinline__ T from_float(float x);
template <> __device__ __forceinline__ float from_float<float>(float x) { return x; }
template <> __device__ __forceinline__ __half from_float<__half>(float x) { return __float2half_rn(x); }
template <> __device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float x) { return __float2bfloat16_rn(x); }

// First visible key of a query at key position pos (may exceed lk - 1: nothing visible).
__device__ __forceinline__ long long first_key(long long pos, int window_left) {
    return window_left < 0 ? 0 : max(0LL, pos - window_left);
}

// Last visible key of a query at key position pos (may be negative: nothing visible).
__device__ __forceinline__ long long last_key(long long pos, int lk, int causal, int window_right) {
    long long hi = lk - 1;
    if (causal) hi = min(hi, pos);
    if (window_right >= 0) hi = min(hi, pos + window_right);
    return hi;
}

__device__ __forceinline__ float softcap_logit(float s, float softcap) {
    return softcap > 0.f ? softcap * tanhf(s / softcap) : s;
}

}  // namespace vramkit
