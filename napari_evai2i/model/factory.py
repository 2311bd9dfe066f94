"""The only ways in: :func:`create_model`, :func:`save_pretrained`, :func:`load_pretrained`.

A checkpoint is a folder with ``config.json`` (architecture, input normalisation rule,
description, provenance) and ``model.safetensors`` (weights; no pickle is ever executed).
Loading is strict: a missing or unexpected weight is an error that names it, never a
silently skipped key as in the official code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .config import ModelConfig, get_preset
from .dclip import DCLIP
from .discriminator import PatchDiscriminator
from .files import CONFIG_FILE, WEIGHTS_FILE, atomic_folder, is_checkpoint_folder, ordinary_permissions
from .generator import Generator

__all__ = ["CONFIG_FILE", "WEIGHTS_FILE", "FORMAT_VERSION", "NORMALIZATION", "CheckpointInfo", "EVAModel",
           "atomic_folder", "create_model", "is_checkpoint_folder", "load_pretrained", "ordinary_permissions",
           "read_checkpoint_config", "save_pretrained", "write_checkpoint_files"]

FORMAT_VERSION = 1
#: The input intensity rule per modality of a checkpoint that records none (MR: divide by the
#: 99.5th percentile; CT: the official HU mapping). Checkpoints record the rule they were trained
#: with; inference applies it, and loading refuses a rule this version does not know.
NORMALIZATION = {"MR": "p99.5", "CT": "hu"}
#: Every rule ``engine.normalization`` can apply (``MR_RULES`` there); a checkpoint may record any.
ACCEPTED_NORMALIZATION = {"MR": ("brain-core-median", "p99.5"), "CT": ("hu",)}


class EVAModel(nn.Module):
    """DCLIP (text + image towers) + generator, and the discriminator when training."""

    def __init__(self, config: ModelConfig, with_discriminator: bool = False) -> None:
        super().__init__()
        self.config = config
        self.dclip = DCLIP(config.text, config.image, config.embed_dim)
        self.generator = Generator(config.generator)
        self.discriminator = PatchDiscriminator(config.discriminator) if with_discriminator else None


@dataclass
class CheckpointInfo:
    """Everything in ``config.json`` besides the architecture."""

    trained: bool = False
    description: str = ""
    normalization: dict[str, Any] = field(default_factory=lambda: dict(NORMALIZATION))
    provenance: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"trained": self.trained, "description": self.description,
                "normalization": self.normalization, "provenance": self.provenance}


def create_model(name_or_config: str | ModelConfig, *, with_discriminator: bool = False,
                 seed: int | None = None) -> EVAModel:
    """Build an untrained model from a preset name (``paper``, ``tiny``) or a config."""
    config = get_preset(name_or_config) if isinstance(name_or_config, str) else name_or_config
    if seed is not None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return EVAModel(config, with_discriminator)
    return EVAModel(config, with_discriminator)


def save_pretrained(model: EVAModel, folder: str | Path, info: CheckpointInfo, *,
                    dtype: torch.dtype | None = None, include_discriminator: bool = False) -> Path:
    """Write the checkpoint ``folder`` atomically (built aside, then swapped into place).

    ``dtype=torch.float16`` halves the size of a shipped inference checkpoint; weights are
    cast back to float32 when loaded.
    """
    with atomic_folder(folder) as tmp:
        write_checkpoint_files(model, tmp, info, dtype=dtype, include_discriminator=include_discriminator)
    return Path(folder)


def write_checkpoint_files(model: EVAModel, folder: Path, info: CheckpointInfo, *,
                           dtype: torch.dtype | None = None, include_discriminator: bool = False) -> None:
    """``config.json`` + ``model.safetensors`` into an existing folder (a training checkpoint adds more)."""
    from safetensors.torch import save_file

    state = {k: v for k, v in model.state_dict().items()
             if include_discriminator or not k.startswith("discriminator.")}
    state = {k: (v.to(dtype) if dtype is not None and v.is_floating_point() else v).contiguous().cpu()
             for k, v in state.items()}
    meta = {"format_version": FORMAT_VERSION, "model": model.config.to_dict(), **info.to_dict()}
    save_file(state, str(Path(folder) / WEIGHTS_FILE), metadata={"format": "pt"})
    (Path(folder) / CONFIG_FILE).write_text(json.dumps(meta, indent=2))


def read_checkpoint_config(folder: str | Path) -> tuple[ModelConfig, CheckpointInfo]:
    """Architecture and metadata of a checkpoint (a folder, or a file in it), without its weights."""
    folder = _folder_of(folder)
    try:
        meta = json.loads((folder / CONFIG_FILE).read_text())
    except (FileNotFoundError, NotADirectoryError):
        raise ValueError(f"{folder} is not a napari-evai2i checkpoint (no {CONFIG_FILE} found)") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read checkpoint config {folder / CONFIG_FILE}: {exc}") from exc
    if meta.get("format_version", 0) > FORMAT_VERSION:
        raise ValueError(f"checkpoint {folder} was written by a newer napari-evai2i "
                         f"(format {meta['format_version']}); please upgrade")
    config = ModelConfig.from_dict(meta["model"])
    # Older checkpoints (the shipped demo among them) also hold "prompt", always empty: ignored.
    info = CheckpointInfo(**{k: meta[k] for k in ("trained", "description", "normalization", "provenance")
                             if k in meta})
    for modality, rule in info.normalization.items():
        if rule not in ACCEPTED_NORMALIZATION.get(modality, (rule,)):
            raise ValueError(f"checkpoint {folder} expects {modality} inputs normalised by {rule!r}; "
                             f"this version knows {', '.join(map(repr, ACCEPTED_NORMALIZATION[modality]))}")
    return config, info


def load_pretrained(path: str | Path, device: str | torch.device = "cpu", *,
                    with_discriminator: bool = False) -> tuple[EVAModel, CheckpointInfo]:
    """Rebuild the model a checkpoint folder describes and load its weights strictly."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = _folder_of(path)
    config, info = read_checkpoint_config(folder)
    with torch.random.fork_rng(devices=[]):      # the weights are overwritten: leave the caller's RNG alone
        model = EVAModel(config, with_discriminator)
    try:
        state = load_file(str(folder / WEIGHTS_FILE))
    except (OSError, SafetensorError) as exc:
        raise ValueError(f"cannot read checkpoint weights {folder / WEIGHTS_FILE}: {exc}") from exc
    expected = model.state_dict()
    if not with_discriminator:
        state = {k: v for k, v in state.items() if not k.startswith("discriminator.")}
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(state) & set(expected) if state[k].shape != expected[k].shape)
    if missing or unexpected or wrong:
        raise ValueError(
            f"checkpoint {folder} does not match its config: "
            f"{len(missing)} missing ({', '.join(missing[:3])}), "
            f"{len(unexpected)} unexpected ({', '.join(unexpected[:3])}), "
            f"{len(wrong)} with another shape ({', '.join(wrong[:3])})")
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()})
    return model.to(device).eval(), info


def _folder_of(path: str | Path) -> Path:
    """A checkpoint's folder from the folder itself or one of its two files."""
    path = Path(path)
    return path.parent if path.name in (WEIGHTS_FILE, CONFIG_FILE) and path.is_file() else path
