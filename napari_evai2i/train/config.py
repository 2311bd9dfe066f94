"""Training recipe: one flat dataclass, read from YAML, overridable key by key.

``--config demo init_steps=200 lr=3e-4`` -- the recipe (a name of one shipped in
``napari_evai2i/train/recipes/``, or a YAML file) sets the defaults, each ``key=value`` on
the command line overrides one field (values parsed as YAML, so ``grad_clip=null`` and
``betas=[0.9,0.99]`` work), and the resolved recipe is written to ``OUT/train_config.yaml``.
Everything derived from the recipe (the learning rate of each optimiser) is resolved here.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .._mappings import dataclass_from_mapping, read_mapping

STAGES = ("clip", "init", "finetune")
OPTIMIZERS = ("clip", "text", "gen", "disc")
RECIPE_SUFFIXES = (".yaml", ".yml")


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
    #: with data=simulator: "template" (skull-stripped template slices, mild warps; the first demo)
    #: or "randomized" (whole heads, lesions, thick slices, unknown sources: data/randomized.py)
    simulator: str = "template"
    crop_size: int = 128
    #: generator stages: every ``large_canvas_every``-th step draws its pairs on canvases of this
    #: size instead (0: off). Why: trained only on crop_size canvases, a model pays for the air
    #: around a whole head; trained only on large ones, it loses small crops (docs/model_history.md,
    #: "The GPU lease of 2026-12-06")
    large_canvas_size: int = 0
    large_canvas_batch: int = 0         #: pairs per large step; 0: gen_batch scaled to the same pixels
    large_canvas_every: int = 2
    #: randomized simulator: share of items cut to a box inside the brain (data/randomized.py)
    brain_crop: float = 0.0
    #: randomized simulator: share of items whose layout is no brain (random tissue blobs, with
    #: the source prompt; data/randomized.py shape_anatomy)
    shapes: float = 0.0
    #: randomized simulator: share of items with white-matter lesions (None: the generator's own)
    lesion_probability: float | None = None
    #: randomized simulator: share of the sources without a prompt that get random per-tissue
    #: intensities, any contrast (None: the generator's own, 0.5)
    random_contrast: float | None = None
    #: randomized simulator: any other range of data/randomized.py RandomizationRanges, by its
    #: name (``{whole_head: 0, gamma_std: 0}``); for ablations, so every arm is a recipe
    randomization: dict[str, Any] = dataclasses.field(default_factory=dict)
    #: simulator: protocol ranges replaced, by kind (``{FLAIR: {ti_factor_of_csf_null: [0.88, 1.3]}}``;
    #: the table and its names: data/_protocols.py SAMPLING_RANGES). Empty: the table as it is
    protocol_ranges: dict[str, Any] = dataclasses.field(default_factory=dict)
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
    #: L1 between the translation of a brain item and the init_from generator's own translation of
    #: it (frozen; shape items excluded): learn new items without forgetting what it did on brains
    w_keep: float = 0.0
    w_per: float = 0.1
    w_clip: float = 0.1
    w_con: float = 1.0
    w_con_code: float = 10.0            #: weight of the E_phi code MSE inside the consistency term
    w_adv: float = 5.0
    w_tissue: float = 0.0
    #: extra L1 weight on lesion pixels (randomized simulator): a lesion pixel counts 1 + w_lesion
    #: times, so a few small lesions are not averaged away against the whole slice
    w_lesion: float = 0.0
    #: the same for the tissue heads' cross-entropy (a 5-class head, lesions a class of their own)
    w_lesion_tissue: float = 0.0
    #: extra L1 weight on pixels of CSF mixed into tissue (``data.head.partial_csf``; randomized
    #: simulator): such a pixel counts 1 + w_partial_csf times, and ``w_keep`` leaves it out, so a
    #: continuation relearns those pixels and holds the rest to the model it started from
    w_partial_csf: float = 0.0
    #: a 5-class mixture head's lesion-minus-WM intensity for each target prompt, against the
    #: physics of that item (L1): the lesion's value is taught on every item, lesion pixels or not
    w_lesion_value: float = 0.0
    #: L1 between translation and target of GM minus WM, each the mean over that tissue's pure
    #: pixels in one item: the grey-white contrast the pixel L1 left flattened
    w_grey_white: float = 0.0
    #: the same for CSF minus WM
    w_csf_white: float = 0.0
    #: the mixture head's GM-WM and CSF-WM intensities for each prompt against its item's physics
    #: (train/steps.py prompt_contrast_loss); with tune_text it reaches the text tower
    w_prompt_contrast: float = 0.0
    #: 1 - SSIM inside the brain (train/losses.py brain_ssim_loss) of the translation against its
    #: target, each image scaled to its brain median: the structure the pixel L1 alone leaves soft
    w_ssim: float = 0.0
    w_pixel_contrast: float = 1.0
    triangle: bool = True               #: src -> int -> tgt path
    atlas: bool = True                  #: atlas pseudo-target for unpaired int (fine-tune)
    source_prompt_probability: float = 0.0   #: how often G is told the source prompt
    tune_text: bool = False             #: stage 2 also trains DCLIP's text tower (through G's losses)
    #: generator parts (module names, ``[prompt_numbers]``) that stage 2 trains; the rest of the
    #: generator stays as init_from left it. Empty: all of it. Why: every continuation of v5/v6 that
    #: trained the whole generator lost a few held-out cells it was not aimed at
    train_only: list[str] = dataclasses.field(default_factory=list)
    text_lr: float | None = None        #: learning rate of the text tower in stage 2 (default clip_lr)
    perceptual: str = "dclip"           #: dclip, vgg19 or none
    perceptual_weights: str | None = None
    # ---- engineering
    amp: str = "auto"                   #: auto (bf16 on CUDA), bf16, off
    log_every: int = 10
    ckpt_every: int = 200
    image_every: int = 200
    eval_slices: int = 24               #: slices of the DCLIP report at the end of stage 1
    max_minutes: float | None = None    #: stop (and checkpoint) after this wall time

    @property
    def intensity_rule(self) -> str:
        """The MR normalisation rule of the training data (recorded in the checkpoint)."""
        return "brain-core-median" if self.data == "simulator" and self.simulator == "randomized" else "p99.5"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def learning_rates(self) -> dict[str, float]:
        """Base learning rate of each optimiser: DCLIP's defaults to ``lr``, the text tower's
        (stage 2, ``tune_text``) to DCLIP's."""
        clip = self.clip_lr or self.lr
        return {"clip": clip, "text": self.text_lr or clip, "gen": self.lr, "disc": self.lr}


def list_recipes() -> list[str]:
    """Names of the recipes shipped inside the package (``demo``, ``paper``)."""
    folder = resources.files(__package__) / "recipes"
    return sorted(p.name.rsplit(".", 1)[0] for p in folder.iterdir() if p.name.endswith(RECIPE_SUFFIXES))


def recipe_path(name: str) -> Path:
    """The file of a shipped recipe, wherever the package is installed."""
    for suffix in RECIPE_SUFFIXES:
        path = Path(str(resources.files(__package__) / "recipes" / f"{name}{suffix}"))
        if path.is_file():
            return path
    raise ValueError(f"unknown recipe {name!r}; shipped recipes: {', '.join(list_recipes())}")


def _is_recipe_name(text: str) -> bool:
    """A bare name without suffix or folder (``demo``) names a shipped recipe; anything else is a file."""
    return not (Path(text).suffix or os.sep in text or "/" in text)


def resolve_recipe(config: str | os.PathLike[str]) -> Path:
    """A recipe file: a bare name (``demo``) is a shipped recipe unless such a file exists here."""
    text = os.fspath(config)
    if not _is_recipe_name(text) or Path(text).exists():
        return Path(text)
    try:
        return recipe_path(text)
    except ValueError:
        raise ValueError(f"{text}: no such recipe file, and no shipped recipe of that name "
                         f"(shipped: {', '.join(list_recipes())})") from None


def load_train_config(path: str | os.PathLike[str] | None, overrides: list[str] | None = None) -> TrainConfig:
    """Recipe (a shipped name or a YAML file; optional) + ``key=value`` overrides -> a validated TrainConfig."""
    values: dict[str, Any] = {} if path is None else _read_recipe(resolve_recipe(path), ())
    for item in overrides or []:
        if "=" not in item:
            raise ValueError(f"override {item!r} is not of the form key=value")
        key, raw = item.split("=", 1)
        values[key.strip().replace("-", "_")] = yaml.safe_load(raw)
    return _validated(values)


def _read_recipe(file: Path, including: tuple[Path, ...]) -> dict[str, Any]:
    """A recipe's values; ``base: NAME_OR_FILE`` starts from another recipe (a shipped name, or a
    file relative to this one), so a variant lists only what it changes."""
    values = dict(read_mapping(file, "training config", syntax="yaml"))
    base = values.pop("base", None)
    if base is None:
        return values
    text = str(base)
    base_file = resolve_recipe(text if _is_recipe_name(text) else file.parent / text)
    if base_file.resolve() in including + (file.resolve(),):
        raise ValueError(f"{file}: its base {text!r} includes it again (a cycle of recipes)")
    return {**_read_recipe(base_file, including + (file.resolve(),)), **values}


def _validated(values: dict[str, Any]) -> TrainConfig:
    if isinstance(values.get("amp"), bool):       # YAML 1.1 reads a bare off/on as a boolean
        values = {**values, "amp": "on" if values["amp"] else "off"}
    cfg = dataclass_from_mapping(TrainConfig, values, "training config")
    if cfg.perceptual not in ("dclip", "vgg19", "none"):
        raise ValueError(f"perceptual must be dclip, vgg19 or none, not {cfg.perceptual!r}")
    if cfg.amp not in ("auto", "bf16", "off"):
        raise ValueError(f"amp must be auto, bf16 or off, not {cfg.amp!r}")
    if cfg.simulator not in ("template", "randomized"):
        raise ValueError(f"simulator must be template or randomized, not {cfg.simulator!r}")
    if cfg.train_only and not cfg.init_from:
        raise ValueError("train_only trains a part of the init_from model and keeps the rest; set init_from, "
                         "or leave train_only empty to train the whole generator")
    if cfg.w_keep and not cfg.init_from:
        raise ValueError("w_keep keeps the translations of the init_from model; set init_from, or w_keep: 0")
    if cfg.w_partial_csf and not (cfg.data == "simulator" and cfg.simulator == "randomized"):
        raise ValueError("w_partial_csf weighs pixels by their CSF fraction, which only the randomized simulator's "
                         "items carry; set simulator: randomized, or w_partial_csf: 0")
    for name in ("brain_crop", "shapes", "random_contrast", "lesion_probability"):   # None: the generator's own
        value = getattr(cfg, name)
        if value is not None and not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} is a probability, between 0 and 1, not {value}")
    randomized = cfg.data == "simulator" and cfg.simulator == "randomized"
    lesions = "only its items draw lesions and carry tissue values"
    for name, used, why in (("lesion_probability", cfg.lesion_probability is not None, lesions),
                            ("w_lesion_value", cfg.w_lesion_value, lesions),
                            ("w_prompt_contrast", cfg.w_prompt_contrast, "only its items carry tissue values"),
                            ("random_contrast", cfg.random_contrast is not None,
                             "only its items withhold the source prompt"),
                            ("randomization", bool(cfg.randomization), "they are its ranges")):
        if used and not randomized:
            raise ValueError(f"{name} needs data: simulator with simulator: randomized ({why}); remove it or "
                             "switch the simulator")
    if cfg.protocol_ranges:
        if cfg.data != "simulator":
            raise ValueError("protocol_ranges needs data: simulator (they are the simulator's protocol ranges); "
                             "remove it or switch the data")
        from ..data.physics import check_protocol_ranges

        check_protocol_ranges(cfg.protocol_ranges)
    if randomized and cfg.randomization:   # names and values fail here, not mid-run; only when set,
        randomization_ranges(cfg)           # since the generator imports torch (the Train widget reads recipes)
    if cfg.lr_schedule not in ("constant", "cosine"):
        raise ValueError(f"lr_schedule must be constant or cosine, not {cfg.lr_schedule!r}")
    for name in ("clip_batch", "gen_batch", "crop_size"):
        if getattr(cfg, name) < 1:
            raise ValueError(f"{name} must be positive")
    for name in ("log_every", "ckpt_every", "image_every", "eval_slices"):
        if getattr(cfg, name) < 1:
            raise ValueError(f"{name} must be at least 1, not {getattr(cfg, name)} (a large number makes it rare)")
    if cfg.max_minutes is not None and cfg.max_minutes <= 0:
        raise ValueError(f"max_minutes must be positive, not {cfg.max_minutes}; leave it out for no time limit")
    if cfg.crop_size % 8:
        raise ValueError(f"crop_size must be a multiple of 8, not {cfg.crop_size}")
    if cfg.large_canvas_size:
        if cfg.large_canvas_size % 8 or cfg.large_canvas_size < 8:
            raise ValueError(f"large_canvas_size must be a positive multiple of 8 (or 0 for off), "
                             f"not {cfg.large_canvas_size}")
        if cfg.large_canvas_every < 1 or cfg.large_canvas_batch < 0:
            raise ValueError(f"large_canvas_every must be at least 1 and large_canvas_batch at least 0 "
                             f"(0: gen_batch scaled to the same pixels), not {cfg.large_canvas_every} "
                             f"and {cfg.large_canvas_batch}")
        if cfg.curriculum_steps:
            raise ValueError("large_canvas_size and curriculum_steps do not work together: set one to 0")
    return cfg


#: ranges with a recipe key of their own, which ``randomization`` must not set a second time
OWN_KEY_RANGES = ("brain_crop", "shapes", "lesion_probability", "random_contrast")


def randomization_ranges(cfg: TrainConfig):
    """The randomized simulator's ranges with the recipe's overrides: its own keys (crops,
    shapes, lesion share, random-contrast share) and the ``randomization`` mapping."""
    from ..data.randomized import RandomizationRanges

    if not isinstance(cfg.randomization, dict):
        raise ValueError(f"randomization must be a mapping of range names to values, not {cfg.randomization!r}")
    twice = sorted(set(cfg.randomization) & set(OWN_KEY_RANGES))
    if twice:
        raise ValueError(f"randomization sets {', '.join(twice)}: set them with their own recipe keys "
                         "instead (one place for each value)")
    values = {"brain_crop": cfg.brain_crop, "shapes": cfg.shapes,
              "lesion_probability": cfg.lesion_probability, "random_contrast": cfg.random_contrast}
    values = {k: v for k, v in values.items() if v is not None}
    ranges = dataclass_from_mapping(RandomizationRanges, {**values, **cfg.randomization}, "randomization")
    for name in ("whole_head", "unknown_source", "thick_probability", "flip", "atrophy"):
        value = getattr(ranges, name)
        if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
            raise ValueError(f"randomization {name} is a probability, between 0 and 1, not {value!r}")
    if ranges.prompted_gain is not None:
        low, high = ranges.prompted_gain
        if ranges.levels_when_prompted:
            raise ValueError("randomization prompted_gain applies only with levels_when_prompted: false "
                             "(otherwise prompted inputs get the full gain and gamma); set both or neither")
        if not 0 < low <= high:
            raise ValueError(f"randomization prompted_gain must be two gains 0 < low <= high, not {[low, high]}")
    return ranges


def save_train_config(cfg: TrainConfig, path: Path) -> None:
    data = {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.to_dict().items()}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
