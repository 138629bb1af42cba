// Flash-attention forward (prefill) on mma.sync tensor-core instructions, FlashAttention-2 style (Dao 2023), for
// FP16 and BF16 with head dimensions that are multiples of 8 up to 128 (padded to D = 64 or 128). Same semantics and
// memory layout as flash_prefill.cu, which stays the fallback for block masks, softcap, other head dimensions and
// misaligned buffers: q [totalQ, heads, head_dim], k/v [totalK, kvHeads, head_dim], cu_seqlens offsets, GQA (query
// head h reads KV head h / (heads / kvHeads)), causal (bottom-right), sliding window (inclusive ends), LSE
// [heads, totalQ] in natural log, rows that see no key output zeros and LSE -inf. FP32 accumulation; P is rounded
// to the input type for the P V product, as in FlashAttention-2.
//
// Block: 4 warps; warp w owns MT m16 tiles (rows w*16*MT .. +16*MT) of a BM = 64*MT query-row tile. Per BN-key tile:
//   S = Q K^T     mma.m16n8k16 with Q (A) and K (B, "col" = K rows) read by ldmatrix.x4 from shared memory,
//   online softmax in registers (Milakov & Gimelshein 2018) in the log2 domain (logits times scale * log2(e),
//                 then ex2), row max/sum over the 4 lanes of a quad (shfl_xor 1, 2),
//   O += P V      P is converted in registers: the C fragments of two adjacent n8 tiles are the A fragment of one
//                 k16 step; V (B) is read by ldmatrix.x4.trans.
// K/V tiles are double-buffered in shared memory with cp.async (16 bytes, zero-fill past the sequence or head_dim),
// so tile i+1 streams in while tile i is computed. Shared rows of D elements are stored as 16-byte chunks at
// chunk ^ (row & 7) (XOR swizzle), so the 8 row addresses of each ldmatrix phase and the cp.async stores hit 8
// distinct bank groups. Key tiles outside the causal/window range of the whole query tile are never loaded, and
// the per-element mask runs only on tiles not fully visible to every row of the block (diagonal, window edges,
// the sequence tail). Blocks take their query tile in reverse order, tile-major over all (head, sequence) pairs,
// so the longest causal query tiles start first and the short ones fill the tail.
//
// Launch: grid (ceil(max Lq / BM), heads, batch), 128 threads, dynamic shared memory (BM + 4 * BN) * D * 2 bytes
// (see the entry points); head_dim % 8 == 0, head_dim <= D; q, k, v, out 16-byte aligned; fewer than 2^31 blocks;
// sequences shorter than 2^30 tokens.
#include <type_traits>
#include "attention_common.cuh"

namespace vramkit_fa2 {

constexpr float LOG2E = 1.4426950408889634f;
constexpr float LN2 = 0.6931471805599453f;

__device__ __forceinline__ uint32_t smem_addr(const void *p) {
    return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16-byte global -> shared copy; src_bytes 0 writes zeros without reading src.
__device__ __forceinline__ void cp_async16(uint32_t dst, const void *src, int src_bytes) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(src_bytes));
}

__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }

template <int N> __device__ __forceinline__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

__device__ __forceinline__ void ldsm_x4(uint32_t addr, uint32_t &r0, uint32_t &r1, uint32_t &r2, uint32_t &r3) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
                 : "r"(addr));
}

__device__ __forceinline__ void ldsm_x4_trans(uint32_t addr, uint32_t &r0, uint32_t &r1, uint32_t &r2,
                                              uint32_t &r3) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
                 : "r"(addr));
}

// c += a * b for one m16n8k16 tile, FP32 accumulators.
template <typename T>
__device__ __forceinline__ void mma16816(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    if constexpr (std::is_same<T, __nv_bfloat16>::value) {
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
                     "{%8, %9}, {%0, %1, %2, %3};\n"
                     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    } else {
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
                     "{%8, %9}, {%0, %1, %2, %3};\n"
                     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    }
}

// 2^x on the SFU (ex2.approx.ftz); results below the normal range flush to 0, which softmax weights can afford.
__device__ __forceinline__ float fast_exp2(float x) {
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
    return y;
}

// Two floats as one 32-bit register of two T, lo in the low half (the lower column index).
template <typename T> __device__ __forceinline__ uint32_t pack2(float lo, float hi) {
    if constexpr (std::is_same<T, __nv_bfloat16>::value) {
        __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
        return *reinterpret_cast<uint32_t *>(&v);
    } else {
        __half2 v = __floats2half2_rn(lo, hi);
        return *reinterpret_cast<uint32_t *>(&v);
    }
}

// Byte offset of 16-byte chunk c of row r in a swizzled tile of D-element rows.
template <int D> __device__ __forceinline__ uint32_t swz(int r, int c) {
    return static_cast<uint32_t>(r * D * 2 + ((c ^ (r & 7)) << 4));
}

// Copies rows [row0, row0 + ROWS) of one head (row stride `stride` elements) into a swizzled tile; rows at or past
// `valid` and chunks at or past head_dim / 8 are zero-filled.
template <typename T, int D, int ROWS, int THREADS>
__device__ __forceinline__ void load_tile(uint32_t tile, const T *__restrict__ base, long long row0, int valid,
                                          long long stride, int chunks, int tid) {
    constexpr int CH = D / 8;
    static_assert(ROWS * CH % THREADS == 0, "tile chunks must split evenly over the threads");
    // Not unrolled: unrolled, ptxas hoists every copy's address and the 128-row, D = 128 kernel spills.
#pragma unroll 1
    for (int n = 0; n < ROWS * CH / THREADS; ++n) {
        const int idx = tid + n * THREADS;
        const int r = idx / CH;
        const int c = idx % CH;
        const bool in = r < valid && c < chunks;
        const T *src = in ? base + (row0 + r) * stride + c * 8 : base;
        cp_async16(tile + swz<D>(r, c), src, in ? 16 : 0);
    }
}

// load_tile for the tuned variants: with THREADS a multiple of D / 8 and THREADS / (D / 8) a multiple of 8, each
// thread copies one fixed chunk c of rows r, r + RSTEP, ..., whose swizzle (r & 7) is the same for all of them, so a
// copy is a pointer increment and a predicate instead of an index split and a 64-bit multiply.
template <typename T, int D, int ROWS, int THREADS>
__device__ __forceinline__ void load_tile_fast(uint32_t tile, const T *__restrict__ base, long long row0, int valid,
                                               long long stride, int chunks, int tid) {
    constexpr int CH = D / 8;
    constexpr int RSTEP = THREADS / CH;
    static_assert(THREADS % CH == 0 && RSTEP % 8 == 0 && ROWS % RSTEP == 0, "rows must split into 8-row steps");
    const int r = tid / CH;
    const int c = tid % CH;
    const bool c_in = c < chunks;
    const uint32_t dst = tile + swz<D>(r, c);
    const T *src = base + (row0 + r) * stride + c * 8;
    const long long step = RSTEP * stride;
#pragma unroll
    for (int n = 0; n < ROWS / RSTEP; ++n) {
        const bool in = c_in && r + n * RSTEP < valid;
        cp_async16(dst + n * RSTEP * D * 2, in ? src : base, in ? 16 : 0);
        src += step;
    }
}

// D: padded head dimension (64 or 128); MT: m16 tiles per warp; BN: keys per tile. V selects the variant:
//   BASE   two barriers per key tile (prefetch, wait, barrier, compute, barrier), logits scaled by one FMUL each;
//   TUNED  one barrier per key tile (wait, barrier, prefetch the next tile into the buffer every warp finished with,
//          compute); scale * log2(e) folded into the exponent's FFMA (the row max is taken on raw logits, so the
//          host takes this only for scale > 0); O and l rescaled only when some row of the warp saw its max grow
//          (a warp-uniform vote); the cheaper tile copies of load_tile_fast;
//   QREG   TUNED with MT = 1 (16 rows per warp, BM = 64 = BN): the warp's Q fragments live in registers, loaded once
//          from a staging copy in K's second buffer (free until the first prefetch), so shared memory is just the
//          two K/V buffers, 4 * BN * D * 2 bytes, and three blocks fit an SM.
enum Variant { BASE, TUNED, QREG };

template <typename T, int D, int MT, int BN, Variant V>
__device__ __forceinline__ void prefill(const T *__restrict__ q, const T *__restrict__ k, const T *__restrict__ v,
                                        T *__restrict__ out, float *__restrict__ lse, const int *__restrict__ cu_q,
                                        const int *__restrict__ cu_k, int total_q, int heads, int kv_heads,
                                        int head_dim, float scale, int causal, int window_left, int window_right) {
    constexpr int WARPS = 4;
    constexpr int THREADS = WARPS * 32;
    constexpr int BM = WARPS * 16 * MT;
    constexpr int NT = BN / 8;  // n8 tiles of S
    constexpr int DT = D / 8;   // n8 tiles of O
    constexpr int KD = D / 16;  // k16 steps of Q K^T
    constexpr int KN = BN / 16; // k16 steps of P V
    constexpr bool TUNED_PATH = V != BASE;
    static_assert(D % 64 == 0 && BN % 16 == 0, "D must be a multiple of 64 (swizzle) and BN of 16");
    static_assert(V != QREG || (MT == 1 && BM == BN), "QREG stages Q (BM rows) in one BN-row K buffer");
    extern __shared__ __align__(128) unsigned char fa2_smem[];

    // Blocks are handed out in linear order; query tile index is made the slowest-varying and reversed, so every
    // (head, sequence) pair's last query tiles, the longest under a causal mask, run first.
    const int pairs = gridDim.y * gridDim.z;
    const int linear = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z); // host: < 2^31 blocks
    const int pair = linear % pairs;
    const int h = pair % gridDim.y;
    const int b = pair / gridDim.y;
    const int qs = cu_q[b];
    const int lq = cu_q[b + 1] - qs;
    const int ks = cu_k[b];
    const int lk = cu_k[b + 1] - ks;
    const int r0 = (gridDim.x - 1 - linear / pairs) * BM;
    if (r0 >= lq) return;
    const int rows = min(BM, lq - r0);
    const int kvh = h / (heads / kv_heads);
    const long long offset = (long long) lk - lq;
    const int tid = threadIdx.x;
    const int warp = tid >> 5;
    const int lane = tid & 31;
    const int g = lane >> 2; // row of the quad in an m16 tile (and g + 8)
    const int t = lane & 3;  // column pair of the quad in an n8 tile
    const long long q_stride = (long long) heads * head_dim;
    const long long kv_stride = (long long) kv_heads * head_dim;
    const int chunks = head_dim / 8;

    // Key range of the whole tile: lo and hi are non-decreasing in the row.
    const long long lo_tile = vramkit::first_key(r0 + offset, window_left);
    const long long hi_tile = vramkit::last_key(r0 + rows - 1 + offset, lk, causal, window_right);
    // Keys in [lo_all, hi_all] are visible to every row of the tile (hi_all <= lk - 1).
    const int lo_all = (int) min(vramkit::first_key(r0 + rows - 1 + offset, window_left), (long long) lk);
    const int hi_all = (int) max(vramkit::last_key(r0 + offset, lk, causal, window_right), -1LL);
    const int kt_first = (int) (lo_tile / BN);
    const int n_tiles = hi_tile < lo_tile ? 0 : (int) (hi_tile / BN) - kt_first + 1;

    // Visible keys of this thread's row (mt, i), at d = mt * 16 + 8 * i rows below its first row p0:
    // lo_lin + d <= key <= min(lk - 1, hi_lin + d), with unbounded ends at -/+ 2^30 (sequences stay below that).
    const long long p0 = r0 + warp * 16 * MT + g + offset;
    constexpr long long FAR = 1LL << 30;
    const int lo_lin = (int) (window_left < 0 ? -FAR : max(-FAR, p0 - window_left));
    const int hi_lin = (int) max(-FAR, min(min(causal ? p0 : FAR, window_right < 0 ? FAR : p0 + window_right), FAR));

    float o[MT][DT][4];
    float m[MT][2]; // running max of the row's logits, in log2 units (logit * scale * log2(e))
    float l[MT][2];
#pragma unroll
    for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
        for (int j = 0; j < DT; ++j) {
#pragma unroll
            for (int e = 0; e < 4; ++e) o[mt][j][e] = 0.f;
        }
        m[mt][0] = m[mt][1] = -INFINITY;
        l[mt][0] = l[mt][1] = 0.f;
    }

    if (n_tiles > 0) {
        constexpr uint32_t KV_BYTES = BN * D * 2;
        const uint32_t base_addr = smem_addr(fa2_smem);
        // BASE/TUNED: [Q: BM x D][K: 2 x BN x D][V: 2 x BN x D]; QREG: [K: 2][V: 2], Q staged in K's buffer 1.
        const uint32_t aK = base_addr + (V == QREG ? 0u : (uint32_t) (BM * D * 2));
        const uint32_t aV = aK + 2 * KV_BYTES;
        const uint32_t aQ = V == QREG ? aK + KV_BYTES : base_addr;
        const T *kh = k + (long long) kvh * head_dim;
        const T *vh = v + (long long) kvh * head_dim;

        // ldmatrix lane addressing: lane supplies row (lane & 7) of matrix (lane >> 3).
        const int lrow = lane & 7;
        const int mat = lane >> 3;
        const float scale_log2 = scale * LOG2E;

        {
            const int k0 = kt_first * BN;
            if constexpr (TUNED_PATH) {
                load_tile_fast<T, D, BM, THREADS>(aQ, q + (long long) h * head_dim, qs + r0, rows, q_stride, chunks,
                                                  tid);
                load_tile_fast<T, D, BN, THREADS>(aK, kh, ks + k0, lk - k0, kv_stride, chunks, tid);
                load_tile_fast<T, D, BN, THREADS>(aV, vh, ks + k0, lk - k0, kv_stride, chunks, tid);
            } else {
                load_tile<T, D, BM, THREADS>(aQ, q + (long long) h * head_dim, qs + r0, rows, q_stride, chunks, tid);
                load_tile<T, D, BN, THREADS>(aK, kh, ks + k0, lk - k0, kv_stride, chunks, tid);
                load_tile<T, D, BN, THREADS>(aV, vh, ks + k0, lk - k0, kv_stride, chunks, tid);
            }
        }
        cp_async_commit();

        // QREG: the warp's Q fragments for every k16 step, read once. The first iteration's barrier (after this
        // read in every warp) comes before the prefetch that overwrites the staging buffer.
        uint32_t qf[V == QREG ? KD : 1][4];
        if constexpr (V == QREG) {
            cp_async_wait<0>();
            __syncthreads();
#pragma unroll
            for (int kk = 0; kk < KD; ++kk) {
                const int r = warp * 16 + lrow + (mat & 1) * 8;
                ldsm_x4(aQ + swz<D>(r, kk * 2 + (mat >> 1)), qf[kk][0], qf[kk][1], qf[kk][2], qf[kk][3]);
            }
        }

        for (int it = 0; it < n_tiles; ++it) {
            const int buf = it & 1;
            const int k0 = (kt_first + it) * BN;
            if constexpr (TUNED_PATH) {
                // Tile it (issued one iteration ago) has landed for every thread, and every warp is done with
                // buffer buf ^ 1 (read in iteration it - 1), so the next tile may stream into it.
                cp_async_wait<0>();
                __syncthreads();
                if (it + 1 < n_tiles) {
                    const int k1 = k0 + BN;
                    if constexpr (true) {
                        load_tile_fast<T, D, BN, THREADS>(aK + (buf ^ 1) * KV_BYTES, kh, ks + k1, lk - k1,
                                                          kv_stride, chunks, tid);
                        load_tile_fast<T, D, BN, THREADS>(aV + (buf ^ 1) * KV_BYTES, vh, ks + k1, lk - k1,
                                                          kv_stride, chunks, tid);
                    } else {
                        load_tile<T, D, BN, THREADS>(aK + (buf ^ 1) * KV_BYTES, kh, ks + k1, lk - k1, kv_stride,
                                                     chunks, tid);
                        load_tile<T, D, BN, THREADS>(aV + (buf ^ 1) * KV_BYTES, vh, ks + k1, lk - k1, kv_stride,
                                                     chunks, tid);
                    }
                }
                cp_async_commit();
            } else {
                if (it + 1 < n_tiles) {
                    const int k1 = k0 + BN;
                    load_tile<T, D, BN, THREADS>(aK + (buf ^ 1) * KV_BYTES, kh, ks + k1, lk - k1, kv_stride, chunks,
                                                 tid);
                    load_tile<T, D, BN, THREADS>(aV + (buf ^ 1) * KV_BYTES, vh, ks + k1, lk - k1, kv_stride, chunks,
                                                 tid);
                }
                cp_async_commit();
                cp_async_wait<1>();
                __syncthreads();
            }

            const uint32_t tK = aK + buf * KV_BYTES;
            const uint32_t tV = aV + buf * KV_BYTES;

            // S = Q K^T
            float s[MT][NT][4];
#pragma unroll
            for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
                for (int j = 0; j < NT; ++j) {
#pragma unroll
                    for (int e = 0; e < 4; ++e) s[mt][j][e] = 0.f;
                }
            }
#pragma unroll
            for (int kk = 0; kk < KD; ++kk) {
                uint32_t a[MT][4];
#pragma unroll
                for (int mt = 0; mt < MT; ++mt) {
                    if constexpr (V == QREG) {
#pragma unroll
                        for (int e = 0; e < 4; ++e) a[mt][e] = qf[kk][e];
                    } else {
                        // matrices: (rows 0-7, k 0-7), (rows 8-15, k 0-7), (rows 0-7, k 8-15), (rows 8-15, k 8-15)
                        const int r = warp * 16 * MT + mt * 16 + lrow + (mat & 1) * 8;
                        ldsm_x4(aQ + swz<D>(r, kk * 2 + (mat >> 1)), a[mt][0], a[mt][1], a[mt][2], a[mt][3]);
                    }
                }
#pragma unroll
                for (int j = 0; j < NT; j += 2) {
                    // matrices: (keys 0-7, k 0-7), (keys 0-7, k 8-15), (keys 8-15, k 0-7), (keys 8-15, k 8-15)
                    uint32_t b0, b1, b2, b3;
                    ldsm_x4(tK + swz<D>(j * 8 + lrow + (mat >> 1) * 8, kk * 2 + (mat & 1)), b0, b1, b2, b3);
#pragma unroll
                    for (int mt = 0; mt < MT; ++mt) {
                        mma16816<T>(s[mt][j], a[mt], b0, b1);
                        mma16816<T>(s[mt][j + 1], a[mt], b2, b3);
                    }
                }
            }

            // BASE: logits in log2 units here; TUNED: raw logits, scaled inside the exponent.
            if constexpr (!TUNED_PATH) {
#pragma unroll
                for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
                    for (int j = 0; j < NT; ++j) {
#pragma unroll
                        for (int e = 0; e < 4; ++e) s[mt][j][e] *= scale_log2;
                    }
                }
            }
            // The mask only where some element of the tile may be hidden from some row.
            if (!(k0 >= lo_all && k0 + BN - 1 <= hi_all)) {
                const int lo_t = lo_lin - k0;
                const int hi_t = hi_lin - k0;
                const int lim_t = lk - 1 - k0;
#pragma unroll
                for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
                    for (int j = 0; j < NT; ++j) {
#pragma unroll
                        for (int e = 0; e < 4; ++e) {
                            const int c = j * 8 + 2 * t + (e & 1); // key - k0
                            const int d = mt * 16 + 8 * (e >> 1);  // row - first row
                            if (c - d < lo_t || c - d > hi_t || c > lim_t) s[mt][j][e] = -INFINITY;
                        }
                    }
                }
            }

            if constexpr (TUNED_PATH) {
                // Online softmax per row; each row's 4 lanes hold 2 * NT of its BN columns. With scale > 0 the max
                // of the scaled logits is the scaled max of the raw ones, and p = 2^(s * scale_log2 - max) is one
                // FFMA and one ex2.
                float alpha[MT][2];
                bool grew = false;
#pragma unroll
                for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
                    for (int i = 0; i < 2; ++i) {
                        float mx = -INFINITY;
#pragma unroll
                        for (int j = 0; j < NT; ++j) mx = fmaxf(mx, fmaxf(s[mt][j][2 * i], s[mt][j][2 * i + 1]));
                        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
                        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
                        const float m_new = fmaxf(m[mt][i], mx * scale_log2); // -inf * (> 0) stays -inf
                        grew |= m_new > m[mt][i];
                        // A row with nothing visible yet keeps m = -inf; subtracting 0 then gives p = 0.
                        alpha[mt][i] = fast_exp2(m[mt][i] - (m_new == -INFINITY ? 0.f : m_new));
                        m[mt][i] = m_new;
                    }
                }
                // Rescale only when some row of the warp has a larger max (alpha = 1 for the others, and a row
                // whose max stays -inf has O = 0, l = 0): after the first few key tiles this is rare.
                if (__any_sync(0xffffffffu, grew)) {
#pragma unroll
                    for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
                        for (int i = 0; i < 2; ++i) {
                            l[mt][i] *= alpha[mt][i];
#pragma unroll
                            for (int j = 0; j < DT; ++j) {
                                o[mt][j][2 * i] *= alpha[mt][i];
                                o[mt][j][2 * i + 1] *= alpha[mt][i];
                            }
                        }
                    }
                }
#pragma unroll
                for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
                    for (int i = 0; i < 2; ++i) {
                        const float base = m[mt][i] == -INFINITY ? 0.f : m[mt][i];
                        float sum = 0.f;
#pragma unroll
                        for (int j = 0; j < NT; ++j) {
                            const float p0 = fast_exp2(fmaf(s[mt][j][2 * i], scale_log2, -base));
                            const float p1 = fast_exp2(fmaf(s[mt][j][2 * i + 1], scale_log2, -base));
                            s[mt][j][2 * i] = p0;
                            s[mt][j][2 * i + 1] = p1;
                            sum += p0 + p1;
                        }
                        // l holds this lane's partial sum; the quad's partials are added once at the end.
                        l[mt][i] += sum;
                    }
                }
            } else {
                // Online softmax per row; each row's 4 lanes hold 2 * NT of its BN columns.
#pragma unroll
                for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
                    for (int i = 0; i < 2; ++i) {
                        float mx = m[mt][i];
#pragma unroll
                        for (int j = 0; j < NT; ++j) mx = fmaxf(mx, fmaxf(s[mt][j][2 * i], s[mt][j][2 * i + 1]));
                        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
                        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
                        // A row with nothing visible yet keeps m = -inf; subtracting 0 then gives p = 0, alpha = 0.
                        const float base = mx == -INFINITY ? 0.f : mx;
                        const float alpha = fast_exp2(m[mt][i] - base);
                        m[mt][i] = mx;
                        float sum = 0.f;
#pragma unroll
                        for (int j = 0; j < NT; ++j) {
                            const float p0 = fast_exp2(s[mt][j][2 * i] - base);
                            const float p1 = fast_exp2(s[mt][j][2 * i + 1] - base);
                            s[mt][j][2 * i] = p0;
                            s[mt][j][2 * i + 1] = p1;
                            sum += p0 + p1;
                        }
                        // l holds this lane's partial sum; the quad's partials are added once at the end.
                        l[mt][i] = l[mt][i] * alpha + sum;
#pragma unroll
                        for (int j = 0; j < DT; ++j) {
                            o[mt][j][2 * i] *= alpha;
                            o[mt][j][2 * i + 1] *= alpha;
                        }
                    }
                }
            }

            // O += P V: the C fragments of n8 tiles 2kk and 2kk + 1 are the A fragment of k16 step kk.
#pragma unroll
            for (int kk = 0; kk < KN; ++kk) {
                uint32_t a[MT][4];
#pragma unroll
                for (int mt = 0; mt < MT; ++mt) {
                    a[mt][0] = pack2<T>(s[mt][2 * kk][0], s[mt][2 * kk][1]);
                    a[mt][1] = pack2<T>(s[mt][2 * kk][2], s[mt][2 * kk][3]);
                    a[mt][2] = pack2<T>(s[mt][2 * kk + 1][0], s[mt][2 * kk + 1][1]);
                    a[mt][3] = pack2<T>(s[mt][2 * kk + 1][2], s[mt][2 * kk + 1][3]);
                }
#pragma unroll
                for (int j = 0; j < DT; j += 2) {
                    // matrices (transposed): (keys 0-7, d 0-7), (keys 8-15, d 0-7), (keys 0-7, d 8-15),
                    // (keys 8-15, d 8-15)
                    uint32_t b0, b1, b2, b3;
                    ldsm_x4_trans(tV + swz<D>(kk * 16 + lrow + (mat & 1) * 8, j + (mat >> 1)), b0, b1, b2, b3);
#pragma unroll
                    for (int mt = 0; mt < MT; ++mt) {
                        mma16816<T>(o[mt][j], a[mt], b0, b1);
                        mma16816<T>(o[mt][j + 1], a[mt], b2, b3);
                    }
                }
            }
            // BASE: every warp is done with buffer `buf` before the next iteration refills it (TUNED: the next
            // iteration's barrier, before its prefetch, does this).
            if constexpr (!TUNED_PATH) __syncthreads();
        }
        cp_async_wait<0>();
    }

    // out = O / l (zeros for a row that saw no key); lse = ln(sum exp) = (m + log2 l) * ln 2.
#pragma unroll
    for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
        for (int i = 0; i < 2; ++i) {
            float sum = l[mt][i];
            sum += __shfl_xor_sync(0xffffffffu, sum, 1);
            sum += __shfl_xor_sync(0xffffffffu, sum, 2);
            const float inv = sum > 0.f ? 1.f / sum : 0.f;
            const int r = warp * 16 * MT + mt * 16 + g + 8 * i;
            if (r < rows) {
                T *dst = out + (long long) (qs + r0 + r) * q_stride + (long long) h * head_dim;
#pragma unroll
                for (int j = 0; j < DT; ++j) {
                    const int c = j * 8 + 2 * t;
                    if (c < head_dim) {
                        *reinterpret_cast<uint32_t *>(dst + c) =
                                pack2<T>(o[mt][j][2 * i] * inv, o[mt][j][2 * i + 1] * inv);
                    }
                }
                if (lse != nullptr && t == 0) {
                    lse[(long long) h * total_q + qs + r0 + r] =
                            sum > 0.f ? (m[mt][i] + log2f(sum)) * LN2 : -INFINITY;
                }
            }
        }
    }
}

}  // namespace vramkit_fa2

// Entry points, one line each for scripts/build-kernels' manifest, per variant (the host's vramkit.prefill.variant),
// type and padded head dimension D (head_dim a multiple of 8 with head_dim <= D; the host picks D = 64 up to 64,
// else 128); 128 threads, BN = 64 keys per tile:
//   vramkit_fa2_prefill_<type>_d<D>   BASE:  4 warps of 2 m16 tiles, BM = 128, grid.x = ceil(max Lq / 128), dynamic
//                                     shared memory (BM + 4 * BN) * D * 2 bytes: 48 KiB (D = 64), 96 KiB (D = 128);
//   vramkit_fa2t_prefill_<type>_d<D>  TUNED: the same tiles and shared memory; the host takes it only for scale > 0;
//   vramkit_fa2q_prefill_<type>_d<D>  QREG:  4 warps of 1 m16 tile, BM = 64, grid.x = ceil(max Lq / 64), dynamic
//                                     shared memory 4 * BN * D * 2 bytes: 32 KiB (D = 64), 64 KiB (D = 128), at most
//                                     168 registers so three blocks fit an SM; scale > 0 only, as TUNED.
#define VRAMKIT_FA2_ARGS(T) const T *q, const T *k, const T *v, T *out, float *lse, const int *cu_q, \
        const int *cu_k, int total_q, int heads, int kv_heads, int head_dim, float scale, int causal, \
        int window_left, int window_right
#define VRAMKIT_FA2_CALL q, k, v, out, lse, cu_q, cu_k, total_q, heads, kv_heads, head_dim, scale, causal, \
        window_left, window_right

extern "C" __global__ void __launch_bounds__(128) vramkit_fa2_prefill_bf16_d64(VRAMKIT_FA2_ARGS(__nv_bfloat16)) {
    vramkit_fa2::prefill<__nv_bfloat16, 64, 2, 64, vramkit_fa2::BASE>(VRAMKIT_FA2_CALL);
}

extern "C" __global__ void __launch_bounds__(128) vramkit_fa2_prefill_bf16_d128(VRAMKIT_FA2_ARGS(__nv_bfloat16)) {
    vramkit_fa2::prefill<__nv_bfloat16, 128, 2, 64, vramkit_fa2::BASE>(VRAMKIT_FA2_CALL);
}

extern "C" __global__ void __launch_bounds__(128) vramkit_fa2_prefill_f16_d64(VRAMKIT_FA2_ARGS(__half)) {
    vramkit_fa2::prefill<__half, 64, 2, 64, vramkit_fa2::BASE>(VRAMKIT_FA2_CALL);
}

extern "C" __global__ void __launch_bounds__(128) vramkit_fa2_prefill_f16_d128(VRAMKIT_FA2_ARGS(__half)) {
    vramkit_fa2::prefill<__half, 128, 2, 64, vramkit_fa2::BASE>(VRAMKIT_FA2_CALL);
}

extern "C" __global__ void __launch_bounds__(128) vramkit_fa2t_prefill_bf16_d64(VRAMKIT_FA2_ARGS(__nv_bfloat16)) {
    vramkit_fa2::prefill<__nv_bfloat16, 64, 2, 64, vramkit_fa2::TUNED>(VRAMKIT_FA2_CALL);
}

extern "C" __global__ void __launch_bounds__(128) vramkit_fa2t_prefill_bf16_d128(VRAMKIT_FA2_ARGS(__nv_bfloat16)) {
    vramkit_fa2::prefill<__nv_bfloat16, 128, 2, 64, vramkit_fa2::TUNED>(VRAMKIT_FA2_CALL);
}

extern "C" __global__ void __launch_bounds__(128) vramkit_fa2t_prefill_f16_d64(VRAMKIT_FA2_ARGS(__half)) {
    vramkit_fa2::prefill<__half, 64, 2, 64, vramkit_fa2::TUNED>(VRAMKIT_FA2_CALL);
}

extern "C" __global__ void __launch_bounds__(128) vramkit_fa2t_prefill_f16_d128(VRAMKIT_FA2_ARGS(__half)) {
    vramkit_fa2::prefill<__half, 128, 2, 64, vramkit_fa2::TUNED>(VRAMKIT_FA2_CALL);
}

extern "C" __global__ void __launch_bounds__(128, 3) vramkit_fa2q_prefill_bf16_d64(VRAMKIT_FA2_ARGS(__nv_bfloat16)) {
    vramkit_fa2::prefill<__nv_bfloat16, 64, 1, 64, vramkit_fa2::QREG>(VRAMKIT_FA2_CALL);
}

extern "C" __global__ void __launch_bounds__(128, 3) vramkit_fa2q_prefill_bf16_d128(VRAMKIT_FA2_ARGS(__nv_bfloat16)) {
    vramkit_fa2::prefill<__nv_bfloat16, 128, 1, 64, vramkit_fa2::QREG>(VRAMKIT_FA2_CALL);
}

extern "C" __global__ void __launch_bounds__(128, 3) vramkit_fa2q_prefill_f16_d64(VRAMKIT_FA2_ARGS(__half)) {
    vramkit_fa2::prefill<__half, 64, 1, 64, vramkit_fa2::QREG>(VRAMKIT_FA2_CALL);
}

extern "C" __global__ void __launch_bounds__(128, 3) vramkit_fa2q_prefill_f16_d128(VRAMKIT_FA2_ARGS(__half)) {
    vramkit_fa2::prefill<__half, 128, 1, 64, vramkit_fa2::QREG>(VRAMKIT_FA2_CALL);
}
