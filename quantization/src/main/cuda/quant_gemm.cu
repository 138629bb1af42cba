// vramkit quantization: prefill GEMM with quantized weights on tensor cores.
//   y[m, n] = sum_k x[m, k] * W[n, k]      x: FP16 or BF16 [M, K] row-major; W: packed [N, K] (docs/formats.md);
//                                          y: FP32 [M, N] row-major; FP32 accumulation.
// Each block computes a 128 x 128 tile of y (128 activation rows x 128 output features), stepping K by 32:
// the activation tile is copied to shared memory, the weight tile is dequantized into shared memory in the
// activation dtype (the same per-element formula as dequant_one, rounded once to FP16/BF16), and eight warps
// (2 x 4) run WMMA 16x16x16 MMAs with FP32 accumulators, 64 x 32 outputs per warp. Partial tiles at the M and N
// edges are handled by zero-filling shared memory and staging the accumulators through shared memory, so every
// output element in range is written exactly once and nothing outside it.
// Requirements (checked by the launcher, io.vramkit.quant.cuda.CudaQuantGemm): K % 32 == 0, group % 32 == 0 for
// the 4-bit formats and % 16 == 0 for INT8, x 16-byte aligned.
#include <mma.h>
#include "quant_common.cuh"

using namespace vramkit_quant;
using namespace nvcuda;

namespace {

constexpr int BM = 128;
constexpr int BN = 128;
constexpr int BK = 32;
constexpr int LDS = BK + 8;  // shared-memory row stride in elements: a multiple of 8 for WMMA, skewed for banks
constexpr int THREADS = 256;

template <typename T>
__device__ void gemm_tile(const QuantTensor& t, const T* __restrict__ x, int m, float* __restrict__ y) {
    __shared__ __align__(128) T sa[BM * LDS];
    __shared__ __align__(128) T sb[BN * LDS];
    __shared__ __align__(128) float stage[THREADS / 32][16 * 16];

    const int m0 = blockIdx.y * BM;
    const int n0 = blockIdx.x * BN;
    const int warp = threadIdx.x / 32;
    const int lane = threadIdx.x % 32;
    const int wm = warp / 4;  // 0..1: 64 activation rows each
    const int wn = warp % 4;  // 0..3: 32 output features each
    const int k_total = t.cols;
    const int n_total = t.rows;

    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[4][2];
    #pragma unroll
    for (int i = 0; i < 4; i++) {
        #pragma unroll
        for (int j = 0; j < 2; j++) wmma::fill_fragment(acc[i][j], 0.0f);
    }

    for (int k0 = 0; k0 < k_total; k0 += BK) {
        // activations: 128 rows x 32 elements = 512 chunks of 8 (16 bytes), two per thread
        #pragma unroll
        for (int c = threadIdx.x; c < BM * BK / 8; c += THREADS) {
            const int row = c / (BK / 8);
            const int col = (c % (BK / 8)) * 8;
            uint4 v = make_uint4(0, 0, 0, 0);
            if (m0 + row < m) {
                v = *reinterpret_cast<const uint4*>(x + (long) (m0 + row) * k_total + k0 + col);
            }
            *reinterpret_cast<uint4*>(sa + row * LDS + col) = v;
        }
        // weights: 128 rows x 32, each thread dequantizes 16 consecutive weights of one row
        {
            const int row = threadIdx.x / 2;
            const int kk = (threadIdx.x % 2) * 16;
            float w[16];
            if (n0 + row < n_total) {
                dequant16(t, n0 + row, k0 + kk, w);
            } else {
                #pragma unroll
                for (int i = 0; i < 16; i++) w[i] = 0.0f;
            }
            T* dst = sb + row * LDS + kk;
            #pragma unroll
            for (int i = 0; i < 16; i++) dst[i] = to_16bit<T>(w[i]);
        }
        __syncthreads();
        #pragma unroll
        for (int ks = 0; ks < BK; ks += 16) {
            wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> a[4];
            wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> b[2];
            #pragma unroll
            for (int i = 0; i < 4; i++) wmma::load_matrix_sync(a[i], sa + (wm * 64 + i * 16) * LDS + ks, LDS);
            #pragma unroll
            for (int j = 0; j < 2; j++) wmma::load_matrix_sync(b[j], sb + (wn * 32 + j * 16) * LDS + ks, LDS);
            #pragma unroll
            for (int i = 0; i < 4; i++) {
                #pragma unroll
                for (int j = 0; j < 2; j++) wmma::mma_sync(acc[i][j], a[i], b[j], acc[i][j]);
            }
        }
        __syncthreads();
    }

    // staged stores: a full 16 x 16 fragment inside [m, n_total) goes straight out; edges are clipped per element
    float* st = stage[warp];
    #pragma unroll
    for (int i = 0; i < 4; i++) {
        #pragma unroll
        for (int j = 0; j < 2; j++) {
            const int r0 = m0 + wm * 64 + i * 16;
            const int c0 = n0 + wn * 32 + j * 16;
            if (r0 >= m || c0 >= n_total) continue;
            wmma::store_matrix_sync(st, acc[i][j], 16, wmma::mem_row_major);
            __syncwarp();
            for (int e = lane; e < 256; e += 32) {
                const int r = r0 + e / 16;
                const int c = c0 + e % 16;
                if (r < m && c < n_total) y[(long) r * n_total + c] = st[e];
            }
            __syncwarp();
        }
    }
}

}  // namespace

// The tensor is passed flat (the launch API marshals scalars and pointers only) and rebuilt here.
#define VRAMKIT_GEMM_ENTRY(NAME, T)                                                                            \
    extern "C" __global__ void __launch_bounds__(THREADS) NAME(                                                \
            const uint8_t* codes, const void* scales, const uint8_t* zeros, const float* scale2, float dq_offset, \
            int rows, int cols, int group, int scheme, int flags, const T* x, int m, float* y) {                  \
        QuantTensor t{codes, scales, zeros, scale2, dq_offset, rows, cols, group, scheme, flags};               \
        gemm_tile<T>(t, x, m, y);                                                                               \
    }

VRAMKIT_GEMM_ENTRY(vramkit_gemm_f16, __half)
VRAMKIT_GEMM_ENTRY(vramkit_gemm_bf16, __nv_bfloat16)
