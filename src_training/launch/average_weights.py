"""Average the weights of checkpoints of one training lineage into a new checkpoint ("model soup").

    python src_training/launch/average_weights.py OUT_FOLDER MODEL [MODEL ...]

Why: the CPU continuations of one model (each started from the one before) differ in what they
gained and in how sharp they draw; the mean of their weights can keep the gains and average out
the drift, at no training cost. This works only for models that share a starting point: two runs
from scratch land in unrelated minima, and their average draws nothing useful. Every tensor is
averaged with equal weight (integer buffers are taken from the first model); the architecture,
text tower and normalisation rule must match, or the script refuses. Each source's folder and
provenance (its recipe and the chain of runs it continued) are recorded in ``config.json``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from napari_evai2i.model import create_model, load_pretrained, save_pretrained
from napari_evai2i.model.generator import adds_prompt_numbers, load_adding_prompt_numbers


def _with_prompt_numbers(model, config):
    """``model`` grown to ``config``, which only adds the prompt-number map (at zero: the same model)."""
    grown = create_model(config)
    grown.dclip.load_state_dict(model.dclip.state_dict())
    load_adding_prompt_numbers(grown.generator, model.generator.state_dict(), model.config.generator)
    return grown


def average(folders: list[str]):
    """The first model with every floating-point tensor replaced by the mean over ``folders``.

    A model without the prompt-number map averages with one that has it as the same model with
    the map at zero (it translates exactly so), and the mean has the map."""
    loaded = [load_pretrained(folder) for folder in folders]
    richest = next((m.config for m, _ in loaded if m.config.generator.prompt_numbers), loaded[0][0].config)
    loaded = [(_with_prompt_numbers(m, richest) if adds_prompt_numbers(m.config.generator, richest.generator)
               and m.config.text == richest.text and m.config.image == richest.image else m, i) for m, i in loaded]
    model, info = loaded[0]
    states = [model.state_dict()]
    sources = [{"checkpoint": str(folders[0]), "provenance": info.provenance}]
    for folder, (other, other_info) in zip(folders[1:], loaded[1:]):
        if other.config.to_dict() != model.config.to_dict():
            raise ValueError(f"{folder} has another architecture than {folders[0]}; only models of one "
                             "lineage can be averaged")
        if other_info.normalization != info.normalization:
            raise ValueError(f"{folder} normalises its input by {other_info.normalization}, {folders[0]} by "
                             f"{info.normalization}; they cannot be averaged")
        states.append(other.state_dict())
        sources.append({"checkpoint": str(folder), "provenance": other_info.provenance})
    mean = {key: torch.stack([s[key].float() for s in states]).mean(0).to(value.dtype)
            if value.is_floating_point() else value for key, value in states[0].items()}
    model.load_state_dict(mean)
    info.provenance = {"averaged_weights_of": [str(f) for f in folders], "sources": sources}
    info.description = f"napari-evai2i model: the mean of the weights of {len(folders)} checkpoints of one lineage"
    return model, info


def main(argv: list[str] | None = None) -> int:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("out", help="new checkpoint folder (written atomically)")
    cli.add_argument("models", nargs="+", help="checkpoint folders of one lineage")
    args = cli.parse_args(argv)
    if len(args.models) < 2:
        cli.error("give two models or more")
    if any(Path(args.out).resolve() == Path(m).resolve() for m in args.models):
        cli.error("the output folder is one of the inputs; write the average elsewhere")
    try:
        model, info = average(args.models)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    save_pretrained(model, args.out, info)
    print(f"wrote {args.out}: the mean of {len(args.models)} models")
    return 0


if __name__ == "__main__":
    sys.exit(main())
