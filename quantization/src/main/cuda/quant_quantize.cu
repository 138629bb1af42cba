// vramkit quantization: quantize FP32 weights into INT8 (per-channel or grouped), INT4 (symmetric or
// asymmetric) and NF4 (without double quantization), following docs/formats.md, including the same
// error-minimizing scale search as the CPU (ScalarQuantKernels): 8 candidates shrinking by 1% (INT8) or
// 2.5% (INT4), 4 candidates shrinking by 3% (NF4). One warp per group; lanes stride over the group.
// The squared errors are summed in a different order than on the CPU, so a near-tie may pick another candidate.
// Non-finite weights are reported through *bad_index (the smallest flat index found, else left unchanged).
#include "quant_common.cuh"

using namespace vramkit_quant;

namespace {

__device__ __forceinline__ float warp_max(float v) {
    #pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    }
    return v;
}

__device__ __forceinline__ float warp_min(float v) {
    #pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        v = fminf(v, __shfl_xor_sync(0xffffffffu, v, o));
    }
    return v;
}

__device__ __forceinline__ float fp16_round(float v) {
    return __half2float(__float2half_rn(v));
}

__device__ __forceinline__ int nf4_code(float v) {
    // number of codebook midpoints strictly below v
    int q = 0;
    #pragma unroll
    for (int i = 0; i < 15; i++) {
        q += v > 0.5f * (kNf4[i] + kNf4[i + 1]) ? 1 : 0;
    }
    return q;
}

__device__ float sq_error(const float* w, int n, float s, float z, float qmin, float qmax) {
    float inv = s == 0.0f ? 0.0f : 1.0f / s;
    float e = 0.0f;
    for (int i = threadIdx.x % 32; i < n; i += 32) {
        float q = fminf(qmax, fmaxf(qmin, rintf(w[i] * inv) + z));
        float d = (q - z) * s - w[i];
        e += d * d;
    }
    return warp_sum(e);
}

__device__ float nf4_sq_error(const float* w, int n, float a) {
    float inv = 1.0f / a;
    float e = 0.0f;
    for (int i = threadIdx.x % 32; i < n; i += 32) {
        float d = kNf4[nf4_code(w[i] * inv)] * a - w[i];
        e += d * d;
    }
    return warp_sum(e);
}

}  // namespace

// scheme: INT8, INT4_SYM, INT4_ASYM or NF4 (no double quantization). codes/scales/zeros as docs/formats.md.
// Launch with blockDim.x a multiple of 32; warps stride over the rows*cols/group groups.
extern "C" __global__ void vramkit_quantize(const float* __restrict__ w, int rows, int cols, int group, int scheme,
                                            uint8_t* __restrict__ codes, void* __restrict__ scales,
                                            uint8_t* __restrict__ zeros, long long* bad_index) {
    const int lane = threadIdx.x % 32;
    const int warps = gridDim.x * (blockDim.x / 32);
    const int gpr = cols / group;
    const long ngroups = (long) rows * gpr;
    for (long gidx = blockIdx.x * (long) (blockDim.x / 32) + threadIdx.x / 32; gidx < ngroups; gidx += warps) {
        const int r = (int) (gidx / gpr);
        const int g = (int) (gidx - (long) r * gpr);
        const long base = (long) r * cols + (long) g * group;
        const float* x = w + base;
        float amax = 0.0f, lo = 0.0f, hi = 0.0f;
        bool finite = true;
        for (int i = lane; i < group; i += 32) {
            float v = x[i];
            if (!isfinite(v)) {
                finite = false;
                atomicMin(bad_index, (long long) (base + i));
            }
            amax = fmaxf(amax, fabsf(v));
            lo = fminf(lo, v);
            hi = fmaxf(hi, v);
        }
        if (__any_sync(0xffffffffu, !finite)) {
            continue;
        }
        amax = warp_max(amax);
        lo = warp_min(lo);
        hi = warp_max(hi);
        if (scheme == INT8) {
            bool fp16 = group != cols;
            float s = 0.0f, best = INFINITY;
            for (int k = 0; k < 8 && amax > 0.0f; k++) {
                float cand = amax * (1.0f - 0.01f * k) / 127.0f;
                cand = fp16 ? fp16_round(cand) : cand;
                float e = sq_error(x, group, cand, 0.0f, -127.0f, 127.0f);
                if (e < best) { best = e; s = cand; }
            }
            if (lane == 0) {
                if (fp16) ((__half*) scales)[gidx] = __float2half_rn(s);
                else ((float*) scales)[r] = s;
            }
            float inv = s == 0.0f ? 0.0f : 1.0f / s;
            for (int i = lane; i < group; i += 32) {
                codes[base + i] = (uint8_t) (int8_t) (int) fminf(127.0f, fmaxf(-127.0f, rintf(x[i] * inv)));
            }
        } else if (scheme == INT4_SYM || scheme == INT4_ASYM) {
            float s = 0.0f, best = INFINITY;
            int z = 8;
            if (scheme == INT4_SYM) {
                // signed max: the first element (in column order) whose magnitude is amax
                int first = group;
                for (int i = lane; i < group; i += 32) {
                    if (fabsf(x[i]) == amax) { first = min(first, i); }
                }
                #pragma unroll
                for (int o = 16; o > 0; o >>= 1) first = min(first, __shfl_xor_sync(0xffffffffu, first, o));
                float s0 = (first < group ? x[first] : amax) / -8.0f;
                for (int k = 0; k < 8 && amax > 0.0f; k++) {
                    float cand = fp16_round(s0 * (1.0f - 0.025f * k));
                    float e = sq_error(x, group, cand, 0.0f, -8.0f, 7.0f);
                    if (e < best) { best = e; s = cand; }
                }
            } else {
                z = 0;
                for (int k = 0; k < 8 && hi > lo; k++) {
                    float shrink = 1.0f - 0.025f * k;
                    float cand = fp16_round((hi - lo) * shrink / 15.0f);
                    float ci = cand == 0.0f ? 0.0f : 1.0f / cand;
                    int cz = (int) fminf(15.0f, fmaxf(0.0f, rintf(-lo * shrink * ci)));
                    float e = sq_error(x, group, cand, (float) cz, 0.0f, 15.0f);
                    if (e < best) { best = e; s = cand; z = cz; }
                }
                if (lane == 0) zeros[gidx] = (uint8_t) z;
            }
            if (lane == 0) ((__half*) scales)[gidx] = __float2half_rn(s);
            float inv = s == 0.0f ? 0.0f : 1.0f / s;
            for (int i = 2 * lane; i < group; i += 64) {
                int q0 = (int) fminf(15.0f, fmaxf(0.0f, rintf(x[i] * inv) + z));
                int q1 = (int) fminf(15.0f, fmaxf(0.0f, rintf(x[i + 1] * inv) + z));
                codes[(base + i) >> 1] = (uint8_t) (q0 | (q1 << 4));
            }
        } else if (scheme == NF4) {
            float a = amax, best = INFINITY;
            for (int k = 0; k < 4 && amax > 0.0f; k++) {
                float cand = amax * (1.0f - 0.03f * k);
                float e = nf4_sq_error(x, group, cand);
                if (e < best) { best = e; a = cand; }
            }
            if (lane == 0) ((float*) scales)[gidx] = a;
            float inv = a == 0.0f ? 0.0f : 1.0f / a;
            for (int i = 2 * lane; i < group; i += 64) {
                codes[(base + i) >> 1] = (uint8_t) (nf4_code(x[i] * inv) | (nf4_code(x[i + 1] * inv) << 4));
            }
        }
    }
}
