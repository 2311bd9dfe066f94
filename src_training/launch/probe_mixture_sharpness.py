"""The factor a model with ``mixture_sharpness`` puts on its tissue mixture's logits, as it
translates held-out heads: per target and input setting, with and without the source prompt.

    python src_training/launch/probe_mixture_sharpness.py MODEL [--first-case 256 --cases 3]

Why: a factor read from the prompt alone is one number per target; one that also reads the
structure code can differ by input (1 mm whole heads, 2 mm crops inside the brain), and the verdicts
of the sharpness pilots ask where it sharpens. The factor is caught with a forward hook on the
network, so it is the one the engine used.
"""

from __future__ import annotations

import argparse

import numpy as np


def main(argv: list[str] | None = None) -> int:
    import torch

    from napari_evai2i import load_model
    from napari_evai2i.model.generator import sharpness_factor
    from napari_evai2i.train.robustness import CASE_SIZE, READING_FACTORS, HeldOutCase, _translate

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--first-case", type=int, default=256)
    parser.add_argument("--cases", type=int, default=3)
    args = parser.parse_args(argv)
    translator = load_model(args.model, "cpu")
    net = translator.model.generator.mixture_sharpness
    if net is None:
        parser.error(f"{args.model} has no mixture_sharpness")
    caught: list[float] = []
    net.register_forward_hook(lambda _m, _i, out: caught.extend(sharpness_factor(out.float()).flatten().tolist()))
    for target in ("T2W", "FLAIR", "PDW"):
        for setting in ("whole head", "crop inside the brain, 2 mm pixels"):
            for with_prompt in (False, True):
                caught.clear()
                for i in range(args.first_case, args.first_case + args.cases):
                    case = HeldOutCase(i, CASE_SIZE).render("T1W", target, **READING_FACTORS[setting])
                    _translate(translator, case, with_prompt)
                prompt = "source prompt" if with_prompt else "no source prompt"
                print(f"T1w->{target:5s} {setting:36s} {prompt:16s} factor {np.mean(caught):.3f} "
                      f"(min {np.min(caught):.3f}, max {np.max(caught):.3f}, {len(caught)} slices)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
