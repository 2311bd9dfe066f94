"""What 3-D consistency and uncertainty cost: tri-planar and uncertainty passes against plain 2-D.

    python benchmarks/bench_planes.py [--model demo] [--device cpu] [--shape 128 160 160]

Each option runs through the one pipeline (``VolumeTranslation``) on the same volume in the
same process, alternating, after one warm-up; the median of ``--repeats`` is reported with the
ratio to 2-D. Volumes: isotropic 1 mm and the same extent at 1 x 1 x 5 mm (where tri-planar
skips the squashed planes). The issue's rule: tri-planar becomes the default only at <= 3x.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from _common import emit, machine
from bench_volume import phantom

OPTIONS = {"2-D": {"planes": 1}, "tri-planar": {"planes": 3}, "uncertainty 4 passes": {"planes": 1, "uncertainty_passes": 4},
           "tri-planar + uncertainty 6 passes": {"planes": 3, "uncertainty_passes": 6}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="demo")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--shape", type=int, nargs=3, default=[128, 160, 160])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from napari_evai2i.engine import load_model
    from napari_evai2i.engine.pipeline import TranslationRequest, VolumeTranslation
    from napari_evai2i.engine.source_contrast import known_prompts
    from napari_evai2i.io import Volume

    emit(machine())
    translator = load_model(args.model, args.device)
    prompt = known_prompts()["T2W"]
    shape = tuple(args.shape)
    volumes = {"1 x 1 x 1 mm": Volume(phantom(shape), spacing=(1.0, 1.0, 1.0)),
               "5 x 1 x 1 mm (thick slices)": Volume(phantom((shape[0] // 5,) + shape[1:]), spacing=(5.0, 1.0, 1.0))}
    for geometry, volume in volumes.items():
        times: dict[str, list[float]] = {name: [] for name in OPTIONS}
        for repeat in range(args.repeats + 1):
            for name, options in OPTIONS.items():
                request = TranslationRequest(prompt, model=translator.name, **options)
                started = time.perf_counter()
                VolumeTranslation(volume, request, translator).run()
                if repeat:                                   # the first round warms up
                    times[name].append(time.perf_counter() - started)
        base = float(np.median(times["2-D"]))
        for name in OPTIONS:
            median = float(np.median(times[name]))
            emit({"bench": "planes", "geometry": geometry, "shape": list(volume.array.shape), "option": name,
                  "model": translator.label, "device": str(translator.device), "median_s": round(median, 2),
                  "repeats": args.repeats, "ratio_to_2d": round(median / base, 2)})


if __name__ == "__main__":
    main()
