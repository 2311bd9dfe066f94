"""Can a small network put a lone 2-D slice at the level its volume would have had?

The engine normalises a lone slice by the median of that slice's own brain core, and that
median moves with what the slice holds (6-7 % SD on held-out whole heads; model card, "Where
the SSIM goes"). A volume is normalised as a whole and lands within 4 % of the training level.
This probe trains the contrast reader's network with one output, the log of the rule's scale
for a slice rendered at the training level, on the domain-randomised generator's sources (six
contrasts, whole heads and brains, thick slices, bias, noise; no gamma or gain, since the
truth is the level). At inference the rule's scale would be divided by exp(prediction),
clipped to +-0.25.

``train`` writes the weights (safetensors); ``evaluate`` translates held-out whole heads with
the engine's rule, with the corrected scale and at the training level (the ceiling), with and
without the source prompt, and reports SSIM, Dice, the corrected scale's gain over the rule
(mean +- SE over cases) and the RMS of the log scale of both, over the cases' sources.

    python src_training/launch/probe_lone_slice_level.py train --out runs/lone_slice_level.safetensors --steps 2000
    python src_training/launch/probe_lone_slice_level.py evaluate --weights runs/lone_slice_level.safetensors \\
        --first-case 604 --cases 24 --json OUT.json

Training 2,000 steps of 32 images took 18.6 minutes on our 2-core CPU; each example depends
only on ``(seed, step, i)``.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import replace

import numpy as np

from _report import emit          # this folder: the script's own sys.path entry
from targets_table import mean_and_se

SEED = 77
#: the largest correction applied, in log scale (about +-28 %)
CLIP = 0.25
#: the source prompt given in each setting (robustness._translate)
SETTINGS = {"no source prompt": False, "source prompt": True}


def level_network():
    """The contrast reader's network with one output: the log of the rule's scale."""
    from napari_evai2i.model.contrast_reader import ContrastReader, ContrastReaderConfig

    return ContrastReader(ContrastReaderConfig(kinds=("log_scale",)))


def example(rng: np.random.Generator, size: int = 128) -> tuple[np.ndarray, float, float]:
    """A generator source at the training level, divided by the rule's scale (what the engine
    feeds the translator), the log of that scale (0: the rule finds the training level) and the
    pixel size (mm)."""
    from napari_evai2i.data.randomized import BRAIN_LEVEL, level_of, signal_vector
    from napari_evai2i.engine.normalization import brain_core_level
    from napari_evai2i.model.contrast_reader import READER_KINDS
    from napari_evai2i.train.contrast_reader import _generator, reader_protocol

    generator = _generator(size, 0.0)
    protocol = reader_protocol(rng, READER_KINDS[int(rng.integers(len(READER_KINDS)))])
    anatomy = generator.draw_anatomy(rng)
    signals = signal_vector(protocol, generator.parameters(generator.jitter(rng), protocol.field_strength))
    fractions = anatomy["fractions"]
    slab = generator.render(fractions, signals).mean(0) if anatomy["slab"] \
        else generator.render(fractions[:, fractions.shape[1] // 2][:, None], signals)[0]
    image = generator.acquire(slab * BRAIN_LEVEL / level_of(signals), rng, anatomy["pixel_mm"], False,
                              levels=False).numpy()
    pixel = anatomy["pixel_mm"]
    scale = brain_core_level(image, (pixel, pixel)) / BRAIN_LEVEL
    return image / scale, math.log(scale), pixel


def train(out: str, steps: int, batch: int = 32, lr: float = 1e-3, log=print) -> None:
    import torch
    import torch.nn.functional as F
    from safetensors.torch import save_file

    from napari_evai2i.train.contrast_reader import learning_rate

    torch.manual_seed(3)
    network = level_network()
    optimizer = torch.optim.AdamW(network.parameters(), lr=lr, weight_decay=1e-4)
    started = time.perf_counter()
    for step in range(steps):
        images, targets, _ = zip(*(example(np.random.default_rng([SEED, step, i])) for i in range(batch)))
        x = torch.from_numpy(np.stack(images))[:, None].float()
        y = torch.tensor(targets).float()
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, steps, lr)
        loss = F.smooth_l1_loss(network(x)[:, 0], y, beta=0.05)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step % 50 == 0 or step == steps - 1:
            log(json.dumps({"step": step, "loss": round(loss.item(), 5),
                            "seconds": round(time.perf_counter() - started)}))
    save_file({k: v.detach().contiguous() for k, v in network.eval().state_dict().items()}, out)


def corrected_scale(network, image: np.ndarray, rule):
    """``rule`` (an IntensityScale) divided by exp(the network's reading of ``image`` under it), clipped."""
    import torch

    with torch.no_grad():
        reading = float(network(torch.from_numpy(image / rule.scale)[None, None].float())[0, 0])
    return replace(rule, scale=rule.scale / math.exp(float(np.clip(reading, -CLIP, CLIP))))


def evaluate(weights: str, first_case: int, cases: int) -> dict:
    from safetensors.torch import load_file

    from napari_evai2i.engine import load_model
    from napari_evai2i.engine.normalization import BRAIN_LEVEL, IntensityScale
    from napari_evai2i.train.robustness import CASE_SIZE, TASKS, HeldOutCase, _translate, mean_scores, slice_scores

    network = level_network()
    network.load_state_dict(load_file(weights))
    network.eval()
    translator = load_model("demo", "cpu")
    training_level = IntensityScale.at_brain_level(BRAIN_LEVEL, "the training level")
    report: dict = {"first_case": first_case, "cases": cases, "tasks": {}}
    log_scales: dict[str, list[float]] = {"rule": [], "corrected": []}
    for task, (src, tgt) in TASKS.items():
        rows = {setting: {"rule": [], "corrected": [], "training level": []} for setting in SETTINGS}
        for i in range(first_case, first_case + cases):
            case = HeldOutCase(i, CASE_SIZE).render(src, tgt, whole_head=True)        # rendered once
            rule = translator.fit_scale(case["src"], "MR", (case["pixel_mm"],) * 2)   # fitted and read once
            scales = {"rule": rule, "corrected": corrected_scale(network, case["src"], rule),
                      "training level": training_level}
            for name in log_scales:
                log_scales[name].append(math.log(scales[name].scale))
            for setting, with_prompt in SETTINGS.items():
                for name, scale in scales.items():
                    translation = _translate(translator, case, with_prompt, scale=scale)
                    rows[setting][name].append(slice_scores(translation, case["tgt"], case["brain"]))
        for setting, by_name in rows.items():
            cell = {name: mean_scores(r) for name, r in by_name.items()}
            gains = [c["ssim"] - r["ssim"] for c, r in zip(by_name["corrected"], by_name["rule"])]
            cell["corrected - rule, SSIM"] = [round(v, 4) for v in mean_and_se(gains)]
            report["tasks"][f"{task}, {setting}"] = cell
    report["rms log scale"] = {name: round(float(np.sqrt(np.mean(np.square(v)))), 4) for name, v in log_scales.items()}
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    fit = sub.add_parser("train")
    fit.add_argument("--out", required=True, help="weights file (.safetensors)")
    fit.add_argument("--steps", type=int, default=2000)
    fit.add_argument("--batch", type=int, default=32)
    check = sub.add_parser("evaluate")
    check.add_argument("--weights", required=True)
    check.add_argument("--first-case", type=int, default=604)
    check.add_argument("--cases", type=int, default=24)
    check.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    if args.command == "train":
        train(args.out, args.steps, args.batch)
        return 0
    return emit(evaluate(args.weights, args.first_case, args.cases), args.json)


if __name__ == "__main__":
    raise SystemExit(main())
