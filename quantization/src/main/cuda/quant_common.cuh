// vramkit quantization: shared definitions of the packed layouts of docs/formats.md for the CUDA kernels.
// Every kernel reads exactly the bytes the CPU kernels (io.vramkit.quant.internal) read and write.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

namespace vramkit_quant {

// Scheme ids, identical to the ordinal of io.vramkit.quant.QuantFormat.Scheme.
enum Scheme : int {
    FP32 = 0, FP16 = 1, BF16 = 2, INT8 = 3, INT4_SYM = 4, INT4_ASYM = 5, NF4 = 6, FP8_E4M3 = 7, FP8_E5M2 = 8
};

// Bits of QuantTensor::flags (io.vramkit.quant.cuda.CudaQuantizedTensor.kernelArgs sets them from the format).
// Per channel is a flag, never inferred from group == cols: INT8_G{G} with G == cols is a grouped format with FP16
// scales, as QuantizedTensor.scale reads it on the CPU.
constexpr int kFlagDoubleQuant = 1;  // NF4: int8 absmax codes with second-level FP32 scales
constexpr int kFlagPerChannel = 2;   // INT8: one FP32 scale per row (QuantFormat.PER_CHANNEL)

// One packed weight matrix [rows, cols] = [outFeatures, inFeatures]; device pointers into the segments of
// QuantizedTensor (codes, scales, zeros, scale2) plus the NF4 double-quantization offset.
struct QuantTensor {
    const uint8_t* codes;
    const void* scales;      // FP32, FP16 or int8 (NF4 DQ), see docs/formats.md
    const uint8_t* zeros;    // INT4_ASYM only
    const float* scale2;     // NF4 DQ only: one FP32 per 256 absmax codes
    float dq_offset;         // NF4 DQ only
    int rows;
    int cols;
    int group;               // weights per scale; cols for per-channel formats
    int scheme;
    int flags;               // kFlagDoubleQuant | kFlagPerChannel
};

__constant__ float kNf4[16] = {
    -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
    -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
    0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
    0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f};

// The effective scale of group g of row r (flat index r * cols/group + g), as QuantizedTensor.scale(r, g).
__device__ __forceinline__ float group_scale(const QuantTensor& t, int r, int g) {
    long idx = (long) r * (t.cols / t.group) + g;
    switch (t.scheme) {
        case INT8:
            return (t.flags & kFlagPerChannel) ? ((const float*) t.scales)[r]
                                               : __half2float(((const __half*) t.scales)[idx]);
        case INT4_SYM:
        case INT4_ASYM:
            return __half2float(((const __half*) t.scales)[idx]);
        case NF4:
            // separate roundings, no FMA contraction: bit-identical to QuantizedTensor.scale on the CPU
            return (t.flags & kFlagDoubleQuant)
                ? __fadd_rn(__fmul_rn((float) ((const int8_t*) t.scales)[idx], t.scale2[idx / 256]), t.dq_offset)
                : ((const float*) t.scales)[idx];
        case FP8_E4M3:
        case FP8_E5M2:
            return ((const float*) t.scales)[r];
        default:
            return 1.0f;
    }
}

__device__ __forceinline__ int group_zero(const QuantTensor& t, int r, int g) {
    if (t.scheme == INT4_ASYM) {
        return t.zeros[(long) r * (t.cols / t.group) + g];
    }
    return t.scheme == INT4_SYM ? 8 : 0;
}

// OCP FP8 decode (exact): E4M3 (bias 7, no inf, 0x7F NaN) and E5M2 (bias 15, IEEE-like).
__device__ __forceinline__ float fp8_decode(uint8_t c, bool e4m3) {
    int sign = c >> 7;
    int exp_bits = e4m3 ? 4 : 5;
    int man_bits = e4m3 ? 3 : 2;
    int bias = e4m3 ? 7 : 15;
    int e = (c >> man_bits) & ((1 << exp_bits) - 1);
    int m = c & ((1 << man_bits) - 1);
    float v;
    if (e4m3 && e == 15 && m == 7) {
        v = __int_as_float(0x7fc00000);
    } else if (!e4m3 && e == 31) {
        v = m == 0 ? __int_as_float(0x7f800000) : __int_as_float(0x7fc00000);
    } else if (e == 0) {
        v = ldexpf((float) m, 1 - bias - man_bits);
    } else {
        v = ldexpf((float) ((1 << man_bits) | m), e - bias - man_bits);
    }
    return sign ? -v : v;
}

// Value of weight (r, c), dequantized as the CPU's dequantizeRows does.
__device__ __forceinline__ float dequant_one(const QuantTensor& t, int r, int c) {
    long i = (long) r * t.cols + c;
    float s = group_scale(t, r, c / t.group);
    switch (t.scheme) {
        case FP32: return ((const float*) t.codes)[i];
        case FP16: return __half2float(((const __half*) t.codes)[i]);
        case BF16: return __uint_as_float(((uint32_t) ((const uint16_t*) t.codes)[i]) << 16);
        case INT8: return (float) ((const int8_t*) t.codes)[i] * s;
        case FP8_E4M3: return fp8_decode(t.codes[i], true) * s;
        case FP8_E5M2: return fp8_decode(t.codes[i], false) * s;
        default: {
            uint8_t b = t.codes[i >> 1];
            int u = (c & 1) ? (b >> 4) : (b & 15);
            if (t.scheme == NF4) {
                return kNf4[u] * s;
            }
            return (float) (u - group_zero(t, r, c / t.group)) * s;
        }
    }
}

// Sixteen consecutive weights W[n, k .. k + 16), dequantized as dequant_one does. k must be a multiple of 16 and
// the sixteen must lie in one group (group % 16 == 0), and the codes 8-byte (4-bit) / 16-byte (INT8) aligned there.
__device__ __forceinline__ void dequant16(const QuantTensor& t, int n, int k, float (&w)[16]) {
    const int g = k / t.group;
    const float s = group_scale(t, n, g);
    if (t.scheme == INT8) {
        uint4 raw = *reinterpret_cast<const uint4*>(t.codes + (long) n * t.cols + k);
        const int8_t* q = reinterpret_cast<const int8_t*>(&raw);
        #pragma unroll
        for (int i = 0; i < 16; i++) w[i] = (float) q[i] * s;
        return;
    }
    uint2 raw = *reinterpret_cast<const uint2*>(t.codes + (long) n * (t.cols / 2) + k / 2);
    const uint8_t* b = reinterpret_cast<const uint8_t*>(&raw);
    if (t.scheme == NF4) {
        #pragma unroll
        for (int i = 0; i < 8; i++) {
            w[2 * i] = kNf4[b[i] & 15] * s;
            w[2 * i + 1] = kNf4[b[i] >> 4] * s;
        }
        return;
    }
    const float z = (float) group_zero(t, n, g);
    #pragma unroll
    for (int i = 0; i < 8; i++) {
        w[2 * i] = ((float) (b[i] & 15) - z) * s;
        w[2 * i + 1] = ((float) (b[i] >> 4) - z) * s;
    }
}

// Round-to-nearest-even conversion of a dequantized weight to the 16-bit activation dtype T (__half or
// __nv_bfloat16).
template <typename T>
__device__ __forceinline__ T to_16bit(float f);

template <>
__device__ __forceinline__ __half to_16bit<__half>(float f) {
    return __float2half_rn(f);
}

template <>
__device__ __forceinline__ __nv_bfloat16 to_16bit<__nv_bfloat16>(float f) {
    return __float2bfloat16_rn(f);
}

__device__ __forceinline__ float warp_sum(float v) {
    #pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        v += __shfl_xor_sync(0xffffffffu, v, o);
    }
    return v;
}

}  // namespace vramkit_quant
