"""A copy of a checkpoint whose tissue-mixture probabilities are sharpened at inference:
softmax(logits / T) with T < 1, made by dividing the full-resolution tissue head's weights and bias
by T (the structure code's head, used only in training, is left alone).

Why: an experiment without training. v6's tissue probabilities shrink toward the mean (a 0.94-GM
pixel gets 0.78; probe_mixture_levels.py), so this asks what sharper mixtures would do to the
images before any recipe tries to teach them.

    python src_training/launch/sharpen_tissue_mixture.py runs/demo_v6 runs/v6_T0.7 --temperature 0.7
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

HEAD = ("generator.tissue_head.weight", "generator.tissue_head.bias")


def main(argv: list[str] | None = None) -> int:
    from safetensors.torch import load_file, save_file

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, help="a checkpoint folder (config.json, model.safetensors)")
    parser.add_argument("out", type=Path)
    parser.add_argument("--temperature", type=float, required=True)
    args = parser.parse_args(argv)
    if not 0 < args.temperature:
        parser.error("--temperature must be positive")
    if args.out.resolve() == args.model.resolve():
        parser.error("OUT must be a new folder: the input checkpoint is never overwritten")
    state = load_file(args.model / "model.safetensors")
    missing = [key for key in HEAD if key not in state]
    if missing:
        parser.error(f"{args.model} has no tissue head ({', '.join(missing)})")
    for key in HEAD:
        state[key] = (state[key].float() / args.temperature).to(state[key].dtype)
    args.out.mkdir(parents=True, exist_ok=True)
    shutil.copy(args.model / "config.json", args.out / "config.json")
    save_file(state, str(args.out / "model.safetensors"))
    print(f"wrote {args.out}: tissue logits / {args.temperature:g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
