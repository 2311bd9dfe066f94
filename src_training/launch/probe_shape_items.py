"""Held-out items that are no brain (data/randomized.py shape_anatomy), translated with the
source prompt, by each model given: mean SSIM / tissue Dice over 8 items per task (docs/model_history.md,
"Tried after v4: layouts that are no brain"). Items come from seeds (999, i), which no recipe draws.

    python src_training/launch/probe_shape_items.py demo runs/shapes_fp16 runs/shapes_keep_fp16 runs/shapes_half_fp16
"""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import replace

import numpy as np

from napari_evai2i.data.physics import PRESETS
from napari_evai2i.data.randomized import HeadSliceGenerator, RandomizationRanges
from napari_evai2i.engine import load_model
from napari_evai2i.train.robustness import slice_scores

TASKS = (("T1W", "T2W"), ("T1W", "FLAIR"), ("T2W", "T1W"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", help="model names or checkpoint folders")
    parser.add_argument("--items", type=int, default=8)
    args = parser.parse_args()
    generator = HeadSliceGenerator(128, replace(RandomizationRanges(), shapes=1.0))
    models = {name: load_model(name, "cpu") for name in args.models}
    report = {}
    for src, tgt in TASKS:
        scores = {name: [] for name in models}
        for i in range(args.items):
            item = generator.item(np.random.default_rng([999, i]), [PRESETS[src], PRESETS[tgt], PRESETS["PDW"]],
                                  random.Random(i), 0.0, True)
            brain = item["tissue"][:3].sum(0) > 0.5
            for name, translator in models.items():
                out = translator.translate_slices(item["src_in"], translator.bind(PRESETS[tgt].prompt()),
                                                  translator.embed_prompt(PRESETS[src].prompt()))[0]
                scores[name].append(slice_scores(out, item["tgt"][0], brain))
        report[f"{src}->{tgt}"] = {name: {m: round(float(np.mean([s[m] for s in rows])), 3) for m in ("ssim", "dice")}
                                  for name, rows in scores.items()}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
