"""What reading the source contrast adds to a translation of an untagged volume.

    python benchmarks/bench_contrast_reader.py [--model demo] [--device cpu]

The sample subject's 1 mm T1w volume (simulated, 197 x 233 x 189), its tags removed as a
NIfTI's would be, goes through the engine's one pipeline (``VolumeTranslation``) twice per
repeat, alternating: once with the source prompt withheld (``""``: the reader is not asked)
and once left to the engine (the reader reads five slices). The difference of the set-up
times is the reader's cost; it is also given as a share of translating the whole volume.
"""

from __future__ import annotations

import argparse
import statistics
import time

from _common import emit, machine

PROMPT = "A T2-weighted magnetic resonance imaging of the brain. TR 4000 ms, TE 100 ms."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="demo")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    from napari_evai2i.data.samples import sample_volumes
    from napari_evai2i.engine import load_model
    from napari_evai2i.engine.pipeline import TranslationRequest, VolumeTranslation
    from napari_evai2i.io import Volume

    emit({"machine": machine()})
    t1 = sample_volumes(1)["T1W"]
    volume = Volume(t1.array, spacing=t1.spacing, direction=t1.direction)       # no tags, as a NIfTI
    translator = load_model(args.model, args.device)
    times: dict[str, list[float]] = {"withheld": [], "read": []}
    jobs = {}
    for _ in range(args.repeats + 1):                                            # the first is a warm-up
        for key, source in (("withheld", ""), ("read", None)):
            t0 = time.perf_counter()
            jobs[key] = VolumeTranslation(volume, TranslationRequest(PROMPT, model=args.model, device=args.device,
                                                                     source_prompt=source, planes=1), translator)
            times[key].append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    jobs["read"].run()
    whole = time.perf_counter() - t0
    setup = {k: statistics.median(v[1:]) for k, v in times.items()}
    reader_s = setup["read"] - setup["withheld"]
    emit({"bench": "contrast_reader", "model": translator.label, "device": str(translator.device),
          "shape": list(volume.array.shape), "repeats": args.repeats,
          "setup_withheld_s": round(setup["withheld"], 3), "setup_read_s": round(setup["read"], 3),
          "reader_s": round(reader_s, 3), "whole_volume_one_plane_s": round(whole, 2),
          "reader_share_of_translation": round(reader_s / whole, 4),
          "reading": jobs["read"].source_reading.to_dict()})


if __name__ == "__main__":
    main()
