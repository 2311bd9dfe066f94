"""Train the contrast reader (:mod:`napari_evai2i.model.contrast_reader`) on generated sources.

``python -m napari_evai2i.train.contrast_reader --out runs/contrast_reader --steps 2000``

Every example is a source image of the domain-randomised generator: a random protocol of one
of the reader's contrasts on a random warped head (whole head or brain only, a brain crop in
some, thick slices, bias, noise, gamma). Example ``i`` of step ``s`` depends only on
``(seed, s, i)``, so a run is deterministic on the CPU and resumes exactly: every
``save_every`` steps the weights, the optimiser and the step count are written atomically to
``OUT/resume`` (safetensors and JSON), and ``--resume`` continues from there. The finished
reader goes to ``OUT/model``.

The anatomy is the MNI152 template's, warped; the held-out check
(:func:`napari_evai2i.train.robustness.contrast_reading`) uses the robustness suite's held-out heads and the real scans shipped in wheels, which the
reader never sees in training.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..model.contrast_reader import ContrastReader, ContrastReaderConfig, save_contrast_reader
from ..model.files import atomic_folder

#: Training randomisation: the translator's ranges plus this share of brain crops (the
#: translator trains without), since real crops (nibabel's anatomical.nii) reach the reader as they are.
BRAIN_CROP = 0.2
RESUME = "resume"


def examples(seed: int, step: int, count: int, kinds: tuple[str, ...], size: int = 128,
             brain_crop: float = BRAIN_CROP, flair_grey_above_white: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` (image, class) pairs of one step, as tensors (count, 1, size, size) and (count,).
    ``flair_grey_above_white``: FLAIR protocols are drawn again until grey matter is brighter than
    white (:func:`reader_protocol`)."""
    generator = _generator(size, brain_crop)
    images, labels = [], []
    for i in range(count):
        rng = np.random.default_rng([seed, step, i])
        label = int(rng.integers(len(kinds)))
        images.append(generator.source_image(rng, reader_protocol(rng, kinds[label], flair_grey_above_white)))
        labels.append(label)
    return torch.stack(images)[:, None].float(), torch.tensor(labels)


def reader_protocol(rng: np.random.Generator, kind: str, flair_grey_above_white: bool = False):
    """A random protocol of ``kind`` as the translator's generator draws it; with
    ``flair_grey_above_white``, a FLAIR whose pure grey matter is not brighter than its white
    matter is drawn again.

    Why: clinical FLAIR shows grey matter above white, but 12 % of the generator's FLAIR draws
    do not (WM/GM up to 1.03, where spin-echo T1w starts at 1.16), and a gamma and 2 mm partial
    volume could make a T1 crop and such a FLAIR look alike to the reader. Off in the shipped
    reader: a reader trained with it still read nibabel's real crop as FLAIR (docs/model_history.md)."""
    from ..data.physics import Protocol

    while True:
        protocol = Protocol.sample(rng, kind)
        if not (flair_grey_above_white and protocol.short_name == "FLAIR"):
            return protocol
        signals = protocol.tissue_signals()
        if signals["GM"] > signals["WM"]:
            return protocol


@functools.lru_cache(maxsize=4)
def _generator(size: int, brain_crop: float):
    from ..data.randomized import HeadSliceGenerator, RandomizationRanges

    return HeadSliceGenerator(size, replace(RandomizationRanges(), brain_crop=brain_crop))


def learning_rate(step: int, steps: int, peak: float) -> float:
    """Cosine decay from ``peak`` to 0."""
    return peak * 0.5 * (1 + math.cos(math.pi * step / steps))


def _save_resume(folder: Path, reader: ContrastReader, optimizer, step: int, args: dict) -> None:
    from safetensors.torch import save_file

    from .checkpoint import optimizer_to_flat

    tensors, meta = optimizer_to_flat("adamw", optimizer)
    with atomic_folder(folder) as tmp:
        save_file({f"model.{k}": v.detach().contiguous() for k, v in reader.state_dict().items()} | tensors,
                  str(tmp / "state.safetensors"))
        (tmp / "state.json").write_text(json.dumps({"step": step, "args": args, "optimizer": meta}, indent=1))


def _load_resume(folder: Path, reader: ContrastReader, optimizer, args: dict) -> int:
    from safetensors.torch import load_file

    from .checkpoint import optimizer_from_flat

    meta = json.loads((folder / "state.json").read_text())
    if meta["args"] != args:
        raise ValueError(f"{folder}: the run was started with other settings ({meta['args']}); "
                         "resume it with those, or train into a new --out")
    tensors = load_file(str(folder / "state.safetensors"))
    reader.load_state_dict({k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")})
    optimizer_from_flat("adamw", optimizer, tensors, meta["optimizer"])
    return int(meta["step"])


def train_contrast_reader(out: str | Path, steps: int = 2000, batch: int = 32, lr: float = 1e-3,
                          seed: int = 11, size: int = 128, save_every: int = 250, resume: bool = False,
                          brain_crop: float = BRAIN_CROP, flair_grey_above_white: bool = False,
                          log=print) -> Path:
    """Train a reader into ``out/model``; returns that folder."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    # the option is recorded only when set, so a run started before it existed still resumes
    args = {"steps": steps, "batch": batch, "lr": lr, "seed": seed, "size": size, "brain_crop": brain_crop,
            **({"flair_grey_above_white": True} if flair_grey_above_white else {})}
    torch.manual_seed(seed)
    reader = ContrastReader(ContrastReaderConfig(canvas=size))
    optimizer = torch.optim.AdamW(reader.parameters(), lr=lr, weight_decay=1e-4)
    start = 0
    if resume and (out / RESUME / "state.json").is_file():
        start = _load_resume(out / RESUME, reader, optimizer, args)
        log(f"resuming at step {start}")
    reader.train()
    kinds = reader.config.kinds
    started, data_seconds = time.perf_counter(), 0.0
    with open(out / "metrics.jsonl", "a") as metrics:
        for step in range(start, steps):
            t = time.perf_counter()
            images, labels = examples(seed, step, batch, kinds, size, brain_crop, flair_grey_above_white)
            data_seconds += time.perf_counter() - t
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(step, steps, lr)
            loss = F.cross_entropy(reader(images), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if step % 25 == 0 or step == steps - 1:
                row = {"step": step, "loss": round(loss.item(), 4), "seconds": round(time.perf_counter() - started, 1)}
                metrics.write(json.dumps(row) + "\n")
                metrics.flush()
                log(json.dumps(row))
            if (step + 1) % save_every == 0 and step + 1 < steps:
                _save_resume(out / RESUME, reader, optimizer, step + 1, args)
    elapsed = time.perf_counter() - started
    reader.eval()
    reader.config = replace(reader.config, record={
        **args, "data": "source images of the domain-randomised generator (MNI152 anatomy, warped; "
                        f"brain_crop {brain_crop}"
                        + ("; FLAIR drawn with grey matter above white" if flair_grey_above_white else "")
                        + f"); seeds ({seed}, step, i)",
        "steps_this_session": steps - start, "minutes_this_session": round(elapsed / 60, 1),
        "data_share": round(data_seconds / max(elapsed, 1e-9), 3)})
    return save_contrast_reader(reader, out / "model")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m napari_evai2i.train.contrast_reader", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="run folder (model/, resume/, metrics.jsonl)")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--save-every", type=int, default=250)
    parser.add_argument("--brain-crop", type=float, default=BRAIN_CROP, help="share of brain-crop sources")
    parser.add_argument("--flair-grey-above-white", action="store_true",
                        help="draw FLAIR protocols again until grey matter is brighter than white")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/resume")
    args = parser.parse_args(argv)
    folder = train_contrast_reader(args.out, args.steps, args.batch, args.lr, args.seed, args.size,
                                   args.save_every, args.resume, args.brain_crop, args.flair_grey_above_white)
    print(f"contrast reader written to {folder}")


if __name__ == "__main__":
    main()
