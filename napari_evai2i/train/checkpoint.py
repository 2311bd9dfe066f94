"""Resumable training state, written atomically and read without pickle.

A training checkpoint folder holds

* ``config.json`` + ``model.safetensors``: the whole model (discriminator included), in
  the same format as an inference checkpoint (:func:`save_pretrained`);
* ``ema.safetensors``: the exponential moving average of what stage 2 trains (the
  generator, and the text tower with ``tune_text``);
* ``optim.safetensors`` + ``train_state.json``: every optimiser's tensors, and as JSON
  their hyper-parameters, the steps done per stage and the RNG states (the recipe is in
  ``config.json``'s provenance).

The folder is written through :func:`~napari_evai2i.model.files.atomic_folder`, so a run
killed mid-write leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..model import CheckpointInfo, EVAModel
from ..model.factory import atomic_folder, write_checkpoint_files

STATE_FILE = "train_state.json"
OPTIM_FILE = "optim.safetensors"
EMA_FILE = "ema.safetensors"


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


def save_training_checkpoint(folder: Path, model: EVAModel, ema_module: torch.nn.Module,
                             optimizers: dict[str, torch.optim.Optimizer], state: dict[str, Any],
                             info: CheckpointInfo) -> Path:
    """Write the whole training state into ``folder`` atomically."""
    from safetensors.torch import save_file

    with atomic_folder(folder) as tmp:
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
    return folder


def load_training_checkpoint(folder: Path, model: EVAModel, ema_module: torch.nn.Module,
                             optimizers: dict[str, torch.optim.Optimizer]) -> dict[str, Any]:
    """Restore weights, EMA, optimisers and RNG states; returns the saved state dict."""
    from safetensors.torch import load_file

    from ..model import load_pretrained

    loaded, _ = load_pretrained(folder, "cpu", with_discriminator=model.discriminator is not None)
    model.load_state_dict(loaded.state_dict())
    ema_module.load_state_dict(load_file(str(folder / EMA_FILE)))
    state = json.loads((folder / STATE_FILE).read_text())
    tensors = load_file(str(folder / OPTIM_FILE))
    for name, opt in optimizers.items():
        if name in state["optimizers"]:
            optimizer_from_flat(name, opt, tensors, state["optimizers"][name])
    set_rng_state(state["rng"])
    return state
