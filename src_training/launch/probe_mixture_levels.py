"""Where a model's pure-tissue levels come from, on items of a training recipe's own distribution:
the output, the tissue-mixture head's part (its per-tissue intensities times the tissue
probabilities) and the decoder's part, in pure GM and pure WM, against the target and the physics.

Why: v6's FLAIR has too little grey-white contrast (probe_tissue_contrast.py). This tells whether
the mixture head's intensities, its tissue probabilities or the decoder's residual flatten it.

    python src_training/launch/probe_mixture_levels.py MODEL --kind FLAIR [--items 16] [--clean-source] [--json OUT.json]

Items come from a data stream no recipe trains on (seed 4242) with the recipe's ranges; only brain
items with their source prompt and a target of ``--kind`` at 1.5 T are kept. Levels are in the
training's normalised units (the output is OUTPUT_GAIN x (decoder + mixture) + 0.5).

``calibration`` bins every pixel by its true fraction of each tissue and gives the mean tissue
probability there: a calibrated head that cannot tell a 0.94-GM pixel from a 0.77-GM one gives
both about 0.8 (it regresses to the mean); one that is merely too soft everywhere would not match
the middle bins either. ``--clean-source`` feeds the source without bias field, noise or gain,
which tells whether that shrinkage comes from the acquisition's noise.
"""

from __future__ import annotations

import argparse

import numpy as np

from _report import emit

KINDS = ("FLAIR", "T2W", "PDW", "T1W")
TISSUES = ("GM", "WM", "CSF")
FRACTION_BINS = (0.1, 0.3, 0.5, 0.7, 0.8, 0.9)


def calibration(probabilities: np.ndarray, fractions: np.ndarray) -> dict[str, list]:
    """Per tissue: [mean true fraction, mean probability, pixels] in each bin of the true fraction
    (arrays (3, N): GM, WM, CSF of every pixel)."""
    table = {}
    for k, name in enumerate(TISSUES):
        bins = np.digitize(fractions[k], FRACTION_BINS)
        table[name] = [[round(float(fractions[k][bins == b].mean()), 3), round(float(probabilities[k][bins == b].mean()), 3),
                        int((bins == b).sum())] for b in range(len(FRACTION_BINS) + 1) if (bins == b).sum() >= 50]
    return table


def probe_stream(recipe: str):
    """Items of ``recipe``'s distribution from a data stream no recipe trains on (seed 4242)."""
    from napari_evai2i.data.simulated_dataset import SimulatedDataConfig, SimulatedPairs
    from napari_evai2i.train.config import load_train_config, randomization_ranges

    cfg = load_train_config(recipe)
    return SimulatedPairs(SimulatedDataConfig(size=cfg.crop_size, seed=4242, view_in_prompt=cfg.view_in_prompt,
                                              generator=cfg.simulator, randomization=randomization_ranges(cfg)))


def decoder_parts(model, item: dict, source: str = "src_in"):
    """The generator's decoder output, its full-resolution features (what the tissue head reads)
    and the target prompt's style, for one item with its source prompt; images cropped back to
    the item's size. ``source``: ``src_in`` (as scanned) or ``src`` (clean)."""
    import torch

    from napari_evai2i.train.steps import embed_texts

    G = model.generator
    x = torch.from_numpy(item[source])[None]
    target_style, source_style = (embed_texts(model, [item[f"{r}_text"]], "cpu") for r in ("tgt", "src"))
    with torch.no_grad():
        padded, (left, _, top, _) = G._pad(x)
        feats = G.encode(padded, G._source_rows(source_style, torch.tensor([True]), 1))
        decoder, hidden = G.decoder(feats, target_style)
    h, w = x.shape[-2:]
    return decoder[..., top:top + h, left:left + w], hidden[..., top:top + h, left:left + w], target_style


def main(argv: list[str] | None = None) -> int:
    import torch

    from napari_evai2i.engine import load_model
    from napari_evai2i.model.generator import OUTPUT_GAIN
    from napari_evai2i.prompts import vocabulary as voc

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a name or a checkpoint folder")
    parser.add_argument("--kind", default="FLAIR", choices=KINDS)
    parser.add_argument("--items", type=int, default=16)
    parser.add_argument("--recipe", default="src_training/configs/demo_cpu_v5_mixed_canvas_mean.yaml")
    parser.add_argument("--clean-source", action="store_true",
                        help="feed the clean source (no bias field, noise or gain) instead of the scanner's")
    parser.add_argument("--json")
    args = parser.parse_args(argv)

    model = load_model(args.model, "cpu").model
    G = model.generator
    data = probe_stream(args.recipe)
    sequence = {"FLAIR": voc.FLAIR, "T2W": voc.T2W, "PDW": voc.PDW, "T1W": voc.T1W}[args.kind]
    rows, pixels = [], []
    for index in range(20 * args.items):
        item = data[index]
        fields = item["tgt_fields"]
        if fields["sequence"] != sequence or item["shapes"] or not item["src_known"] or fields["field_strength"] != 1.5:
            continue
        fractions, lesion = item["tissue"], item["lesion"][0]
        gm, wm = (fractions[0] > 0.9) & (lesion < 0.01), (fractions[1] > 0.9) & (lesion < 0.01)
        if gm.sum() < 20 or wm.sum() < 20:
            continue
        decoder, hidden, target_style = decoder_parts(model, item, "src" if args.clean_source else "src_in")
        with torch.no_grad():
            probabilities = G.tissue_head(hidden).softmax(1)
            intensity = G.tissue_intensity(target_style)
            mixture = (probabilities * intensity[..., None, None]).sum(1, keepdim=True)
        decoder, mixture, probabilities = decoder[0, 0].numpy(), mixture[0, 0].numpy(), probabilities[0].numpy()
        physics = item["tgt_tissue_values"]
        rows.append({
            "target": [item["tgt"][0][gm].mean(), item["tgt"][0][wm].mean()],
            "output": [(OUTPUT_GAIN * (decoder + mixture) + 0.5)[m].mean() for m in (gm, wm)],
            "mixture part": [(OUTPUT_GAIN * mixture + 0.5)[m].mean() for m in (gm, wm)],
            "decoder part": [(OUTPUT_GAIN * decoder)[m].mean() for m in (gm, wm)],
            "mixture intensities": [OUTPUT_GAIN * float(intensity[0, k]) + 0.5 for k in (0, 1)],
            "physics": [physics[0], physics[1]],
            "own-class probability": [probabilities[0][gm].mean(), probabilities[1][wm].mean()],
        })
        pixels.append((probabilities[:3].reshape(3, -1), fractions[:3].reshape(3, -1)))
        if len(rows) == args.items:
            break
    report = {"model": args.model, "kind": args.kind, "items": len(rows),
              "source": "clean" if args.clean_source else "as scanned", "columns": ["pure GM", "pure WM"],
              "levels": {key: [round(float(np.mean([r[key][k] for r in rows])), 3) for k in (0, 1)] for key in rows[0]},
              "calibration, per bin of the true fraction: [fraction, probability, pixels]": calibration(
                  np.concatenate([p for p, _ in pixels], 1), np.concatenate([f for _, f in pixels], 1))}
    return emit(report, args.json)


if __name__ == "__main__":
    raise SystemExit(main())
