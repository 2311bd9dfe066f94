"""What the Train widget needs to know about a training run, without Qt.

Training runs as ``python -m napari_evai2i.train`` in its own process (the headless trainer
never imports napari, and napari stays responsive). The widget builds the command line
here and follows the run through the files the trainer writes (their names come from
:mod:`napari_evai2i.train.run_files`): ``metrics.jsonl`` (one JSON object per logged step),
``samples/latest.png`` and, at the end, ``model/``. The recipe it offers ships inside the
package, so the widget works the same from a wheel as from a source checkout.
"""

from __future__ import annotations

import json
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..model.files import is_checkpoint_folder
from ..train.run_files import METRICS_FILE, MODEL_DIR, SAMPLE_FILE, RunFolder

__all__ = ["DEFAULT_RECIPE", "METRICS_FILE", "MODEL_DIR", "SAMPLE_FILE", "STEP_KEYS", "MetricsTail", "RunFolder",
           "build_command", "default_config_path", "model_folder", "parse_overrides", "recipe_steps"]

DEFAULT_RECIPE = "demo"
STEP_KEYS = ("clip_steps", "init_steps", "finetune_steps")


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


def build_command(config: str | Path | None, out: str | Path, overrides: list[str]) -> list[str]:
    """The full command; the recipe and overrides are validated first (clear errors, no process)."""
    from ..train.config import load_train_config

    load_train_config(str(config) if config else None, overrides)
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
