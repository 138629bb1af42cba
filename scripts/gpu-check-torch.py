#!/usr/bin/env python3
"""torch.matmul TFLOP/s on the shapes and dtypes of io.vramkit.jmh.cuda.GemmBenchmark, for scripts/gpu-check.

FP32 runs with TF32 disabled (as cuBLAS SGEMM does by default); FP16/BF16 inputs give outputs in the same dtype,
which is torch's default and what torch users get.
"""
import time

import torch

torch.backends.cuda.matmul.allow_tf32 = False
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.get_device_name(0)}")
for n in (1024, 4096):
    for name, dtype in (("FP32", torch.float32), ("FP16", torch.float16), ("BF16", torch.bfloat16)):
        a = torch.zeros((n, n), device="cuda", dtype=dtype)
        b = torch.zeros((n, n), device="cuda", dtype=dtype)
        for _ in range(5):
            torch.matmul(a, b)
        torch.cuda.synchronize()
        reps = 50 if n <= 1024 else 20
        start = time.perf_counter()
        for _ in range(reps):
            torch.matmul(a, b)
        torch.cuda.synchronize()
        seconds = (time.perf_counter() - start) / reps
        print(f"torch.matmul [n={n}, dtype={name}] {2 * n ** 3 / seconds / 1e12:.1f} TFLOP/s")
