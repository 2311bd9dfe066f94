"""What one training run writes in its output folder: the trainer writes these paths and
the Train widget follows them, so both take the names from here.

Standard library only (the plugin imports it without torch).
"""

from __future__ import annotations

import os
from pathlib import Path

MODEL_DIR = "model"                         #: the exported inference checkpoint
CHECKPOINT_DIR = "checkpoints/last"         #: the resumable training state
PREVIOUS_CHECKPOINT_DIR = "checkpoints/previous"  #: the one before it, kept in case "last" is damaged
METRICS_FILE = "metrics.jsonl"              #: one JSON object per logged step
SAMPLE_FILE = "samples/latest.png"          #: the newest source | translation | target grid
RECIPE_FILE = "train_config.yaml"           #: the resolved recipe of the run
MACHINE_FILE = "machine.json"               #: the machine each start of the run trained on
TENSORBOARD_DIR = "tensorboard"


class RunFolder:
    """The paths of one run's outputs under ``root`` (the recipe's ``out``)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = root = Path(root)
        self.model, self.checkpoint = root / MODEL_DIR, root / CHECKPOINT_DIR
        self.previous_checkpoint = root / PREVIOUS_CHECKPOINT_DIR
        self.metrics, self.sample = root / METRICS_FILE, root / SAMPLE_FILE
        self.recipe, self.tensorboard = root / RECIPE_FILE, root / TENSORBOARD_DIR
        self.machine = root / MACHINE_FILE

    def __repr__(self) -> str:
        return f"RunFolder({str(self.root)!r})"
