#!/usr/bin/env python3
"""torch FP16 GEMV and device-to-device copy bandwidth (issue 9), for scripts/gpu-check.

GEMV: torch.matmul(x, W.t()) with x [b, K] and W [N, K] in FP16, at N x K = 8192 x 8192 and 28672 x 8192 (Llama-2-70B
FFN), b = 1, 4, 16; reported as GB/s of weight bytes (N * K * 2 / time), as io.vramkit.jmh.cuda.GpuKernelBench
reports vramkit's INT4/INT8 GEMV. Copy: clone of a 1 GiB tensor, GB/s counting bytes read plus bytes written (the
yardstick both report fractions of). Timed with CUDA events, about 0.5 s per case; a few seconds in all.
"""
import functools

import gpu_check_timing

torch = gpu_check_timing.require_torch("torch GEMV")
time_op = functools.partial(gpu_check_timing.time_op, torch, max_reps=200)


print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.get_device_name(0)}")
copy_gbps = None
try:
    src = torch.empty(1 << 30, dtype=torch.uint8, device="cuda").fill_(1)
    seconds = time_op(lambda: src.clone(), max_reps=50)
    copy_gbps = 2 * src.numel() / seconds / 1e9
    print(f"torch D2D copy (clone) [1 GiB] {seconds * 1e3:.3f} ms, {copy_gbps:.1f} GB/s (read + write)")
    print(f"SUMMARY torch D2D copy 1 GiB: {copy_gbps:.1f} GB/s (read + write)")
    del src
except Exception as e:
    print(f"torch D2D copy FAILED: {e}")
torch.cuda.empty_cache()

K = 8192
for N in (8192, 28672):
    try:
        w = torch.randn((N, K), device="cuda", dtype=torch.float16)
    except Exception as e:
        print(f"torch GEMV FP16 [{N}x{K}] FAILED to allocate: {e}")
        continue
    for b in (1, 4, 16):
        try:
            x = torch.randn((b, K), device="cuda", dtype=torch.float16)
            seconds = time_op(lambda: torch.matmul(x, w.t()))
            gbps = N * K * 2 / seconds / 1e9
            frac = f", {100 * gbps / copy_gbps:.0f}% of D2D copy" if copy_gbps else ""
            label = f"torch GEMV FP16 [{N}x{K}, batch {b}]"
            print(f"{label} {seconds * 1e6:.1f} us, {gbps:.1f} GB/s of weight bytes{frac}")
            print(f"SUMMARY {label}: {seconds * 1e6:.1f} us, {gbps:.1f} GB/s weights{frac}")
        except Exception as e:
            print(f"torch GEMV FP16 [{N}x{K}, batch {b}] FAILED: {e}")
    del w
    torch.cuda.empty_cache()
