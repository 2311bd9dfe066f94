"""How good is a model? Measured on fresh simulated volumes it never saw.

    python -m napari_evai2i.train.evaluate --model demo --seeds 1001 1002 --json report.json

* Translation tasks (T1w->T2w, T1w->FLAIR, T2w->T1w, T1w->PDw) on whole simulated
  subjects (new seeds, new deformations): PSNR (data range 1) and SSIM inside the brain
  (:mod:`napari_evai2i.engine.metrics`), each volume normalised by its own 99.5th
  percentile, against two baselines: the identity (source
  as is) and histogram matching of the source to the target's own histogram (an oracle).
  The source is a full simulated scan (bias field, Rician noise); the reference is the same
  subject under the target protocol without bias field or noise, which is what training
  asks the generator for: no translation can predict another scan's noise.
* Zero-shot prompts from the held-out regions of parameter space, and a TE sweep that
  checks the physics direction (CSF must brighten against GM as TE rises).
* For DCLIP (after stage 1): zero-shot sequence classification of images against
  canonical prompts (the paper's Fig. 4C) and a 2-D PCA picture of prompt embeddings.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from ..data.physics import PRESETS, SAMPLING_RANGES, ZERO_SHOT_SPLIT, Protocol
from ..data.simulator import simulate_pair
from ..engine.metrics import normalised, psnr, ssim

#: (name, source protocol, target protocol); targets of the zero-shot tasks are held out.
TASKS = {
    "T1w->T2w": ("T1W", PRESETS["T2W"]),
    "T1w->FLAIR": ("T1W", PRESETS["FLAIR"]),
    "T2w->T1w": ("T2W", PRESETS["T1W"]),
    "T1w->PDw": ("T1W", PRESETS["PDW"]),
}
ZERO_SHOT_TASKS = {
    "T1w->T2w TE 60 (held out)": ("T1W", PRESETS["T2W"].replace(te=60.0)),
    "T1w->FLAIR TI 2000 (held out)": ("T1W", PRESETS["FLAIR"].replace(ti=2000.0)),
    "T1w->STIR (held out)": ("T1W", PRESETS["STIR"]),
}
TE_SWEEP = (30.0, 60.0, 90.0, 120.0)
#: the echo times of :func:`te_response`: every TE of TE_SWEEP, plus points training does see
TE_RESPONSE = (30.0, 45.0, 60.0, 75.0, 90.0, 105.0, 120.0)


def _prompt(protocol: Protocol, plane: str = "axial") -> str:
    """The evaluation's prompt: the protocol's canonical one, in the axial plane it scores."""
    return protocol.prompt(plane)


_normalized = normalised  # the name tests/train/test_demo_model.py imports


def brain_metrics(pred: np.ndarray, target: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """PSNR (data range 1) and mean SSIM inside ``mask`` of normalised (Z, Y, X) volumes."""
    return {"psnr": round(psnr(pred, target, 1.0, mask), 2), "ssim": round(ssim(pred, target, 1.0, mask), 4)}


def histogram_matched(source: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    from skimage.exposure import match_histograms

    out = np.zeros_like(source)
    out[mask] = match_histograms(source[mask], target[mask])
    return out


def source_and_reference(source: Protocol, target: Protocol, seed: int, resolution_mm: int = 2,
                         **kwargs) -> tuple:
    """A simulated scan with ``source`` and the noise- and bias-free ``target`` image of the
    same subject (same warp and tissue jitter: both come from ``seed``)."""
    scan = simulate_pair([source, target], seed=seed, resolution_mm=resolution_mm, **kwargs)[0]
    reference = simulate_pair([source, target], seed=seed, resolution_mm=resolution_mm,
                              noise_snr=None, bias_field=False)[1]
    return scan, reference


def evaluate_translation(translator, seeds=(1001,), resolution_mm: int = 2,
                         tasks: dict | None = None) -> dict[str, dict]:
    """Model vs identity vs histogram matching on fresh simulated subjects, per task."""
    tasks = tasks if tasks is not None else {**TASKS, **ZERO_SHOT_TASKS}
    report: dict[str, dict] = {}
    for name, (src_kind, tgt_protocol) in tasks.items():
        scores: dict[str, list] = {"model": [], "identity": [], "histogram_matching": []}
        for seed in seeds:
            src, tgt = source_and_reference(PRESETS[src_kind], tgt_protocol, seed, resolution_mm)
            mask = src.mask
            out = translator.translate(src.image, _prompt(tgt_protocol), source_prompt=_prompt(src.protocol))
            target = normalised(tgt.image)
            source = normalised(src.image)
            scores["model"].append(brain_metrics(normalised(out), target, mask))
            scores["identity"].append(brain_metrics(source, target, mask))
            scores["histogram_matching"].append(brain_metrics(histogram_matched(source, target, mask), target, mask))
        report[name] = {k: {m: round(float(np.mean([s[m] for s in v])), 4) for m in ("psnr", "ssim")}
                        for k, v in scores.items()}
    return report


def te_sweep(response: dict) -> dict[str, float]:
    """CSF/GM intensity ratio of T1w->T2w translations as the prompt's TE rises (TE_SWEEP), read
    off a :func:`te_response`, which translates those echo times among its own."""
    ratios = {f"TE {te:g}": response["points"][f"TE {te:g}"]["translation"] for te in TE_SWEEP}
    ratios["monotonic"] = bool(np.all(np.diff(list(ratios.values())) > 0))
    return ratios


def t2_prompt_seen_in_training(te: float) -> bool:
    """Whether training pairs the words "T2-weighted" with this TE (at the preset's TR): inside the
    sampled T2w TE range and outside the held-out band. At long TR a shorter TE is called
    proton density weighted, so "T2-weighted, TE 30 ms" is a prompt training never shows."""
    lo, hi = SAMPLING_RANGES["T2W"]["te"]
    return lo <= te <= hi and ZERO_SHOT_SPLIT.region_of(PRESETS["T2W"].replace(te=te)) is None


def te_response(translator, seed: int = 1001, resolution_mm: int = 2) -> dict:
    """CSF/GM (pure CSF and GM) of T1w->T2w translations at each TE of TE_RESPONSE, beside the truth
    (the same subject rendered with that protocol) and marked by whether training sees that
    prompt; whether the translation rises with TE over the points training sees."""
    src, _ = simulate_pair([PRESETS["T1W"], PRESETS["T2W"]], seed=seed, resolution_mm=resolution_mm,
                           noise_snr=None)
    csf, gm = src.tissue[2] > 0.9, src.tissue[0] > 0.9
    points = {}
    for te in TE_RESPONSE:
        protocol = PRESETS["T2W"].replace(te=te)
        truth = simulate_pair([PRESETS["T1W"], protocol], seed=seed, resolution_mm=resolution_mm,
                              noise_snr=None, bias_field=False)[1].image
        out = translator.translate(src.image, _prompt(protocol), source_prompt=_prompt(src.protocol))
        points[f"TE {te:g}"] = {"translation": round(float(out[csf].mean() / max(out[gm].mean(), 1e-6)), 3),
                                "truth": round(float(truth[csf].mean() / max(truth[gm].mean(), 1e-6)), 3),
                                "seen_in_training": t2_prompt_seen_in_training(te)}
    seen = [p["translation"] for p in points.values() if p["seen_in_training"]]
    return {"points": points, "rises_over_seen_points": bool(np.all(np.diff(seen) > 0))}


@torch.no_grad()
def dclip_report(model, cfg, device, out_dir: Path) -> dict[str, float]:
    """Zero-shot sequence classification accuracy and a PCA picture of prompt embeddings."""
    from ..data.simulated_dataset import SimulatedDataConfig, SimulatedPairs, collate_items
    from ..prompts import ProtocolFields
    from .steps import embed_texts

    data = SimulatedPairs(SimulatedDataConfig(size=cfg.crop_size, seed=cfg.seed * 100 + 99))
    batch = collate_items([data[i] for i in range(cfg.eval_slices)])
    images = torch.cat([batch[f"{r}_in"] for r in ("src", "tgt", "int")]).to(device)
    truth = [ProtocolFields.from_dict(f).sequence for r in ("src", "tgt", "int") for f in batch[f"{r}_fields"]]
    classes = sorted(set(truth))
    class_emb = embed_texts(model, [f"A {c} magnetic resonance imaging of the brain." for c in classes], device)
    image_emb = model.dclip.encode_image(images).float()
    predicted = [classes[i] for i in (image_emb @ class_emb.T).argmax(1).tolist()]
    accuracy = float(np.mean([p == t for p, t in zip(predicted, truth)]))
    _plot_prompt_embeddings(model, device, out_dir / "dclip_prompt_embeddings.png")
    return {"zero_shot_sequence_accuracy": round(accuracy, 4), "n_images": len(truth)}


def _plot_prompt_embeddings(model, device, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .steps import embed_texts

    rng = np.random.default_rng(0)
    kinds = ("T1W", "T2W", "PDW", "FLAIR", "FLASH", "MPRAGE", "STIR")
    texts, labels = [], []
    for kind in kinds:
        for _ in range(12):
            protocol = Protocol.sample(rng, kind, allow_held_out=True)
            texts.append(_prompt(protocol))
            labels.append(kind)
    emb = embed_texts(model, texts, device).cpu().numpy()
    centred = emb - emb.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    xy = centred @ vt[:2].T
    fig, ax = plt.subplots(figsize=(6, 5), dpi=100)
    for kind in kinds:
        sel = [i for i, k in enumerate(labels) if k == kind]
        ax.scatter(xy[sel, 0], xy[sel, 1], s=18, label=kind + (" (held out)" if kind == "STIR" else ""))
    ax.set_title("DCLIP prompt embeddings (PCA)")
    ax.legend(fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m napari_evai2i.train.evaluate",
                                     description="Evaluate a model on fresh simulated subjects.")
    parser.add_argument("--model", default="demo", help="built-in name or checkpoint folder")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1001, 1002])
    parser.add_argument("--resolution", type=int, choices=(1, 2), default=1)
    parser.add_argument("--json", default=None, help="also write the report to this file")
    parser.add_argument("--suite", choices=("standard", "robustness", "held-out", "volume", "lesions", "all"),
                        default="standard",
                        help="standard: whole simulated subjects (below); robustness: held-out heads factor "
                             "by factor and real T1 and T2w scans (train/robustness.py); volume: 2-D vs tri-planar, "
                             "uncertainty and tissue Dice on held-out 3-D volumes (train/volume_quality.py); "
                             "lesions: only the robustness suite's lesion contrast (a minute); held-out: only "
                             "its held-out heads, with every case's scores, the anatomy-exact yardstick and each case's "
                             "plane and partial-volume CSF (see --first-case)")
    parser.add_argument("--cases", type=int, default=6, help="robustness: held-out cases per setting")
    parser.add_argument("--first-case", type=int, default=0,
                        help="held-out and lesions: index of the first case (the robustness suite uses 0-5; a "
                             "later block is a fresh sample to confirm a choice made on those)")
    parser.add_argument("--no-head-box", action="store_true",
                        help="held-out: translate whole slices, air and all (the engine before its head box)")
    parser.add_argument("--figure", default=None, help="robustness: PNG of the real inputs (T1 scans, a T2w volume) and translations")
    args = parser.parse_args(argv)
    if args.cases < 1 or args.first_case < 0:
        parser.error(f"--cases must be at least 1 and --first-case at least 0 (got {args.cases} and {args.first_case})")
    from ..engine import load_model

    try:
        translator = load_model(args.model, args.device)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report: dict = {"model": translator.label}
    if args.suite in ("standard", "all"):
        tasks = evaluate_translation(translator, args.seeds, args.resolution)
        response = te_response(translator, args.seeds[0], args.resolution)
        report.update({"seeds": args.seeds, "resolution_mm": args.resolution, "tasks": tasks,
                       "te_sweep": te_sweep(response), "te_response": response})
    if args.suite in ("robustness", "all"):
        from .robustness import robustness_report

        report["robustness"] = robustness_report(translator, args.cases, figure=args.figure)
    if args.suite == "held-out":
        from .robustness import anatomy_oracle, case_anatomy, held_out_factors

        first = args.first_case
        report["held_out"] = {"held_out_heads": held_out_factors(translator, args.cases, first_case=first, per_case=True,
                                                                 lesions=False, crop_to_head=not args.no_head_box),
                              "anatomy_oracle": anatomy_oracle(args.cases, first_case=first, per_case=True),
                              "case_anatomy": case_anatomy(args.cases, first_case=first),
                              "first_case": args.first_case, "cases": args.cases,
                              "head_box": not args.no_head_box}
    if args.suite == "lesions":
        from .robustness import lesion_contrast

        report["lesions"] = lesion_contrast(translator, args.cases, first_case=args.first_case)
        report["first_case"] = args.first_case          # beside the tasks' report, not among its task keys
    if args.suite in ("volume", "all"):
        from .volume_quality import volume_report

        report["volume"] = volume_report(translator, min(args.cases, 3))
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
