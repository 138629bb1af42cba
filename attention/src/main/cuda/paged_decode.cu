// Decode attention over a paged KV cache, split-KV with a logsumexp merge, GQA packed. Semantics match
// io.vramkit.attention.PagedDecodeAttention and the layout of io.vramkit.attention.KvCacheView:
//   K and V caches [numBlocks, blockSize, kvHeads, headDim]; token t of sequence b lives in block
//   block_tables[b * max_blocks + t / blockSize], slot t % blockSize; INT8/FP8 codes carry FP32 scales
//   [numBlocks, kvHeads] (value = code x scale).
// The query of sequence b sits at position context_lens[b] - 1 and sees keys max(0, ctx-1-window_left) .. ctx-1.
//
// Launch vramkit_paged_decode_<q>_<kv>: grid (max_splits, kvHeads, batch), 128 threads (4 warps). One block reads
// one KV head once for all heads/kvHeads (<= 8) query heads sharing it; each lane owns head_dim / 32 (<= 8)
// elements, each warp walks every fourth key of the split with its own online softmax, and the warps are merged
// through shared memory. With more than one split for a sequence the block writes a partial
// [m, l, o[head_dim]] to partials[((b * heads + h) * max_splits + split) * (head_dim + 2)] and
// vramkit_paged_decode_merge_<q> (grid (heads, batch, ceil(head_dim / 32)), 128 threads) combines them.
// vramkit_paged_decode_vec_<kv>_g<G> (below) is the fast path for head_dim a multiple of 8 in 32..256, with the same
// grid, partials and merge; the kernel above stays the path for every other shape.
#include "attention_common.cuh"

namespace vramkit_decode {

constexpr int WARPS = 4;
constexpr int THREADS = WARPS * 32;
constexpr int MAX_G = 8;
constexpr int PER_LANE = 8;  // head_dim <= 256

enum KvKind { KV_F32 = 0, KV_F16 = 1, KV_BF16 = 2, KV_I8 = 3, KV_E4M3 = 4, KV_E5M2 = 5 };

template <int KV>
__device__ __forceinline__ float kv_load(const void *base, long long i) {
    if constexpr (KV == KV_F32) {
        return static_cast<const float *>(base)[i];
    } else if constexpr (KV == KV_F16) {
        return __half2float(static_cast<const __half *>(base)[i]);
    } else if constexpr (KV == KV_BF16) {
        return __bfloat162float(static_cast<const __nv_bfloat16 *>(base)[i]);
    } else if constexpr (KV == KV_I8) {
        return (float) static_cast<const int8_t *>(base)[i];
    } else {
        const __nv_fp8_storage_t code = static_cast<const __nv_fp8_storage_t *>(base)[i];
        return __half2float(__half(__nv_cvt_fp8_to_halfraw(code, KV == KV_E4M3 ? __NV_E4M3 : __NV_E5M2)));
    }
}

__device__ __forceinline__ int num_splits(int ctx, int first, int split_tokens) {
    return ctx == 0 ? 1 : (ctx - first + split_tokens - 1) / split_tokens;
}

// The keys [lo, hi) of split `split` of sequence b (the window's first key on), and the sequence's split count;
// false when that split does not exist (the grid is sized for the longest context).
__device__ __forceinline__ bool decode_split(const int *__restrict__ context_lens, int b, int split, int split_tokens,
                                             int window_left, int &lo, int &hi, int &splits) {
    const int ctx = context_lens[b];
    const int first = window_left < 0 ? 0 : max(0, ctx - 1 - window_left);
    splits = num_splits(ctx, first, split_tokens);
    lo = first + split * split_tokens;
    hi = min(ctx, lo + split_tokens);
    return split < splits;
}

template <typename T, int KV>
__device__ void paged_decode(const T *__restrict__ q, const void *__restrict__ kc, const void *__restrict__ vc,
                             const float *__restrict__ k_scales, const float *__restrict__ v_scales,
                             const int *__restrict__ block_tables, int max_blocks, const int *__restrict__ context_lens,
                             T *__restrict__ out, float *__restrict__ lse, float *__restrict__ partials,
                             int batch, int heads, int kv_heads, int head_dim, int block_size, int split_tokens,
                             int max_splits, float scale, int window_left, float softcap) {
    __shared__ float s_m[WARPS][MAX_G];
    __shared__ float s_l[WARPS][MAX_G];
    __shared__ float s_acc[WARPS][MAX_G][PER_LANE * 32];
    constexpr bool QUANT = KV == KV_I8 || KV == KV_E4M3 || KV == KV_E5M2;
    const int b = blockIdx.z;
    const int kvh = blockIdx.y;
    const int split = blockIdx.x;
    const int g = heads / kv_heads;
    int lo;
    int hi;
    int splits;
    if (!decode_split(context_lens, b, split, split_tokens, window_left, lo, hi, splits)) return;
    const int warp = threadIdx.x >> 5;
    const int lane = threadIdx.x & 31;

    float qv[MAX_G][PER_LANE];
    float m[MAX_G];
    float l[MAX_G];
    float acc[MAX_G][PER_LANE];
#pragma unroll
    for (int gi = 0; gi < MAX_G; ++gi) {
        m[gi] = -INFINITY;
        l[gi] = 0.f;
#pragma unroll
        for (int e = 0; e < PER_LANE; ++e) {
            const int c = lane + 32 * e;
            acc[gi][e] = 0.f;
            qv[gi][e] = (gi < g && c < head_dim)
                            ? vramkit::to_float(q[((long long) b * heads + kvh * g + gi) * head_dim + c]) * scale
                            : 0.f;
        }
    }
    const int *table = block_tables + (long long) b * max_blocks;
    for (int t = lo + warp; t < hi; t += WARPS) {
        const int block = table[t / block_size];
        const long long row = (((long long) block * block_size + t % block_size) * kv_heads + kvh) * head_dim;
        const float ks = QUANT ? k_scales[(long long) block * kv_heads + kvh] : 1.f;
        const float vs = QUANT ? v_scales[(long long) block * kv_heads + kvh] : 1.f;
        float kx[PER_LANE];
        float vx[PER_LANE];
#pragma unroll
        for (int e = 0; e < PER_LANE; ++e) {
            const int c = lane + 32 * e;
            kx[e] = c < head_dim ? kv_load<KV>(kc, row + c) * ks : 0.f;
            vx[e] = c < head_dim ? kv_load<KV>(vc, row + c) * vs : 0.f;
        }
#pragma unroll
        for (int gi = 0; gi < MAX_G; ++gi) {
            if (gi >= g) break;
            float s = 0.f;
#pragma unroll
            for (int e = 0; e < PER_LANE; ++e) s = fmaf(qv[gi][e], kx[e], s);
#pragma unroll
            for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
            s = vramkit::softcap_logit(s, softcap);
            const float m_new = fmaxf(m[gi], s);
            const float alpha = m[gi] == -INFINITY ? 0.f : __expf(m[gi] - m_new);
            const float p = __expf(s - m_new);
            l[gi] = l[gi] * alpha + p;
#pragma unroll
            for (int e = 0; e < PER_LANE; ++e) acc[gi][e] = fmaf(p, vx[e], acc[gi][e] * alpha);
            m[gi] = m_new;
        }
    }
#pragma unroll
    for (int gi = 0; gi < MAX_G; ++gi) {
        if (lane == 0) {
            s_m[warp][gi] = m[gi];
            s_l[warp][gi] = l[gi];
        }
#pragma unroll
        for (int e = 0; e < PER_LANE; ++e) s_acc[warp][gi][lane + 32 * e] = acc[gi][e];
    }
    __syncthreads();
    for (int gi = 0; gi < g; ++gi) {
        float mm = -INFINITY;
        for (int w = 0; w < WARPS; ++w) mm = fmaxf(mm, s_m[w][gi]);
        float f[WARPS];
        float ll = 0.f;
        for (int w = 0; w < WARPS; ++w) {
            f[w] = s_m[w][gi] == -INFINITY ? 0.f : __expf(s_m[w][gi] - mm);
            ll += f[w] * s_l[w][gi];
        }
        const int h = kvh * g + gi;
        for (int c = threadIdx.x; c < head_dim; c += THREADS) {
            float o = 0.f;
            for (int w = 0; w < WARPS; ++w) o = fmaf(f[w], s_acc[w][gi][c], o);
            if (splits == 1) {
                out[((long long) b * heads + h) * head_dim + c] = vramkit::from_float<T>(ll > 0.f ? o / ll : 0.f);
            } else {
                partials[(((long long) b * heads + h) * max_splits + split) * (head_dim + 2) + 2 + c] = o;
            }
        }
        if (threadIdx.x == 0) {
            if (splits == 1) {
                if (lse != nullptr) lse[(long long) h * batch + b] = ll > 0.f ? mm + logf(ll) : -INFINITY;
            } else {
                float *p = partials + (((long long) b * heads + h) * max_splits + split) * (head_dim + 2);
                p[0] = mm;
                p[1] = ll;
            }
        }
    }
}

// Block-wide max (MAX) or sum of one value per thread; red holds one float per warp. Every thread returns the result.
template <bool MAX>
__device__ __forceinline__ float merge_block_reduce(float x, float *red) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        const float y = __shfl_xor_sync(0xffffffffu, x, o);
        x = MAX ? fmaxf(x, y) : x + y;
    }
    const int warps = (blockDim.x + 31) >> 5;
    if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = x;
    __syncthreads();
    x = red[0];
    for (int w = 1; w < warps; ++w) x = MAX ? fmaxf(x, red[w]) : x + red[w];
    __syncthreads();  // red is reused by the next reduction
    return x;
}

// Combines the splits of one (head, sequence) for the 32 output columns blockIdx.z * 32 .. + 31 (grid
// (heads, batch, ceil(head_dim / 32)), MERGE_THREADS threads), so a batch of one still spreads over
// heads x head_dim / 32 blocks. The threads stride over the splits for the max and the sum (each block of a row
// repeats this: 2 floats per split, cheap next to the 32 columns it reads); then warp w takes splits w, w + 4, ...,
// each lane one column, so every load of a warp is one 128-byte line and a lane's loads are independent of each
// other; the 4 warps' sums are added through shared memory.
constexpr int MERGE_THREADS = 128;
constexpr int MERGE_COLUMNS = 32;

template <typename T>
__device__ void paged_decode_merge(const int *__restrict__ context_lens, const float *__restrict__ partials,
                                   T *__restrict__ out, float *__restrict__ lse, int batch, int heads,
                                   int head_dim, int split_tokens, int max_splits, int window_left) {
    __shared__ float s_red[32];
    __shared__ float s_o[MERGE_THREADS / 32][MERGE_COLUMNS];
    const int h = blockIdx.x;
    const int b = blockIdx.y;
    const int ctx = context_lens[b];
    const int first = window_left < 0 ? 0 : max(0, ctx - 1 - window_left);
    const int splits = num_splits(ctx, first, split_tokens);
    if (splits <= 1) return;
    const long long stride = head_dim + 2;
    const float *base = partials + ((long long) b * heads + h) * max_splits * stride;
    float mm = -INFINITY;
    for (int s = threadIdx.x; s < splits; s += MERGE_THREADS) mm = fmaxf(mm, base[s * stride]);
    mm = merge_block_reduce<true>(mm, s_red);
    // mm is finite whenever ll > 0; otherwise every split was empty and the output is zero
    const float mref = mm == -INFINITY ? 0.f : mm;
    float ll = 0.f;
    for (int s = threadIdx.x; s < splits; s += MERGE_THREADS) {
        // an empty split has m = -inf, l = 0 and o = 0: its weight __expf(-inf) is 0
        ll += __expf(base[s * stride] - mref) * base[s * stride + 1];
    }
    ll = merge_block_reduce<false>(ll, s_red);
    const int warp = threadIdx.x >> 5;
    const int lane = threadIdx.x & 31;
    const int c = blockIdx.z * MERGE_COLUMNS + lane;
    float o = 0.f;
    if (c < head_dim) {
#pragma unroll 8
        for (int s = warp; s < splits; s += MERGE_THREADS / 32) {
            o = fmaf(__expf(base[s * stride] - mref), base[s * stride + 2 + c], o);
        }
    }
    s_o[warp][lane] = o;
    __syncthreads();
    if (warp == 0 && c < head_dim) {
        float sum = 0.f;
#pragma unroll
        for (int w = 0; w < MERGE_THREADS / 32; ++w) sum += s_o[w][lane];
        out[((long long) b * heads + h) * head_dim + c] = vramkit::from_float<T>(ll > 0.f ? sum / ll : 0.f);
    }
    if (threadIdx.x == 0 && blockIdx.z == 0 && lse != nullptr) {
        lse[(long long) h * batch + b] = ll > 0.f ? mm + logf(ll) : -INFINITY;
    }
}

// ---- Vectorized path: head_dim a multiple of 8 in 32..256, KV base addresses 16-byte aligned ----
//
// Same grid, threads and partial layout as paged_decode (so the same merge kernel runs after it). Each warp runs its
// own pipeline: its lanes copy KV rows with cp.async into VEC_STAGES shared-memory stages (VEC_STAGES - 1 in flight
// while it computes one), so the bytes in flight do not depend on registers. A token's row is cut into pieces of
// 8 elements (16 bytes for FP16/BF16, 32 for FP32, 8 for INT8/FP8); lanes_per_token = next power of two of
// head_dim / 8, and each warp row holds 32 / lanes_per_token tokens. Every lane reads back only the pieces it copied
// itself (K and V slots are lane-major), so no barrier is needed except for the per-token scales of INT8/FP8, which
// one lane of each token copies for all. Chunks of VEC_ROWS rows (VEC_ROWS x tokens_per_row tokens) are dealt
// round-robin to the 4 warps; each lane keeps an online softmax per query head for its token slot, updated once per
// group of up to 4 rows. At the end the token slots of a warp are merged with shuffles and the 4 warps through
// shared memory, as in paged_decode.
constexpr int VEC_STAGES = 3;
constexpr int VEC_LANE_BYTES = 64;  // bytes of K (and as many of V) each lane copies per chunk
constexpr int VEC_MAX_TPR = 8;      // tokens per warp row at head_dim 32..64 (lanes_per_token >= 4)

template <int KV> __host__ __device__ constexpr int vec_elem_bytes() {
    return KV == KV_F32 ? 4 : (KV == KV_F16 || KV == KV_BF16) ? 2 : 1;
}
template <int KV> __host__ __device__ constexpr int vec_rows() { return VEC_LANE_BYTES / (8 * vec_elem_bytes<KV>()); }
template <int KV> __host__ __device__ constexpr bool vec_quant() {
    return KV == KV_I8 || KV == KV_E4M3 || KV == KV_E5M2;
}
// Bytes of one warp's stage: K and V pieces, then (INT8/FP8) K and V scales [rows][VEC_MAX_TPR].
template <int KV> __host__ __device__ constexpr int vec_stage_bytes() {
    return 2 * 32 * VEC_LANE_BYTES + (vec_quant<KV>() ? 2 * vec_rows<KV>() * VEC_MAX_TPR * 4 : 0);
}
// Dynamic shared memory of a block; CudaAttention.decodeSharedBytes mirrors it.
template <int KV> __host__ __device__ constexpr int vec_shared_bytes() {
    return WARPS * VEC_STAGES * vec_stage_bytes<KV>();
}
static_assert(WARPS * MAX_G * (PER_LANE * 32 + 2) * 4 <= vec_shared_bytes<KV_BF16>(), "merge area fits the stages");

__device__ __forceinline__ unsigned vec_smem_addr(const void *p) {
    return static_cast<unsigned>(__cvta_generic_to_shared(p));
}

// Copies BYTES (4, 8 or 16) from global src to shared dst asynchronously; when !valid it writes zeros and reads
// nothing.
template <int BYTES>
__device__ __forceinline__ void vec_cp_async(void *dst, const void *src, bool valid) {
    const unsigned d = vec_smem_addr(dst);
    const int n = valid ? BYTES : 0;
    if constexpr (BYTES == 16) {
        asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(d), "l"(src), "r"(n) : "memory");
    } else {
        asm volatile("cp.async.ca.shared.global [%0], [%1], %2, %3;\n" ::"r"(d), "l"(src), "n"(BYTES), "r"(n)
                     : "memory");
    }
}
__device__ __forceinline__ void vec_cp_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
template <int N> __device__ __forceinline__ void vec_cp_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

// The 8 elements of one piece in shared memory, as floats (codes for INT8/FP8: the scale is applied per token).
template <int KV>
__device__ __forceinline__ void vec_unpack(const unsigned char *p, float (&x)[8]) {
    if constexpr (KV == KV_F32) {
        const float4 a = reinterpret_cast<const float4 *>(p)[0];
        const float4 c = reinterpret_cast<const float4 *>(p)[1];
        x[0] = a.x; x[1] = a.y; x[2] = a.z; x[3] = a.w;
        x[4] = c.x; x[5] = c.y; x[6] = c.z; x[7] = c.w;
    } else if constexpr (KV == KV_F16 || KV == KV_BF16) {
        const uint4 u = *reinterpret_cast<const uint4 *>(p);
        const unsigned w[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            float2 f;
            if constexpr (KV == KV_F16) {
                f = __half22float2(*reinterpret_cast<const __half2 *>(&w[i]));
            } else {
                f = make_float2(__uint_as_float(w[i] << 16), __uint_as_float(w[i] & 0xffff0000u));
            }
            x[2 * i] = f.x;
            x[2 * i + 1] = f.y;
        }
    } else if constexpr (KV == KV_I8) {
        // Signed bytes to floats without I2F, which issues at a quarter of the FP32 rate or less and was the INT8
        // kernel's limit: flipping each byte's sign bit gives the code + 128 as an unsigned byte; a byte permute
        // puts it in the low mantissa bits of 2^23 (0x4B0000bb reads as 2^23 + b), and subtracting 2^23 + 128
        // leaves the code, exactly.
        const uint2 u = *reinterpret_cast<const uint2 *>(p);
        const unsigned lo = u.x ^ 0x80808080u;
        const unsigned hi = u.y ^ 0x80808080u;
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            x[i] = __uint_as_float(__byte_perm(lo, 0x4B000000u, 0x7540u | i)) - 8388736.0f;
            x[4 + i] = __uint_as_float(__byte_perm(hi, 0x4B000000u, 0x7540u | i)) - 8388736.0f;
        }
    } else {
        const uint2 u = *reinterpret_cast<const uint2 *>(p);
        const unsigned w[2] = {u.x, u.y};
#pragma unroll
        for (int i = 0; i < 2; ++i) {
#pragma unroll
            for (int j = 0; j < 2; ++j) {
                const __nv_fp8x2_storage_t pair = static_cast<__nv_fp8x2_storage_t>(w[i] >> (16 * j));
                const __half2 h = __half2(__nv_cvt_fp8x2_to_halfraw2(pair, KV == KV_E4M3 ? __NV_E4M3 : __NV_E5M2));
                const float2 f = __half22float2(h);
                x[4 * i + 2 * j] = f.x;
                x[4 * i + 2 * j + 1] = f.y;
            }
        }
    }
}

__device__ __forceinline__ float vec_load_q(const void *q, int q_type, long long i) {
    if (q_type == 0) return static_cast<const float *>(q)[i];
    if (q_type == 1) return __half2float(static_cast<const __half *>(q)[i]);
    return __bfloat162float(static_cast<const __nv_bfloat16 *>(q)[i]);
}

__device__ __forceinline__ void vec_store_out(void *out, int q_type, long long i, float x) {
    if (q_type == 0) {
        static_cast<float *>(out)[i] = x;
    } else if (q_type == 1) {
        static_cast<__half *>(out)[i] = __float2half_rn(x);
    } else {
        static_cast<__nv_bfloat16 *>(out)[i] = __float2bfloat16_rn(x);
    }
}

// The end of a vectorized or tensor-core decode block, once each warp has put its running max, sum and output
// (unnormalized) in shared memory: s_m and s_l [WARPS][G], s_acc [WARPS][G][head_dim]. Merges the 4 warps for each of
// the g query heads and writes the output and logsumexp (one split) or the split's partial [m, l, o].
template <int G>
__device__ __forceinline__ void decode_finish(const float *s_m, const float *s_l, const float *s_acc, int g, int kvh,
                                              int b, int batch, int heads, int head_dim, int split, int splits,
                                              int max_splits, int q_type, void *__restrict__ out,
                                              float *__restrict__ lse, float *__restrict__ partials) {
    for (int gi = 0; gi < g; ++gi) {
        float mm = -INFINITY;
        for (int w = 0; w < WARPS; ++w) mm = fmaxf(mm, s_m[w * G + gi]);
        const float mref = mm == -INFINITY ? 0.f : mm;
        float f[WARPS];
        float ll = 0.f;
        for (int w = 0; w < WARPS; ++w) {
            f[w] = __expf(s_m[w * G + gi] - mref);
            ll += f[w] * s_l[w * G + gi];
        }
        const int h = kvh * g + gi;
        for (int c = threadIdx.x; c < head_dim; c += THREADS) {
            float o = 0.f;
            for (int w = 0; w < WARPS; ++w) o = fmaf(f[w], s_acc[(w * G + gi) * head_dim + c], o);
            if (splits == 1) {
                vec_store_out(out, q_type, ((long long) b * heads + h) * head_dim + c, ll > 0.f ? o / ll : 0.f);
            } else {
                partials[(((long long) b * heads + h) * max_splits + split) * (head_dim + 2) + 2 + c] = o;
            }
        }
        if (threadIdx.x == 0) {
            if (splits == 1) {
                if (lse != nullptr) lse[(long long) h * batch + b] = ll > 0.f ? mm + logf(ll) : -INFINITY;
            } else {
                float *p = partials + (((long long) b * heads + h) * max_splits + split) * (head_dim + 2);
                p[0] = mm;
                p[1] = ll;
            }
        }
    }
}

// KV: the cache type; G: query heads per KV head rounded up to 1, 2, 4 or 8 (heads gi >= g compute on zeros).
// q_type: 0 FP32, 1 FP16, 2 BF16 (query and output).
template <int KV, int G>
__device__ void paged_decode_vec(const void *__restrict__ q, int q_type, const void *__restrict__ kc,
                                 const void *__restrict__ vc, const float *__restrict__ k_scales,
                                 const float *__restrict__ v_scales, const int *__restrict__ block_tables,
                                 int max_blocks, const int *__restrict__ context_lens, void *__restrict__ out,
                                 float *__restrict__ lse, float *__restrict__ partials, int batch, int heads,
                                 int kv_heads, int head_dim, int block_size, int split_tokens, int max_splits,
                                 float scale, int window_left, float softcap) {
    constexpr int ES = vec_elem_bytes<KV>();
    constexpr int PB = 8 * ES;                // bytes of a piece
    constexpr int ROWS = vec_rows<KV>();      // warp rows per chunk
    constexpr int RB = ROWS < 4 ? ROWS : 4;   // rows per softmax update
    constexpr bool QUANT = vec_quant<KV>();
    constexpr int STAGE = vec_stage_bytes<KV>();
    extern __shared__ __align__(16) unsigned char vec_smem[];

    const int b = blockIdx.z;
    const int kvh = blockIdx.y;
    const int split = blockIdx.x;
    const int g = heads / kv_heads;
    int lo;
    int hi;
    int splits;
    if (!decode_split(context_lens, b, split, split_tokens, window_left, lo, hi, splits)) return;
    const int warp = threadIdx.x >> 5;
    const int lane = threadIdx.x & 31;

    const int pieces = head_dim >> 3;
    int lpt = 4;  // lanes per token: a power of two >= pieces (head_dim >= 32)
    while (lpt < pieces) lpt <<= 1;
    const int tpr = 32 / lpt;                 // tokens per warp row (<= VEC_MAX_TPR)
    const int piece = lane & (lpt - 1);
    const int slot = lane / lpt;              // this lane's token in each row
    const bool active = piece < pieces;       // lanes past the row's pieces copy zeros and add nothing
    const int chunk_tokens = ROWS * tpr;
    const int chunks = (hi - lo + chunk_tokens - 1) / chunk_tokens;
    const int my_chunks = chunks > warp ? (chunks - warp + WARPS - 1) / WARPS : 0;

    float qv[G][8];
    float m[G];
    float l[G];
    float acc[G][8];
#pragma unroll
    for (int gi = 0; gi < G; ++gi) {
        m[gi] = -INFINITY;
        l[gi] = 0.f;
#pragma unroll
        for (int e = 0; e < 8; ++e) {
            acc[gi][e] = 0.f;
            qv[gi][e] = (gi < g && active)
                            ? vec_load_q(q, q_type, ((long long) b * heads + kvh * g + gi) * head_dim + piece * 8 + e)
                                  * scale
                            : 0.f;
        }
    }

    const int *table = block_tables + (long long) b * max_blocks;
    unsigned char *wbase = vec_smem + warp * (VEC_STAGES * STAGE);
    const long long head_off = (long long) kvh * head_dim + piece * 8;  // elements, within a token's row

    // Queues the warp's chunk i (nothing past its last chunk) into stage st, as one cp.async group.
    auto issue = [&](int i, int st) {
        if (i < my_chunks) {
            unsigned char *sk = wbase + st * STAGE;
            unsigned char *sv = sk + 32 * VEC_LANE_BYTES;
            float *ssk = reinterpret_cast<float *>(sv + 32 * VEC_LANE_BYTES);
            float *ssv = ssk + ROWS * VEC_MAX_TPR;
            if constexpr (QUANT) __syncwarp();  // every lane has read this stage's scales (two chunks ago)
            const int t0 = lo + (warp + WARPS * i) * chunk_tokens + slot;
            int bi = t0 / block_size;           // block index and slot of this lane's token, advanced per row
            int bo = t0 - bi * block_size;
#pragma unroll
            for (int r = 0; r < ROWS; ++r) {
                const int t = t0 + r * tpr;
                const bool in = t < hi;
                int blk = 0;
                if (in) blk = table[bi];
                const long long off = (((long long) blk * block_size + bo) * kv_heads) * head_dim + head_off;
                const unsigned char *kp = static_cast<const unsigned char *>(kc) + off * ES;
                const unsigned char *vp = static_cast<const unsigned char *>(vc) + off * ES;
                const bool valid = in && active;
                unsigned char *dk = sk + (r * 32 + lane) * PB;
                unsigned char *dv = sv + (r * 32 + lane) * PB;
                if constexpr (PB == 32) {
                    vec_cp_async<16>(dk, kp, valid);
                    vec_cp_async<16>(dk + 16, kp + 16, valid);
                    vec_cp_async<16>(dv, vp, valid);
                    vec_cp_async<16>(dv + 16, vp + 16, valid);
                } else {
                    vec_cp_async<PB>(dk, kp, valid);
                    vec_cp_async<PB>(dv, vp, valid);
                }
                if constexpr (QUANT) {
                    if (piece == 0) {
                        const long long si = (long long) blk * kv_heads + kvh;
                        vec_cp_async<4>(ssk + r * VEC_MAX_TPR + slot, k_scales + si, in);
                        vec_cp_async<4>(ssv + r * VEC_MAX_TPR + slot, v_scales + si, in);
                    }
                }
                bo += tpr;
                while (bo >= block_size) {
                    bo -= block_size;
                    ++bi;
                }
            }
        }
        vec_cp_commit();
    };

#pragma unroll
    for (int i = 0; i < VEC_STAGES - 1; ++i) issue(i, i);
    for (int i = 0; i < my_chunks; ++i) {
        issue(i + VEC_STAGES - 1, (i + VEC_STAGES - 1) % VEC_STAGES);
        vec_cp_wait<VEC_STAGES - 1>();  // chunk i has landed (the newer VEC_STAGES - 1 may still be in flight)
        if constexpr (QUANT) __syncwarp();  // scales copied by other lanes are visible
        const int st = i % VEC_STAGES;
        const unsigned char *sk = wbase + st * STAGE;
        const unsigned char *sv = sk + 32 * VEC_LANE_BYTES;
        const float *ssk = reinterpret_cast<const float *>(sv + 32 * VEC_LANE_BYTES);
        const float *ssv = ssk + ROWS * VEC_MAX_TPR;
        const int t0 = lo + (warp + WARPS * i) * chunk_tokens + slot;
#pragma unroll
        for (int r0 = 0; r0 < ROWS; r0 += RB) {
            float s[RB][G];
#pragma unroll
            for (int r = 0; r < RB; ++r) {
                float kx[8];
                vec_unpack<KV>(sk + ((r0 + r) * 32 + lane) * PB, kx);
#pragma unroll
                for (int gi = 0; gi < G; ++gi) {
                    float d = 0.f;
#pragma unroll
                    for (int e = 0; e < 8; ++e) d = fmaf(qv[gi][e], kx[e], d);
                    s[r][gi] = d;
                }
            }
            // sum each token's pieces over its lpt lanes (uniform loop: every lane takes part)
#pragma unroll
            for (int o = 16; o > 0; o >>= 1) {
                if (o < lpt) {
#pragma unroll
                    for (int r = 0; r < RB; ++r) {
#pragma unroll
                        for (int gi = 0; gi < G; ++gi) s[r][gi] += __shfl_xor_sync(0xffffffffu, s[r][gi], o);
                    }
                }
            }
            float vsc[RB];
#pragma unroll
            for (int r = 0; r < RB; ++r) {
                const bool in = t0 + (r0 + r) * tpr < hi;
                const float ks = QUANT ? ssk[(r0 + r) * VEC_MAX_TPR + slot] : 1.f;
                vsc[r] = QUANT ? ssv[(r0 + r) * VEC_MAX_TPR + slot] : 1.f;
#pragma unroll
                for (int gi = 0; gi < G; ++gi) {
                    s[r][gi] = in ? vramkit::softcap_logit(QUANT ? s[r][gi] * ks : s[r][gi], softcap) : -INFINITY;
                }
            }
#pragma unroll
            for (int gi = 0; gi < G; ++gi) {
                float mc = m[gi];
#pragma unroll
                for (int r = 0; r < RB; ++r) mc = fmaxf(mc, s[r][gi]);
                // mc is -inf only while nothing was visible yet: then every weight below is __expf(-inf) = 0
                const float mref = mc == -INFINITY ? 0.f : mc;
                const float alpha = __expf(m[gi] - mref);
                float sum = 0.f;
#pragma unroll
                for (int r = 0; r < RB; ++r) {
                    s[r][gi] = __expf(s[r][gi] - mref);
                    sum += s[r][gi];
                }
                l[gi] = fmaf(l[gi], alpha, sum);
                m[gi] = mc;
#pragma unroll
                for (int e = 0; e < 8; ++e) acc[gi][e] *= alpha;
            }
#pragma unroll
            for (int r = 0; r < RB; ++r) {
                float vx[8];
                vec_unpack<KV>(sv + ((r0 + r) * 32 + lane) * PB, vx);  // zeros past the split's end
#pragma unroll
                for (int gi = 0; gi < G; ++gi) {
                    const float p = QUANT ? s[r][gi] * vsc[r] : s[r][gi];
#pragma unroll
                    for (int e = 0; e < 8; ++e) acc[gi][e] = fmaf(p, vx[e], acc[gi][e]);
                }
            }
        }
    }
    vec_cp_wait<0>();  // only empty groups can remain; the stages become the merge area below

    // Merge the warp's token slots (lanes with the same piece) with shuffles.
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        if (o >= lpt) {
#pragma unroll
            for (int gi = 0; gi < G; ++gi) {
                const float mo = __shfl_xor_sync(0xffffffffu, m[gi], o);
                const float lo2 = __shfl_xor_sync(0xffffffffu, l[gi], o);
                const float mn = fmaxf(m[gi], mo);
                const float mref = mn == -INFINITY ? 0.f : mn;
                const float f1 = __expf(m[gi] - mref);
                const float f2 = __expf(mo - mref);
                l[gi] = l[gi] * f1 + lo2 * f2;
                m[gi] = mn;
#pragma unroll
                for (int e = 0; e < 8; ++e) {
                    const float ao = __shfl_xor_sync(0xffffffffu, acc[gi][e], o);
                    acc[gi][e] = acc[gi][e] * f1 + ao * f2;
                }
            }
        }
    }
    __syncthreads();  // every warp is done with its stages
    float *s_m = reinterpret_cast<float *>(vec_smem);        // [WARPS][G]
    float *s_l = s_m + WARPS * G;                            // [WARPS][G]
    float *s_acc = s_l + WARPS * G;                          // [WARPS][G][head_dim]
    if (lane == 0) {
#pragma unroll
        for (int gi = 0; gi < G; ++gi) {
            s_m[warp * G + gi] = m[gi];
            s_l[warp * G + gi] = l[gi];
        }
    }
    if (slot == 0 && active) {
#pragma unroll
        for (int gi = 0; gi < G; ++gi) {
#pragma unroll
            for (int e = 0; e < 8; ++e) s_acc[(warp * G + gi) * head_dim + piece * 8 + e] = acc[gi][e];
        }
    }
    __syncthreads();
    decode_finish<G>(s_m, s_l, s_acc, g, kvh, b, batch, heads, head_dim, split, splits, max_splits, q_type, out,
                     lse, partials);
}

// ---- Tensor-core path for INT8 and FP8 caches: head_dim 64, 128 or 256 ----
//
// The vectorized kernel spends about 12 instructions per K/V element pair on INT8 (an unpack of 2 and 4 FMAs for
// 4 query heads, for K and again for V) and is issue-bound at 30% of copy bandwidth (ncu: 69% of issue slots busy,
// DRAM 27%). Here both products run on mma.sync.m16n8k16 (FP16 in, FP32 accumulate), as FlashInfer does for grouped
// heads, and what is left per element is the unpack: codes become exact FP16 values (INT8: a byte permute against
// 0x64 and one f16x2 subtraction per 2 codes; FP8: one cvt per 2 codes, where the hardware has it).
//
// Per warp, tiles of 16 tokens (dealt round-robin to the 4 warps, 3-stage cp.async pipeline per warp as in the
// vectorized kernel; a lane reads back the V pieces it copied itself, while K rows and the 32 scales of a tile are
// copied by other lanes of the warp, visible after a __syncwarp that follows the wait). With lane = 4 gr + tq:
//   S^T = Q K^T  per tile: 2 n-tiles of 8 tokens x D/16 k-steps. A = Q (rows = query heads 0..7 of the KV head,
//                rows 8..15 zero), B = K^T: the lane gives token gr (+8) the dims 16 (tq + 4c) + 4e .. + 3 at
//                k-step s = 4c + e, reading 16-byte chunks tq + 4c of the token's row from the stage. The dot
//                product does not care in which order the dims are summed, so Q's fragments take the same
//                permutation. K is copied whole rows at a time, not by the lanes that read it: instruction i has
//                D/16 lanes per token, so each token's row (one head: D bytes) is one L2 request. Copies shaped
//                like the reads (4 lanes x 16 bytes per token and instruction) made two requests per row, and the
//                kernel was bound by L2 tag lookups (ncu: 90% busy, DRAM 45%) at 49% of copy. In the stage, row
//                x's chunk k sits at k ^ 4 (x & 1) (D >= 128), so a quarter warp's reads (rows 2m, 2m + 1) do not
//                share banks.
//                The lane ends with the scores of query head gr for tokens 2tq, 2tq + 1, 2tq + 8, 2tq + 9.
//   softmax      per query head gr over the tile's 16 tokens (two shuffles for the max); K scale per token, softcap,
//                tail mask; the V scale is folded into the probabilities, which become P^T's B fragment as they
//                stand (the FlashAttention-2 register reuse).
//   O^T = V^T P^T  D/16 m-tiles of 16 dims: A = V^T, whose fragment needs each dim for token pairs (2tq, 2tq + 1)
//                and (2tq + 8, 2tq + 9): the lane copies D/8 bytes of those 4 tokens' rows, in chunks of
//                CH = min(D/8, 16) bytes at CH (gr + 8c) (the 8 lanes of a token: CH x 8 contiguous bytes per
//                instruction), and byte permutes pair them. Word w of the lane's copy feeds m-tiles 2w and 2w + 1;
//                m-tile mt row gr is dim mma_vdim(gr, mt), row gr + 8 the next dim. The lane accumulates O^T for
//                those dims and query heads 2tq, 2tq + 1.
// The 4 warps then merge through shared memory as in the vectorized kernel (decode_finish), with the same grid,
// partials and merge kernel. Query rows past the group (g < 8) compute on zeros and are never written.
constexpr int MMA_STAGES = 3;
constexpr int MMA_TILE = 16;  // tokens per warp tile

template <int D> __host__ __device__ constexpr int mma_stage_bytes() { return 2 * MMA_TILE * D + 32 * 4; }
// Dynamic shared memory of a block; CudaAttention.decodeMmaSharedBytes mirrors it.
template <int D> __host__ __device__ constexpr int mma_shared_bytes() {
    return WARPS * MMA_STAGES * mma_stage_bytes<D>();
}

// c += a b, one m16n8k16 tile, FP16 operands, FP32 accumulators.
__device__ __forceinline__ void mma_f16_16816(float (&c)[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3,
                                              uint32_t b0, uint32_t b1) {
    asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

__device__ __forceinline__ uint32_t mma_half2(float lo, float hi) {
    const __half2 h = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<const uint32_t *>(&h);
}

// Bytes 0, 1 (HI = 0) or 2, 3 (HI = 1) of w as two exact FP16 values, the lower byte in the low half. INT8: the
// caller has flipped the sign bits, so each byte holds code + 128; 0x64 above it reads as 1024 + byte in FP16, and
// 1152 less is the code. FP8: the cvt of a pair (one instruction on sm_89 and later).
template <int KV, int HI> __device__ __forceinline__ uint32_t mma_pair(uint32_t w) {
    if constexpr (KV == KV_I8) {
        const uint32_t h = __byte_perm(w, 0x64646464u, HI ? 0x4342u : 0x4140u);
        uint32_t r;
        asm("sub.rn.f16x2 %0, %1, %2;\n" : "=r"(r) : "r"(h), "r"(0x64806480u));
        return r;
    } else {
        const __half2_raw h = __nv_cvt_fp8x2_to_halfraw2(static_cast<__nv_fp8x2_storage_t>(HI ? w >> 16 : w & 0xffffu),
                                                         KV == KV_E4M3 ? __NV_E4M3 : __NV_E5M2);
        return static_cast<uint32_t>(h.x) | (static_cast<uint32_t>(h.y) << 16);
    }
}

// Where 16-byte chunk k of token x's K row sits in its stage row: swizzled for D >= 128 (see paged_decode_mma).
template <int D> __device__ __forceinline__ int mma_kchunk(int x, int k) { return D >= 128 ? k ^ ((x & 1) << 2) : k; }

// First dim of the lane's K word s (k-step s): chunk s / 4 of the lane's reads, word s % 4 of the chunk.
__device__ __forceinline__ int mma_kdim(int tq, int s) { return 16 * (tq + 4 * (s >> 2)) + 4 * (s & 3); }

// Dim of O^T m-tile mt's row gr (row gr + 8 is the next dim): byte 2 mt of the lane's V copy, whose chunks of CH
// bytes sit at CH (gr + 8c) in the token's row.
template <int CH> __device__ __forceinline__ int mma_vdim(int gr, int mt) {
    return CH * (gr + 8 * ((2 * mt) / CH)) + (2 * mt) % CH;
}

template <int KV> __device__ __forceinline__ uint32_t mma_bias(uint32_t w) {
    return KV == KV_I8 ? w ^ 0x80808080u : w;
}

// KV: KV_I8, KV_E4M3 or KV_E5M2; D: head_dim (64, 128 or 256). Query groups of up to 8 heads per KV head.
template <int KV, int D>
__device__ void paged_decode_mma(const void *__restrict__ q, int q_type, const void *__restrict__ kc,
                                 const void *__restrict__ vc, const float *__restrict__ k_scales,
                                 const float *__restrict__ v_scales, const int *__restrict__ block_tables,
                                 int max_blocks, const int *__restrict__ context_lens, void *__restrict__ out,
                                 float *__restrict__ lse, float *__restrict__ partials, int batch, int heads,
                                 int kv_heads, int head_dim, int block_size, int split_tokens, int max_splits,
                                 float scale, int window_left, float softcap) {
    constexpr int KB = D / 4;              // bytes of a token's K row that a lane copies (16-byte chunks)
    constexpr int VB = D / 8;              // bytes of a token's V row that a lane copies
    constexpr int CH = VB < 16 ? VB : 16;  // V chunk bytes
    constexpr int KS = D / 16;  // k-steps of Q K^T, and m-tiles of V^T P^T
    constexpr int STAGE = mma_stage_bytes<D>();
    static_assert(WARPS * MAX_G * (D + 2) * 4 <= mma_shared_bytes<D>(), "the merge area fits the stages");
    extern __shared__ __align__(16) unsigned char mma_smem[];

    const int b = blockIdx.z;
    const int kvh = blockIdx.y;
    const int split = blockIdx.x;
    const int g = heads / kv_heads;
    int lo;
    int hi;
    int splits;
    if (!decode_split(context_lens, b, split, split_tokens, window_left, lo, hi, splits)) return;
    const int warp = threadIdx.x >> 5;
    const int lane = threadIdx.x & 31;
    const int gr = lane >> 2;
    const int tq = lane & 3;
    const int tiles = (hi - lo + MMA_TILE - 1) / MMA_TILE;
    const int my_tiles = tiles > warp ? (tiles - warp + WARPS - 1) / WARPS : 0;

    // Q's A fragments: row gr (query head kvh g + gr, zeros past the group), k-step s = dims mma_kdim(tq, s) .. + 3
    uint32_t qa[KS][2];
#pragma unroll
    for (int s = 0; s < KS; ++s) {
        float x[4] = {0.f, 0.f, 0.f, 0.f};
        if (gr < g) {
            const long long base = ((long long) b * heads + kvh * g + gr) * head_dim + mma_kdim(tq, s);
#pragma unroll
            for (int e = 0; e < 4; ++e) x[e] = vec_load_q(q, q_type, base + e) * scale;
        }
        qa[s][0] = mma_half2(x[0], x[1]);
        qa[s][1] = mma_half2(x[2], x[3]);
    }
    float o[KS][4];  // O^T m-tile mt: dims mma_vdim(gr, mt) (+1 for o[.][2..3]) x query heads 2tq, 2tq + 1
#pragma unroll
    for (int mt = 0; mt < KS; ++mt) o[mt][0] = o[mt][1] = o[mt][2] = o[mt][3] = 0.f;
    float m = -INFINITY;  // query head gr
    float l = 0.f;        // its sum over this lane's tokens

    const int *table = block_tables + (long long) b * max_blocks;
    unsigned char *wbase = mma_smem + warp * (MMA_STAGES * STAGE);
    const unsigned char *kbase = static_cast<const unsigned char *>(kc) + (long long) kvh * D;
    const unsigned char *vbase = static_cast<const unsigned char *>(vc) + (long long) kvh * D;

    // Queues the warp's tile i (nothing past its last tile) into stage st, as one cp.async group. Stage layout:
    // K [16 tokens][D] (chunks swizzled), V [lane][4 tokens][VB], scales [tq][K of the 4 tokens, V of the 4 tokens].
    auto issue = [&](int i, int st) {
        if (i < my_tiles) {
            unsigned char *sk = wbase + st * STAGE;
            unsigned char *sv = sk + MMA_TILE * D;
            float *ss = reinterpret_cast<float *>(sv + MMA_TILE * D);
            __syncwarp();  // every lane has read this stage's scales (three tiles ago)
            const int t0 = lo + (warp + WARPS * i) * MMA_TILE;
            const int bi0 = t0 / block_size;
            const int bo0 = t0 - bi0 * block_size;
            // warp-uniform: the tile lies in one cache block (block size >= 16, tiles aligned to it), so one table
            // entry serves all its tokens (tokens past the end copy nothing)
            const bool one = bo0 + MMA_TILE <= block_size;
            const int blk0 = one ? table[bi0] : 0;
            // block and slot of the tile's token x
            auto locate = [&](int x, int &blk, int &slot) {
                if (one) {
                    blk = blk0;
                    slot = bo0 + x;
                    return;
                }
                int bi = bi0;
                int o2 = bo0 + x;
                if (o2 >= block_size) {
                    const int d = o2 / block_size;
                    bi += d;
                    o2 -= d * block_size;
                }
                blk = t0 + x < hi ? table[bi] : 0;
                slot = o2;
            };
#pragma unroll
            for (int i = 0; i < D / 32; ++i) {
                const int x = (32 * i + lane) / (D / 16);  // token; chunk k of its row, D/16 lanes per token
                const int k = (32 * i + lane) % (D / 16);
                int blk;
                int slot;
                locate(x, blk, slot);
                const long long row = ((long long) blk * block_size + slot) * kv_heads;
                vec_cp_async<16>(sk + x * D + 16 * mma_kchunk<D>(x, k), kbase + row * D + 16 * k, t0 + x < hi);
            }
#pragma unroll
            for (int j = 0; j < 4; ++j) {
                const int x = 2 * tq + (j & 1) + 8 * (j >> 1);
                int blk;
                int slot;
                locate(x, blk, slot);
                const long long row = ((long long) blk * block_size + slot) * kv_heads;
#pragma unroll
                for (int c = 0; c < VB / CH; ++c) {
                    vec_cp_async<CH>(sv + (lane * 4 + j) * VB + CH * c, vbase + row * D + CH * (gr + 8 * c),
                                     t0 + x < hi);
                }
                if ((gr & 3) == j) {
                    const long long si = (long long) blk * kv_heads + kvh;
                    vec_cp_async<4>(ss + tq * 8 + gr, (gr < 4 ? k_scales : v_scales) + si, t0 + x < hi);
                }
            }
        }
        vec_cp_commit();
    };

#pragma unroll
    for (int i = 0; i < MMA_STAGES - 1; ++i) issue(i, i);
    for (int i = 0; i < my_tiles; ++i) {
        issue(i + MMA_STAGES - 1, (i + MMA_STAGES - 1) % MMA_STAGES);
        vec_cp_wait<MMA_STAGES - 1>();  // tile i has landed
        __syncwarp();                   // the K rows and scales other lanes copied are visible
        const int st = i % MMA_STAGES;
        const unsigned char *sk = wbase + st * STAGE;
        const unsigned char *sv = sk + MMA_TILE * D;
        const float *ss = reinterpret_cast<const float *>(sv + MMA_TILE * D) + tq * 8;
        const int t0 = lo + (warp + WARPS * i) * MMA_TILE;

        // S^T = Q K^T: n-tile n = tokens 8n .. 8n + 7; this lane gives token gr + 8n's B fragment
        float s[2][4];
#pragma unroll
        for (int n = 0; n < 2; ++n) {
            s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.f;
            const int x = gr + 8 * n;
#pragma unroll
            for (int c = 0; c < KB / 16; ++c) {
                const uint4 u = *reinterpret_cast<const uint4 *>(sk + x * D + 16 * mma_kchunk<D>(x, tq + 4 * c));
                const uint32_t w[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
                for (int e = 0; e < 4; ++e) {
                    const int ks = 4 * c + e;
                    const uint32_t x = mma_bias<KV>(w[e]);
                    mma_f16_16816(s[n], qa[ks][0], 0u, qa[ks][1], 0u, mma_pair<KV, 0>(x), mma_pair<KV, 1>(x));
                }
            }
        }
        // online softmax of query head gr over the tile; p[j] is token 2tq + (j & 1) + 8 (j >> 1)
        float p[4];
        float mx = -INFINITY;
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            const bool in = t0 + 2 * tq + (j & 1) + 8 * (j >> 1) < hi;
            p[j] = in ? vramkit::softcap_logit(s[j >> 1][j & 1] * ss[j], softcap) : -INFINITY;
            mx = fmaxf(mx, p[j]);
        }
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
        const float mn = fmaxf(m, mx);
        // mn is -inf only while nothing was visible yet: then every weight below is __expf(-inf) = 0
        const float mref = mn == -INFINITY ? 0.f : mn;
        const float alpha = __expf(m - mref);
        float sum = 0.f;
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            p[j] = __expf(p[j] - mref);
            sum += p[j];
        }
        l = fmaf(l, alpha, sum);
        m = mn;
        // O^T's columns are query heads 2tq and 2tq + 1, whose factors sit in the lanes of groups 2tq and 2tq + 1
        const float a0 = __shfl_sync(0xffffffffu, alpha, 8 * tq);
        const float a1 = __shfl_sync(0xffffffffu, alpha, 8 * tq + 4);
#pragma unroll
        for (int mt = 0; mt < KS; ++mt) {
            o[mt][0] *= a0;
            o[mt][1] *= a1;
            o[mt][2] *= a0;
            o[mt][3] *= a1;
        }
        // P^T's B fragment (column gr = query head gr; k = tokens 2tq, 2tq + 1 | 2tq + 8, 2tq + 9), V scales folded in
        const uint32_t pb0 = mma_half2(p[0] * ss[4], p[1] * ss[5]);
        const uint32_t pb1 = mma_half2(p[2] * ss[6], p[3] * ss[7]);
        // O^T += V^T P^T: word w of the 4 tokens' copies feeds m-tiles 2w and 2w + 1
        uint32_t vw[4][VB / 4];
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            const unsigned char *vp = sv + (lane * 4 + j) * VB;
            if constexpr (VB == 8) {
                const uint2 u = *reinterpret_cast<const uint2 *>(vp);
                vw[j][0] = u.x;
                vw[j][1] = u.y;
            } else {
#pragma unroll
                for (int c = 0; c < VB / 16; ++c) {
                    const uint4 u = reinterpret_cast<const uint4 *>(vp)[c];
                    vw[j][4 * c] = u.x;
                    vw[j][4 * c + 1] = u.y;
                    vw[j][4 * c + 2] = u.z;
                    vw[j][4 * c + 3] = u.w;
                }
            }
        }
#pragma unroll
        for (int w = 0; w < VB / 4; ++w) {
            // [t0.b, t1.b, t0.b', t1.b']: the pairs of tokens (2tq, 2tq + 1), then (2tq + 8, 2tq + 9), per dim
            const uint32_t lo01 = mma_bias<KV>(__byte_perm(vw[0][w], vw[1][w], 0x5140u));
            const uint32_t hi01 = mma_bias<KV>(__byte_perm(vw[0][w], vw[1][w], 0x7362u));
            const uint32_t lo23 = mma_bias<KV>(__byte_perm(vw[2][w], vw[3][w], 0x5140u));
            const uint32_t hi23 = mma_bias<KV>(__byte_perm(vw[2][w], vw[3][w], 0x7362u));
            mma_f16_16816(o[2 * w], mma_pair<KV, 0>(lo01), mma_pair<KV, 1>(lo01), mma_pair<KV, 0>(lo23),
                          mma_pair<KV, 1>(lo23), pb0, pb1);
            mma_f16_16816(o[2 * w + 1], mma_pair<KV, 0>(hi01), mma_pair<KV, 1>(hi01), mma_pair<KV, 0>(hi23),
                          mma_pair<KV, 1>(hi23), pb0, pb1);
        }
    }
    vec_cp_wait<0>();  // only empty groups can remain; the stages become the merge area below

    l += __shfl_xor_sync(0xffffffffu, l, 1);
    l += __shfl_xor_sync(0xffffffffu, l, 2);
    __syncthreads();  // every warp is done with its stages
    float *s_m = reinterpret_cast<float *>(mma_smem);  // [WARPS][MAX_G]
    float *s_l = s_m + WARPS * MAX_G;                  // [WARPS][MAX_G]
    float *s_acc = s_l + WARPS * MAX_G;                // [WARPS][MAX_G][D]
    if (tq == 0) {
        s_m[warp * MAX_G + gr] = m;
        s_l[warp * MAX_G + gr] = l;
    }
#pragma unroll
    for (int mt = 0; mt < KS; ++mt) {
        const int d0 = mma_vdim<CH>(gr, mt);
        float *h0 = s_acc + (warp * MAX_G + 2 * tq) * D;
        float *h1 = h0 + D;
        h0[d0] = o[mt][0];
        h1[d0] = o[mt][1];
        h0[d0 + 1] = o[mt][2];
        h1[d0 + 1] = o[mt][3];
    }
    __syncthreads();
    decode_finish<MAX_G>(s_m, s_l, s_acc, g, kvh, b, batch, heads, head_dim, split, splits, max_splits, q_type, out,
                         lse, partials);
}

}  // namespace vramkit_decode

// Entry points: vramkit_paged_decode_<query/output type>_<KV type>, and the split merge per output type.
// Each is declared on one line for scripts/build-kernels' manifest.
extern "C" __global__ void vramkit_paged_decode_f32_f32(const float *q, const void *kc, const void *vc,
        const float *k_scales, const float *v_scales, const int *block_tables, int max_blocks, const int *context_lens,
        float *out, float *lse, float *partials, int batch, int heads, int kv_heads, int head_dim, int block_size,
        int split_tokens, int max_splits, float scale, int window_left, float softcap) {
    vramkit_decode::paged_decode<float, vramkit_decode::KV_F32>(q, kc, vc, k_scales, v_scales, block_tables, max_blocks,
        context_lens, out, lse, partials, batch, heads, kv_heads, head_dim, block_size, split_tokens, max_splits, scale,
        window_left, softcap);
}

extern "C" __global__ void vramkit_paged_decode_f32_f16(const float *q, const void *kc, const void *vc,
        const float *k_scales, const float *v_scales, const int *block_tables, int max_blocks, const int *context_lens,
        float *out, float *lse, float *partials, int batch, int heads, int kv_heads, int head_dim, int block_size,
        int split_tokens, int max_splits, float scale, int window_left, float softcap) {
    vramkit_decode::paged_decode<float, vramkit_decode::KV_F16>(q, kc, vc, k_scales, v_scales, block_tables, max_blocks,
        context_lens, out, lse, partials, batch, heads, kv_heads, head_dim, block_size, split_tokens, max_splits, scale,
        window_left, softcap);
}

extern "C" __global__ void vramkit_paged_decode_f32_bf16(const float *q, const void *kc, const void *vc,
        const float *k_scales, const float *v_scales, const int *block_tables, int max_blocks, const int *context_lens,
        float *out, float *lse, float *partials, int batch, int heads, int kv_heads, int head_dim, int block_size,
        int split_tokens, int max_splits, float scale, int window_left, float softcap) {
    vramkit_decode::paged_decode<float, vramkit_decode::KV_BF16>(q, kc, vc, k_scales, v_scales, block_tables, max_blocks,
        context_lens, out, lse, partials, batch, heads, kv_heads, head_dim, block_size, split_tokens, max_splits, scale,
        window_left, softcap);
}

extern "C" __global__ void vramkit_paged_decode_f32_i8(const float *q, const void *kc, const void *vc,
        const float *k_scales, const float *v_scales, const int *block_tables, int max_blocks, const int *context_lens,
        float *out, float *lse, float *partials, int batch, int heads, int kv_heads, int head_dim, int block_size,
        int split_tokens, int max_splits, float scale, int window_left, float softcap) {
    vramkit_decode::paged_decode<float, vramkit_decode::KV_I8>(q, kc, vc, k_scales, v_scales, block_tables, max_blocks,
        context_lens, out, lse, partials, batch, heads, kv_heads, head_dim, block_size, split_tokens, max_splits, scale,
        window_left, softcap);
}

extern "C" __global__ void vramkit_paged_decode_f32_e4m3(const float *q, const void *kc, const void *vc,
        const float *k_scales, const float *v_scales, const int *block_tables, int max_blocks, const int *context_lens,
        float *out, float *lse, float *partials, int batch, int heads, int kv_heads, int head_dim, int block_size,
        int split_tokens, int max_splits, float scale, int window_left, float softcap) {
    vramkit_decode::paged_decode<float, vramkit_decode::KV_E4M3>(q, kc, vc, k_scales, v_scales, block_tables, max_blocks,
        context_lens, out, lse, partials, batch, heads, kv_heads, head_dim, block_size, split_tokens, max_splits, scale,
        window_left, softcap);
}

extern "C" __global__ void vramkit_paged_decode_f32_e5m2(const float *q, const void *kc, const void *vc,
        const float *k_scales, const float *v_scales, const int *block_tables, int max_blocks, const int *context_lens,
        float *out, float *lse, float *partials, int batch, int heads, int kv_heads, int head_dim, int block_size,
        int split_tokens, int max_splits, float scale, int window_left, float softcap) {
    vramkit_decode::paged_decode<float, vramkit_decode::KV_E5M2>(q, kc, vc, k_scales, v_scales, block_tables, max_blocks,
        context_lens, out, lse, partials, batch, heads, kv_heads, head_dim, block_size, split_tokens, max_splits, scale,
        window_left, softcap);
}

extern "C" __global__ void vramkit_paged_decode_merge_f32(const int *context_lens, const float *partials, float *out,
        float *lse, int batch, int heads, int head_dim, int split_tokens, int max_splits, int window_left) {
    vramkit_decode::paged_decode_merge<float>(context_lens, partials, out, lse, batch, heads, head_dim, split_tokens,
                                            max_splits, window_left);
}

extern "C" __global__ void vramkit_paged_decode_f16_f32(const __half *q, const void *kc, const void *vc,
        const float *k_scales, const float *v_scales, const int *block_tables, int max_blocks, const int *context_lens,
        __half *out, float *lse, float *partials, int batch, int heads, int kv_heads, int head_dim, int block_size,
        int split_tokens, int max_splits, float scale, int window_left, float softcap) {
    vramkit_decode::paged_decode<__half, vramkit_decode::KV_F32>(q, kc, vc, k_scales, v_scales, block_tables, max_blocks,
        context_lens, out, lse, partials, batch, heads, kv_heads, head_dim, block_size, split_tokens, max_splits, scale,
        window_left, softcap);
}

extern "C" __global__ void vramkit_paged_decode_f16_f16(const __half *q, const void *kc, const void *vc,
        const float *k_scales, const float *v_scales, const int *block_tables, int max_blocks, const int *context_lens,
        __half *out, float *lse, float *partials, int batch, int heads, int kv_heads, int head_dim, int block_size,
        int split_tokens, int max_splits, float scale, int window_left, float softcap) {
    vramkit_decode::paged_decode<__half, vramkit_decode::KV_F16>(q, kc, vc, k_scales, v_scales, block_tables, max_blocks,
        context_lens, out, lse, partials, batch, heads, kv_heads, head_dim, block_size, split_tokens, max_splits, scale,
        window_left, softcap);
}

extern "C" __global__ void vramkit_paged_decode_f16_bf16(const __half *q, const void *kc, const void *vc,
        const float *k_scales, const float *v_scales, const int *block_tables, int max_blocks, const int *context_lens,
        __half *out, float *lse, float *partials, int batch, int heads, int kv_heads, int head_dim, int block_size,
        int split_tokens, int max_splits, float scale, int window_left, float softcap) {
    vramkit_decode::paged_decode<__half, vramkit_decode::KV_BF16>(q, kc, vc, k_scales, v_scales, block_tables, max_blocks,
        context_lens, out, lse, partials, batch, heads, kv_heads, head_dim, block_size, split_tokens, max_splits, scale,
        window_left, softcap);
}

extern "C" __global__ void vramkit_paged_decode_f16_i8(const __half *q, const void *kc, const void *vc,
        const float *k_scales, const float *v_scales, const int *block_tables, int max_blocks, const int *context_lens,
        __half *out, float *lse, float *partials, int batch, int heads, int kv_heads, int head_dim, int block_size,
        int split_tokens, int max_splits, float scale, int window_left, float softcap) {
    vramkit_decode::paged_decode<__half, vramkit_decode::KV_I8>(q, kc, vc, k_scales, v_scales, block_tables, max_blocks,
        context_lens, out, lse, partials, batch, heads, kv_heads, head_dim, block_size, split_tokens, max_splits, scale,
        window_left, softcap);
}

extern "C" __global__ void vramkit_paged_decode_f16_e4m3(const __half *q, const void *kc, const void *vc,
        const float *k_scales, const float *v_scales, const int *block_tables, int max_blocks, const int *context_lens,
        __half *out, float *lse, float *partials, int batch, int heads, int kv_heads, int head_dim, int block_size,
        int split_tokens, int max_splits, float scale, int window_left, float softcap) {
    vramkit_decode::paged_decode<__half, vramkit_decode::KV_E4M3>(q, kc, vc, k_scales, v_scales, block_tables, max_blocks,
        context_lens, out, lse, partials, batch, heads, kv_heads, head_dim, block_size, split_tokens, max_splits, scale,
        window_left, softcap);
}

extern "C" __global__ void vramkit_paged_decode_f16_e5m2(const __half *q, const void *kc, const void *vc,
        const float *k_scales, const float *v_scales, const int *block_tables, int max_blocks, const int *context_lens,
        __half *out, float *lse, float *partials, int batch, int heads, int kv_heads, int head_dim, int block_size,
        int split_tokens, int max_splits, float scale, int window_left, float softcap) {
    vramkit_decode::paged_decode<__half, vramkit_decode::KV_E5M2>(q, kc, vc, k_scales, v_scales, block_tables, max_blocks,
        context_lens, out, lse, partials, batch, heads, kv_heads, head_dim, block_size, split_tokens, max_splits, scale,
        window_left, softcap);
}

extern "C" __global__ void vramkit_paged_decode_merge_f16(const int *context_lens, const float *partials, __half *out,
        float *lse, int batch, int heads, int head_dim, int split_tokens, int max_splits, int window_left) {
    vramkit_decode::paged_decode_merge<__half>(context_lens, partials, out, lse, batch, heads, head_dim, split_tokens,
                                            max_splits, window_left);
}

extern "C" __global__ void vramkit_paged_decode_bf16_f32(const __nv_bfloat16 *q, const void *kc, const void *vc,
        const float *k_scales, const float *v_scales, const int *block_tables, int max_blocks, const int *context_lens,
        __nv_bfloat16 *out, float *lse, float *partials, int batch, int heads, int kv_heads, int head_dim, int block_size,
        int split_tokens, int max_splits, float scale, int window_left, float softcap) {
    vramkit_decode::paged_decode<__nv_bfloat16, vramkit_decode::KV_F32>(q, kc, vc, k_scales, v_scales, block_tables, max_blocks,
        context_lens, out, lse, partials, batch, heads, kv_heads, head_dim, block_size, split_tokens, max_splits, scale,
        window_left, softcap);
}

extern "C" __global__ void vramkit_paged_decode_bf16_f16(const __nv_bfloat16 *q, const void *kc, const void *vc,
        const float *k_scales, const float *v_scales, const int *block_tables, int max_blocks, const int *context_lens,
        __nv_bfloat16 *out, float *lse, float *partials, int batch, int heads, int kv_heads, int head_dim, int block_size,
        int split_tokens, int max_splits, float scale, int window_left, float softcap) {
    vramkit_decode::paged_decode<__nv_bfloat16, vramkit_decode::KV_F16>(q, kc, vc, k_scales, v_scales, block_tables, max_blocks,
        context_lens, out, lse, partials, batch, heads, kv_heads, head_dim, block_size, split_tokens, max_splits, scale,
        window_left, softcap);
}

extern "C" __global__ void vramkit_paged_decode_bf16_bf16(const __nv_bfloat16 *q, const void *kc, const void *vc,
        const float *k_scales, const float *v_scales, const int *block_tables, int max_blocks, const int *context_lens,
        __nv_bfloat16 *out, float *lse, float *partials, int batch, int heads, int kv_heads, int head_dim, int block_size,
        int split_tokens, int max_splits, float scale, int window_left, float softcap) {
    vramkit_decode::paged_decode<__nv_bfloat16, vramkit_decode::KV_BF16>(q, kc, vc, k_scales, v_scales, block_tables, max_blocks,
        context_lens, out, lse, partials, batch, heads, kv_heads, head_dim, block_size, split_tokens, max_splits, scale,
        window_left, softcap);
}

extern "C" __global__ void vramkit_paged_decode_bf16_i8(const __nv_bfloat16 *q, const void *kc, const void *vc,
        const float *k_scales, const float *v_scales, const int *block_tables, int max_blocks, const int *context_lens,
        __nv_bfloat16 *out, float *lse, float *partials, int batch, int heads, int kv_heads, int head_dim, int block_size,
        int split_tokens, int max_splits, float scale, int window_left, float softcap) {
    vramkit_decode::paged_decode<__nv_bfloat16, vramkit_decode::KV_I8>(q, kc, vc, k_scales, v_scales, block_tables, max_blocks,
        context_lens, out, lse, partials, batch, heads, kv_heads, head_dim, block_size, split_tokens, max_splits, scale,
        window_left, softcap);
}

extern "C" __global__ void vramkit_paged_decode_bf16_e4m3(const __nv_bfloat16 *q, const void *kc, const void *vc,
        const float *k_scales, const float *v_scales, const int *block_tables, int max_blocks, const int *context_lens,
        __nv_bfloat16 *out, float *lse, float *partials, int batch, int heads, int kv_heads, int head_dim, int block_size,
        int split_tokens, int max_splits, float scale, int window_left, float softcap) {
    vramkit_decode::paged_decode<__nv_bfloat16, vramkit_decode::KV_E4M3>(q, kc, vc, k_scales, v_scales, block_tables, max_blocks,
        context_lens, out, lse, partials, batch, heads, kv_heads, head_dim, block_size, split_tokens, max_splits, scale,
        window_left, softcap);
}

extern "C" __global__ void vramkit_paged_decode_bf16_e5m2(const __nv_bfloat16 *q, const void *kc, const void *vc,
        const float *k_scales, const float *v_scales, const int *block_tables, int max_blocks, const int *context_lens,
        __nv_bfloat16 *out, float *lse, float *partials, int batch, int heads, int kv_heads, int head_dim, int block_size,
        int split_tokens, int max_splits, float scale, int window_left, float softcap) {
    vramkit_decode::paged_decode<__nv_bfloat16, vramkit_decode::KV_E5M2>(q, kc, vc, k_scales, v_scales, block_tables, max_blocks,
        context_lens, out, lse, partials, batch, heads, kv_heads, head_dim, block_size, split_tokens, max_splits, scale,
        window_left, softcap);
}

extern "C" __global__ void vramkit_paged_decode_merge_bf16(const int *context_lens, const float *partials, __nv_bfloat16 *out,
        float *lse, int batch, int heads, int head_dim, int split_tokens, int max_splits, int window_left) {
    vramkit_decode::paged_decode_merge<__nv_bfloat16>(context_lens, partials, out, lse, batch, heads, head_dim, split_tokens,
                                            max_splits, window_left);
}

// Vectorized entry points: vramkit_paged_decode_vec_<KV type>_g<G>, G = heads / kvHeads rounded up to 1, 2, 4 or 8;
// the query/output type is the argument q_type (0 FP32, 1 FP16, 2 BF16). 128 threads and
// vramkit_decode::vec_shared_bytes<KV>() bytes of dynamic shared memory. G <= 4 asks for 4 resident blocks per SM
// (at most 128 registers, as CudaAttention.suggestedSplitTokens assumes) where that costs no spills. i8_g4 asks
// for no minimum: on sm_90 it takes 128 registers unasked (4 blocks per SM) since its bytes are unpacked with byte
// permutes instead of I2F, where asking would spill 12 bytes on sm_86/89. G = 8 needs 225..249 (2 blocks per SM).
// Each is declared on one line for scripts/build-kernels' manifest.
#define VRAMKIT_DECODE_VEC_ARGS q, q_type, kc, vc, k_scales, v_scales, block_tables, max_blocks, context_lens, out, lse, \
    partials, batch, heads, kv_heads, head_dim, block_size, split_tokens, max_splits, scale, window_left, softcap

extern "C" __global__ void __launch_bounds__(128, 4) vramkit_paged_decode_vec_f32_g1(const void *q, int q_type, const void *kc, const void *vc, const float *k_scales, const float *v_scales, const int *block_tables, int max_blocks, const int *context_lens, void *out, float *lse, float *partials, int batch, int heads, int kv_heads, int head_dim, int block_size, int split_tokens, int max_splits, float scale, int window_left, float softcap) {
    vramkit_decode::paged_decode_vec<vramkit_decode::KV_F32, 1>(VRAMKIT_DECODE_VEC_ARGS);
}

extern "C" __global__ void __launch_bounds__(128, 4) vramkit_paged_decode_vec_f32_g2(const void *q, int q_type, const void *kc, const void *vc, const float *k_scales, const float *v_scales, const int *block_tables, int max_blocks, const int *context_lens, void *out, float *lse, float *partials, int batch, int heads, int kv_heads, int head_dim, int block_size, int split_tokens, int max_splits, float scale, int window_left, float softcap) {
    vramkit_decode::paged_decode_vec<vramkit_decode::KV_F32, 2>(VRAMKIT_DECODE_VEC_ARGS);
}

extern "C" __global__ void __launch_bounds__(128, 4) vramkit_paged_decode_vec_f32_g4(const void *q, int q_type, const void *kc, const void *vc, const float *k_scales, const float *v_scales, const int *block_tables, int max_blocks, const int *context_lens, void *out, float *lse, float *partials, int batch, int heads, int kv_heads, int head_dim, int block_size, int split_tokens, int max_splits, float scale, int window_left, float softcap) {
    vramkit_decode::paged_decode_vec<vramkit_decode::KV_F32, 4>(VRAMKIT_DECODE_VEC_ARGS);
}

extern "C" __global__ void __launch_bounds__(128) vramkit_paged_decode_vec_f32_g8(const void *q, int q_type, const void *kc, const void *vc, const float *k_scales, const float *v_scales, const int *block_tables, int max_blocks, const int *context_lens, void *out, float *lse, float *partials, int batch, int heads, int kv_heads, int head_dim, int block_size, int split_tokens, int max_splits, float scale, int window_left, float softcap) {
    vramkit_decode::paged_decode_vec<vramkit_decode::KV_F32, 8>(VRAMKIT_DECODE_VEC_ARGS);
}

extern "C" __global__ void __launch_bounds__(128, 4) vramkit_paged_decode_vec_f16_g1(const void *q, int q_type, const void *kc, const void *vc, const float *k_scales, const float *v_scales, const int *block_tables, int max_blocks, const int *context_lens, void *out, float *lse, float *partials, int batch, int heads, int kv_heads, int head_dim, int block_size, int split_tokens, int max_splits, float scale, int window_left, float softcap) {
    vramkit_decode::paged_decode_vec<vramkit_decode::KV_F16, 1>(VRAMKIT_DECODE_VEC_ARGS);
}

extern "C" __global__ void __launch_bounds__(128, 4) vramkit_paged_decode_vec_f16_g2(const void *q, int q_type, const void *kc, const void *vc, const float *k_scales, const float *v_scales, const int *block_tables, int max_blocks, const int *context_lens, void *out, float *lse, float *partials, int batch, int heads, int kv_heads, int head_dim, int block_size, int split_tokens, int max_splits, float scale, int window_left, float softcap) {
    vramkit_decode::paged_decode_vec<vramkit_decode::KV_F16, 2>(VRAMKIT_DECODE_VEC_ARGS);
}

extern "C" __global__ void __launch_bounds__(128, 4) vramkit_paged_decode_vec_f16_g4(const void *q, int q_type, const void *kc, const void *vc, const float *k_scales, const float *v_scales, const int *block_tables, int max_blocks, const int *context_lens, void *out, float *lse, float *partials, int batch, int heads, int kv_heads, int head_dim, int block_size, int split_tokens, int max_splits, float scale, int window_left, float softcap) {
    vramkit_decode::paged_decode_vec<vramkit_decode::KV_F16, 4>(VRAMKIT_DECODE_VEC_ARGS);
}

extern "C" __global__ void __launch_bounds__(128) vramkit_paged_decode_vec_f16_g8(const void *q, int q_type, const void *kc, const void *vc, const float *k_scales, const float *v_scales, const int *block_tables, int max_blocks, const int *context_lens, void *out, float *lse, float *partials, int batch, int heads, int kv_heads, int head_dim, int block_size, int split_tokens, int max_splits, float scale, int window_left, float softcap) {
    vramkit_decode::paged_decode_vec<vramkit_decode::KV_F16, 8>(VRAMKIT_DECODE_VEC_ARGS);
}

extern "C" __global__ void __launch_bounds__(128, 4) vramkit_paged_decode_vec_bf16_g1(const void *q, int q_type, const void *kc, const void *vc, const float *k_scales, const float *v_scales, const int *block_tables, int max_blocks, const int *context_lens, void *out, float *lse, float *partials, int batch, int heads, int kv_heads, int head_dim, int block_size, int split_tokens, int max_splits, float scale, int window_left, float softcap) {
    vramkit_decode::paged_decode_vec<vramkit_decode::KV_BF16, 1>(VRAMKIT_DECODE_VEC_ARGS);
}

extern "C" __global__ void __launch_bounds__(128, 4) vramkit_paged_decode_vec_bf16_g2(const void *q, int q_type, const void *kc, const void *vc, const float *k_scales, const float *v_scales, const int *block_tables, int max_blocks, const int *context_lens, void *out, float *lse, float *partials, int batch, int heads, int kv_heads, int head_dim, int block_size, int split_tokens, int max_splits, float scale, int window_left, float softcap) {
    vramkit_decode::paged_decode_vec<vramkit_decode::KV_BF16, 2>(VRAMKIT_DECODE_VEC_ARGS);
}

extern "C" __global__ void __launch_bounds__(128, 4) vramkit_paged_decode_vec_bf16_g4(const void *q, int q_type, const void *kc, const void *vc, const float *k_scales, const float *v_scales, const int *block_tables, int max_blocks, const int *context_lens, void *out, float *lse, float *partials, int batch, int heads, int kv_heads, int head_dim, int block_size, int split_tokens, int max_splits, float scale, int window_left, float softcap) {
    vramkit_decode::paged_decode_vec<vramkit_decode::KV_BF16, 4>(VRAMKIT_DECODE_VEC_ARGS);
}

extern "C" __global__ void __launch_bounds__(128) vramkit_paged_decode_vec_bf16_g8(const void *q, int q_type, const void *kc, const void *vc, const float *k_scales, const float *v_scales, const int *block_tables, int max_blocks, const int *context_lens, void *out, float *lse, float *partials, int batch, int heads, int kv_heads, int head_dim, int block_size, int split_tokens, int max_splits, float scale, int window_left, float softcap) {
    vramkit_decode::paged_decode_vec<vramkit_decode::KV_BF16, 8>(VRAMKIT_DECODE_VEC_ARGS);
}

extern "C" __global__ void __launch_bounds__(128, 4) vramkit_paged_decode_vec_i8_g1(const void *q, int q_type, const void *kc, const void *vc, const float *k_scales, const float *v_scales, const int *block_tables, int max_blocks, const int *context_lens, void *out, float *lse, float *partials, int batch, int heads, int kv_heads, int head_dim, int block_size, int split_tokens, int max_splits, float scale, int window_left, float softcap) {
    vramkit_decode::paged_decode_vec<vramkit_decode::KV_I8, 1>(VRAMKIT_DECODE_VEC_ARGS);
}

extern "C" __global__ void __launch_bounds__(128, 4) vramkit_paged_decode_vec_i8_g2(const void *q, int q_type, const void *kc, const void *vc, const float *k_scales, const float *v_scales, const int *block_tables, int max_blocks, const int *context_lens, void *out, float *lse, float *partials, int batch, int heads, int kv_heads, int head_dim, int block_size, int split_tokens, int max_splits, float scale, int window_left, float softcap) {
    vramkit_decode::paged_decode_vec<vramkit_decode::KV_I8, 2>(VRAMKIT_DECODE_VEC_ARGS);
}

extern "C" __global__ void __launch_bounds__(128) vramkit_paged_decode_vec_i8_g4(const void *q, int q_type, const void *kc, const void *vc, const float *k_scales, const float *v_scales, const int *block_tables, int max_blocks, const int *context_lens, void *out, float *lse, float *partials, int batch, int heads, int kv_heads, int head_dim, int block_size, int split_tokens, int max_splits, float scale, int window_left, float softcap) {
    vramkit_decode::paged_decode_vec<vramkit_decode::KV_I8, 4>(VRAMKIT_DECODE_VEC_ARGS);
}

extern "C" __global__ void __launch_bounds__(128) vramkit_paged_decode_vec_i8_g8(const void *q, int q_type, const void *kc, const void *vc, const float *k_scales, const float *v_scales, const int *block_tables, int max_blocks, const int *context_lens, void *out, float *lse, float *partials, int batch, int heads, int kv_heads, int head_dim, int block_size, int split_tokens, int max_splits, float scale, int window_left, float softcap) {
    vramkit_decode::paged_decode_vec<vramkit_decode::KV_I8, 8>(VRAMKIT_DECODE_VEC_ARGS);
}

extern "C" __global__ void __launch_bounds__(128, 4) vramkit_paged_decode_vec_e4m3_g1(const void *q, int q_type, const void *kc, const void *vc, const float *k_scales, const float *v_scales, const int *block_tables, int max_blocks, const int *context_lens, void *out, float *lse, float *partials, int batch, int heads, int kv_heads, int head_dim, int block_size, int split_tokens, int max_splits, float scale, int window_left, float softcap) {
    vramkit_decode::paged_decode_vec<vramkit_decode::KV_E4M3, 1>(VRAMKIT_DECODE_VEC_ARGS);
}

extern "C" __global__ void __launch_bounds__(128, 4) vramkit_paged_decode_vec_e4m3_g2(const void *q, int q_type, const void *kc, const void *vc, const float *k_scales, const float *v_scales, const int *block_tables, int max_blocks, const int *context_lens, void *out, float *lse, float *partials, int batch, int heads, int kv_heads, int head_dim, int block_size, int split_tokens, int max_splits, float scale, int window_left, float softcap) {
    vramkit_decode::paged_decode_vec<vramkit_decode::KV_E4M3, 2>(VRAMKIT_DECODE_VEC_ARGS);
}

extern "C" __global__ void __launch_bounds__(128, 4) vramkit_paged_decode_vec_e4m3_g4(const void *q, int q_type, const void *kc, const void *vc, const float *k_scales, const float *v_scales, const int *block_tables, int max_blocks, const int *context_lens, void *out, float *lse, float *partials, int batch, int heads, int kv_heads, int head_dim, int block_size, int split_tokens, int max_splits, float scale, int window_left, float softcap) {
    vramkit_decode::paged_decode_vec<vramkit_decode::KV_E4M3, 4>(VRAMKIT_DECODE_VEC_ARGS);
}

extern "C" __global__ void __launch_bounds__(128) vramkit_paged_decode_vec_e4m3_g8(const void *q, int q_type, const void *kc, const void *vc, const float *k_scales, const float *v_scales, const int *block_tables, int max_blocks, const int *context_lens, void *out, float *lse, float *partials, int batch, int heads, int kv_heads, int head_dim, int block_size, int split_tokens, int max_splits, float scale, int window_left, float softcap) {
    vramkit_decode::paged_decode_vec<vramkit_decode::KV_E4M3, 8>(VRAMKIT_DECODE_VEC_ARGS);
}

extern "C" __global__ void __launch_bounds__(128, 4) vramkit_paged_decode_vec_e5m2_g1(const void *q, int q_type, const void *kc, const void *vc, const float *k_scales, const float *v_scales, const int *block_tables, int max_blocks, const int *context_lens, void *out, float *lse, float *partials, int batch, int heads, int kv_heads, int head_dim, int block_size, int split_tokens, int max_splits, float scale, int window_left, float softcap) {
    vramkit_decode::paged_decode_vec<vramkit_decode::KV_E5M2, 1>(VRAMKIT_DECODE_VEC_ARGS);
}

extern "C" __global__ void __launch_bounds__(128, 4) vramkit_paged_decode_vec_e5m2_g2(const void *q, int q_type, const void *kc, const void *vc, const float *k_scales, const float *v_scales, const int *block_tables, int max_blocks, const int *context_lens, void *out, float *lse, float *partials, int batch, int heads, int kv_heads, int head_dim, int block_size, int split_tokens, int max_splits, float scale, int window_left, float softcap) {
    vramkit_decode::paged_decode_vec<vramkit_decode::KV_E5M2, 2>(VRAMKIT_DECODE_VEC_ARGS);
}

extern "C" __global__ void __launch_bounds__(128, 4) vramkit_paged_decode_vec_e5m2_g4(const void *q, int q_type, const void *kc, const void *vc, const float *k_scales, const float *v_scales, const int *block_tables, int max_blocks, const int *context_lens, void *out, float *lse, float *partials, int batch, int heads, int kv_heads, int head_dim, int block_size, int split_tokens, int max_splits, float scale, int window_left, float softcap) {
    vramkit_decode::paged_decode_vec<vramkit_decode::KV_E5M2, 4>(VRAMKIT_DECODE_VEC_ARGS);
}

extern "C" __global__ void __launch_bounds__(128) vramkit_paged_decode_vec_e5m2_g8(const void *q, int q_type, const void *kc, const void *vc, const float *k_scales, const float *v_scales, const int *block_tables, int max_blocks, const int *context_lens, void *out, float *lse, float *partials, int batch, int heads, int kv_heads, int head_dim, int block_size, int split_tokens, int max_splits, float scale, int window_left, float softcap) {
    vramkit_decode::paged_decode_vec<vramkit_decode::KV_E5M2, 8>(VRAMKIT_DECODE_VEC_ARGS);
}

// Tensor-core decode for INT8/FP8 caches: vramkit_paged_decode_mma_<KV type>_d<head_dim>, query groups up to 8.
extern "C" __global__ void __launch_bounds__(128, 4) vramkit_paged_decode_mma_i8_d64(const void *q, int q_type, const void *kc, const void *vc, const float *k_scales, const float *v_scales, const int *block_tables, int max_blocks, const int *context_lens, void *out, float *lse, float *partials, int batch, int heads, int kv_heads, int head_dim, int block_size, int split_tokens, int max_splits, float scale, int window_left, float softcap) {
    vramkit_decode::paged_decode_mma<vramkit_decode::KV_I8, 64>(VRAMKIT_DECODE_VEC_ARGS);
}

extern "C" __global__ void __launch_bounds__(128, 4) vramkit_paged_decode_mma_i8_d128(const void *q, int q_type, const void *kc, const void *vc, const float *k_scales, const float *v_scales, const int *block_tables, int max_blocks, const int *context_lens, void *out, float *lse, float *partials, int batch, int heads, int kv_heads, int head_dim, int block_size, int split_tokens, int max_splits, float scale, int window_left, float softcap) {
    vramkit_decode::paged_decode_mma<vramkit_decode::KV_I8, 128>(VRAMKIT_DECODE_VEC_ARGS);
}

extern "C" __global__ void __launch_bounds__(128, 2) vramkit_paged_decode_mma_i8_d256(const void *q, int q_type, const void *kc, const void *vc, const float *k_scales, const float *v_scales, const int *block_tables, int max_blocks, const int *context_lens, void *out, float *lse, float *partials, int batch, int heads, int kv_heads, int head_dim, int block_size, int split_tokens, int max_splits, float scale, int window_left, float softcap) {
    vramkit_decode::paged_decode_mma<vramkit_decode::KV_I8, 256>(VRAMKIT_DECODE_VEC_ARGS);
}

extern "C" __global__ void __launch_bounds__(128, 4) vramkit_paged_decode_mma_e4m3_d64(const void *q, int q_type, const void *kc, const void *vc, const float *k_scales, const float *v_scales, const int *block_tables, int max_blocks, const int *context_lens, void *out, float *lse, float *partials, int batch, int heads, int kv_heads, int head_dim, int block_size, int split_tokens, int max_splits, float scale, int window_left, float softcap) {
    vramkit_decode::paged_decode_mma<vramkit_decode::KV_E4M3, 64>(VRAMKIT_DECODE_VEC_ARGS);
}

extern "C" __global__ void __launch_bounds__(128, 4) vramkit_paged_decode_mma_e4m3_d128(const void *q, int q_type, const void *kc, const void *vc, const float *k_scales, const float *v_scales, const int *block_tables, int max_blocks, const int *context_lens, void *out, float *lse, float *partials, int batch, int heads, int kv_heads, int head_dim, int block_size, int split_tokens, int max_splits, float scale, int window_left, float softcap) {
    vramkit_decode::paged_decode_mma<vramkit_decode::KV_E4M3, 128>(VRAMKIT_DECODE_VEC_ARGS);
}

extern "C" __global__ void __launch_bounds__(128, 2) vramkit_paged_decode_mma_e4m3_d256(const void *q, int q_type, const void *kc, const void *vc, const float *k_scales, const float *v_scales, const int *block_tables, int max_blocks, const int *context_lens, void *out, float *lse, float *partials, int batch, int heads, int kv_heads, int head_dim, int block_size, int split_tokens, int max_splits, float scale, int window_left, float softcap) {
    vramkit_decode::paged_decode_mma<vramkit_decode::KV_E4M3, 256>(VRAMKIT_DECODE_VEC_ARGS);
}

extern "C" __global__ void __launch_bounds__(128, 4) vramkit_paged_decode_mma_e5m2_d64(const void *q, int q_type, const void *kc, const void *vc, const float *k_scales, const float *v_scales, const int *block_tables, int max_blocks, const int *context_lens, void *out, float *lse, float *partials, int batch, int heads, int kv_heads, int head_dim, int block_size, int split_tokens, int max_splits, float scale, int window_left, float softcap) {
    vramkit_decode::paged_decode_mma<vramkit_decode::KV_E5M2, 64>(VRAMKIT_DECODE_VEC_ARGS);
}

extern "C" __global__ void __launch_bounds__(128, 4) vramkit_paged_decode_mma_e5m2_d128(const void *q, int q_type, const void *kc, const void *vc, const float *k_scales, const float *v_scales, const int *block_tables, int max_blocks, const int *context_lens, void *out, float *lse, float *partials, int batch, int heads, int kv_heads, int head_dim, int block_size, int split_tokens, int max_splits, float scale, int window_left, float softcap) {
    vramkit_decode::paged_decode_mma<vramkit_decode::KV_E5M2, 128>(VRAMKIT_DECODE_VEC_ARGS);
}

extern "C" __global__ void __launch_bounds__(128, 2) vramkit_paged_decode_mma_e5m2_d256(const void *q, int q_type, const void *kc, const void *vc, const float *k_scales, const float *v_scales, const int *block_tables, int max_blocks, const int *context_lens, void *out, float *lse, float *partials, int batch, int heads, int kv_heads, int head_dim, int block_size, int split_tokens, int max_splits, float scale, int window_left, float softcap) {
    vramkit_decode::paged_decode_mma<vramkit_decode::KV_E5M2, 256>(VRAMKIT_DECODE_VEC_ARGS);
}

#undef VRAMKIT_DECODE_VEC_ARGS
