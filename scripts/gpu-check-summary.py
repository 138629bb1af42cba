#!/usr/bin/env python3
"""Prints the side-by-side table of scripts/gpu-check, grouped by the issue each line serves (8, 9, 10).

Usage: gpu-check-summary.py RESULTS_DIR

Reads, where present: gpu-benchmarks.json (JMH's JSON from io.vramkit.jmh.cuda.GpuBenchmarks: CudaAllocBenchmark,
PinnedCopyBenchmark, GemmBenchmark), and the SUMMARY lines of gpu-trace.txt (GpuTraceReplay), gpu-kernels.txt
(GpuKernelBench), torch-matmul.txt, torch-trace.txt, torch-gemv.txt and torch-sdpa.txt (the gpu-check-torch*.py
scripts). Computes the ratios the issues set targets on; a missing input prints 'missing' instead of failing.
Needs only the Python 3 standard library.
"""
import json
import os
import re
import sys

if len(sys.argv) != 2:
    print("usage: gpu-check-summary.py RESULTS_DIR", file=sys.stderr)
    sys.exit(2)
res = sys.argv[1]


def summary_lines(name):
    """The SUMMARY lines of results file name, without the prefix; [] when the file is missing."""
    path = os.path.join(res, name)
    if not os.path.isfile(path):
        return []
    with open(path, encoding="utf-8", errors="replace") as f:
        return [l[len("SUMMARY "):].rstrip() for l in f if l.startswith("SUMMARY ")]


def number(line, unit):
    """The number just before unit in line, or None."""
    m = re.search(r"([0-9.]+) " + re.escape(unit), line)
    return float(m.group(1)) if m else None


def human(n):
    n = int(n)
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} B"


jmh = {}
path = os.path.join(res, "gpu-benchmarks.json")
if os.path.isfile(path):
    try:
        with open(path, encoding="utf-8") as f:
            for r in json.load(f):
                method = r["benchmark"].rsplit(".", 2)
                key = (method[-2] + "." + method[-1], tuple(sorted(r.get("params", {}).items())))
                jmh[key] = r["primaryMetric"]["score"]
    except Exception as e:
        print(f"gpu-benchmarks.json unreadable: {e}")


def score(bench, **params):
    return jmh.get((bench, tuple(sorted((k, str(v)) for k, v in params.items()))))


out = []
out.append("---- issue 8: CUDA backend ----")
sizes = sorted({int(dict(p)["bytes"]) for (b, p) in jmh if b.startswith("CudaAllocBenchmark")})
if sizes:
    out.append("pool alloc+free, ns/op: size, pool over cudaMalloc, pool over cudaMallocAsync, cudaMalloc+Free, "
               "cudaMallocAsync+FreeAsync; speedup of the pool over cudaMalloc (targets >= 50x, >= 1x)")
    for s in sizes:
        pool = score("CudaAllocBenchmark.cachingPool", bytes=s)
        pool_async = score("CudaAllocBenchmark.cachingPoolOverAsync", bytes=s)
        malloc = score("CudaAllocBenchmark.cudaMallocFree", bytes=s)
        asyn = score("CudaAllocBenchmark.cudaMallocAsyncFree", bytes=s)
        fmt = lambda v: "n/a" if v is None else f"{v:.0f}"
        speed = ""
        if pool and malloc and asyn:
            speed = f"  pool {malloc / pool:.0f}x cudaMalloc, {asyn / pool:.1f}x cudaMallocAsync"
        out.append(f"  {human(s):>8}: {fmt(pool):>7} {fmt(pool_async):>7} {fmt(malloc):>9} {fmt(asyn):>9}{speed}")
else:
    out.append("pool alloc+free: missing (gpu-benchmarks.json)")
sizes = sorted({int(dict(p)["bytes"]) for (b, p) in jmh if b.startswith("PinnedCopyBenchmark")})
if sizes:
    out.append("H2D / D2H GB/s: size, H2D pinned, H2D pageable, D2H pinned, D2H pageable")
    for s in sizes:
        vals = []
        for m in ("h2dPinned", "h2dPageable", "d2hPinned", "d2hPageable"):
            us = score("PinnedCopyBenchmark." + m, bytes=s)
            vals.append("n/a" if not us else f"{s / (us * 1e-6) / 1e9:.1f}")
        out.append(f"  {human(s):>8}: " + " ".join(f"{v:>7}" for v in vals))
else:
    out.append("H2D / D2H: missing (gpu-benchmarks.json)")
torch_mm = {}
for l in summary_lines("torch-matmul.txt"):
    m = re.search(r"n=(\d+), dtype=(\w+)", l)
    if m:
        torch_mm[(int(m.group(1)), m.group(2))] = number(l, "TFLOP/s")
# GpuKernelBench's square GEMMs are timed as torch.matmul is (3 warm-ups, ~0.5 s); JMH's run for seconds.
vk_mm = {}
for l in summary_lines("gpu-kernels.txt"):
    m = re.search(r"vramkit cuBLAS GEMM \[n=(\d+), dtype=(\w+)\]", l)
    if m:
        vk_mm[(int(m.group(1)), m.group(2))] = number(l, "TFLOP/s")
gemm_keys = sorted({(int(dict(p)["n"]), dict(p)["dtype"]) for (b, p) in jmh if b.startswith("GemmBenchmark")}
                   | set(torch_mm) | set(vk_mm))
if gemm_keys:
    out.append("GEMM TFLOP/s: n, dtype, vramkit cuBLAS (timed as torch), vramkit JMH (sustained), torch.matmul, "
               "vramkit/torch (target >= 95%)")
    for n, dt in gemm_keys:
        us = score("GemmBenchmark.gemm", dtype=dt, n=n)
        j = None if not us else 2 * n ** 3 / (us * 1e-6) / 1e12
        v = vk_mm.get((n, dt))
        t = torch_mm.get((n, dt))
        ratio = f"{100 * v / t:.0f}%" if v and t else "n/a"
        fmt = lambda x: "n/a" if x is None else f"{x:.1f}"
        out.append(f"  {n:>6} {dt}: {fmt(v):>7} {fmt(j):>7} {fmt(t):>7}  {ratio}")
else:
    out.append("GEMM: missing (gpu-benchmarks.json, torch-matmul.txt)")
vt = [l for l in summary_lines("gpu-trace.txt") if "trace" in l]
tt = summary_lines("torch-trace.txt")
out.append("LLM-serving trace, peak reserved / peak allocated (target: vramkit <= torch):")
out.append("  " + (vt[0] if vt else "vramkit: missing (gpu-trace.txt)"))
out.append("  " + (tt[0] if tt else "torch: missing (torch-trace.txt)"))
if vt and tt:
    va = re.search(r"allocated = ([0-9.]+)", vt[0])
    ta = re.search(r"allocated = ([0-9.]+)", tt[0])
    if va and ta:
        out.append(f"  vramkit {float(va.group(1)):.3f} vs torch {float(ta.group(1)):.3f}: "
                   + ("vramkit <= torch" if float(va.group(1)) <= float(ta.group(1)) else "vramkit > torch"))

kern = summary_lines("gpu-kernels.txt")
out.append("---- issue 9: quantized GEMV (GB/s of weight bytes; copy = read + write) ----")
for l in kern + summary_lines("torch-gemv.txt"):
    if re.match(r"(vramkit|torch) D2D copy", l):
        out.append("  " + l)
torch_gemv = {}
for l in summary_lines("torch-gemv.txt"):
    m = re.search(r"\[(\d+)x(\d+), batch (\d+)\]", l)
    if m:
        torch_gemv[(int(m.group(1)), int(m.group(3)))] = number(l, "us")
        out.append("  " + l)
for l in kern:
    m = re.search(r"gemv (\S+) \[(\d+)x(\d+), batch (\d+)\]", l)
    if m:
        t = torch_gemv.get((int(m.group(2)), int(m.group(4))))
        v = number(l, "us")
        vs = f"; {t / v:.2f}x torch FP16" if t and v else ""
        out.append("  " + l + vs)
if not kern and not torch_gemv:
    out.append("  missing (gpu-kernels.txt, torch-gemv.txt)")
out.append("  targets: INT4 batch 1 >= 70% of copy (stretch 85%), INT4 >= 3x torch FP16 at batch 1")
out.append("---- issue 9: quantized prefill GEMM (4096 tokens) ----")
gemm = [l for l in kern if "GEMM" in l or "gemm " in l]
out.extend("  " + l for l in gemm)
if not gemm:
    out.append("  missing (gpu-kernels.txt: gemm section)")
out.append("  target: the faster quantized strategy within 1.3x of the cuBLAS FP16 time")

out.append("---- issue 10: attention ----")
sdpa = {}
for l in summary_lines("torch-sdpa.txt"):
    m = re.search(r"b=(\d+), s=(\d+)", l)
    if m:
        sdpa[(int(m.group(1)), int(m.group(2)))] = number(l, "TFLOP/s")
    out.append("  " + l)
for l in kern:
    if "prefill" in l and "memory" not in l:
        m = re.search(r"b=(\d+), s=(\d+)", l)
        v = number(l, "TFLOP/s")
        t = sdpa.get((int(m.group(1)), int(m.group(2)))) if m else None
        out.append("  " + l + (f"; {100 * v / t:.0f}% of SDPA (target >= 50%)" if v and t else ""))
for l in kern:
    if "prefill memory" in l:
        out.append("  " + l)
for l in kern:
    if "decode" in l:
        out.append("  " + l)
if not sdpa and not any("prefill" in l or "decode" in l for l in kern):
    out.append("  missing (gpu-kernels.txt, torch-sdpa.txt)")
out.append("  decode target: >= 70% of copy (stretch 90%)")
print("\n".join(out))
