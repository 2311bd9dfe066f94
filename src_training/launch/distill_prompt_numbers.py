"""Give a model's prompt numbers one smooth path: a copy of TEACHER whose text tower reads each
prompt without its timing sentence, and whose number map (``prompt_numbers_apart``, a small
network of that embedding and the stated TR, TE, TI and flip angle) is fitted so that the copy's
style matches TEACHER's on the prompts training draws. No image is rendered and no other weight
changes.

    python src_training/launch/distill_prompt_numbers.py TEACHER OUT --model src_training/configs/tiny_prompt_apart.json --recipe src_training/configs/demo_cpu_v6_ti_only.yaml [--json REPORT]

Why: the text tower reads numbers as word pieces and answers them as a step function. v7 embeds
"T2-weighted, TE 55-90 ms" alike and "TE 40-50 ms" alike, so at TE 60 ms (in the band training
holds out) it draws the contrast of TE 75-90 ms, and a "T2-weighted" prompt at TE 30 ms (a wording
training never pairs with that TE) as if it were TE 120 ms. A network of the numbers is smooth in
log TE and TI, so between two numbers training showed it gives a style between theirs.

The prompts are drawn as the recipe's training draws them (its protocol ranges, kinds, wording
variants and dropped sentences; none from the held-out bands), plus each one's canonical wording,
which is what inference uses. A share of them, never seen by the fit, scores it.

A student with ``prompt_physics`` (src_training/configs/tiny_prompt_physics.json) is fitted the
same way to the whole of TEACHER's style, its below-null correction included: its network also
reads the tissue contrast each prompt's protocol implies by the signal equations, and for a prompt
that states a whole protocol its tower reads no weighting word either. Why: a sequence training
never showed (a STIR) then gets the style of the contrast it gives the brain, not that of the
nearest word.

``--below-null-teacher OTHER``: inversion-recovery prompts whose TI lies below the CSF null of
their TR and field take their styles from OTHER instead. Why: v8's FLAIR below the null comes
from an extrapolation that runs the wrong way, and a copy of v8 trained on images there
(pilots_v8/ti_below_null.yaml) learnt it but moved every other protocol too; this keeps each
teacher only where it was taught.

``--near-null-teacher NEAR --near-null-band LOW HIGH`` (with a model that has
``below_null_correction``): the styles below the null are OTHER's where TI is at most LOW x the
null, NEAR's from HIGH x the null up to it, and a straight mix between. Why: a teacher trained only
far below the null (pilots_v9/ti_deep_below_null.yaml) learnt TI 1700 ms but not 1950 ms, where
v9's teacher was already right.
"""

from __future__ import annotations

import argparse
import random

import numpy as np
import torch

from _report import emit


def training_prompts(recipe: str, count: int, seed: int) -> tuple[list[str], list[bool]]:
    """``count`` prompts as the recipe's randomized stages draw them, each followed by its
    protocol's canonical prompt in the same plane (so 2 x ``count`` in all), and for each whether
    its protocol's TI lies below the CSF null (``model.prompt_numbers.depth_below_null``)."""
    from napari_evai2i.data.simulated_dataset import SimulatedDataConfig, SimulatedPairs
    from napari_evai2i.model.prompt_numbers import depth_below_null
    from napari_evai2i.prompts import canonical_prompt, sample_prompt
    from napari_evai2i.train.config import load_train_config

    cfg = load_train_config(recipe)
    pairs = SimulatedPairs(SimulatedDataConfig(seed=seed, protocol_ranges=cfg.protocol_ranges,
                                               view_in_prompt=cfg.view_in_prompt))
    rng, text_rng = np.random.default_rng(seed), random.Random(seed)
    texts: list[str] = []
    below_null: list[bool] = []
    index = 0
    while len(texts) < 2 * count:
        for protocol in pairs.draw_protocols(rng, index):
            plane = text_rng.choice(("axial", "coronal", "sagittal")) if cfg.view_in_prompt else None
            fields = protocol.prompt_fields(plane)
            texts += [sample_prompt(fields, text_rng, pairs.config.drop_probability), canonical_prompt(fields)]
            below = depth_below_null(fields) > 0       # the protocol's, whatever its sampled wording drops
            below_null += [below, below]
        index += 1
    return texts[:2 * count], below_null[:2 * count]


@torch.no_grad()
def _in_batches(fn, texts: list[str], size: int = 512) -> torch.Tensor:
    return torch.cat([fn(texts[i:i + size]) for i in range(0, len(texts), size)])


def _network_inputs(model, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """The text tower's embedding of each prompt (without its timing sentence), and what the
    number network reads (``Generator.number_inputs``)."""
    from napari_evai2i.prompts import tokenize

    length = model.config.text.context_length
    base = _in_batches(lambda t: model.dclip.encode_text(tokenize(model.generator.tower_texts(t), length)).float(),
                       texts)
    return base, model.generator.number_inputs(base, texts)


def _fit(net: torch.nn.Module, inputs: torch.Tensor, wanted: torch.Tensor, fitted: int, steps: int, seed: int,
         scale: torch.Tensor | None = None) -> torch.nn.Module:
    """Fit ``net`` (times ``scale``, per row, when given) to ``wanted`` on the first ``fitted`` rows:
    squared distance, batches of 512, AdamW lr 2e-3 with a cosine schedule, seeded."""
    net.train()
    optimizer = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        batch = torch.randint(0, fitted, (512,), generator=generator)
        out = net(inputs[batch]) if scale is None else scale[batch] * net(inputs[batch])
        loss = (out - wanted[batch]).pow(2).sum(1).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
    return net.eval()


def _float_model(path: str):
    """A checkpoint as float32 for inference, and its checkpoint info."""
    from napari_evai2i.model import load_pretrained

    model, info = load_pretrained(path, "cpu")
    return model.float().eval(), info


def _student_of(teacher_path: str, model_config: str, seed: int):
    """The teacher (float32), its checkpoint info, and a seeded student of ``model_config`` that has
    the teacher's DCLIP; ``model_config`` must keep the teacher's text tower."""
    from napari_evai2i.model import create_model, load_config

    torch.manual_seed(seed)
    teacher, info = _float_model(teacher_path)
    config = load_config(model_config)
    if config.text != teacher.config.text:
        raise ValueError(f"{model_config} must keep the teacher's text tower")
    student = create_model(config, seed=seed).eval()
    student.dclip.load_state_dict(teacher.dclip.state_dict())
    return teacher, info, student


def _style_error(styles: torch.Tensor, targets: torch.Tensor) -> dict:
    """How far ``styles`` lie from ``targets``: mean distance, mean and lowest cosine."""
    cosine = torch.nn.functional.cosine_similarity(styles, targets)
    return {"mean_distance": round(float((styles - targets).norm(dim=1).mean()), 4),
            "mean_cosine": round(float(cosine.mean()), 5), "lowest_cosine": round(float(cosine.min()), 4)}


def distill(teacher_path: str, model_config: str, recipe: str, prompts: int, steps: int, seed: int,
            below_null_teacher: str | None = None):
    """The student model, the teacher (float32) and its checkpoint info, and a report of how well
    the student's styles match the teacher's (``below_null_teacher``'s for inversion-recovery
    prompts below the CSF null, when given). A teacher's below-null correction is folded into the
    student's number network where the student has none."""
    teacher, info, student = _student_of(teacher_path, model_config, seed)
    if not student.config.generator.prompt_numbers_apart:
        raise ValueError(f"{model_config} must set prompt_numbers_apart")
    refitted = ("prompt_numbers.",) + (("below_null_correction.",) if not student.config.generator.below_null_correction
                                       else ())
    kept = {k: v for k, v in teacher.generator.state_dict().items() if not k.startswith(refitted)}
    missing, unexpected = student.generator.load_state_dict(kept, strict=False)
    if unexpected or any(not k.startswith("prompt_numbers.") for k in missing):
        raise ValueError(f"the teacher's generator does not fit {model_config}: missing {missing}, "
                         f"unexpected {unexpected}")

    texts, below_null = training_prompts(recipe, prompts, seed)
    scored = len(texts) // 10                     # the last tenth is never fitted
    targets = _in_batches(lambda t: teacher.prompt_styles(t, "cpu"), texts)
    below = torch.tensor(below_null)
    if below_null_teacher is not None:
        other = _float_model(below_null_teacher)[0]
        chosen = [t for t, b in zip(texts, below_null) if b]
        targets[below] = _in_batches(lambda t: other.prompt_styles(t, "cpu"), chosen)
    fit = len(texts) - scored
    base, inputs = _network_inputs(student, texts)
    wanted = targets - base

    net = _fit(student.generator.prompt_numbers, inputs, wanted, fit, steps, seed)

    with torch.no_grad():
        styles = base + net(inputs)
    held = slice(fit, None)
    report = {"teacher": str(teacher_path), "prompts": len(texts), "scored_prompts": scored, "steps": steps,
              "seed": seed, "recipe": recipe,
              **({"below_null_teacher": below_null_teacher, "prompts_below_the_csf_null": int(below.sum())}
                 if below_null_teacher is not None else {}),
              "style_error_unseen_prompts": {
                  **_style_error(styles[held], targets[held]),
                  "distance_to_the_tower_without_numbers": round(float(wanted[held].norm(dim=1).mean()), 4)}}
    return student, teacher, info, report


def near_null_share(depth: torch.Tensor, band: tuple[float, float]) -> torch.Tensor:
    """How much of the near-null teacher's style each prompt takes, from its depth below the null
    (1 - TI / null): 0 where TI / null is at most ``band[0]``, 1 from ``band[1]``, straight between."""
    low, high = band
    if not 0.0 < low < high <= 1.0:
        raise ValueError(f"the near-null band must satisfy 0 < LOW < HIGH <= 1, got {low} {high}")
    return ((1.0 - depth - low) / (high - low)).clamp(0.0, 1.0)


def fit_below_null_correction(teacher_path: str, model_config: str, recipe: str, prompts: int, steps: int,
                              seed: int, below_null_teacher: str, near_null_teacher: str | None = None,
                              near_null_band: tuple[float, float] = (0.80, 0.90)):
    """For a student with ``below_null_correction``: every weight of TEACHER kept, and the
    correction fitted so that the student's style matches ``below_null_teacher``'s on the prompts
    below the CSF null (the only ones it acts on), mixed toward ``near_null_teacher``'s near the null
    when given (:func:`near_null_share`). The same return as :func:`distill`."""
    from napari_evai2i.model.generator import added_zero_start_parts, load_adding_zero_start_parts
    from napari_evai2i.model.prompt_numbers import below_null_depth

    teacher, info, student = _student_of(teacher_path, model_config, seed)
    added = added_zero_start_parts(teacher.config.generator, student.config.generator)
    if added != ("below_null_correction",):
        raise ValueError(f"{model_config} must be the teacher's model with below_null_correction")
    load_adding_zero_start_parts(student.generator, teacher.generator.state_dict(), added)

    texts, _ = training_prompts(recipe, prompts, seed)
    depth = below_null_depth(texts)
    texts = [t for t, d in zip(texts, depth.tolist()) if d > 0]
    depth = depth[depth > 0][:, None]
    scored = len(texts) // 10                     # the last tenth is never fitted
    other = _float_model(below_null_teacher)[0]
    targets = _in_batches(lambda t: other.prompt_styles(t, "cpu"), texts)
    if near_null_teacher is not None:
        near = _float_model(near_null_teacher)[0]
        share = near_null_share(depth, near_null_band)
        targets = (1.0 - share) * targets + share * _in_batches(lambda t: near.prompt_styles(t, "cpu"), texts)
    before = _in_batches(lambda t: teacher.prompt_styles(t, "cpu"), texts)
    inputs = _network_inputs(student, texts)[1]
    wanted = targets - before
    fit = len(texts) - scored
    _fit(student.generator.below_null_correction, inputs, wanted, fit, steps, seed, scale=depth)
    with torch.no_grad():
        styles = _in_batches(lambda t: student.prompt_styles(t, "cpu"), texts)
    held = slice(fit, None)
    report = {"teacher": str(teacher_path), "below_null_teacher": below_null_teacher, "fitted": "below_null_correction",
              "prompts": 2 * prompts, "prompts_below_the_csf_null": len(texts), "scored_prompts": scored, "steps": steps, "seed": seed,
              "recipe": recipe,
              **({"near_null_teacher": near_null_teacher, "near_null_band": list(near_null_band)}
                 if near_null_teacher is not None else {}),
              "style_error_unseen_prompts": {
                  **_style_error(styles[held], targets[held]),
                  "distance_of_the_teacher": round(float(wanted[held].norm(dim=1).mean()), 4)}}
    return student, teacher, info, report


def te_table(student, teacher) -> dict:
    """Cosines of T2w styles across echo times, teacher and student, against TE 45 and 75 ms."""
    from napari_evai2i.data.physics import PRESETS

    echo_times = (30, 40, 45, 50, 55, 60, 65, 70, 75, 90, 120)
    texts = [PRESETS["T2W"].replace(te=float(te)).prompt("axial") for te in echo_times]
    table = {}
    for label, model in (("teacher", teacher), ("student", student)):
        with torch.no_grad():
            s = torch.nn.functional.normalize(model.prompt_styles(texts, "cpu"), dim=1)
        at45, at75 = s[echo_times.index(45)], s[echo_times.index(75)]
        table[label] = {f"TE {te}": [round(float(v @ at45), 4), round(float(v @ at75), 4)]
                        for te, v in zip(echo_times, s)}
    return {"cosine to TE 45 and to TE 75 (T2w, TR 4000 ms)": table}


def main(argv: list[str] | None = None) -> int:
    from napari_evai2i.model import save_pretrained
    from napari_evai2i.model.factory import read_checkpoint_config

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("teacher", help="checkpoint folder")
    parser.add_argument("out", help="checkpoint folder to write")
    parser.add_argument("--model", required=True, help="the student's model config (prompt_numbers_apart)")
    parser.add_argument("--recipe", required=True, help="the recipe whose training prompts to draw")
    parser.add_argument("--prompts", type=int, default=15000, help="protocols drawn (each gives 2 prompts)")
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--below-null-teacher", help="checkpoint folder whose styles inversion-recovery "
                        "prompts below the CSF null are fitted to")
    parser.add_argument("--near-null-teacher", help="checkpoint folder whose styles prompts near the CSF null "
                        "take instead (needs a model with below_null_correction)")
    parser.add_argument("--near-null-band", type=float, nargs=2, default=(0.80, 0.90), metavar=("LOW", "HIGH"),
                        help="TI / null where the mix starts and where it is all the near-null teacher's")
    parser.add_argument("--json")
    args = parser.parse_args(argv)

    from napari_evai2i.model import load_config

    if load_config(args.model).generator.below_null_correction:
        if not args.below_null_teacher:
            parser.error("a model with below_null_correction is fitted to --below-null-teacher's styles")
        student, teacher, info, report = fit_below_null_correction(
            args.teacher, args.model, args.recipe, args.prompts, args.steps, args.seed, args.below_null_teacher,
            args.near_null_teacher, tuple(args.near_null_band))
    elif args.near_null_teacher:
        parser.error("--near-null-teacher mixes the styles of a below_null_correction; this model has none")
    else:
        student, teacher, info, report = distill(args.teacher, args.model, args.recipe, args.prompts, args.steps,
                                                 args.seed, args.below_null_teacher)
    report.update(te_table(student, teacher))
    provenance = dict(info.provenance) if isinstance(info.provenance, dict) else {}
    info.provenance = {"prompt_numbers_distilled_from": {"checkpoint": str(args.teacher),
                                                         "provenance": provenance},
                       "distillation": {k: report[k] for k in ("prompts", "steps", "seed", "recipe")}}
    if args.below_null_teacher:
        other = read_checkpoint_config(args.below_null_teacher)[1]
        info.provenance["below_null_teacher"] = {"checkpoint": str(args.below_null_teacher),
                                                 "provenance": other.provenance}
    if args.near_null_teacher:
        near = read_checkpoint_config(args.near_null_teacher)[1]
        info.provenance["near_null_teacher"] = {"checkpoint": str(args.near_null_teacher), "band": report["near_null_band"],
                                                "provenance": near.provenance}
    if report.get("fitted") == "below_null_correction":
        info.description = (f"{info.description}; with a correction of inversion-recovery prompts below the CSF "
                            f"null, fitted to the styles of {args.below_null_teacher}"
                            + (f", mixed toward {args.near_null_teacher}'s near the null" if args.near_null_teacher else ""))
    else:
        info.description = (f"{info.description}; its prompt numbers given one path (the text tower reads no "
                            f"timing sentence), fitted to its own styles")
    save_pretrained(student, args.out, info)
    return emit(report, args.json)


if __name__ == "__main__":
    raise SystemExit(main())
