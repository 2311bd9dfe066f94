"""The only ways in: :func:`create_model`, :func:`save_pretrained`, :func:`load_pretrained`.

A checkpoint is a folder with ``config.json`` (architecture, prompt and normalisation
settings, provenance) and ``model.safetensors`` (weights; no pickle is ever executed).
Loading is strict: a missing or unexpected weight is an error that names it, never a
silently skipped key as in the official code.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .config import ModelConfig, get_preset
from .dclip import DCLIP
from .discriminator import PatchDiscriminator
from .generator import Generator

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
FORMAT_VERSION = 1


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
    normalization: dict[str, Any] = field(default_factory=lambda: {"MR": "p99.5", "CT": "hu"})
    prompt: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"trained": self.trained, "description": self.description,
                "normalization": self.normalization, "prompt": self.prompt,
                "provenance": self.provenance}


def create_model(name_or_config: str | ModelConfig, *, with_discriminator: bool = False,
                 seed: int | None = None) -> EVAModel:
    """Build an untrained model from a preset name (``paper``, ``tiny``) or a config."""
    config = get_preset(name_or_config) if isinstance(name_or_config, str) else name_or_config
    if seed is not None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return EVAModel(config, with_discriminator)
    return EVAModel(config, with_discriminator)


def ordinary_permissions(folder: Path) -> None:
    """Give a folder built with ``mkdtemp`` (mode 0700, files 0600) the modes a plain
    ``mkdir``/``open`` would have had under the user's umask, before it is renamed into place."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(folder, 0o777 & ~umask)
    for path in folder.rglob("*"):
        os.chmod(path, (0o777 if path.is_dir() else 0o666) & ~umask)


def save_pretrained(model: EVAModel, folder: str | Path, info: CheckpointInfo, *,
                    dtype: torch.dtype | None = None, include_discriminator: bool = False) -> Path:
    """Write ``folder`` atomically: a temporary sibling folder, then a rename.

    ``dtype=torch.float16`` halves the size of a shipped inference checkpoint; weights are
    cast back to float32 when loaded.
    """
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v for k, v in model.state_dict().items()
             if include_discriminator or not k.startswith("discriminator.")}
    state = {k: (v.to(dtype) if dtype is not None and v.is_floating_point() else v).contiguous().cpu()
             for k, v in state.items()}
    meta = {"format_version": FORMAT_VERSION, "model": model.config.to_dict(), **info.to_dict()}
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        save_file(state, str(tmp / WEIGHTS_FILE), metadata={"format": "pt"})
        (tmp / CONFIG_FILE).write_text(json.dumps(meta, indent=2))
        ordinary_permissions(tmp)
        if folder.exists():
            old = folder.with_name(f".{folder.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(folder, old)
            os.replace(tmp, folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def read_checkpoint_config(folder: str | Path) -> tuple[ModelConfig, CheckpointInfo]:
    folder = _checkpoint_folder(folder)
    try:
        meta = json.loads((folder / CONFIG_FILE).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read checkpoint config {folder / CONFIG_FILE}: {exc}") from exc
    if meta.get("format_version", 0) > FORMAT_VERSION:
        raise ValueError(f"checkpoint {folder} was written by a newer napari-evai2i "
                         f"(format {meta['format_version']}); please upgrade")
    config = ModelConfig.from_dict(meta["model"])
    info = CheckpointInfo(**{k: meta[k] for k in ("trained", "description", "normalization",
                                                  "prompt", "provenance") if k in meta})
    return config, info


def load_pretrained(path: str | Path, device: str | torch.device = "cpu", *,
                    with_discriminator: bool = False) -> tuple[EVAModel, CheckpointInfo]:
    """Rebuild the model a checkpoint folder describes and load its weights strictly."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = _checkpoint_folder(path)
    config, info = read_checkpoint_config(folder)
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


def _checkpoint_folder(path: str | Path) -> Path:
    path = Path(path)
    if path.is_file() and path.name in (WEIGHTS_FILE, CONFIG_FILE):
        path = path.parent
    if not (path / CONFIG_FILE).is_file():
        raise ValueError(f"{path} is not a napari-evai2i checkpoint (no {CONFIG_FILE} found)")
    return path
