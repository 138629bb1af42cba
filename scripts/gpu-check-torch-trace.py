#!/usr/bin/env python3
"""Replays an allocation trace CSV through PyTorch's caching allocator (issue 8), for scripts/gpu-check.

Usage: gpu-check-torch-trace.py TRACE.csv

The CSV has RMM's columns (Thread,Time,Action,Pointer,Size,Stream), as io.vramkit.core.trace.TraceCsv writes them
and io.vramkit.jmh.cuda.GpuTraceReplay saves them: each 'allocate' becomes torch.empty(Size, dtype=torch.uint8,
device='cuda') kept under its Pointer, each 'free' drops that tensor ('del'), 'allocate failure' lines are skipped.
Stream ids are ignored (the generated trace uses stream 0 only). Prints torch.cuda.max_memory_reserved() /
max_memory_allocated() and reserved over the trace's own peak of live requested bytes, the denominators vramkit's
GpuTraceReplay prints, then a SUMMARY line. Default allocator settings (PYTORCH_CUDA_ALLOC_CONF is printed if set).
"""
import os
import sys
import time

if len(sys.argv) != 2:
    print("usage: gpu-check-torch-trace.py TRACE.csv", file=sys.stderr)
    sys.exit(2)
path = sys.argv[1]
if not os.path.isfile(path):
    print(f"torch trace replay skipped: no trace file '{path}'")
    sys.exit(0)

try:
    import torch
except Exception as e:  # pragma: no cover - depends on the machine
    print(f"torch trace replay skipped: cannot import torch ({e})")
    sys.exit(0)
if not torch.cuda.is_available():
    print("torch trace replay skipped: torch.cuda.is_available() is False")
    sys.exit(0)

events = []
with open(path, encoding="utf-8") as f:
    for line_no, line in enumerate(f, 1):
        line = line.strip()
        if not line or (not events and line.lower().startswith("thread")):
            continue
        fields = line.split(",")
        if len(fields) != 6:
            print(f"torch trace replay FAILED: line {line_no}: expected 6 fields, got {len(fields)}")
            sys.exit(1)
        action = fields[2].strip().lower()
        pointer = int(fields[3], 16) if fields[3].strip().lower().startswith("0x") else int(fields[3])
        events.append((action, pointer, int(fields[4])))

torch.cuda.init()
torch.cuda.empty_cache()
torch.cuda.reset_peak_memory_stats()
base_allocated = torch.cuda.memory_allocated()
base_reserved = torch.cuda.memory_reserved()
live = {}
live_bytes = 0
peak_live = 0
failed = 0
start = time.perf_counter()
for action, pointer, size in events:
    if action == "allocate":
        try:
            live[pointer] = torch.empty(size, dtype=torch.uint8, device="cuda")
            live_bytes += size
            peak_live = max(peak_live, live_bytes)
        except RuntimeError:  # torch.cuda.OutOfMemoryError is a RuntimeError
            failed += 1
    elif action == "free":
        t = live.pop(pointer, None)
        if t is not None:
            live_bytes -= size
            del t
torch.cuda.synchronize()
elapsed = time.perf_counter() - start
live.clear()
reserved = torch.cuda.max_memory_reserved() - base_reserved
allocated = torch.cuda.max_memory_allocated() - base_allocated
mib = 1024.0 * 1024.0
conf = os.environ.get("PYTORCH_CUDA_ALLOC_CONF")
print(f"torch {torch.__version__}, {torch.cuda.get_device_name(0)}, PYTORCH_CUDA_ALLOC_CONF={conf or '(default)'}")
print(f"torch caching allocator: {len(events)} events in {elapsed * 1e3:.1f} ms, peak reserved {reserved / mib:.1f} MiB, "
      f"peak allocated {allocated / mib:.1f} MiB, peak requested {peak_live / mib:.1f} MiB; "
      f"reserved/allocated = {reserved / max(allocated, 1):.3f}, reserved/requested = {reserved / max(peak_live, 1):.3f}; "
      f"{failed} failed allocations")
print(f"SUMMARY torch trace: peak reserved / peak allocated = {reserved / max(allocated, 1):.3f} "
      f"(reserved / requested = {reserved / max(peak_live, 1):.3f})")
