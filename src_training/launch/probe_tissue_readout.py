"""Can a larger tissue head read sharper fractions from a model's own features? Fits fresh heads
on a frozen generator's full-resolution decoder features (the ones its tissue head reads) and
scores their calibration on other items, next to the shipped head.

Why: v6's tissue probabilities regress to the mean (a 0.94-GM pixel gets 0.78, from clean sources
too; probe_mixture_levels.py), and a heavier tissue term did not move them. If a larger head on
the same features gets the purest pixels right, the 1x1 head is the bottleneck; if it does not,
the features are; a head that also sees the source image tells whether the image itself holds
what the features lost.

    python src_training/launch/probe_tissue_readout.py MODEL [--train-items 48] [--test-items 16] [--steps 300] [--json OUT.json]

Items: brain items with their source prompt from a stream no recipe trains on (seed 4242), any
target, with the recipe's ranges; the first ``--train-items`` fit the heads, the next
``--test-items`` score them. Heads: ``linear`` (a fresh 1x1 convolution, as the shipped head),
``conv`` (two 3x3 layers of 64 channels, then 1x1), ``conv + source`` (the same with the source
image as one more input channel).
"""

from __future__ import annotations

import argparse

import numpy as np

from _report import emit
from probe_mixture_levels import calibration, decoder_parts, probe_stream


def main(argv: list[str] | None = None) -> int:
    import torch
    from torch import nn

    from napari_evai2i.engine import load_model
    from napari_evai2i.train.losses import tissue_loss

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a name or a checkpoint folder")
    parser.add_argument("--train-items", type=int, default=48)
    parser.add_argument("--test-items", type=int, default=16)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--recipe", default="src_training/configs/demo_cpu_v5_mixed_canvas_mean.yaml")
    parser.add_argument("--json")
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    model = load_model(args.model, "cpu").model
    G = model.generator
    data = probe_stream(args.recipe)
    hidden, sources, fractions, shipped = [], [], [], []
    index = 0
    while len(hidden) < args.train_items + args.test_items:
        item = data[index]
        index += 1
        if item["shapes"] or not item["src_known"] or item["tissue"][:3].sum() < 200:
            continue
        _, h, _ = decoder_parts(model, item)
        with torch.no_grad():
            shipped.append(G.tissue_head(h))
        hidden.append(h)
        sources.append(torch.from_numpy(item["src_in"])[None])
        fractions.append(torch.from_numpy(item["tissue"])[None])
    hidden, sources, fractions, shipped = (torch.cat(a) for a in (hidden, sources, fractions, shipped))
    test = slice(args.train_items, None)

    channels, classes = hidden.shape[1], fractions.shape[1]
    heads = {
        "linear": (nn.Conv2d(channels, classes, 1), False),
        "conv": (nn.Sequential(nn.Conv2d(channels, 64, 3, padding=1), nn.GELU(), nn.Conv2d(64, 64, 3, padding=1),
                               nn.GELU(), nn.Conv2d(64, classes, 1)), False),
        "conv + source": (nn.Sequential(nn.Conv2d(channels + 1, 64, 3, padding=1), nn.GELU(),
                                        nn.Conv2d(64, 64, 3, padding=1), nn.GELU(), nn.Conv2d(64, classes, 1)), True),
    }
    def flat(p):
        return p[:, :3].permute(1, 0, 2, 3).reshape(3, -1).numpy()

    report = {"model": args.model, "items": {"train": args.train_items, "test": args.test_items},
              "steps": args.steps, "calibration, per bin of the true fraction: [fraction, probability, pixels]":
              {"shipped head": calibration(flat(shipped[test].softmax(1)), flat(fractions[test]))}, "test loss": {}}
    generator = torch.Generator().manual_seed(0)
    for name, (head, with_source) in heads.items():
        inputs = torch.cat([hidden, sources], 1) if with_source else hidden
        optimiser = torch.optim.Adam(head.parameters(), lr=3e-3)
        for step in range(args.steps):
            batch = torch.randint(0, args.train_items, (8,), generator=generator)
            loss = tissue_loss(head(inputs[batch]), fractions[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        with torch.no_grad():
            logits = head(inputs[test])
            report["test loss"][name] = round(float(tissue_loss(logits, fractions[test])), 4)
            report["calibration, per bin of the true fraction: [fraction, probability, pixels]"][name] = calibration(
                flat(logits.softmax(1)), flat(fractions[test]))
    report["test loss"]["shipped head"] = round(float(tissue_loss(shipped[test], fractions[test])), 4)
    return emit(report, args.json)


if __name__ == "__main__":
    raise SystemExit(main())
