// Flash-attention forward (prefill) for packed variable-length batches, FP16 and BF16, on tensor cores (WMMA
// 16x16x16, FP32 accumulation). Semantics match io.vramkit.attention.FlashAttention: q [totalQ, heads, d],
// k/v [totalK, kvHeads, d], cu_seqlens offsets, GQA (query head h reads KV head h / (heads / kvHeads)), causal
// (bottom-right), sliding window, softcap, LSE [heads, totalQ], rows that see no key output zeros. The host takes
// the mma.sync kernel of flash_prefill_mma.cu where it applies (head_dim a multiple of 8 up to 128, no block mask,
// no softcap, 16-byte aligned buffers); this WMMA kernel is the fallback for everything else.
//
// Launch: grid (ceil(max Lq / BR), heads, batch), 32 x WARPS threads (16 query rows per warp), dynamic shared memory
// flash_smem(BR, BC, d_pad) (see the entry points) with d_pad = head_dim rounded up to 16 (<= 256); above 48 KiB the
// host sets cudaFuncAttributeMaxDynamicSharedMemorySize. Loop order of FlashAttention-2: the block owns a query
// tile, streams BC-key tiles through shared memory, keeps the running max/sum per row (online softmax, Milakov &
// Gimelshein 2018) and rescales the FP32 output tile in shared memory. Key tiles outside the causal/window range
// of the whole query tile are never loaded.
//
// Block-sparse masks (io.vramkit.attention.BlockMask): mask is null, or a uint8 table [mask_rows][mask_cols] of
// allowed (query block, key block) pairs of mask_rb x mask_cb tokens in sequence-local coordinates, the same for
// every head and sequence (the host checks it covers the longest sequence). A key tile none of whose pairs with the
// query tile is allowed is skipped before its K/V are loaded; inside a loaded tile, elements of disallowed pairs are
// masked like causal/window ones.
#include <mma.h>
#include "attention_common.cuh"

using namespace nvcuda;

namespace vramkit_flash {

// WARPS warps of 16 query rows each; BC keys per tile (a multiple of 16).
template <typename T, int WARPS, int BC>
__device__ void flash_prefill(const T *__restrict__ q, const T *__restrict__ k, const T *__restrict__ v,
                              T *__restrict__ out, float *__restrict__ lse, const int *__restrict__ cu_q,
                              const int *__restrict__ cu_k, int total_q, int heads, int kv_heads, int head_dim,
                              int d_pad, float scale, int causal, int window_left, int window_right,
                              float softcap, const unsigned char *__restrict__ mask, int mask_rb, int mask_cb,
                              int mask_cols) {
    constexpr int BR = WARPS * 16;
    constexpr int THREADS = WARPS * 32;
    constexpr int HALF = BC / 2;
    extern __shared__ __align__(128) unsigned char smem[];
    const int b = blockIdx.z;
    const int h = blockIdx.y;
    const int qs = cu_q[b];
    const int lq = cu_q[b + 1] - qs;
    const int ks = cu_k[b];
    const int lk = cu_k[b + 1] - ks;
    const int r0 = blockIdx.x * BR;
    if (r0 >= lq) return;
    const int rows = min(BR, lq - r0);
    const int kvh = h / (heads / kv_heads);
    const long long offset = (long long) lk - lq;
    const int tid = threadIdx.x;
    const int warp = tid >> 5;
    const int lane = tid & 31;

    T *sQ = reinterpret_cast<T *>(smem);
    T *sK = sQ + BR * d_pad;
    T *sV = sK + BC * d_pad;
    T *sP = sV + BC * d_pad;
    float *sS = reinterpret_cast<float *>(sP + BR * BC);
    float *sO = sS + BR * BC;
    float *sM = sO + BR * d_pad;
    float *sL = sM + BR;
    float *sAlpha = sL + BR;

    for (int idx = tid; idx < BR * d_pad; idx += THREADS) {
        const int r = idx / d_pad;
        const int c = idx % d_pad;
        sQ[idx] = (r < rows && c < head_dim) ? q[((long long) (qs + r0 + r) * heads + h) * head_dim + c]
                                             : vramkit::from_float<T>(0.f);
        sO[idx] = 0.f;
    }
    for (int r = tid; r < BR; r += THREADS) {
        sM[r] = -INFINITY;
        sL[r] = 0.f;
    }

    // lo and hi are non-decreasing in the row, so the tile's key range is [lo(first row), hi(last row)].
    const long long lo_tile = vramkit::first_key(r0 + offset, window_left);
    const long long hi_tile = vramkit::last_key(r0 + rows - 1 + offset, lk, causal, window_right);
    const int kt_first = (int) (lo_tile / BC);
    const int kt_last = hi_tile < 0 ? -1 : (int) (min(hi_tile, (long long) lk - 1) / BC);

    for (int kt = kt_first; kt <= kt_last && lo_tile < lk; ++kt) {
        const int k0 = kt * BC;
        const int valid = min(BC, lk - k0);
        if (mask != nullptr) {
            // the (query block, key block) pairs this tile touches, checked by all threads in parallel
            const int qb0 = r0 / mask_rb;
            const int kb0 = k0 / mask_cb;
            const int nqb = (r0 + rows - 1) / mask_rb - qb0 + 1;
            const int nkb = (k0 + valid - 1) / mask_cb - kb0 + 1;
            int any = 0;
            for (int i = tid; i < nqb * nkb && !any; i += THREADS) {
                any = mask[(long long) (qb0 + i / nkb) * mask_cols + kb0 + i % nkb] != 0;
            }
            if (!__syncthreads_or(any)) continue;
        }
        __syncthreads();
        for (int idx = tid; idx < BC * d_pad; idx += THREADS) {
            const int j = idx / d_pad;
            const int c = idx % d_pad;
            const bool in = j < valid && c < head_dim;
            const long long g = ((long long) (ks + k0 + j) * kv_heads + kvh) * head_dim + c;
            sK[idx] = in ? k[g] : vramkit::from_float<T>(0.f);
            sV[idx] = in ? v[g] : vramkit::from_float<T>(0.f);
        }
        __syncthreads();

        // S = Q K^T for this warp's 16 rows: K stored [BC][d_pad] row-major is K^T column-major.
        {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[BC / 16];
#pragma unroll
            for (int j = 0; j < BC / 16; ++j) wmma::fill_fragment(acc[j], 0.f);
            for (int kk = 0; kk < d_pad; kk += 16) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> a;
                wmma::load_matrix_sync(a, sQ + warp * 16 * d_pad + kk, d_pad);
#pragma unroll
                for (int j = 0; j < BC / 16; ++j) {
                    wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> bk;
                    wmma::load_matrix_sync(bk, sK + j * 16 * d_pad + kk, d_pad);
                    wmma::mma_sync(acc[j], a, bk, acc[j]);
                }
            }
#pragma unroll
            for (int j = 0; j < BC / 16; ++j)
                wmma::store_matrix_sync(sS + warp * 16 * BC + j * 16, acc[j], BC, wmma::mem_row_major);
        }
        __syncwarp();

        // Online softmax: two lanes per row, BC / 2 columns each.
        {
            const int r = warp * 16 + (lane >> 1);
            const int c0 = (lane & 1) * HALF;
            const long long pos = r0 + r + offset;
            const long long lo = vramkit::first_key(pos, window_left);
            const long long hi = vramkit::last_key(pos, lk, causal, window_right);
            float s[HALF];
            float mx = -INFINITY;
#pragma unroll
            for (int c = 0; c < HALF; ++c) {
                const int j = c0 + c;
                const long long key = k0 + j;
                float x = vramkit::softcap_logit(sS[r * BC + j] * scale, softcap);
                if (r >= rows || j >= valid || key < lo || key > hi) {
                    x = -INFINITY;
                } else if (mask != nullptr && !mask[(long long) ((r0 + r) / mask_rb) * mask_cols + key / mask_cb]) {
                    x = -INFINITY;
                }
                s[c] = x;
                mx = fmaxf(mx, x);
            }
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
            const float m_old = sM[r];
            const float m_new = fmaxf(m_old, mx);
            float sum = 0.f;
#pragma unroll
            for (int c = 0; c < HALF; ++c) {
                const float p = m_new == -INFINITY ? 0.f : __expf(s[c] - m_new);
                sum += p;
                sP[r * BC + c0 + c] = vramkit::from_float<T>(p);
            }
            sum += __shfl_xor_sync(0xffffffffu, sum, 1);
            // A finite m_old implies a finite m_new >= m_old; an infinite one means nothing was accumulated yet.
            const float alpha = m_old == -INFINITY ? 0.f : __expf(m_old - m_new);
            __syncwarp();
            if ((lane & 1) == 0) {
                sL[r] = sL[r] * alpha + sum;
                sM[r] = m_new;
                sAlpha[r] = alpha;
            }
        }
        __syncwarp();
        for (int idx = lane; idx < 16 * d_pad; idx += 32) {
            const int r = warp * 16 + idx / d_pad;
            sO[r * d_pad + idx % d_pad] *= sAlpha[r];
        }
        __syncwarp();

        // O += P V for this warp's rows.
        for (int n0 = 0; n0 < d_pad; n0 += 16) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> o;
            wmma::load_matrix_sync(o, sO + warp * 16 * d_pad + n0, d_pad, wmma::mem_row_major);
#pragma unroll
            for (int kk = 0; kk < BC; kk += 16) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> a;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> bv;
                wmma::load_matrix_sync(a, sP + warp * 16 * BC + kk, BC);
                wmma::load_matrix_sync(bv, sV + kk * d_pad + n0, d_pad);
                wmma::mma_sync(o, a, bv, o);
            }
            wmma::store_matrix_sync(sO + warp * 16 * d_pad + n0, o, d_pad, wmma::mem_row_major);
        }
    }
    __syncthreads();
    for (int idx = tid; idx < rows * head_dim; idx += THREADS) {
        const int r = idx / head_dim;
        const int c = idx % head_dim;
        const float l = sL[r];
        out[((long long) (qs + r0 + r) * heads + h) * head_dim + c] =
            vramkit::from_float<T>(l > 0.f ? sO[r * d_pad + c] / l : 0.f);
    }
    if (lse != nullptr) {
        for (int r = tid; r < rows; r += THREADS) {
            const float l = sL[r];
            lse[(long long) h * total_q + qs + r0 + r] = l > 0.f ? sM[r] + logf(l) : -INFINITY;
        }
    }
}

}  // namespace vramkit_flash

// Entry points, declared on one line each for scripts/build-kernels' manifest:
//   vramkit_flash_prefill_<type>:       4 warps (64 query rows), 64-key tiles; dynamic shared memory
//                                       flash_smem(64, 64, d_pad) exceeds 48 KiB for d_pad > 32, so the host must
//                                       raise cudaFuncAttributeMaxDynamicSharedMemorySize first;
//                                       grid.x = ceil(max Lq / 64).
//   vramkit_flash_prefill_small_<type>: 1 warp (16 query rows), 16-key tiles; fits the default 48 KiB for every
//                                       head dimension up to 256; grid.x = ceil(max Lq / 16).
// flash_smem(BR, BC, d_pad) = (BR*d_pad + 2*BC*d_pad + BR*BC) * sizeof(T) + (BR*BC + BR*d_pad + 3*BR) * 4 bytes.

extern "C" __global__ void vramkit_flash_prefill_f16(const __half *q, const __half *k, const __half *v, __half *out,
        float *lse, const int *cu_q, const int *cu_k, int total_q, int heads, int kv_heads, int head_dim, int d_pad,
        float scale, int causal, int window_left, int window_right, float softcap, const unsigned char *mask,
        int mask_rb, int mask_cb, int mask_cols) {
    vramkit_flash::flash_prefill<__half, 4, 64>(q, k, v, out, lse, cu_q, cu_k, total_q, heads, kv_heads, head_dim,
                                             d_pad, scale, causal, window_left, window_right, softcap, mask, mask_rb, mask_cb, mask_cols);
}

extern "C" __global__ void vramkit_flash_prefill_bf16(const __nv_bfloat16 *q, const __nv_bfloat16 *k, const __nv_bfloat16 *v, __nv_bfloat16 *out,
        float *lse, const int *cu_q, const int *cu_k, int total_q, int heads, int kv_heads, int head_dim, int d_pad,
        float scale, int causal, int window_left, int window_right, float softcap, const unsigned char *mask,
        int mask_rb, int mask_cb, int mask_cols) {
    vramkit_flash::flash_prefill<__nv_bfloat16, 4, 64>(q, k, v, out, lse, cu_q, cu_k, total_q, heads, kv_heads, head_dim,
                                             d_pad, scale, causal, window_left, window_right, softcap, mask, mask_rb, mask_cb, mask_cols);
}

extern "C" __global__ void vramkit_flash_prefill_small_f16(const __half *q, const __half *k, const __half *v, __half *out,
        float *lse, const int *cu_q, const int *cu_k, int total_q, int heads, int kv_heads, int head_dim, int d_pad,
        float scale, int causal, int window_left, int window_right, float softcap, const unsigned char *mask,
        int mask_rb, int mask_cb, int mask_cols) {
    vramkit_flash::flash_prefill<__half, 1, 16>(q, k, v, out, lse, cu_q, cu_k, total_q, heads, kv_heads, head_dim,
                                             d_pad, scale, causal, window_left, window_right, softcap, mask, mask_rb, mask_cb, mask_cols);
}

extern "C" __global__ void vramkit_flash_prefill_small_bf16(const __nv_bfloat16 *q, const __nv_bfloat16 *k, const __nv_bfloat16 *v, __nv_bfloat16 *out,
        float *lse, const int *cu_q, const int *cu_k, int total_q, int heads, int kv_heads, int head_dim, int d_pad,
        float scale, int causal, int window_left, int window_right, float softcap, const unsigned char *mask,
        int mask_rb, int mask_cb, int mask_cols) {
    vramkit_flash::flash_prefill<__nv_bfloat16, 1, 16>(q, k, v, out, lse, cu_q, cu_k, total_q, heads, kv_heads, head_dim,
                                             d_pad, scale, causal, window_left, window_right, softcap, mask, mask_rb, mask_cb, mask_cols);
}
