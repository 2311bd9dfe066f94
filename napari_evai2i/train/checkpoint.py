"""Resumable training state, written atomically and read without pickle.

A training checkpoint folder holds

* ``config.json`` + ``model.safetensors``: the whole model (discriminator included), in
  the same format as an inference checkpoint (:func:`save_pretrained`);
* ``ema.safetensors``: the exponential moving average of what stage 2 trains (the
  generator, and the text tower with ``tune_text``);
* ``optim.safetensors`` + ``train_state.json``: every optimiser's tensors, and as JSON
  their hyper-parameters, the steps done per stage and the RNG states (the recipe is in
  ``config.json``'s provenance).

plus ``checksums.json``, written last: the size and SHA-256 of every other file.

Crash safety: a checkpoint is written complete into a hidden temporary folder, synced to
disk, and only then renamed into place; the one it replaces is kept as ``previous``.
Whenever a run is killed, ``last`` or ``previous`` is a complete checkpoint. On resume
each is checked against its checksums, newest first, so a truncated or altered file is
found before anything loads and training never continues from damaged state.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._atomic import temporary_sibling
from ..model import CheckpointInfo, EVAModel
from ..model.factory import write_checkpoint_files
from ..model.files import ordinary_permissions

STATE_FILE = "train_state.json"
OPTIM_FILE = "optim.safetensors"
EMA_FILE = "ema.safetensors"
CHECKSUM_FILE = "checksums.json"
#: Hidden names of checkpoint folders being written or retired (left behind by a killed run).
_TEMPORARY_PREFIX = "."


class DamagedCheckpointError(ValueError):
    """No intact training checkpoint to resume from (all are truncated, altered or incomplete)."""


def optimizer_to_flat(name: str, optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    """Split an optimiser state into tensors (safetensors) and JSON (its param groups)."""
    state = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, entry in state["state"].items():
        for key, value in entry.items():
            if torch.is_tensor(value):
                tensors[f"{name}.{index}.{key}"] = value.detach().contiguous().cpu()
            else:
                scalars.setdefault(str(index), {})[key] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def optimizer_from_flat(name: str, optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor],
                        meta: dict) -> None:
    state: dict[int, dict[str, Any]] = {}
    prefix = f"{name}."
    for key, value in tensors.items():
        if key.startswith(prefix):
            index, field = key[len(prefix):].split(".", 1)
            state.setdefault(int(index), {})[field] = value
    for index, entry in meta.get("scalars", {}).items():
        state.setdefault(int(index), {}).update(entry)
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def rng_state() -> dict[str, Any]:
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {"python": _to_json(random.getstate()),
            "numpy": [name, keys.tolist(), int(pos), int(has_gauss), float(cached)],
            "torch": torch.get_rng_state().tolist()}


def set_rng_state(state: dict[str, Any]) -> None:
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(torch.tensor(state["torch"], dtype=torch.uint8))


def _to_json(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_json(v) for k, v in value.items()}
    return value


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _seal(folder: Path) -> None:
    """Record every file's size and checksum, then push the folder's data to disk."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.name != CHECKSUM_FILE)
    (folder / CHECKSUM_FILE).write_text(json.dumps(
        {p.name: {"bytes": p.stat().st_size, "sha256": _sha256(p)} for p in files}, indent=1))
    for path in [*files, folder / CHECKSUM_FILE, folder]:
        _fsync(path)


def checkpoint_problem(folder: Path) -> str | None:
    """Why ``folder`` is not an intact training checkpoint, or None when it is."""
    if not folder.is_dir():
        return "missing"
    try:
        expected = json.loads((folder / CHECKSUM_FILE).read_text())
    except FileNotFoundError:
        return f"incomplete ({CHECKSUM_FILE} is missing)"
    except (OSError, ValueError) as exc:
        return f"{CHECKSUM_FILE} is unreadable ({exc})"
    for name in (STATE_FILE, OPTIM_FILE, EMA_FILE):
        if name not in expected:
            return f"incomplete ({name} is not listed in {CHECKSUM_FILE})"
    for name, entry in expected.items():
        path = folder / name
        if not path.is_file():
            return f"{name} is missing"
        size = path.stat().st_size
        if size != entry.get("bytes"):
            return f"{name} is truncated or altered ({size} bytes, {entry.get('bytes')} written)"
        if _sha256(path) != entry.get("sha256"):
            return f"{name} is altered (its checksum differs from the one written)"
    return None


def _retire(folder: Path) -> None:
    """Remove a folder by first renaming it to a hidden name, so a half-deleted one is never
    taken for a checkpoint."""
    if folder.exists():
        retired = temporary_sibling(folder, ".old")
        os.rename(folder, retired)
        shutil.rmtree(retired, ignore_errors=True)


def save_training_checkpoint(folder: Path, model: EVAModel, ema_module: torch.nn.Module,
                             optimizers: dict[str, torch.optim.Optimizer], state: dict[str, Any],
                             info: CheckpointInfo, previous: Path | None = None) -> Path:
    """Write the whole training state into ``folder``; the checkpoint it replaces becomes ``previous``.

    Order of renames: the new folder is complete and synced before ``previous`` is dropped,
    ``folder`` becomes ``previous``, and the new one becomes ``folder``. A kill between any
    two steps leaves at least one complete, checksummed checkpoint.
    """
    from safetensors.torch import save_file

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"{_TEMPORARY_PREFIX}{folder.name}.", dir=folder.parent))
    try:
        write_checkpoint_files(model, tmp, info, include_discriminator=True)
        save_file({k: v.detach().contiguous().cpu() for k, v in ema_module.state_dict().items()},
                  str(tmp / EMA_FILE))
        tensors, metas = {}, {}
        for name, opt in optimizers.items():
            t, m = optimizer_to_flat(name, opt)
            tensors.update(t)
            metas[name] = m
        save_file(tensors, str(tmp / OPTIM_FILE))
        (tmp / STATE_FILE).write_text(json.dumps({**state, "optimizers": metas, "rng": rng_state()}))
        ordinary_permissions(tmp)
        _seal(tmp)
        if folder.exists():
            if previous is None:
                _retire(folder)
            else:
                _retire(previous)
                os.rename(folder, previous)
        os.rename(tmp, folder)
        _fsync(folder.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def remove_unfinished_writes(folder: Path) -> None:
    """Delete the hidden temporaries a killed run left next to its checkpoints."""
    if folder.parent.is_dir():
        for path in folder.parent.iterdir():
            if path.name.startswith(_TEMPORARY_PREFIX) and path.is_dir():
                shutil.rmtree(path, ignore_errors=True)


def checkpoint_to_resume(candidates: list[Path]) -> tuple[Path | None, list[str]]:
    """The newest intact checkpoint among ``candidates`` (newest first), and why any newer ones were skipped.

    None when no candidate exists at all (a fresh start). When some exist but none is
    intact, :class:`DamagedCheckpointError` says what is wrong with each and what to do.
    """
    skipped = []
    for folder in candidates:
        if not folder.exists():
            continue
        problem = checkpoint_problem(folder)
        if problem is None:
            return folder, skipped
        skipped.append(f"{folder}: {problem}")
    if skipped:
        raise DamagedCheckpointError(
            "no intact training checkpoint to resume from: " + "; ".join(skipped)
            + ". Training will not continue from damaged state: delete the run's checkpoints folder "
              "(or choose a new out=) and train again without --resume")
    return None, []


def _read_state(path: Path) -> dict[str, Any]:
    """The JSON training state, or a :class:`DamagedCheckpointError` saying what it is instead."""
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise DamagedCheckpointError(f"{path}: not text (binary data, perhaps a pickle, which is never run); "
                                     "this is not a napari-evai2i training state: train again without --resume") from None
    except ValueError as exc:
        raise DamagedCheckpointError(f"{path}: not valid JSON ({exc}); train again without --resume") from None
    if not isinstance(state, dict) or not isinstance(state.get("optimizers"), dict) or "rng" not in state:
        raise DamagedCheckpointError(f"{path}: not a napari-evai2i training state (no optimizers and rng entries); "
                                     "train again without --resume")
    return state


def load_training_checkpoint(folder: Path, model: EVAModel, ema_module: torch.nn.Module,
                             optimizers: dict[str, torch.optim.Optimizer]) -> dict[str, Any]:
    """Restore weights, EMA, optimisers and RNG states; returns the saved state dict."""
    from ..model import load_pretrained
    from ..model.factory import read_weights

    loaded, _ = load_pretrained(folder, "cpu", with_discriminator=model.discriminator is not None)
    model.load_state_dict(loaded.state_dict())
    ema_module.load_state_dict(read_weights(folder / EMA_FILE))
    state = _read_state(folder / STATE_FILE)
    tensors = read_weights(folder / OPTIM_FILE)
    for name, opt in optimizers.items():
        if name in state["optimizers"]:
            optimizer_from_flat(name, opt, tensors, state["optimizers"][name])
    set_rng_state(state["rng"])
    return state
