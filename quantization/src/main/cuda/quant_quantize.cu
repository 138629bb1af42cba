// vramkit quantization: quantize FP32 weights into INT8 (per-channel or grouped), INT4 (symmetric or
// asymmetric) and NF4 (without double quantization), following docs/formats.md, including the same
// error-minimizing scale search as the CPU (ScalarQuantKernels): 8 candidates shrinking by 1% (INT8) or
// 2.5% (INT4), 4 candidates shrinking by 3% (NF4).
//
// Bit-identical to ScalarQuantKernels.quantizeRows: every step is the same IEEE FP32 operation in the same order
// (explicit __f*_rn intrinsics, so nvcc contracts nothing into an FMA; Java's Math.min/max NaN rule and (int) NaN
// == 0 are kept), and the squared error of each candidate is summed sequentially in column order, as the scalar
// loop does, so the first candidate with the least FP32 error wins on both sides. One warp per group: the lanes
// stride over the group for the absmax / range and the codes (elementwise, order-free), and lane k < 8 (4 for NF4)
// sums candidate k's error. The Vector API CPU kernels sum these errors in vector lanes with FMA, so they and this
// kernel may keep different candidates on a near-tie (errors equal to FP32 rounding).
//
// Reports, each the smallest value found, else left as set by the launcher (INT64_MAX):
//   report[0]: flat index of a non-finite weight (the group is skipped);
//   report[1]: flat group index (row * cols/group + group) whose FP16 scale would overflow (the group is skipped).
#include "quant_common.cuh"

using namespace vramkit_quant;

namespace {

__device__ __forceinline__ float qz_warp_max(float v) {
    #pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    }
    return v;
}

__device__ __forceinline__ float qz_warp_min(float v) {
    #pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        v = fminf(v, __shfl_xor_sync(0xffffffffu, v, o));
    }
    return v;
}

__device__ __forceinline__ float qz_fp16_round(float v) {
    return __half2float(__float2half_rn(v));
}

// Math.min(hi, Math.max(lo, v)) for non-NaN bounds: a NaN v stays NaN (fminf/fmaxf would drop it).
__device__ __forceinline__ float qz_clamp(float v, float lo, float hi) {
    return isnan(v) ? v : fminf(hi, fmaxf(lo, v));
}

// Java's (int) cast of a clamped float: NaN is 0.
__device__ __forceinline__ int qz_to_int(float v) {
    return isnan(v) ? 0 : (int) v;
}

// 1 - step * k, as Java's float expression (no FMA).
__device__ __forceinline__ float qz_shrink(float step, int k) {
    return __fsub_rn(1.0f, __fmul_rn(step, (float) k));
}

// Layouts.nf4Code: the number of midpoints (Layouts.NF4_MIDPOINTS, in shared memory) strictly below v; NaN is 0.
__device__ __forceinline__ int qz_nf4_code(float v, const float* mids) {
    int q = 0;
    #pragma unroll
    for (int i = 0; i < 15; i++) {
        q += v > mids[i] ? 1 : 0;
    }
    return q;
}

// ScalarQuantKernels.groupSqError, in its order: sum over i of ((clamp(rint(w*inv) + z) - z) * s - w)^2.
__device__ float qz_sq_error(const float* __restrict__ w, int n, float s, float z, float qmin, float qmax) {
    const float inv = s == 0.0f ? 0.0f : __fdiv_rn(1.0f, s);
    float e = 0.0f;
    for (int i = 0; i < n; i++) {
        const float v = w[i];
        const float q = qz_clamp(__fadd_rn(rintf(__fmul_rn(v, inv)), z), qmin, qmax);
        const float d = __fsub_rn(__fmul_rn(__fsub_rn(q, z), s), v);
        e = __fadd_rn(e, __fmul_rn(d, d));
    }
    return e;
}

// ScalarQuantKernels.nf4SqError, in its order: sum over i of (NF4[code(w/a)] * a - w)^2.
__device__ float qz_nf4_sq_error(const float* __restrict__ w, int n, float a, const float* mids) {
    const float inv = __fdiv_rn(1.0f, a);
    float e = 0.0f;
    for (int i = 0; i < n; i++) {
        const float v = w[i];
        const float d = __fsub_rn(__fmul_rn(kNf4[qz_nf4_code(__fmul_rn(v, inv), mids)], a), v);
        e = __fadd_rn(e, __fmul_rn(d, d));
    }
    return e;
}

// The CPU's selection over candidates 0..n-1 held by lanes 0..n-1 (error e, scale cand, zero-point cz): the first
// with an error strictly below every earlier one (a NaN error never wins). Called by all 32 lanes; uniform result.
__device__ __forceinline__ void qz_pick(float e, float cand, int cz, int n, float& s, int& z) {
    float best = INFINITY;
    for (int k = 0; k < n; k++) {
        const float ek = __shfl_sync(0xffffffffu, e, k);
        const float ck = __shfl_sync(0xffffffffu, cand, k);
        const int zk = __shfl_sync(0xffffffffu, cz, k);
        if (ek < best) {
            best = ek;
            s = ck;
            z = zk;
        }
    }
}

}  // namespace

// scheme: INT8, INT4_SYM, INT4_ASYM or NF4 (no double quantization); flags: kFlagPerChannel for INT8 per channel
// (group must then be cols); group: weights per scale, even. codes/scales/zeros as docs/formats.md.
// Launch with blockDim.x a multiple of 32 (at least 32); warps stride over the rows*cols/group groups.
extern "C" __global__ void vramkit_quantize(const float* __restrict__ w, int rows, int cols, int group, int scheme,
                                            int flags, uint8_t* __restrict__ codes, void* __restrict__ scales,
                                            uint8_t* __restrict__ zeros, long long* __restrict__ report) {
    __shared__ float mids[15];
    if (threadIdx.x < 15) {
        // Layouts.NF4_MIDPOINTS: (NF4[i] + NF4[i + 1]) * 0.5f
        mids[threadIdx.x] = __fmul_rn(__fadd_rn(kNf4[threadIdx.x], kNf4[threadIdx.x + 1]), 0.5f);
    }
    __syncthreads();

    const int lane = threadIdx.x % 32;
    const long warps = (long) gridDim.x * (blockDim.x / 32);
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
            const float v = x[i];
            if (!isfinite(v)) {
                if (finite) {
                    atomicMin(&report[0], (long long) (base + i));  // this lane's first; i only grows
                }
                finite = false;
            }
            amax = fmaxf(amax, fabsf(v));
            lo = fminf(lo, v);
            hi = fmaxf(hi, v);
        }
        if (__any_sync(0xffffffffu, !finite)) {
            continue;
        }
        // max and min are exact in any order (the sign of a zero lo or hi changes nothing below)
        amax = qz_warp_max(amax);
        lo = qz_warp_min(lo);
        hi = qz_warp_max(hi);
        if (scheme == INT8) {
            const bool fp16 = (flags & kFlagPerChannel) == 0;
            if (fp16 && isinf(qz_fp16_round(__fdiv_rn(amax, 127.0f)))) {
                if (lane == 0) atomicMin(&report[1], (long long) gidx);
                continue;
            }
            float cand = 0.0f, e = NAN;
            if (lane < 8 && amax > 0.0f) {
                cand = __fdiv_rn(__fmul_rn(amax, qz_shrink(0.01f, lane)), 127.0f);
                cand = fp16 ? qz_fp16_round(cand) : cand;
                e = qz_sq_error(x, group, cand, 0.0f, -127.0f, 127.0f);
            }
            float s = 0.0f;
            int unused = 0;
            qz_pick(e, cand, 0, 8, s, unused);
            if (lane == 0) {
                if (fp16) ((__half*) scales)[gidx] = __float2half_rn(s);
                else ((float*) scales)[r] = s;
            }
            const float inv = s == 0.0f ? 0.0f : __fdiv_rn(1.0f, s);
            for (int i = lane; i < group; i += 32) {
                const float q = qz_clamp(rintf(__fmul_rn(x[i], inv)), -127.0f, 127.0f);
                codes[base + i] = (uint8_t) (int8_t) qz_to_int(q);
            }
        } else if (scheme == INT4_SYM || scheme == INT4_ASYM) {
            float s = 0.0f;
            int z;
            float cand = 0.0f, e = NAN;
            int cz = 0;
            if (scheme == INT4_SYM) {
                // ScalarQuantKernels.signedMax: the first element (in column order) whose magnitude is amax
                int first = group;
                for (int i = lane; i < group; i += 32) {
                    if (fabsf(x[i]) == amax) {
                        first = min(first, i);
                    }
                }
                #pragma unroll
                for (int o = 16; o > 0; o >>= 1) first = min(first, __shfl_xor_sync(0xffffffffu, first, o));
                const float s0 = __fdiv_rn(first < group ? x[first] : amax, -8.0f);
                if (isinf(qz_fp16_round(s0))) {
                    if (lane == 0) atomicMin(&report[1], (long long) gidx);
                    continue;
                }
                if (lane < 8 && amax > 0.0f) {
                    cand = qz_fp16_round(__fmul_rn(s0, qz_shrink(0.025f, lane)));
                    e = qz_sq_error(x, group, cand, 0.0f, -8.0f, 7.0f);
                }
                z = 8;
                int unused = 8;
                qz_pick(e, cand, 8, 8, s, unused);
            } else {
                if (isinf(qz_fp16_round(__fdiv_rn(__fsub_rn(hi, lo), 15.0f)))) {
                    if (lane == 0) atomicMin(&report[1], (long long) gidx);
                    continue;
                }
                if (lane < 8 && hi > lo) {
                    const float shrink = qz_shrink(0.025f, lane);
                    cand = qz_fp16_round(__fdiv_rn(__fmul_rn(__fsub_rn(hi, lo), shrink), 15.0f));
                    const float ci = cand == 0.0f ? 0.0f : __fdiv_rn(1.0f, cand);
                    cz = qz_to_int(qz_clamp(rintf(__fmul_rn(__fmul_rn(-lo, shrink), ci)), 0.0f, 15.0f));
                    e = qz_sq_error(x, group, cand, (float) cz, 0.0f, 15.0f);
                }
                z = 0;
                qz_pick(e, cand, cz, 8, s, z);
                if (lane == 0) zeros[gidx] = (uint8_t) z;
            }
            if (lane == 0) ((__half*) scales)[gidx] = __float2half_rn(s);
            const float inv = s == 0.0f ? 0.0f : __fdiv_rn(1.0f, s);
            const float zf = (float) z;
            for (int i = 2 * lane; i < group; i += 64) {
                const int q0 = qz_to_int(qz_clamp(__fadd_rn(rintf(__fmul_rn(x[i], inv)), zf), 0.0f, 15.0f));
                const int q1 = qz_to_int(qz_clamp(__fadd_rn(rintf(__fmul_rn(x[i + 1], inv)), zf), 0.0f, 15.0f));
                codes[(base + i) >> 1] = (uint8_t) (q0 | (q1 << 4));
            }
        } else if (scheme == NF4) {
            float cand = 0.0f, e = NAN;
            if (lane < 4 && amax > 0.0f) {
                cand = __fmul_rn(amax, qz_shrink(0.03f, lane));
                e = qz_nf4_sq_error(x, group, cand, mids);
            }
            float a = amax;
            int unused = 0;
            qz_pick(e, cand, 0, 4, a, unused);
            if (lane == 0) ((float*) scales)[gidx] = a;
            const float inv = a == 0.0f ? 0.0f : __fdiv_rn(1.0f, a);
            for (int i = 2 * lane; i < group; i += 64) {
                codes[(base + i) >> 1] = (uint8_t) (qz_nf4_code(__fmul_rn(x[i], inv), mids)
                                                    | (qz_nf4_code(__fmul_rn(x[i + 1], inv), mids) << 4));
            }
        }
    }
}
