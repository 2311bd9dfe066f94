"""What the Train widget needs to know about a training run, without Qt.

Training runs as ``python -m napari_evai2i.train`` in its own process (the headless trainer
never imports napari, and napari stays responsive). The widget builds the command line
here and follows the run through the files the trainer writes (their names come from
:mod:`napari_evai2i.train.run_files`): ``metrics.jsonl`` (one JSON object per logged step),
``samples/latest.png`` and, at the end, ``model/``. The recipe it offers ships inside the
package, so the widget works the same from a wheel as from a source checkout.
:func:`first_sample` says, from the recipe, when the first sample grid is written.
"""

from __future__ import annotations

import json
import math
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..model.files import is_checkpoint_folder
from ..train.run_files import METRICS_FILE, MODEL_DIR, SAMPLE_FILE, RunFolder

if TYPE_CHECKING:
    from ..train.config import TrainConfig

__all__ = ["DEFAULT_RECIPE", "METRICS_FILE", "MODEL_DIR", "SAMPLE_FILE", "STEP_KEYS", "IMAGE_STAGES", "MetricsTail",
           "RunFolder", "build_command", "default_config_path", "first_sample", "model_folder", "parse_overrides",
           "recipe_steps", "run_config", "sample_schedule"]

DEFAULT_RECIPE = "demo"
STEP_KEYS = ("clip_steps", "init_steps", "finetune_steps")
#: The stages whose steps can write ``samples/latest.png`` (DCLIP's stage makes no translations).
IMAGE_STAGES = ("init", "finetune")


def default_config_path() -> Path | None:
    """The file of the demo recipe shipped inside the package (None if it is missing)."""
    from ..train.config import recipe_path

    try:
        return recipe_path(DEFAULT_RECIPE)
    except ValueError:
        return None


def recipe_steps(config: str | Path | None) -> dict[str, int]:
    """Stage lengths of a recipe (built-in defaults without one); ValueError for a bad file."""
    from ..train.config import load_train_config

    cfg = load_train_config(str(config) if config else None, [])
    return {key: int(getattr(cfg, key)) for key in STEP_KEYS}


def parse_overrides(text: str) -> list[str]:
    """``"lr=1e-4 gen_batch=4"`` -> ``["lr=1e-4", "gen_batch=4"]``; each must be key=value."""
    items = shlex.split(text or "")
    bad = [item for item in items if "=" not in item or item.startswith("=")]
    if bad:
        raise ValueError(f"overrides must be key=value, not {', '.join(bad)}")
    return items


def run_config(config: str | Path | None, overrides: list[str]) -> TrainConfig:
    """The recipe a run with these overrides trains with (ValueError for a bad file or override)."""
    from ..train.config import load_train_config

    return load_train_config(str(config) if config else None, overrides)


def first_sample(cfg: TrainConfig) -> tuple[str, int] | None:
    """(stage, step) after which the trainer writes its first sample grid; None if it never does.

    Mirrors :class:`napari_evai2i.train.trainer.Trainer` for a fresh (not resumed) run: only
    the generator stages make sample images, at stage steps that are multiples of
    ``image_every``, and the grid is saved only when that step is also logged (a multiple of
    ``log_every``, the stage's first step or its last).
    """
    every, log_every = cfg.image_every, cfg.log_every        # at least 1: the config says so
    for stage in IMAGE_STAGES:
        total = _count(getattr(cfg, f"{stage}_steps"))
        candidates = [math.lcm(every, log_every)]
        if every == 1:
            candidates.append(1)                    # the first step of a stage is always logged
        if total % every == 0:
            candidates.append(total)                # so is the last
        steps = [step for step in candidates if 1 <= step <= total]
        if steps:
            return stage, min(steps)
    return None


def sample_schedule(cfg: TrainConfig) -> str:
    """One sentence for the sample image's place holder: when the first grid comes."""
    first = first_sample(cfg)
    if first is None:
        return (f"No sample images in this run: only the init and finetune stages ({cfg.init_steps} and "
                f"{cfg.finetune_steps} steps) write them, at a logged step that is a multiple of image_every "
                f"({cfg.image_every}).")
    stage, step = first
    before = [f"{cfg.clip_steps} clip"] if _count(cfg.clip_steps) > 0 else []
    if stage == "finetune" and _count(cfg.init_steps) > 0:
        before.append(f"{cfg.init_steps} init")
    after = f" (after the {' and '.join(before)} steps)" if before else ""
    return f"No sample image yet: the first comes after step {step} of the {stage} stage{after}."


def _count(value: object) -> int:
    """A step count or period of the recipe; -1 for what is not a whole number (``image_every=``)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else -1


def build_command(config: str | Path | None, out: str | Path, overrides: list[str]) -> list[str]:
    """The full command; the recipe and overrides are validated first (clear errors, no process)."""
    run_config(config, overrides)
    args = [sys.executable, "-m", "napari_evai2i.train"]
    if config:
        args += ["--config", str(config)]
    return args + ["--out", str(out), *overrides]


@dataclass
class MetricsTail:
    """Reads the lines appended to ``metrics.jsonl`` since the last poll."""

    path: Path
    records: list[dict] = field(default_factory=list)
    _offset: int = 0

    def poll(self) -> list[dict]:
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self._offset)
                chunk = fh.read()
        except OSError:
            return []
        complete = chunk[: chunk.rfind(b"\n") + 1]    # a line being written is read next time
        self._offset += len(complete)
        new = []
        for line in complete.decode("utf-8", errors="replace").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict):
                new.append(record)
        self.records.extend(new)
        return new

    def loss_curve(self) -> dict[str, tuple[list[int], list[float]]]:
        """stage -> (running step over all stages, loss), for plotting."""
        curves: dict[str, tuple[list[int], list[float]]] = {}
        offsets: dict[str, int] = {}
        base = 0
        for record in self.records:
            if "loss" not in record or "step" not in record:
                continue
            stage = str(record.get("stage", "train"))
            if stage not in offsets:
                offsets[stage] = base
            xs, ys = curves.setdefault(stage, ([], []))
            xs.append(offsets[stage] + int(record["step"]))
            ys.append(float(record["loss"]))
            base = max(base, xs[-1])
        return curves


def model_folder(out: str | Path) -> Path | None:
    """``OUT/model`` once the trainer has exported a checkpoint there."""
    folder = RunFolder(out).model
    return folder if is_checkpoint_folder(folder) else None
