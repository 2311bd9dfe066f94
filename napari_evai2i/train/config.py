"""Training recipe: one flat dataclass, read from YAML, overridable key by key.

``--config src_training/configs/demo.yaml init_steps=200 lr=3e-4`` -- the YAML sets the
defaults, each ``key=value`` on the command line overrides one field (values parsed as
YAML, so ``grad_clip=null`` and ``betas=[0.9,0.99]`` work), and the resolved recipe is
written to ``OUT/train_config.yaml``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

STAGES = ("clip", "init", "finetune")


@dataclass
class TrainConfig:
    # ---- run
    name: str = "run"
    out: str = "runs/run"
    seed: int = 0
    device: str = "auto"
    model: str = "tiny"                 #: architecture preset or path to a model config JSON
    init_from: str | None = None        #: checkpoint folder whose weights start the run
    # ---- data
    data: str = "simulator"             #: "simulator" or a manifest file (JSON/CSV)
    crop_size: int = 128
    curriculum_steps: int = 0           #: generator steps drawing only the 4 canonical contrasts
    num_workers: int = 0
    view_in_prompt: bool = True
    # ---- stage lengths and batches
    clip_steps: int = 1000
    init_steps: int = 1000
    finetune_steps: int = 500
    clip_batch: int = 20                #: subject slices per DCLIP step (3 protocols each)
    gen_batch: int = 6                  #: slice pairs per generator step
    # ---- optimisation
    lr: float = 1e-4
    clip_lr: float | None = None        #: defaults to lr
    betas: tuple[float, float] = (0.9, 0.95)
    weight_decay: float = 0.05
    lr_schedule: str = "constant"       #: constant or cosine (per stage, after warm-up)
    warmup_steps: int = 0
    grad_clip: float | None = None
    tau: float = 0.07
    ema_decay: float = 0.9999
    ema_warmup: bool = False
    # ---- loss weights (0 switches a term, and its computation, off)
    w_rec: float = 10.0
    w_per: float = 0.1
    w_clip: float = 0.1
    w_con: float = 1.0
    w_adv: float = 5.0
    w_tissue: float = 0.0
    w_pixel_contrast: float = 1.0
    triangle: bool = True               #: src -> int -> tgt path
    atlas: bool = True                  #: atlas pseudo-target for unpaired int (fine-tune)
    source_prompt_probability: float = 0.0   #: how often G is told the source prompt
    tune_text: bool = False             #: stage 2 also trains DCLIP's text tower (through G's losses)
    text_lr: float | None = None        #: learning rate of the text tower in stage 2 (default clip_lr)
    perceptual: str = "dclip"           #: dclip, vgg19 or none
    perceptual_weights: str | None = None
    # ---- engineering
    amp: str = "auto"                   #: auto (bf16 on CUDA), bf16, off
    channels_last: str = "auto"         #: auto (on CUDA), on, off
    log_every: int = 10
    ckpt_every: int = 200
    image_every: int = 200
    eval_every: int = 0                 #: 0: evaluate at the end of each stage only
    eval_slices: int = 24
    max_minutes: float | None = None    #: stop (and checkpoint) after this wall time

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def load_train_config(path: str | Path | None, overrides: list[str] | None = None) -> TrainConfig:
    """YAML file (optional) + ``key=value`` overrides -> a validated TrainConfig."""
    values: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(Path(path).read_text()) or {}
        except OSError as exc:
            raise ValueError(f"cannot read training config {path}: {exc}") from exc
        except yaml.YAMLError as exc:
            raise ValueError(f"training config {path} is not valid YAML: {exc}") from exc
        if not isinstance(loaded, dict):
            raise ValueError(f"training config {path} must be a mapping of keys to values")
        values.update(loaded)
    for item in overrides or []:
        if "=" not in item:
            raise ValueError(f"override {item!r} is not of the form key=value")
        key, raw = item.split("=", 1)
        values[key.strip().replace("-", "_")] = yaml.safe_load(raw)
    return _validated(values)


def _validated(values: dict[str, Any]) -> TrainConfig:
    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ValueError(f"unknown training config keys: {', '.join(unknown)}")
    converted = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    for key, value in list(converted.items()):    # YAML 1.1 reads 8e-4 (no dot) as a string
        if isinstance(value, str) and "float" in str(fields[key].type):
            try:
                converted[key] = float(value)
            except ValueError:
                raise ValueError(f"{key} must be a number, not {value!r}") from None
    for key in ("amp", "channels_last"):          # YAML 1.1 reads a bare off/on as a boolean
        if isinstance(converted.get(key), bool):
            converted[key] = "on" if converted[key] else "off"
    cfg = TrainConfig(**converted)
    if cfg.perceptual not in ("dclip", "vgg19", "none"):
        raise ValueError(f"perceptual must be dclip, vgg19 or none, not {cfg.perceptual!r}")
    if cfg.amp not in ("auto", "bf16", "off"):
        raise ValueError(f"amp must be auto, bf16 or off, not {cfg.amp!r}")
    if cfg.lr_schedule not in ("constant", "cosine"):
        raise ValueError(f"lr_schedule must be constant or cosine, not {cfg.lr_schedule!r}")
    for name in ("clip_batch", "gen_batch", "crop_size"):
        if getattr(cfg, name) < 1:
            raise ValueError(f"{name} must be positive")
    if cfg.crop_size % 8:
        raise ValueError(f"crop_size must be a multiple of 8, not {cfg.crop_size}")
    return cfg


def save_train_config(cfg: TrainConfig, path: Path) -> None:
    data = {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.to_dict().items()}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
