#!/usr/bin/env python3
"""torch scaled_dot_product_attention TFLOP/s and the BF16 matmul peak (issue 10), for scripts/gpu-check.

SDPA: BF16, causal, 32 query heads, 8 KV heads, head dimension 128, batch 1, 4 and 8, sequence 1k, 4k and 16k, the
shapes of io.vramkit.jmh.cuda.GpuKernelBench's prefill. GQA runs with enable_gqa=True where this torch has it and a
fused backend takes it; otherwise K and V are expanded with repeat_interleave (the expansion is not timed). The math
backend is excluded where torch.nn.attention.sdpa_kernel exists (at 16k it would need tens of GiB). TFLOP/s count
4 * B * H * S^2 * D / 2 (causal halves the work), as GpuKernelBench does. The BF16 matmul peak is the best of
torch.matmul at 8192^3 and 16384 x 16384 x 8192 in the same run. Timed with CUDA events, about 0.5 s per case.
Last, the memory of one 32k-token causal SDPA (batch 1): torch.cuda.max_memory_allocated() during the call against
the inputs and output, the peer of GpuKernelBench's prefill-memory line.
"""
import contextlib
import functools

import gpu_check_timing

torch = gpu_check_timing.require_torch("torch SDPA")
import torch.nn.functional as F  # noqa: E402

time_op = functools.partial(gpu_check_timing.time_op, torch, max_reps=50, warmup=2)


def fused_only():
    """A context that keeps SDPA off the math backend, where this torch allows it."""
    try:
        from torch.nn.attention import SDPBackend, sdpa_kernel
        backends = [b for b in (getattr(SDPBackend, "CUDNN_ATTENTION", None), SDPBackend.FLASH_ATTENTION,
                                SDPBackend.EFFICIENT_ATTENTION) if b is not None]
        return sdpa_kernel(backends)
    except Exception:
        return contextlib.nullcontext()


print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.get_device_name(0)}")
peak = 0.0
for m, n, k in ((8192, 8192, 8192), (16384, 16384, 8192)):
    try:
        a = torch.randn((m, k), device="cuda", dtype=torch.bfloat16)
        b = torch.randn((k, n), device="cuda", dtype=torch.bfloat16)
        seconds = time_op(lambda: torch.matmul(a, b))
        tflops = 2 * m * n * k / seconds / 1e12
        peak = max(peak, tflops)
        print(f"torch.matmul BF16 [{m}x{n}x{k}] {tflops:.1f} TFLOP/s")
        del a, b
    except Exception as e:
        print(f"torch.matmul BF16 [{m}x{n}x{k}] FAILED: {e}")
    torch.cuda.empty_cache()
if peak > 0:
    print(f"SUMMARY torch BF16 matmul peak: {peak:.1f} TFLOP/s")

H, KVH, D = 32, 8, 128
for B in (1, 4, 8):
    for S in (1024, 4096, 16384):
        label = f"torch SDPA BF16 causal [b={B}, s={S}, h={H}/{KVH}, d={D}]"
        try:
            q = torch.randn((B, H, S, D), device="cuda", dtype=torch.bfloat16)
            k = torch.randn((B, KVH, S, D), device="cuda", dtype=torch.bfloat16)
            v = torch.randn((B, KVH, S, D), device="cuda", dtype=torch.bfloat16)
            how = "enable_gqa"
            seconds = None
            try:
                with fused_only():
                    seconds = time_op(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                                                             enable_gqa=True))
            except Exception:
                seconds = None
            if seconds is None:
                how = "repeat_interleave K/V"
                ke = k.repeat_interleave(H // KVH, dim=1)
                ve = v.repeat_interleave(H // KVH, dim=1)
                with fused_only():
                    seconds = time_op(lambda: F.scaled_dot_product_attention(q, ke, ve, is_causal=True))
                del ke, ve
            tflops = 4 * B * H * S * S * D / 2 / seconds / 1e12
            frac = f", {100 * tflops / peak:.0f}% of the BF16 matmul peak" if peak > 0 else ""
            print(f"{label} ({how}) {seconds * 1e3:.3f} ms, {tflops:.1f} TFLOP/s{frac}")
            print(f"SUMMARY {label}: {tflops:.1f} TFLOP/s{frac}")
            del q, k, v
        except Exception as e:
            print(f"{label} FAILED: {e}")
        torch.cuda.empty_cache()

S = 32768
label = f"torch SDPA memory BF16 causal [b=1, s={S}, h={H}/{KVH}, d={D}]"
try:
    q = torch.randn((1, H, S, D), device="cuda", dtype=torch.bfloat16)
    k = torch.randn((1, KVH, S, D), device="cuda", dtype=torch.bfloat16)
    v = torch.randn((1, KVH, S, D), device="cuda", dtype=torch.bfloat16)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    with fused_only():
        try:
            o = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
        except Exception:
            o = F.scaled_dot_product_attention(q, k.repeat_interleave(H // KVH, dim=1),
                                               v.repeat_interleave(H // KVH, dim=1), is_causal=True)
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated()
    io = base + o.numel() * o.element_size()
    line = (f"{label}: peak allocated {peak / 2**20:.1f} MiB = inputs+output {io / 2**20:.1f} MiB + "
            f"{peak - io} bytes workspace")
    print(line)
    print("SUMMARY " + line)
    del q, k, v, o
except Exception as e:
    print(f"{label} FAILED: {e}")
