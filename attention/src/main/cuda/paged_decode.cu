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
// vramkit_paged_decode_merge_<q> (grid (heads, batch), 128 threads) combines them.
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
    const int ctx = context_lens[b];
    const int first = window_left < 0 ? 0 : max(0, ctx - 1 - window_left);
    const int splits = num_splits(ctx, first, split_tokens);
    if (split >= splits) return;
    const int lo = first + split * split_tokens;
    const int hi = min(ctx, lo + split_tokens);
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

template <typename T>
__device__ void paged_decode_merge(const int *__restrict__ context_lens, const float *__restrict__ partials,
                                   T *__restrict__ out, float *__restrict__ lse, int batch, int heads,
                                   int head_dim, int split_tokens, int max_splits, int window_left) {
    const int h = blockIdx.x;
    const int b = blockIdx.y;
    const int ctx = context_lens[b];
    const int first = window_left < 0 ? 0 : max(0, ctx - 1 - window_left);
    const int splits = num_splits(ctx, first, split_tokens);
    if (splits <= 1) return;
    const float *base = partials + ((long long) b * heads + h) * max_splits * (head_dim + 2);
    float mm = -INFINITY;
    for (int s = 0; s < splits; ++s) mm = fmaxf(mm, base[s * (head_dim + 2)]);
    float ll = 0.f;
    for (int s = 0; s < splits; ++s) {
        const float ms = base[s * (head_dim + 2)];
        if (ms != -INFINITY) ll += __expf(ms - mm) * base[s * (head_dim + 2) + 1];
    }
    for (int c = threadIdx.x; c < head_dim; c += blockDim.x) {
        float o = 0.f;
        for (int s = 0; s < splits; ++s) {
            const float ms = base[s * (head_dim + 2)];
            if (ms != -INFINITY) o = fmaf(__expf(ms - mm), base[s * (head_dim + 2) + 2 + c], o);
        }
        out[((long long) b * heads + h) * head_dim + c] = vramkit::from_float<T>(ll > 0.f ? o / ll : 0.f);
    }
    if (threadIdx.x == 0 && lse != nullptr) lse[(long long) h * batch + b] = ll > 0.f ? mm + logf(ll) : -INFINITY;
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
