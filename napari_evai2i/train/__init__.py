"""Training: the DCLIP and EVA stages, checkpoints, distributed helpers, evaluation.

Importing this package is cheap; ``Trainer`` and ``TrainConfig`` load on first use.
Nothing here imports napari or Qt.
"""

from __future__ import annotations

__all__ = ["TrainConfig", "Trainer", "load_train_config"]


def __getattr__(name: str):
    if name in ("TrainConfig", "load_train_config"):
        from . import config

        return getattr(config, name)
    if name == "Trainer":
        from .trainer import Trainer

        return Trainer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
