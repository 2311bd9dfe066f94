"""EVA-I2I networks: DCLIP towers, generator, discriminator, and the checkpoint factory."""

from .config import (DiscriminatorConfig, GeneratorConfig, ImageEncoderConfig, ModelConfig,
                     TextEncoderConfig, get_preset, list_presets, load_config)
from .factory import (CheckpointInfo, EVAModel, create_model, load_pretrained,
                      read_checkpoint_config, save_pretrained)

__all__ = [
    "CheckpointInfo", "DiscriminatorConfig", "EVAModel", "GeneratorConfig", "ImageEncoderConfig",
    "ModelConfig", "TextEncoderConfig", "create_model", "get_preset", "list_presets",
    "load_config", "load_pretrained", "read_checkpoint_config", "save_pretrained",
]
