"""Does a model read dipy's real T2w (the b=0 volume) only at the contrast it happens to have?

Without a source prompt, the plain-sources models and v4 translate ``S0_10slices.nii.gz`` into
T1w on a knife edge: WM/GM 0.99 and 1.04 where T1w needs WM brighter than GM. Its tissue
classes are further apart than any T2w source the generator renders (WM/GM 0.33 in the image's
own classes). This probe raises the image to a few powers (``gamma < 1`` flattens its contrast
towards the generator's T2w, ``> 1`` steepens it) and translates each without a source prompt
into T1w, FLAIR and PDw, scored as the robustness suite scores real scans (tissue classes of
the unchanged image, so every power is measured on the same voxels).

    python src_training/launch/probe_real_t2_gamma.py LABEL=MODEL [...] [--gammas 0.5 0.7 1 1.4] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from napari_evai2i.data.physics import PRESETS
from napari_evai2i.engine import load_model
from napari_evai2i.train.robustness import T2_SOURCE_ORDER, real_t2_inputs, t2_tissues, tissue_means, tissue_scores


def probe(translator, image: np.ndarray, spacing, gammas: list[float]) -> dict:
    """Per power of the image: each target's tissue scores, no source prompt."""
    tissues = t2_tissues(image)
    out = {}
    for gamma in gammas:
        stretched = np.clip(image.astype(np.float32), 0, None) ** gamma
        out[f"gamma {gamma:g}"] = {
            kind: tissue_scores(tissue_means(translator.translate(stretched, PRESETS[kind].prompt(),
                                                                  source_prompt=None, spacing=spacing), tissues),
                                kind, order)
            for kind, order in T2_SOURCE_ORDER.items()}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="LABEL=MODEL (a shipped name or a checkpoint folder)")
    parser.add_argument("--gammas", nargs="+", type=float, default=[0.5, 0.7, 1.0, 1.4])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    inputs = real_t2_inputs()
    if not inputs:
        raise SystemExit("dipy's S0_10slices.nii.gz is not installed (pip install dipy)")
    (name, (image, spacing)), = inputs.items()
    record = {"input": name, "models": {}}
    for item in args.models:
        label, _, model = item.partition("=")
        result = probe(load_model(model or label, device="cpu"), image, spacing, args.gammas)
        record["models"][label] = result
        for setting, targets in result.items():
            cells = "  ".join(f"{kind} {'ok' if s['order_ok'] else 'WRONG'} (CSF/GM {s['csf_to_gm']}, "
                              f"WM/GM {s['wm_to_gm']})" for kind, s in targets.items())
            print(f"{label:>10} {setting:>10}: {cells}")
    if args.json:
        args.json.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
