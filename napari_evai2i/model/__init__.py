"""EVA-I2I networks: DCLIP towers, generator, discriminator, and the checkpoint factory.

The configs (:mod:`.config`) and the checkpoint folder layout (:mod:`.files`) need only the
standard library; the networks and the factory load torch on first use, so the plugin can
read configs and check checkpoint folders without importing it.
"""

from __future__ import annotations

from .config import (DiscriminatorConfig, GeneratorConfig, ImageEncoderConfig, ModelConfig,
                     TextEncoderConfig, get_preset, list_presets, load_config)
from .files import is_checkpoint_folder

_FACTORY = ("CheckpointInfo", "EVAModel", "create_model", "load_pretrained", "read_checkpoint_config",
            "save_pretrained")

__all__ = [
    "CheckpointInfo", "DiscriminatorConfig", "EVAModel", "GeneratorConfig", "ImageEncoderConfig",
    "ModelConfig", "TextEncoderConfig", "create_model", "get_preset", "is_checkpoint_folder", "list_presets",
    "load_config", "load_pretrained", "read_checkpoint_config", "save_pretrained",
]


def __getattr__(name: str):
    if name in _FACTORY:
        from . import factory

        return getattr(factory, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
