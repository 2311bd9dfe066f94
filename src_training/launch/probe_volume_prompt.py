"""How a held-out *volume* translates with and without its source prompt, as a user's volume would.

The held-out suite scores lone 2-D slices, each normalised by its own brain core; a user's volume
is normalised as a whole and translated slice by slice (model card, "Where the SSIM goes"). This
probe translates held-out volumes of the volume suite's generator (`train/volume_quality.py`:
176 mm cubes at 1 mm, whole heads, source SNR 30) through the engine, along axis 0, with the
source prompt, with none (unknown), and with the engine's default for an untagged volume (the
contrast reader's prompt where it is sure), and scores each inside the brain as the volume suite
does. Volume indices from 3 on are ones the volume suite (0-2) never used.

    python src_training/launch/probe_volume_prompt.py --first 3 --volumes 8 --json OUT.json
"""

from __future__ import annotations

import argparse

import numpy as np

from _report import emit          # this folder: the script's own sys.path entry
from targets_table import mean_and_se

#: the engine's source_prompt for each setting (None: from tags, else the contrast reader)
SETTINGS = {"source prompt": "preset", "no source prompt": "", "source read from the image": None}


def probe(model: str, task: str, first: int, volumes: int, size: int = 176) -> dict:
    from napari_evai2i.engine import load_model
    from napari_evai2i.engine.pipeline import TranslationRequest, VolumeTranslation
    from napari_evai2i.io import Volume
    from napari_evai2i.train.robustness import TASKS
    from napari_evai2i.train.volume_quality import held_out_volume, volume_scores

    translator = load_model(model, "cpu")
    src, tgt = TASKS[task]
    rows: dict[str, list[dict]] = {name: [] for name in SETTINGS}
    planes, read_as = [], []
    for index in range(first, first + volumes):
        case = held_out_volume(index, src, tgt, size, size)
        planes.append(case["plane"])
        for name, source in SETTINGS.items():
            source = case["src_protocol"].prompt() if source == "preset" else source
            request = TranslationRequest(target=case["tgt_protocol"].prompt(), model=translator.name, axis=0,
                                         planes=1, source_prompt=source)
            job = VolumeTranslation(Volume(case["src"], spacing=(1.0, 1.0, 1.0)), request, translator)
            scores = volume_scores(job.run().volume.array, case["tgt"], case["brain"])
            rows[name].append({**scores, "dice": float(np.mean([scores[f"dice_class{k}"] for k in range(3)]))})
            if source is None:                                  # what the engine gave the translator
                read_as.append(f"{job.source_prompt_origin}: {job.request.source_prompt}")
    report: dict = {"model": model, "task": task, "first": first, "volumes": volumes, "size_mm": size,
                    "planes": planes, "source_read_as": read_as, "settings": {}}
    for name, r in rows.items():
        report["settings"][name] = {metric: [round(v, 4) for v in mean_and_se([row[metric] for row in r])]
                                    for metric in ("ssim", "psnr", "dice")}
        report["settings"][name]["per_volume_ssim"] = [round(row["ssim"], 4) for row in r]
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="demo")
    parser.add_argument("--task", default="T1w->FLAIR")
    parser.add_argument("--first", type=int, default=3)
    parser.add_argument("--volumes", type=int, default=8)
    parser.add_argument("--size", type=int, default=176, help="side of the cube, mm (tests use less)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    return emit(probe(args.model, args.task, args.first, args.volumes, args.size), args.json)


if __name__ == "__main__":
    raise SystemExit(main())
