"""Shared set-up of the torch peer scripts of scripts/gpu-check: importing torch, and timing a CUDA op."""
import sys


def require_torch(label):
    """Returns the torch module, or prints why `label` is skipped and exits 0 (a missing peer never fails the run)."""
    try:
        import torch
    except Exception as e:  # pragma: no cover - depends on the machine
        print(f"{label} skipped: cannot import torch ({e})")
        sys.exit(0)
    if not torch.cuda.is_available():
        print(f"{label} skipped: torch.cuda.is_available() is False")
        sys.exit(0)
    return torch


def time_op(torch, fn, budget_s=0.5, max_reps=50, warmup=3):
    """Seconds per call of fn: warm-up, one timed call to size the loop, then the loop timed with CUDA events."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    fn()
    end.record()
    end.synchronize()
    once = max(start.elapsed_time(end) / 1e3, 1e-6)
    reps = int(max(1, min(max_reps, budget_s / once)))
    start.record()
    for _ in range(reps):
        fn()
    end.record()
    end.synchronize()
    return start.elapsed_time(end) / 1e3 / reps
