"""Shared helpers of the benchmark scripts: timing, JSON lines, machine description."""

from __future__ import annotations

import json
import resource
import sys
import time

import torch

from napari_evai2i.engine.translator import describe_machine


def emit(record: dict) -> None:
    """One JSON object per line on stdout (what every benchmark prints)."""
    print(json.dumps(record), flush=True)


def machine() -> dict:
    """What a figure depends on; the instruction set goes beside every figure we quote."""
    return describe_machine()


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device: torch.device, *, min_repeats: int = 3, max_seconds: float = 20.0,
          warmup: int = 1) -> tuple[float, int]:
    """Median seconds per call of ``fn`` (after warm-up), within a time budget."""
    for _ in range(warmup):
        fn()
    sync(device)
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < min_repeats or (time.perf_counter() - start < max_seconds and len(times) < 50):
        t = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t)
        if time.perf_counter() - start > max_seconds and len(times) >= 1:
            break
    times.sort()
    return times[len(times) // 2], len(times)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux ru_maxrss is in KiB)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 1024 if sys.platform != "darwin" else rss / 2**20
