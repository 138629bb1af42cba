#!/usr/bin/env python3
"""torch.matmul TFLOP/s on the shapes and dtypes of io.vramkit.jmh.cuda.GemmBenchmark (issue 8), for scripts/gpu-check.

n x n x n at n = 4096 and 8192, FP16 and BF16 inputs, output in the same dtype (torch's default, and what
GemmBenchmark now asks cuBLAS for). Each shape: 3 warm-up GEMMs, then about 0.5 s of GEMMs (at most 50) timed with
CUDA events. Operands are uniform in [-1, 1), as GemmBenchmark's. Prints one line per case and a SUMMARY line per case; bounded to a few seconds.
"""
import functools

import gpu_check_timing

torch = gpu_check_timing.require_torch("torch.matmul")
time_op = functools.partial(gpu_check_timing.time_op, torch)


torch.backends.cuda.matmul.allow_tf32 = False
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.get_device_name(0)}")
for n in (4096, 8192):
    for name, dtype in (("FP16", torch.float16), ("BF16", torch.bfloat16)):
        try:
            # uniform in [-1, 1), as GemmBenchmark's operands: the data moves power draw, and so the clock
            a = (torch.rand((n, n), device="cuda", dtype=torch.float32) * 2 - 1).to(dtype)
            b = (torch.rand((n, n), device="cuda", dtype=torch.float32) * 2 - 1).to(dtype)
            seconds = time_op(lambda: torch.matmul(a, b))
            tflops = 2 * n ** 3 / seconds / 1e12
            print(f"torch.matmul [n={n}, dtype={name}] {seconds * 1e3:.3f} ms, {tflops:.1f} TFLOP/s")
            print(f"SUMMARY torch.matmul [n={n}, dtype={name}]: {tflops:.1f} TFLOP/s")
            del a, b
        except Exception as e:
            print(f"torch.matmul [n={n}, dtype={name}] FAILED: {e}")
        torch.cuda.empty_cache()
