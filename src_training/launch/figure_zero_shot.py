"""A figure of a zero-shot target: a template subject's T1w source, its true image under a preset
training never drew (STIR by default), and what each model draws for that preset's prompt.

    python src_training/launch/figure_zero_shot.py OUT.png v9=runs/demo_v9 v10=demo [--preset STIR] [--seed 1001]

The subject is the standard suite's (``train.evaluate.source_and_reference``, 1 mm, its middle
axial slice); each panel is normalised by its volume's 99.5th percentile, as the suite scores
them. Translations are titled SYNTHETIC.
"""

from __future__ import annotations

import argparse


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="PNG to write")
    parser.add_argument("models", nargs="+", help="LABEL=MODEL (a name or a checkpoint folder)")
    parser.add_argument("--preset", default="STIR")
    parser.add_argument("--seed", type=int, default=1001)
    parser.add_argument("--resolution", type=int, choices=(1, 2), default=1, help="mm per voxel of the subject")
    args = parser.parse_args(argv)
    models = dict(m.split("=", 1) for m in args.models)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from napari_evai2i.data.physics import PRESETS
    from napari_evai2i.engine import load_model
    from napari_evai2i.train.evaluate import _prompt, normalised, source_and_reference

    target = PRESETS[args.preset]
    source, truth = source_and_reference(PRESETS["T1W"], target, args.seed, args.resolution)
    middle = source.image.shape[0] // 2
    panels = [("T1w source (simulated)", normalised(source.image)[middle]),
              (f"{args.preset} truth (simulated)", normalised(truth.image)[middle])]
    for label, model in models.items():
        out = load_model(model, "cpu").translate(source.image, _prompt(target), source_prompt=_prompt(source.protocol))
        panels.append((f"SYNTHETIC {args.preset}: {label}", normalised(out)[middle]))
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.6))
    for ax, (title, image) in zip(axes, panels):
        ax.imshow(image, cmap="gray", vmin=0, vmax=1)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(args.out, dpi=80)
    plt.close(fig)
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
