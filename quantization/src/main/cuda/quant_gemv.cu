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
                                    int scheme, int flags, const T* x, float* y) {                              \
        QuantTensor t{codes, scales, zeros, scale2, dq_offset, rows, cols, group, scheme, flags};               \
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

// ---------------------------------------------------------------------------------------------------------------
// Tensor-core fast path (batch 1-16; n-tiles of 8 batch columns, NT = 1 for batch <= 8, 2 above). A block of
// kTcWarps warps owns MT m-tiles of 16 rows; warp w streams the 64-byte column chunks w, w + kTcWarps, ... of those
// rows (a chunk is 128 columns of 4-bit codes or 64 of INT8). Lane (g = lane / 4, t = lane % 4) loads 16 code bytes
// of rows g and g + 8 of each m-tile at chunk offset 16 t, two chunks in flight per lane, loads the activations of
// the columns it holds once for all m-tiles, and feeds the codes to mma.sync m16n8k16 as the A operand
// (rows x k) with the activations as B (k x batch) and FP32 accumulators. The k order inside an mma is a
// permutation of the columns, the same one for A and B, so each lane dequantizes the contiguous bytes it loaded.
//
// Exactness: A holds the integer code minus its zero-point (INT4: u - z in [-15, 15]; INT8: q in [-127, 127]), exact
// in FP16 and BF16; the FP32 partial sum of one scale group is then multiplied by the group's FP32 scale, so the
// result differs from the CPU's sum of x * ((u - z) * s) only by FP32 rounding order. NF4 codebook values are not
// 16-bit exact: A runs twice, with hi = rn16(v) and lo = rn16(v - hi) (relative error 2^-22 for FP16, 2^-16 for
// BF16), from a 16-entry shared table.
//
// Scale groups: when the group is a multiple of the chunk, every column a lane touches in a chunk shares one group
// and the partial sums are scaled once per chunk. Otherwise (group 32 or 64 for 4-bit, 16 or 32 for INT8) the quad
// transposes its four 16-byte loads (lane t then holds word t of each lane's load, i.e. 8 or 4 columns of each of
// four 32- or 16-column segments), so all the columns of one mma lie in one segment and one group, scaled per
// segment. The warps' partial sums are added in shared memory in a fixed order (deterministic, no atomics).
//
// Requirements (checked by the launcher): cols % 128 == 0 (4-bit) or % 64 == 0 (INT8); group a power of two and
// a multiple of 32 (4-bit) or 16 (INT8), or INT8 per channel; x 16-byte aligned.
namespace {

constexpr int kTcWarps = 8;
constexpr int kTcRowsPerTile = 16;  // rows of one m-tile (the mma's M)
enum TcKind { TC_INT4 = 0, TC_NF4 = 1, TC_INT8 = 2 };

template <typename T> struct Tc;
template <> struct Tc<__half> {
    static constexpr uint32_t kMagic = 0x6400;  // 1024.0: (0x6400 | u) is 1024 + u for u < 1024
};
template <> struct Tc<__nv_bfloat16> {
    static constexpr uint32_t kMagic = 0x4300;  // 128.0: (0x4300 | u) is 128 + u for u < 128
};

template <typename T>
__device__ __forceinline__ void mma16816(float (&d)[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3,
                                         uint32_t b0, uint32_t b1);

template <>
__device__ __forceinline__ void mma16816<__half>(float (&d)[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3,
                                                 uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%0,%1,%2,%3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

template <>
__device__ __forceinline__ void mma16816<__nv_bfloat16>(float (&d)[4], uint32_t a0, uint32_t a1, uint32_t a2,
                                                        uint32_t a3, uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%0,%1,%2,%3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

// Two 16-bit values packed low (first) / high (second) as raw bits.
__device__ __forceinline__ uint32_t pack16(uint32_t lo, uint32_t hi) {
    return lo | (hi << 16);
}

__device__ __forceinline__ uint32_t sub_pair(uint32_t a, uint32_t b, __half) {
    __half2 r = __hsub2(*reinterpret_cast<const __half2*>(&a), *reinterpret_cast<const __half2*>(&b));
    return *reinterpret_cast<uint32_t*>(&r);
}

__device__ __forceinline__ uint32_t sub_pair(uint32_t a, uint32_t b, __nv_bfloat16) {
    __nv_bfloat162 r = __hsub2(*reinterpret_cast<const __nv_bfloat162*>(&a),
                               *reinterpret_cast<const __nv_bfloat162*>(&b));
    return *reinterpret_cast<uint32_t*>(&r);
}

__device__ __forceinline__ uint32_t floats_to_pair(float lo, float hi, __half) {
    __half2 r = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<uint32_t*>(&r);
}

__device__ __forceinline__ uint32_t floats_to_pair(float lo, float hi, __nv_bfloat16) {
    __nv_bfloat162 r = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<uint32_t*>(&r);
}

__device__ __forceinline__ float from_16bit(uint32_t bits, __half) {
    return __half2float(__ushort_as_half((unsigned short) bits));
}

__device__ __forceinline__ float from_16bit(uint32_t bits, __nv_bfloat16) {
    return __uint_as_float(bits << 16);
}

// 4x4 transpose of 32-bit words within each quad of lanes (t = lane % 4): afterwards lane t holds in w[s] the word t
// of lane s's original w. Two butterfly stages (xor 1, xor 2) of two shuffles each.
__device__ __forceinline__ void quad_transpose(uint4& v, int t) {
    uint32_t w[4] = {v.x, v.y, v.z, v.w};
    #pragma unroll
    for (int stage = 0; stage < 2; stage++) {
        const int bit = stage == 0 ? 1 : 2;           // lane-index bit exchanged in this stage
        const bool mine = (t & bit) != 0;
        #pragma unroll
        for (int hi = 0; hi < 2; hi++) {
            // stage 0: pairs (w[2hi], w[2hi+1]); stage 1: pairs (w[hi], w[hi+2])
            const int i0 = stage == 0 ? 2 * hi : hi;
            const int i1 = i0 + bit;
            // lane with bit clear keeps w[i0] and sends w[i1]; lane with bit set keeps w[i1] and sends w[i0]
            uint32_t send = mine ? w[i0] : w[i1];
            uint32_t recv = __shfl_xor_sync(0xffffffffu, send, bit);
            if (mine) {
                w[i0] = recv;
            } else {
                w[i1] = recv;
            }
        }
    }
    v = make_uint4(w[0], w[1], w[2], w[3]);
}

struct TcArgs {
    QuantTensor t;
    int batch;
    int group_shift;   // log2(group); 31 for INT8 per channel (one FP32 scale per row)
    int groups_per_row;
};

// Scale (and for INT4 the zero-point) of group gi of row r, exactly as QuantizedTensor.scale / zeroPoint on the CPU.
template <int KIND>
__device__ __forceinline__ float tc_scale(const TcArgs& a, int r, int gi, int& zero) {
    const long idx = (long) r * a.groups_per_row + gi;
    zero = 0;
    if (KIND == TC_INT8) {
        // per channel (FP32 per row) is told by group_shift, not by group == cols: INT8_G{G} with G == cols keeps
        // its FP16 scale, as QuantizedTensor.scale reads it
        return a.group_shift == 31 ? ((const float*) a.t.scales)[r]
                                   : __half2float(((const __half*) a.t.scales)[idx]);
    } else if (KIND == TC_INT4) {
        zero = a.t.scheme == INT4_ASYM ? a.t.zeros[idx] : 8;
        return __half2float(((const __half*) a.t.scales)[idx]);
    } else {
        // an NF4 tensor's flags hold kFlagDoubleQuant alone (kFlagPerChannel is INT8's), so no mask is needed
        return a.t.flags
            ? __fadd_rn(__fmul_rn((float) ((const int8_t*) a.t.scales)[idx], a.t.scale2[idx / 256]), a.t.dq_offset)
            : ((const float*) a.t.scales)[idx];
    }
}

// Raw scale words of the (at most two) groups of one row in one chunk (variant 2, 4-bit, group >= 64), loaded with
// the codes so that no scale load waits behind the chunk's arithmetic: INT4 w0 = FP16 scale bits (group i in bits
// 16 i), w1 = zero-points (byte i; 8 for symmetric); NF4 w0 = FP32 scale bits of group 0, w1 = of group 1; NF4 double
// quantized w0 = int8 absmax codes (byte i), w1 = the FP32 second-level scale (groups 2k, 2k + 1 share it).
template <int KIND>
__device__ __forceinline__ void tc2_load_scales(const TcArgs& a, int r, int gi, bool two, uint32_t (&w)[2]) {
    const long idx = (long) r * a.groups_per_row + gi;  // even when two: groups_per_row is even then
    if (KIND == TC_INT4) {
        const uint16_t* sp = (const uint16_t*) a.t.scales + idx;
        w[0] = two ? __ldg((const uint32_t*) sp) : (uint32_t) __ldg(sp);
        w[1] = 8u * 0x0101u;
        if (a.t.scheme == INT4_ASYM) {
            w[1] = two ? (uint32_t) __ldg((const uint16_t*) (a.t.zeros + idx)) : (uint32_t) __ldg(a.t.zeros + idx);
        }
    } else if (a.t.flags) {
        const int8_t* cp = (const int8_t*) a.t.scales + idx;
        w[0] = two ? (uint32_t) __ldg((const uint16_t*) cp) : (uint32_t) (uint8_t) __ldg(cp);
        w[1] = __float_as_uint(__ldg(a.t.scale2 + idx / 256));
    } else {
        const float* fp = (const float*) a.t.scales + idx;
        if (two) {
            const float2 f = __ldg((const float2*) fp);
            w[0] = __float_as_uint(f.x);
            w[1] = __float_as_uint(f.y);
        } else {
            w[0] = w[1] = __float_as_uint(__ldg(fp));
        }
    }
}

// Scale (and INT4 zero-point) of group i (0 or 1) from tc2_load_scales's words, the values tc_scale returns.
template <int KIND>
__device__ __forceinline__ float tc2_scale(const TcArgs& a, const uint32_t (&w)[2], int i, int& zero) {
    zero = 0;
    if (KIND == TC_INT4) {
        zero = (int) ((w[1] >> (8 * i)) & 0xffu);
        return __half2float(__ushort_as_half((unsigned short) (w[0] >> (16 * i))));
    } else if (a.t.flags) {
        const float code = (float) (int8_t) (w[0] >> (8 * i));
        return __fadd_rn(__fmul_rn(code, __uint_as_float(w[1])), a.t.dq_offset);
    } else {
        return __uint_as_float(i ? w[1] : w[0]);
    }
}

__device__ __forceinline__ uint32_t lop3_and_or(uint32_t a, uint32_t b, uint32_t c) {
    uint32_t d;
    asm("lop3.b32 %0, %1, %2, %3, 0xEA;\n" : "=r"(d) : "r"(a), "r"(b), "r"(c));  // (a & b) | c
    return d;
}

__device__ __forceinline__ uint32_t fma_pair(uint32_t a, uint32_t b, uint32_t c) {
    __half2 r = __hfma2(*reinterpret_cast<const __half2*>(&a), *reinterpret_cast<const __half2*>(&b),
                        *reinterpret_cast<const __half2*>(&c));
    return *reinterpret_cast<uint32_t*>(&r);
}

// Variant 2 INT4 A pairs of one word v (columns c..c+7, byte k = columns c+2k low nibble, c+2k+1 high nibble), in the
// order (c, c+4), (c+1, c+5), (c+2, c+6), (c+3, c+7); the B pairs are permuted to match (the k order inside an mma
// is free as long as A and B agree). FP16: (v & 0x000F000F) | 0x6400 pairs are 1024 + u, minus (1024 + z) gives
// u - z; the high nibbles stay in place, (v & 0x00F000F0) | 0x6400 is 1024 + 16 u, and one HFMA2 by 1/16 minus
// (64 + z) gives u - z, all exact: 1 shift, 4 LOP3, 2 HADD2, 2 HFMA2 per 8 weights. BF16 (7 mantissa bits) has no
// room for 16 u, so each nibble is shifted down: 3 shifts, 4 LOP3, 4 BF16 subtractions.
__device__ __forceinline__ void tc2_int4_pairs(uint32_t v, uint32_t zl, uint32_t zh, uint32_t (&pr)[4], __half) {
    const uint32_t v8 = v >> 8;
    pr[0] = sub_pair(lop3_and_or(v, 0x000F000Fu, 0x64006400u), zl, __half());
    pr[1] = fma_pair(lop3_and_or(v, 0x00F000F0u, 0x64006400u), 0x2C002C00u, zh);  // 0x2C00 = 1/16
    pr[2] = sub_pair(lop3_and_or(v8, 0x000F000Fu, 0x64006400u), zl, __half());
    pr[3] = fma_pair(lop3_and_or(v8, 0x00F000F0u, 0x64006400u), 0x2C002C00u, zh);
}

__device__ __forceinline__ void tc2_int4_pairs(uint32_t v, uint32_t zl, uint32_t, uint32_t (&pr)[4],
                                               __nv_bfloat16) {
    #pragma unroll
    for (int k = 0; k < 4; k++) {
        pr[k] = sub_pair(lop3_and_or(v >> (4 * k), 0x000F000Fu, 0x43004300u), zl, __nv_bfloat16());
    }
}

template <typename T, int KIND, int NT, int MT, bool V2 = false>
__device__ __forceinline__ void tc_gemv(const TcArgs& a, const T* __restrict__ x, float* __restrict__ y) {
    constexpr int CC = KIND == TC_INT8 ? 64 : 128;       // columns per 64-byte chunk
    constexpr int SEG = CC / 4;                          // columns per segment (one word of each lane's load)
    constexpr int WC = CC / 16;                          // columns per 32-bit word
    constexpr int U = 2;                                 // chunks in flight per lane
    __shared__ float red[kTcWarps][MT * NT * 4][32];
    // NF4: code -> hi | lo << 16; 16 words in 16 banks, so a warp's lookups never conflict
    __shared__ uint32_t lut[16];

    const int warp = threadIdx.x / 32;
    const int lane = threadIdx.x % 32;
    const int g = lane >> 2;
    const int t = lane & 3;
    const int rows = a.t.rows;
    const int cols = a.t.cols;
    const long rowBytes = KIND == TC_INT8 ? cols : cols / 2;
    // rows of this lane: m-tile m, half h (A fragment rows g and g + 8) -> row blockIdx.x * 16 MT + 16 m + 8 h + g
    int rr[MT][2];
    const uint8_t* p[MT][2];
    #pragma unroll
    for (int m = 0; m < MT; m++) {
        #pragma unroll
        for (int h = 0; h < 2; h++) {
            rr[m][h] = blockIdx.x * (kTcRowsPerTile * MT) + m * kTcRowsPerTile + h * 8 + g;
            p[m][h] = a.t.codes + (long) (rr[m][h] < rows ? rr[m][h] : 0) * rowBytes + 16 * t;
        }
    }
    // whole chunk in one group: no transpose, one scale per chunk
    const bool perChunk = a.group_shift >= (KIND == TC_INT8 ? 6 : 7);

    if (KIND == TC_NF4) {
        if (threadIdx.x < 16) {
            const float v = kNf4[threadIdx.x];
            const uint32_t hi = floats_to_pair(v, 0.0f, T()) & 0xffffu;
            const uint32_t lo = floats_to_pair(v - from_16bit(hi, T()), 0.0f, T()) & 0xffffu;
            lut[threadIdx.x] = pack16(hi, lo);
        }
        __syncthreads();
    }

    float acc[MT][NT][4];
    #pragma unroll
    for (int m = 0; m < MT; m++) {
        #pragma unroll
        for (int n = 0; n < NT; n++) {
            #pragma unroll
            for (int i = 0; i < 4; i++) acc[m][n][i] = 0.0f;
        }
    }
    // activation rows of this lane's B column, one per n-tile; rows past the batch read nothing and give zeros
    const T* xr[NT];
    bool xv[NT];
    #pragma unroll
    for (int n = 0; n < NT; n++) {
        xv[n] = n * 8 + g < a.batch;
        xr[n] = x + (long) (xv[n] ? n * 8 + g : 0) * cols;
    }

    const int chunks = cols / CC;
    for (int ch0 = warp; ch0 < chunks; ch0 += kTcWarps * U) {
        uint4 q[U][MT][2];
        uint32_t sraw[V2 ? U : 1][MT][2][2];  // variant 2: the chunk's scale words, loaded with its codes
        #pragma unroll
        for (int u = 0; u < U; u++) {
            const int ch = ch0 + u * kTcWarps;
            #pragma unroll
            for (int m = 0; m < MT; m++) {
                #pragma unroll
                for (int h = 0; h < 2; h++) {
                    q[u][m][h] = make_uint4(0, 0, 0, 0);
                    if (V2) sraw[V2 ? u : 0][m][h][0] = sraw[V2 ? u : 0][m][h][1] = 0;
                    if (ch < chunks && rr[m][h] < rows) {
                        q[u][m][h] = __ldcs(reinterpret_cast<const uint4*>(p[m][h] + (long) ch * 64));
                        if (V2) {
                            tc2_load_scales<KIND>(a, rr[m][h], (ch * CC) >> a.group_shift, !perChunk,
                                                  sraw[V2 ? u : 0][m][h]);
                        }
                    }
                }
            }
        }
        #pragma unroll
        for (int u = 0; u < U; u++) {
            const int ch = ch0 + u * kTcWarps;
            if (ch >= chunks) break;  // warp-uniform
            uint32_t w[MT][2][4];
            #pragma unroll
            for (int m = 0; m < MT; m++) {
                #pragma unroll
                for (int h = 0; h < 2; h++) {
                    if (!perChunk) quad_transpose(q[u][m][h], t);
                    w[m][h][0] = q[u][m][h].x;
                    w[m][h][1] = q[u][m][h].y;
                    w[m][h][2] = q[u][m][h].z;
                    w[m][h][3] = q[u][m][h].w;
                }
            }
            float part[MT][NT][4];
            float sc[MT][2];
            uint32_t zp[MT][2];
            uint32_t zh[MT][2];  // variant 2, FP16: -(64 + z) in both halves
            #pragma unroll
            for (int s = 0; s < 4; s++) {
                // first column of the word w[.][.][s]: segment s, word t (transposed) or segment t, word s (per chunk)
                const int c = ch * CC + (perChunk ? t * SEG + s * WC : s * SEG + t * WC);
                if (!perChunk || s == 0) {
                    const int gi = (ch * CC + (perChunk ? 0 : s * SEG)) >> a.group_shift;
                    #pragma unroll
                    for (int m = 0; m < MT; m++) {
                        #pragma unroll
                        for (int h = 0; h < 2; h++) {
                            int z = 0;
                            if (V2) {
                                // group 0 or 1 of the chunk (perChunk: always 0); rows past the end hold zeros
                                sc[m][h] = tc2_scale<KIND>(a, sraw[V2 ? u : 0][m][h],
                                                           perChunk ? 0 : (s * SEG) >> a.group_shift, z);
                            } else {
                                sc[m][h] = rr[m][h] < rows ? tc_scale<KIND>(a, rr[m][h], gi, z) : 0.0f;
                            }
                            const uint32_t mz = Tc<T>::kMagic + z;  // bits of magic + z, exact (z <= 15)
                            zp[m][h] = pack16(mz, mz);
                            const uint32_t nz = 0xD400u + 16u * z;  // FP16 -(64 + z): ulp 1/16 at 64, exact
                            zh[m][h] = pack16(nz, nz);
                        }
                        #pragma unroll
                        for (int n = 0; n < NT; n++) {
                            #pragma unroll
                            for (int i = 0; i < 4; i++) part[m][n][i] = 0.0f;
                        }
                    }
                }
                if (KIND == TC_INT8) {
                    // 4 columns c..c+3: one k-step, B = x[c..c+3]
                    uint2 xb[NT];
                    #pragma unroll
                    for (int n = 0; n < NT; n++) {
                        xb[n] = make_uint2(0, 0);
                        if (xv[n]) xb[n] = __ldg(reinterpret_cast<const uint2*>(xr[n] + c));
                    }
                    #pragma unroll
                    for (int m = 0; m < MT; m++) {
                        // a[h] = row h columns (c, c+1), a[h + 2] = row h columns (c+2, c+3)
                        uint32_t af[4];
                        #pragma unroll
                        for (int h = 0; h < 2; h++) {
                            const uint32_t v = w[m][h][s] ^ 0x80808080u;  // q + 128, unsigned
                            if (Tc<T>::kMagic == 0x6400) {
                                // (0x64 << 8 | u) is 1024 + u in FP16; minus 1152 gives q exactly
                                af[h] = sub_pair(__byte_perm(v, 0x64646464u, 0x5140), 0x64806480u, T());
                                af[h + 2] = sub_pair(__byte_perm(v, 0x64646464u, 0x5342), 0x64806480u, T());
                            } else {
                                // 0x4B0000uu is 2^23 + u in FP32; minus 2^23 + 128 gives q exactly, BF16-exact
                                float f[4];
                                #pragma unroll
                                for (int k = 0; k < 4; k++) {
                                    f[k] = __uint_as_float(__byte_perm(v, 0x4B000000u, 0x7440 | k)) - 8388736.0f;
                                }
                                af[h] = floats_to_pair(f[0], f[1], T());
                                af[h + 2] = floats_to_pair(f[2], f[3], T());
                            }
                        }
                        #pragma unroll
                        for (int n = 0; n < NT; n++) {
                            mma16816<T>(part[m][n], af[0], af[1], af[2], af[3], xb[n].x, xb[n].y);
                        }
                    }
                } else {
                    // 8 columns c..c+7 (byte k = columns c+2k low nibble, c+2k+1 high nibble): two k-steps,
                    // B = x[c..c+3] then x[c+4..c+7]
                    uint4 xb[NT];
                    #pragma unroll
                    for (int n = 0; n < NT; n++) {
                        xb[n] = make_uint4(0, 0, 0, 0);
                        if (xv[n]) xb[n] = __ldg(reinterpret_cast<const uint4*>(xr[n] + c));
                    }
                    if (V2 && KIND == TC_INT4) {
                        // B pairs (c, c+4), (c+1, c+5), (c+2, c+6), (c+3, c+7), as tc2_int4_pairs orders A
                        #pragma unroll
                        for (int n = 0; n < NT; n++) {
                            const uint4 o = xb[n];
                            xb[n] = make_uint4(__byte_perm(o.x, o.z, 0x5410), __byte_perm(o.x, o.z, 0x7632),
                                               __byte_perm(o.y, o.w, 0x5410), __byte_perm(o.y, o.w, 0x7632));
                        }
                    }
                    #pragma unroll
                    for (int m = 0; m < MT; m++) {
                        uint32_t pr[2][4];  // [row half][pair k] = columns (c+2k, c+2k+1); variant 2 INT4: (c+k, c+k+4)
                        uint32_t pl[2][4];  // NF4 low parts
                        #pragma unroll
                        for (int h = 0; h < 2; h++) {
                            const uint32_t v = w[m][h][s];
                            if (KIND == TC_NF4) {
                                #pragma unroll
                                for (int k = 0; k < 4; k++) {
                                    const uint32_t e0 = lut[(v >> (8 * k)) & 15u];
                                    const uint32_t e1 = lut[(v >> (8 * k + 4)) & 15u];
                                    pr[h][k] = __byte_perm(e0, e1, 0x5410);  // (hi of c+2k, hi of c+2k+1)
                                    pl[h][k] = __byte_perm(e0, e1, 0x7632);  // the lo parts
                                }
                            } else if (V2) {
                                tc2_int4_pairs(v, zp[m][h], zh[m][h], pr[h], T());
                            } else {
                                const uint32_t hv = v >> 4;
                                #pragma unroll
                                for (int k = 0; k < 4; k++) {
                                    // bytes [v.k, -, hv.k, -]; the mask keeps the two nibbles, the magic makes them
                                    // magic + u; minus (magic + z) is u - z exactly
                                    const uint32_t b = __byte_perm(v, hv, k | ((k + 4) << 8));
                                    const uint32_t mu = (b & 0x000F000Fu) | (Tc<T>::kMagic * 0x10001u);
                                    pr[h][k] = sub_pair(mu, zp[m][h], T());
                                }
                            }
                        }
                        #pragma unroll
                        for (int n = 0; n < NT; n++) {
                            mma16816<T>(part[m][n], pr[0][0], pr[1][0], pr[0][1], pr[1][1], xb[n].x, xb[n].y);
                            mma16816<T>(part[m][n], pr[0][2], pr[1][2], pr[0][3], pr[1][3], xb[n].z, xb[n].w);
                            if (KIND == TC_NF4) {
                                mma16816<T>(part[m][n], pl[0][0], pl[1][0], pl[0][1], pl[1][1], xb[n].x, xb[n].y);
                                mma16816<T>(part[m][n], pl[0][2], pl[1][2], pl[0][3], pl[1][3], xb[n].z, xb[n].w);
                            }
                        }
                    }
                }
                if (!perChunk || s == 3) {
                    #pragma unroll
                    for (int m = 0; m < MT; m++) {
                        #pragma unroll
                        for (int n = 0; n < NT; n++) {
                            acc[m][n][0] = fmaf(part[m][n][0], sc[m][0], acc[m][n][0]);
                            acc[m][n][1] = fmaf(part[m][n][1], sc[m][0], acc[m][n][1]);
                            acc[m][n][2] = fmaf(part[m][n][2], sc[m][1], acc[m][n][2]);
                            acc[m][n][3] = fmaf(part[m][n][3], sc[m][1], acc[m][n][3]);
                        }
                    }
                }
            }
        }
    }

    #pragma unroll
    for (int m = 0; m < MT; m++) {
        #pragma unroll
        for (int n = 0; n < NT; n++) {
            #pragma unroll
            for (int i = 0; i < 4; i++) red[warp][(m * NT + n) * 4 + i][lane] = acc[m][n][i];
        }
    }
    __syncthreads();
    // warp w adds up the partial sums of m-tile w (MT <= kTcWarps), in warp order
    if (warp < MT) {
        const int m = warp;
        #pragma unroll
        for (int n = 0; n < NT; n++) {
            #pragma unroll
            for (int i = 0; i < 4; i++) {
                float v = 0.0f;
                #pragma unroll
                for (int k = 0; k < kTcWarps; k++) v += red[k][(m * NT + n) * 4 + i][lane];
                // C fragment: element i is row half i / 2 (rows g, g + 8), batch column 2t + (i & 1) of n-tile n
                const int r = blockIdx.x * (kTcRowsPerTile * MT) + m * kTcRowsPerTile + (i / 2) * 8 + g;
                const int b = n * 8 + 2 * t + (i & 1);
                if (r < rows && b < a.batch) y[(long) b * rows + r] = v;
            }
        }
    }
}

}  // namespace

// Entry points of the tensor-core path: vramkit_gemv_tc_<int4|nf4|int8>_<f16|bf16>_n<NT>, NT n-tiles of 8 batch
// columns (n1 for batch 1-8, n2 for 9-16) and as many 16-row m-tiles per warp (n2 reads each activation fragment
// once for 32 rows, halving the activation traffic that dominates at batch 16): kTcWarps * 32 threads per block,
// one block per 16 * NT rows, registers capped so that 4 (n1) or 2 (n2) blocks fit an SM (8192 rows in n1 are 512
// blocks, one wave on 132 SMs at 4 per SM).
#define VRAMKIT_GEMV_TC_ENTRY_V(NAME, T, KIND, NT, V2)                                                       \
    extern "C" __global__ void __launch_bounds__(kTcWarps * 32, NT == 1 ? 4 : 2)                              \
    NAME(const uint8_t* codes, const void* scales, const uint8_t* zeros, const float* scale2, float dq_offset,  \
         int rows, int cols, int group, int scheme, int flags, const T* x, float* y, int batch,                \
         int group_shift) {                                                                                    \
        TcArgs a{{codes, scales, zeros, scale2, dq_offset, rows, cols, group, scheme, flags}, batch,           \
                 group_shift, cols / group};                                                                   \
        tc_gemv<T, KIND, NT, NT, V2>(a, x, y);                                                                 \
    }
#define VRAMKIT_GEMV_TC_ENTRY(NAME, T, KIND, NT) VRAMKIT_GEMV_TC_ENTRY_V(NAME, T, KIND, NT, false)

VRAMKIT_GEMV_TC_ENTRY(vramkit_gemv_tc_int4_f16_n1, __half, TC_INT4, 1)
VRAMKIT_GEMV_TC_ENTRY(vramkit_gemv_tc_int4_f16_n2, __half, TC_INT4, 2)
VRAMKIT_GEMV_TC_ENTRY(vramkit_gemv_tc_nf4_f16_n1, __half, TC_NF4, 1)
VRAMKIT_GEMV_TC_ENTRY(vramkit_gemv_tc_nf4_f16_n2, __half, TC_NF4, 2)
VRAMKIT_GEMV_TC_ENTRY(vramkit_gemv_tc_int8_f16_n1, __half, TC_INT8, 1)
VRAMKIT_GEMV_TC_ENTRY(vramkit_gemv_tc_int8_f16_n2, __half, TC_INT8, 2)
VRAMKIT_GEMV_TC_ENTRY(vramkit_gemv_tc_int4_bf16_n1, __nv_bfloat16, TC_INT4, 1)
VRAMKIT_GEMV_TC_ENTRY(vramkit_gemv_tc_int4_bf16_n2, __nv_bfloat16, TC_INT4, 2)
VRAMKIT_GEMV_TC_ENTRY(vramkit_gemv_tc_nf4_bf16_n1, __nv_bfloat16, TC_NF4, 1)
VRAMKIT_GEMV_TC_ENTRY(vramkit_gemv_tc_nf4_bf16_n2, __nv_bfloat16, TC_NF4, 2)
VRAMKIT_GEMV_TC_ENTRY(vramkit_gemv_tc_int8_bf16_n1, __nv_bfloat16, TC_INT8, 1)
VRAMKIT_GEMV_TC_ENTRY(vramkit_gemv_tc_int8_bf16_n2, __nv_bfloat16, TC_INT8, 2)

// Variant 2 (vramkit_gemv_tc2_<int4|nf4>_<f16|bf16>_n1: 4-bit with a group of 64 or more, batch 1-8; the launcher
// runs variant 1 elsewhere, n2 included, where the extra scale registers would spill): the same tiles, with each
// chunk's scale words (and INT4 zero-points) loaded together with its codes (tc2_load_scales) instead of after them.
// In variant 1 each group's scale load is issued only once the chunk's codes have arrived and the previous group is
// done: a second (NF4_B64: up to fifth) dependent memory round trip per chunk pair, in a kernel whose warps make only
// cols / 1024 such trips in all. INT4 also builds its A pairs with fewer instructions (tc2_int4_pairs).
#define VRAMKIT_GEMV_TC2_ENTRY(NAME, T, KIND, NT) VRAMKIT_GEMV_TC_ENTRY_V(NAME, T, KIND, NT, true)
VRAMKIT_GEMV_TC2_ENTRY(vramkit_gemv_tc2_int4_f16_n1, __half, TC_INT4, 1)
VRAMKIT_GEMV_TC2_ENTRY(vramkit_gemv_tc2_nf4_f16_n1, __half, TC_NF4, 1)
VRAMKIT_GEMV_TC2_ENTRY(vramkit_gemv_tc2_int4_bf16_n1, __nv_bfloat16, TC_INT4, 1)
VRAMKIT_GEMV_TC2_ENTRY(vramkit_gemv_tc2_nf4_bf16_n1, __nv_bfloat16, TC_NF4, 1)
