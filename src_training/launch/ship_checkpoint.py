"""Package a trained run as the shipped ``demo`` checkpoint (float16, inside the package).

    python src_training/launch/ship_checkpoint.py runs/demo/model [--eval runs/demo/eval.json]

Writes ``napari_evai2i/weights/demo/`` (config.json + model.safetensors in float16, about
half the size; weights load back as float32) and copies the evaluation report beside it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import torch

from napari_evai2i.model import load_pretrained, save_pretrained

TARGET = Path(__file__).resolve().parents[2] / "napari_evai2i" / "weights" / "demo"
MAX_MB = 25.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", help="checkpoint folder written by training (OUT/model)")
    parser.add_argument("--eval", help="evaluation JSON to ship beside the weights")
    parser.add_argument("--target", default=str(TARGET))
    args = parser.parse_args()
    model, info = load_pretrained(args.model)
    if not info.trained:
        print(f"error: {args.model} is not a trained checkpoint", file=sys.stderr)
        return 2
    info.description = (f"napari-evai2i demo model: {model.config.name} EVA-I2I trained on SIMULATED head MR "
                        "(MR signal equations on warped MNI152 anatomy with synthetic skull, scalp and "
                        "lesions). Not for clinical use.")
    folder = save_pretrained(model, args.target, info, dtype=torch.float16)
    if args.eval:
        shutil.copy(args.eval, folder / "evaluation.json")
    size = sum(p.stat().st_size for p in folder.iterdir()) / 2**20
    print(json.dumps({"shipped": str(folder), "size_mb": round(size, 2)}))
    if size > MAX_MB:
        print(f"error: shipped checkpoint is {size:.1f} MB, over the {MAX_MB} MB budget", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
