"""Is the ring phantom's verdict about prompts, or about the level its source is normalised to?

The brain-core-median rule puts the median of what lies 10 mm inside the foreground at 0.5; in
the ring phantom that median falls in its grey-matter ring, which need not put each tissue at
the level training gave it (measured: 6-9 % apart, docs/model_card.md). This probe
translates the ring phantom twice per model and task: normalised by the checkpoint's rule (what
the robustness suite does) and at the training level (each tissue at the value the generator
gives it: signal x 0.5 / the template core's median, ``data.randomized.level_of``). A model that
trained with ``p99.5`` gets the same scale both times (the ring's brightest tissue is the
template's), so only the first is run for it. Prints a line per model and setting and
writes JSON: per model, per setting, the orders kept and T1w->T2w CSF/GM.

    python src_training/launch/probe_ring_levels.py LABEL=MODEL [...] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from napari_evai2i.data.physics import PRESETS, head_tissue_parameters, tissue_parameters
from napari_evai2i.data.randomized import BRAIN_LEVEL, level_of, signal_vector
from napari_evai2i.engine import load_model
from napari_evai2i.engine.normalization import IntensityScale
from napari_evai2i.engine.translator import run_steps
from napari_evai2i.train.robustness import (T2_SOURCE_ORDER, TISSUE_ORDER, in_order, ring_phantom, tissue_means,
                                            tissue_scores)


def training_scale(kind: str) -> IntensityScale:
    """The scale that puts ``kind``'s pure tissues at the values the generator trains them at."""
    protocol = PRESETS[kind]
    strength = protocol.field_strength
    level = level_of(signal_vector(protocol, {**tissue_parameters(strength), **head_tissue_parameters(strength)}))
    return IntensityScale("MR", 0.0, level / BRAIN_LEVEL, 0.0, "training level")


def ring_orders(translator, use_training_level: bool) -> dict:
    out = {}
    for source, orders in (("T1W", TISSUE_ORDER), ("T2W", T2_SOURCE_ORDER)):
        image, rings = ring_phantom(source)
        scale = training_scale(source) if use_training_level else None
        for kind, order in orders.items():
            truth = tissue_means(ring_phantom(kind)[0], rings)
            entry = {"truth_csf_to_gm": round(truth["CSF"] / truth["GM"], 3), "truth_order_ok": in_order(truth, order)}
            for key, prompt in (("no source prompt", None), ("source prompt", PRESETS[source].prompt())):
                steps = translator.iter_translate(image, PRESETS[kind].prompt(), source_prompt=prompt, scale=scale)
                pred = run_steps(steps)[0]
                scores = tissue_scores(tissue_means(pred, rings), kind, order)
                entry[key] = {k: scores[k] for k in ("order_ok", "csf_to_gm", "wm_to_gm")}
            out[f"{source}->{kind}"] = entry
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="LABEL=MODEL (a shipped name or a checkpoint folder)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    record = {}
    for item in args.models:
        label, model = item.split("=", 1)
        translator = load_model(model, "cpu")
        record[label] = {"rule": translator.normalization_rule}
        settings = [("checkpoint rule", False)]
        if translator.normalization_rule == "brain-core-median":
            settings.append(("training level", True))
        for setting, flag in settings:
            checks = ring_orders(translator, flag)
            summary = {key: int(sum(e[key]["order_ok"] for e in checks.values()))
                       for key in ("source prompt", "no source prompt")}
            record[label][setting] = {"orders_kept": summary, "tasks": checks}
            t2 = checks["T1W->T2W"]
            print(f"{label:12s} {setting:16s} orders prompt {summary['source prompt']}/6 none "
                  f"{summary['no source prompt']}/6  T1w->T2w CSF/GM prompt {t2['source prompt']['csf_to_gm']:.2f} "
                  f"none {t2['no source prompt']['csf_to_gm']:.2f} (truth {t2['truth_csf_to_gm']:.2f})", flush=True)
    if args.json:
        args.json.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
