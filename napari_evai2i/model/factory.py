"""The only ways in: :func:`create_model`, :func:`save_pretrained`, :func:`load_pretrained`.

A checkpoint is a folder with ``config.json`` (architecture, input normalisation rule,
description, provenance) and ``model.safetensors`` (weights; no pickle is ever executed).
Loading is strict: a missing or unexpected weight is an error that names it, never a
silently skipped key as in the official code.
"""

from __future__ import annotations

import contextlib
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
           "read_checkpoint_config", "read_weights", "save_pretrained", "weight_shapes", "weights_mismatch",
           "write_checkpoint_files"]

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

    def prompt_styles(self, texts: list[str], device: torch.device | str, train_text: bool = True) -> torch.Tensor:
        """The generator's style for each prompt text: its DCLIP embedding (unit norm), plus the
        numbers it states where the generator reads them (``prompt_numbers``); the one path from
        text to style, in training and inference. ``train_text=False`` keeps gradients out of the
        text tower only: the generator's number map still learns."""
        from ..prompts import tokenize

        tokens = tokenize(self.generator.tower_texts(texts), self.config.text.context_length).to(device)
        with torch.set_grad_enabled(train_text and torch.is_grad_enabled()):
            embeddings = self.dclip.encode_text(tokens).float()
        return self.generator.style_of(embeddings, texts)


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

    def recipes(self) -> list[dict[str, Any]]:
        """Every training recipe the provenance names: the run's own; for an average of
        checkpoints (``src_training/launch/average_weights.py``), each source's; for a model whose
        prompt numbers were fitted to another's styles (``distill_prompt_numbers.py``, no images),
        that model's, and those of the below-null and near-null teachers when styles were also
        fitted to them."""
        provenance = self.provenance if isinstance(self.provenance, dict) else {}
        if isinstance(provenance.get("recipe"), dict):
            return [provenance["recipe"]]
        distilled = provenance.get("prompt_numbers_distilled_from")
        if isinstance(distilled, dict):
            teachers = [distilled, provenance.get("below_null_teacher"), provenance.get("near_null_teacher")]
            return [recipe for teacher in teachers if isinstance(teacher, dict)
                    for recipe in CheckpointInfo(provenance=teacher.get("provenance") or {}).recipes()]
        sources = provenance.get("sources")
        if not isinstance(sources, list):
            return []
        return [recipe for source in sources if isinstance(source, dict)
                for recipe in CheckpointInfo(provenance=source.get("provenance") or {}).recipes()]


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
    """Architecture and metadata of a checkpoint (a folder, or a file in it), without its weights.

    The config is all that is read: sizes out of range, or a model too large to build
    (:func:`~.config.check_size`), are refused here, before anything is allocated.
    """
    folder = _folder_of(folder)
    path = folder / CONFIG_FILE
    try:
        meta = json.loads(path.read_bytes().decode("utf-8-sig"))
    except (FileNotFoundError, NotADirectoryError):
        raise ValueError(f"{folder} is not a napari-evai2i checkpoint (no {CONFIG_FILE} found)") from None
    except UnicodeDecodeError:
        raise ValueError(f"cannot read checkpoint config {path}: it is not text (binary data, perhaps a "
                         f"pickle); a checkpoint's {CONFIG_FILE} is JSON") from None
    except (OSError, ValueError) as exc:          # JSONDecodeError, and numbers of over 4300 digits
        raise ValueError(f"cannot read checkpoint config {path}: {exc}") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("model"), dict):
        raise ValueError(f"cannot read checkpoint config {path}: it has no \"model\" mapping (the "
                         "architecture); it was not written by napari-evai2i")
    version = meta.get("format_version", 0)
    if not isinstance(version, int) or isinstance(version, bool):
        raise ValueError(f"cannot read checkpoint config {path}: format_version must be a whole number, "
                         f"not {version!r}")
    if version > FORMAT_VERSION:
        raise ValueError(f"checkpoint {folder} was written by a newer napari-evai2i "
                         f"(format {meta['format_version']}); please upgrade")
    try:
        config = ModelConfig.from_dict(meta["model"])
        # Older checkpoints (the shipped demo among them) also hold "prompt", always empty: ignored.
        info = CheckpointInfo(**{k: meta[k] for k in ("trained", "description", "normalization", "provenance")
                                 if k in meta})
        if not isinstance(info.normalization, dict):
            raise ValueError(f"normalization must be a mapping of modality to rule, not {info.normalization!r}")
    except (TypeError, ValueError) as exc:
        raise ValueError(f"checkpoint {path}: {exc}") from None
    for modality, rule in info.normalization.items():
        if rule not in ACCEPTED_NORMALIZATION.get(modality, (rule,)):
            raise ValueError(f"checkpoint {folder} expects {modality} inputs normalised by {rule!r}; "
                             f"this version knows {', '.join(map(repr, ACCEPTED_NORMALIZATION[modality]))}")
    return config, info


def load_pretrained(path: str | Path, device: str | torch.device = "cpu", *,
                    with_discriminator: bool = False) -> tuple[EVAModel, CheckpointInfo]:
    """Rebuild the model a checkpoint folder describes and load its weights strictly.

    In order, so a stranger's folder costs nothing before it is refused: the config is
    checked (sizes, total size), the weights file's header is compared, name by name and
    shape by shape, with the network the config describes (built on the ``meta`` device,
    which allocates no memory), and only then is the model built and the weights read.
    Nothing here unpickles: safetensors and JSON only.
    """
    folder = _folder_of(path)
    config, info = read_checkpoint_config(folder)
    _check_buildable(config, folder)
    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in EVAModel(config, with_discriminator).state_dict().items()}
    found = weight_shapes(folder / WEIGHTS_FILE)
    if not with_discriminator:
        found = {k: v for k, v in found.items() if not k.startswith("discriminator.")}
    problem = weights_mismatch(found, expected)
    if problem:
        raise ValueError(f"checkpoint {folder}: {WEIGHTS_FILE} does not match its config ({problem}); "
                         f"re-export the checkpoint with the config.json that trained it")
    with torch.random.fork_rng(devices=[]):      # the weights are overwritten: leave the caller's RNG alone
        model = EVAModel(config, with_discriminator)
    state = read_weights(folder / WEIGHTS_FILE)
    if not with_discriminator:
        state = {k: v for k, v in state.items() if not k.startswith("discriminator.")}
    reference = model.state_dict()
    model.load_state_dict({k: v.to(reference[k].dtype) for k, v in state.items()})
    return model.to(device).eval(), info


#: Names of pickle-based weight files (PyTorch, Lightning, Hugging Face): never opened here.
PICKLE_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin", ".pkl", ".pickle")
_PICKLE_MAGIC = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05", b"PK\x03\x04")


def _corrupt(path: Path) -> str:
    """The one message for a weights file that safetensors cannot parse, naming what it is."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4)
    except OSError:
        head = b""
    if head.startswith(_PICKLE_MAGIC):
        return (f"{path}: a pickle (PyTorch .pt/.pth/.ckpt/.bin) file, not safetensors; it is not loaded, "
                "since unpickling can run any code. Convert it to safetensors with a tool you trust, or ask "
                "its author for a safetensors checkpoint")
    return (f"{path}: truncated or corrupt weights file (safetensors header/data do not match); "
            "re-download or re-export the checkpoint")


def _missing_weights(path: Path) -> str:
    pickles = sorted(p.name for p in path.parent.iterdir() if p.suffix.lower() in PICKLE_SUFFIXES) \
        if path.parent.is_dir() else []
    if pickles:
        return (f"{path.parent} has no {WEIGHTS_FILE}, only {', '.join(pickles)}: pickle files are never "
                "loaded, since unpickling can run any code. Convert the weights to safetensors with a tool "
                "you trust")
    return f"{path.parent} has no {WEIGHTS_FILE} (the checkpoint's weights); re-download or re-export it"


@contextlib.contextmanager
def _weights_file_errors(path: Path):
    """A weights file that is missing, cut, corrupt or unreadable: one ValueError naming it."""
    from safetensors import SafetensorError

    try:
        yield
    except FileNotFoundError:
        raise ValueError(_missing_weights(path)) from None
    except SafetensorError:
        raise ValueError(_corrupt(path)) from None
    except OSError as exc:
        raise ValueError(f"cannot read checkpoint weights {path}: {exc.strerror or exc}") from None


def weight_shapes(path: str | Path) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every tensor in a safetensors file, read from its header alone."""
    from safetensors import safe_open

    path = Path(path)
    with _weights_file_errors(path), safe_open(str(path), framework="pt") as handle:
        return {k: tuple(handle.get_slice(k).get_shape()) for k in handle.keys()}


def read_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """Every tensor of a safetensors file; ``ValueError`` naming the file when it is missing,
    truncated, corrupt or a pickle (which is never unpickled)."""
    from safetensors.torch import load_file

    path = Path(path)
    with _weights_file_errors(path):
        return load_file(str(path))


def weights_mismatch(found: dict[str, tuple[int, ...]], expected: dict[str, tuple[int, ...]],
                     shown: int = 5) -> str:
    """What differs between a file's tensors and a config's, at most ``shown`` names per kind; "" if nothing."""
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    wrong = [f"{k}: checkpoint {found[k]}, config expects {expected[k]}"
             for k in sorted(set(found) & set(expected)) if tuple(found[k]) != tuple(expected[k])]

    def listed(what: str, items: list[str]) -> str:
        more = f"; and {len(items) - shown} more" if len(items) > shown else ""
        return f"{len(items)} {what}: {'; '.join(items[:shown])}{more}"

    return ". ".join(listed(what, items) for what, items in (
        ("missing", missing), ("unexpected", unexpected), ("with another shape", wrong)) if items)


def _check_buildable(config: ModelConfig, folder: Path) -> None:
    """What only the libraries can answer: the text tower's activation must exist in transformers."""
    from transformers.activations import ACT2FN

    if config.text.act not in ACT2FN:
        raise ValueError(f"checkpoint {folder / CONFIG_FILE}: model config text.act {config.text.act!r} is not "
                         f"an activation transformers knows (e.g. quick_gelu, gelu)")


def _folder_of(path: str | Path) -> Path:
    """A checkpoint's folder from the folder itself or one of its two files."""
    path = Path(path)
    return path.parent if path.name in (WEIGHTS_FILE, CONFIG_FILE) and path.is_file() else path
