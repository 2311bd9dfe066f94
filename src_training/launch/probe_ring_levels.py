"""Is the ring phantom's verdict about prompts, or about the level its source is normalised to?

The brain-core-median rule puts the median of what lies 10 mm inside the foreground at 0.5; in
the ring phantom that median falls in its grey-matter ring, which need not put each tissue at
the level training gave it (measured: 6-9 % apart, docs/model_history.md). This probe
translates the ring phantom twice per model and task: normalised by the checkpoint's rule (what
the robustness suite does) and at the training level (each tissue at the value the generator
gives it: signal x 0.5 / the template core's median, ``data.randomized.training_level``). A model that
trained with ``p99.5`` gets the same scale both times (the ring's brightest tissue is the
template's), so only the first is run for it. Prints a line per model and setting and
writes JSON: per model, per setting, the orders kept and each task as the robustness suite
records it (``train.robustness.off_template_check``).

    python src_training/launch/probe_ring_levels.py LABEL=MODEL [...] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from napari_evai2i.data.physics import PRESETS
from napari_evai2i.data.randomized import training_level
from napari_evai2i.engine import load_model
from napari_evai2i.engine.normalization import IntensityScale
from napari_evai2i.train.robustness import off_template_check


def training_scale(kind: str) -> IntensityScale:
    """The scale that puts ``kind``'s pure tissues at the values the generator trains them at."""
    return IntensityScale.at_brain_level(training_level(PRESETS[kind]), "training level")


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
            checks = off_template_check(translator, scale_of=training_scale if flag else None)
            summary = {key: int(sum(e[key]["order_ok"] for e in checks.values()))
                       for key in ("source prompt", "no source prompt")}
            record[label][setting] = {"orders_kept": summary, "tasks": checks}
            t2 = checks["T1W->T2W"]
            print(f"{label:12s} {setting:16s} orders prompt {summary['source prompt']}/6 none "
                  f"{summary['no source prompt']}/6  T1w->T2w CSF/GM prompt {t2['source prompt']['csf_to_gm']:.2f} "
                  f"none {t2['no source prompt']['csf_to_gm']:.2f} (truth {t2['truth']['csf_to_gm']:.2f})", flush=True)
    if args.json:
        args.json.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
