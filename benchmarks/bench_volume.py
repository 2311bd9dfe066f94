"""Interactive and whole-volume speed, and peak memory on a large volume (CPU by default).

    python benchmarks/bench_volume.py [--model demo] [--device cpu] [--precisions auto bf16]

* time to the first translated slice (what the Translate widget shows at once): load the
  (cached) model, embed the prompt, translate the current slice;
* time for the whole 182 x 218 x 182 volume through ``Translator.iter_translate`` (the
  generator the widget's worker drains);
* peak resident memory of a fresh process translating a 512 x 512 x 400 volume.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import numpy as np

from _common import emit, machine, peak_rss_mb

PROMPT = "A T2-weighted magnetic resonance imaging of the brain. TR 4000 ms, TE 100 ms."
SHAPE = (182, 218, 182)
LARGE = (400, 512, 512)


def phantom(shape) -> np.ndarray:
    z, y, x = (np.linspace(-1, 1, n, dtype=np.float32) for n in shape)
    r = z[:, None, None] ** 2 + y[None, :, None] ** 2 + x[None, None, :] ** 2
    return np.where(r < 0.8, 500 + 300 * np.cos(6 * r), 0).astype(np.int16)


def first_slice_and_volume(model: str, device: str, precision: str = "auto") -> float:
    from napari_evai2i.engine import fit_intensity_scale, load_model

    volume = phantom(SHAPE)
    t0 = time.perf_counter()
    translator = load_model(model, device, precision)
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    scale = fit_intensity_scale(volume)
    target = translator.embed_prompt(PROMPT)
    current = volume[SHAPE[0] // 2][None]
    translator.translate_slices(scale.normalize(current), target)
    t_first = time.perf_counter() - t0
    t0 = time.perf_counter()
    translator.translate_slices(scale.normalize(volume[SHAPE[0] // 2 + 1][None]), target)
    t_next = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in translator.iter_translate(volume, PROMPT, scale=scale):
        pass
    t_volume = time.perf_counter() - t0
    emit({"bench": "volume", "model": translator.label, "device": str(translator.device), "shape": SHAPE,
          "precision": "bf16" if translator.uses_bf16() else "fp32", "model_load_s": round(t_load, 3), "first_slice_s": round(t_first, 3),
          "next_slice_s": round(t_next, 3), "whole_volume_s": round(t_volume, 2),
          "batch_size": translator.default_batch_size()})
    return t_volume


def large_volume_child(model: str, device: str) -> None:
    from napari_evai2i.engine import load_model

    volume = phantom(LARGE)
    translator = load_model(model, device)
    t0 = time.perf_counter()
    out = translator.translate(volume, PROMPT)
    emit({"bench": "memory", "model": translator.label, "device": str(translator.device), "shape": LARGE,
          "input_dtype": str(volume.dtype), "output_dtype": str(out.dtype),
          "seconds": round(time.perf_counter() - t0, 1), "peak_rss_mb": round(peak_rss_mb(), 1)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="demo")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precisions", nargs="+", default=["auto"], choices=["auto", "fp32", "bf16"],
                        help="measure the first slice and whole volume at each (the model loads once)")
    parser.add_argument("--skip-large", action="store_true")
    parser.add_argument("--large-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.large_child:
        large_volume_child(args.model, args.device)
        return
    emit({"bench": "machine", **machine()})
    seconds = {p: first_slice_and_volume(args.model, args.device, p) for p in args.precisions}
    if len(seconds) > 1:
        base = args.precisions[0]
        emit({"bench": "volume_ratio", "baseline": base,
              **{f"{p}_speedup": round(seconds[base] / s, 3) for p, s in seconds.items() if p != base}})
    if not args.skip_large:
        # A fresh process, so the peak is this translation's alone.
        subprocess.run([sys.executable, __file__, "--large-child", "--model", args.model,
                        "--device", args.device], check=True)


if __name__ == "__main__":
    main()
