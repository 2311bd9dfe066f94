"""The training loop behind ``python -m napari_evai2i.train`` and the Train widget.

:class:`Trainer` runs the stages (``clip`` -> ``init`` -> ``finetune``), checkpoints
atomically, resumes exactly, logs to a JSON-lines file, TensorBoard and a progress bar,
and can be stopped from another thread. Data parallelism: every rank draws its own
slice of the sample indices, the contrastive loss gathers embeddings across ranks, and
gradients are averaged with one all-reduce per update (no DDP wrapper is needed, which
lets one update run several differently-shaped generator passes). The step functions
(:mod:`.steps`) only compute losses; this loop owns every optimiser, ``zero_grad``,
gradient sync, clip, step, learning-rate schedule and the EMA.
"""

from __future__ import annotations

import copy
import json
import math
import random
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from .._atomic import atomic_file
from ..engine.translator import describe_machine, resolve_device
from ..model import (CheckpointInfo, create_model, get_preset, load_config, load_pretrained,
                     read_checkpoint_config, save_pretrained)
from ..model.generator import (added_zero_start_parts, adds_prompt_numbers, grows_tissue_classes,
                               load_adding_prompt_numbers, load_adding_zero_start_parts,
                               load_growing_tissue_classes, quantities_read)
from .checkpoint import (checkpoint_to_resume, load_training_checkpoint, remove_unfinished_writes,
                         save_training_checkpoint)
from .config import STAGES, TrainConfig, randomization_ranges, save_train_config
from .distributed import World, average_scalar, init_distributed, shutdown_distributed, world_from_env
from .losses import PerceptualLoss
from .run_files import RunFolder
from .steps import clip_step, discriminator_loss, generator_forward, generator_loss

MetricsCallback = Callable[[dict], None]


class Trainer:
    """Build once from a :class:`TrainConfig`; :meth:`run` trains, :meth:`stop` ends early."""

    def __init__(self, cfg: TrainConfig, on_metrics: MetricsCallback | None = None) -> None:
        self.cfg = cfg
        self.world: World = world_from_env()
        device = resolve_device(cfg.device)
        if device.type == "cuda" and self.world.distributed:
            device = torch.device("cuda", self.world.local_rank)
        self.device = device
        init_distributed(self.world, device)
        self.on_metrics = on_metrics
        self.out = Path(cfg.out)
        self.files = RunFolder(self.out)
        self._stop = False
        self._stopped_by: str | None = None          # why a stage ended early, for the provenance
        self._continued_from: dict | None = None     # the init_from checkpoint's own record
        self.reference: nn.Module | None = None       # init_from's generator, frozen (w_keep)
        self._seed_everything(cfg.seed + self.world.rank)

        config = get_preset(cfg.model) if not cfg.model.endswith(".json") else load_config(cfg.model)
        self.model = create_model(config, with_discriminator=True, seed=cfg.seed)
        if cfg.init_from:
            self._init_from(cfg.init_from)
        self.model.to(device)
        self._check_train_only()
        if cfg.w_keep:                  # the starting generator, before any step or resume changes it
            self.reference = copy.deepcopy(self.model.generator).eval().requires_grad_(False)
        from timm.utils import ModelEmaV3

        # What stage 2 trains, and so what the exported model takes from the moving average.
        self.ema_parts = nn.ModuleDict({"generator": self.model.generator})
        if cfg.tune_text:
            self.ema_parts["text"] = self.model.dclip.text
        self.ema = ModelEmaV3(self.ema_parts, decay=cfg.ema_decay, use_warmup=cfg.ema_warmup)
        self.base_lr = cfg.learning_rates()
        trained = {"clip": self.model.dclip, "text": self.model.dclip.text, "gen": self.model.generator,
                   "disc": self.model.discriminator}
        self.optimizers = {name: torch.optim.AdamW(module.parameters(), lr=self.base_lr[name],
                                                   betas=tuple(cfg.betas), weight_decay=cfg.weight_decay)
                           for name, module in trained.items()}
        self.steps_done = {stage: 0 for stage in STAGES}
        self._writer = None
        self._perceptual: PerceptualLoss | None = None

    # ------------------------------------------------------------------ set-up
    @staticmethod
    def _seed_everything(seed: int) -> None:
        random.seed(seed)
        np.random.seed(seed % 2**32)
        torch.manual_seed(seed)

    def _check_train_only(self) -> None:
        """Every ``train_only`` name is a part of this generator (a typo would train nothing)."""
        parts = {name for name, module in self.model.generator.named_modules() if name and
                 any(True for _ in module.parameters())}
        unknown = [name for name in self.cfg.train_only if name not in parts]
        if unknown:
            top = sorted({name.split(".")[0] for name in parts})
            raise ValueError(f"train_only: the generator has no part {', '.join(map(repr, unknown))}; "
                             f"its top-level parts are {', '.join(top)}")

    def _trains(self, parameter_name: str) -> bool:
        only = self.cfg.train_only
        return not only or any(parameter_name == n or parameter_name.startswith(n + ".") for n in only)

    def _init_from(self, path: str) -> None:
        """Start from a checkpoint's DCLIP (always) and generator (when its config matches ours)."""
        config, info = read_checkpoint_config(path)
        self._continued_from = continued_from_record(path, info)
        if config.text != self.model.config.text or config.image != self.model.config.image:
            raise ValueError(f"init_from {path}: its DCLIP architecture differs from model {self.cfg.model!r}")
        source, _ = load_pretrained(path, "cpu")
        ours = self.model.config.generator
        self.model.dclip.load_state_dict(source.dclip.state_dict())
        if config.generator == ours:
            self.model.generator.load_state_dict(source.generator.state_dict())
        elif grows_tissue_classes(config.generator, ours):
            load_growing_tissue_classes(self.model.generator, source.generator.state_dict())
            if self.is_main:
                print(f"init_from {path}: tissue classes {config.generator.tissue_classes} -> "
                      f"{ours.tissue_classes} (new classes start as copies of the ones they were counted in)",
                      flush=True)
        elif added := added_zero_start_parts(config.generator, ours):
            load_adding_zero_start_parts(self.model.generator, source.generator.state_dict(), added)
            if self.is_main:
                print(f"init_from {path}: the generator adds {', '.join(added)} (starting at zero)", flush=True)
        elif adds_prompt_numbers(config.generator, ours):
            load_adding_prompt_numbers(self.model.generator, source.generator.state_dict(), config.generator)
            if self.is_main:
                added = sorted(quantities_read(ours) - quantities_read(config.generator))
                print(f"init_from {path}: the generator now reads the prompt's {', '.join(added)} "
                      "(their map starts at zero)", flush=True)
        elif self.is_main:
            print(f"init_from {path}: generator architecture differs; generator starts fresh", flush=True)

    def stage_length(self, stage: str) -> int:
        return {"clip": self.cfg.clip_steps, "init": self.cfg.init_steps,
                "finetune": self.cfg.finetune_steps}[stage]

    def stop(self) -> None:
        """Ask the loop to finish the current step, checkpoint and return (thread-safe)."""
        self._stop = True

    @property
    def is_main(self) -> bool:
        return self.world.is_main

    # ------------------------------------------------------------------ data
    def _dataset(self, stage: str, large_canvas: bool = False):
        """The stage's data on crop_size canvases, or with ``large_canvas`` on large_canvas_size
        ones, from a data stream of their own."""
        cfg = self.cfg
        size = cfg.large_canvas_size if large_canvas else cfg.crop_size
        seed = cfg.seed * 100 + STAGES.index(stage) + (50 if large_canvas else 0)
        if cfg.data == "simulator":
            from ..data.simulated_dataset import SimulatedDataConfig, SimulatedPairs

            curriculum = cfg.curriculum_steps * cfg.gen_batch * self.world.size if stage != "clip" else 0
            return SimulatedPairs(SimulatedDataConfig(size=size, seed=seed, curriculum_items=curriculum,
                                                      view_in_prompt=cfg.view_in_prompt,
                                                      protocol_ranges=cfg.protocol_ranges,
                                                      generator=cfg.simulator,
                                                      randomization=randomization_ranges(cfg),
                                                      unknown_sources=stage != "clip"))
        from ..data.cohort_dataset import CohortDataConfig, CohortPairs

        return CohortPairs(cfg.data, CohortDataConfig(size=size, seed=seed,
                                                      view_in_prompt=cfg.view_in_prompt))

    def _batches(self, stage: str, start_step: int, batch: int) -> Iterator[dict]:
        cfg, steps = self.cfg, self.stage_length(stage)
        if stage == "clip" or not cfg.large_canvas_size:
            return self._loader(self._dataset(stage), range(start_step, steps), batch)
        # every large_canvas_every-th step comes from the large canvases; each stream numbers its
        # own steps, so a resumed run draws the same items as an unbroken one
        every = cfg.large_canvas_every
        large_batch = cfg.large_canvas_batch or max(1, round(batch * (cfg.crop_size / cfg.large_canvas_size) ** 2))
        is_large = [s % every == every - 1 for s in range(steps)]
        small_before, large_before = is_large[:start_step].count(False), is_large[:start_step].count(True)
        small = self._loader(self._dataset(stage), range(small_before, is_large.count(False)), batch)
        large = self._loader(self._dataset(stage, large_canvas=True),
                             range(large_before, is_large.count(True)), large_batch)
        return (next(large) if is_large[s] else next(small) for s in range(start_step, steps))

    def _loader(self, dataset, steps: range, batch: int) -> Iterator[dict]:
        from torch.utils.data import DataLoader

        from ..data.simulated_dataset import collate_items

        world = self.world
        indices = [(s * batch + k) * world.size + world.rank for s in steps for k in range(batch)]
        if self.cfg.num_workers > 0 and hasattr(dataset, "warm_caches"):
            dataset.warm_caches()
        loader = DataLoader(dataset, batch_size=batch, sampler=indices,
                            num_workers=self.cfg.num_workers, collate_fn=collate_items,
                            persistent_workers=False)
        return iter(loader)

    def _record_machine(self, resume: bool) -> None:
        """Append this start's machine to the run's ``machine.json``: float kernels differ between CPU
        models, so a run repeats bit for bit only where the machines agree (check_reproduction.py)."""
        path = self.files.machine
        starts = json.loads(path.read_text()) if path.is_file() else []
        starts.append({"resume": resume, "device": str(self.device), **describe_machine()})
        with atomic_file(path) as tmp:
            tmp.write_text(json.dumps(starts, indent=1) + "\n")

    # ------------------------------------------------------------------ loop
    def run(self, stage: str = "all", resume: bool = False) -> Path:
        """Train the requested stage(s); returns the exported inference checkpoint folder."""
        stages = STAGES if stage == "all" else (stage,)
        if any(s not in STAGES for s in stages):
            raise ValueError(f"unknown stage {stage!r}: choose clip, init, finetune or all")
        if self.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            save_train_config(self.cfg, self.files.recipe)
            self._record_machine(resume)
        if resume:
            self._resume()
        if self.is_main:
            remove_unfinished_writes(self.files.checkpoint)
        self._started = time.monotonic()
        try:
            for name in stages:
                if self._stop:
                    break
                self._run_stage(name)
        finally:
            if self._writer is not None:
                self._writer.close()
        return self.export()

    def _resume(self) -> None:
        """Continue from the newest intact checkpoint (``last``, else ``previous``)."""
        folder, skipped = checkpoint_to_resume([self.files.checkpoint, self.files.previous_checkpoint])
        if folder is None:
            if self.is_main:
                print(f"--resume: no checkpoint in {self.files.checkpoint.parent}; starting from step 0",
                      file=sys.stderr, flush=True)
            return
        state = load_training_checkpoint(folder, self.model, self.ema.module, self.optimizers)
        self.steps_done.update(state["steps_done"])
        if self.is_main:
            for line in skipped:
                print(f"--resume: skipped damaged checkpoint {line}", file=sys.stderr, flush=True)
            done = ", ".join(f"{k} {v}" for k, v in self.steps_done.items())
            print(f"--resume: continuing from {folder} ({done} steps done)", file=sys.stderr, flush=True)

    def _run_stage(self, stage: str) -> None:
        from tqdm import tqdm

        cfg, total = self.cfg, self.stage_length(stage)
        start = self.steps_done[stage]
        if start >= total:
            return
        self._prepare_stage(stage)
        batch = cfg.clip_batch if stage == "clip" else cfg.gen_batch
        bar = tqdm(total=total, initial=start, desc=stage, disable=not self.is_main, dynamic_ncols=True)
        for step, data in zip(range(start, total), self._batches(stage, start, batch)):
            tick = time.perf_counter()
            self._set_lr(stage, step)
            out = self._train_step(stage, data, step)
            self.steps_done[stage] = step + 1
            logs = {k: average_scalar(v) for k, v in out.logs.items()}
            logs.update(stage=stage, step=step + 1, total=total, lr=self._lr(stage, step),
                        seconds=time.perf_counter() - tick)
            bar.update(1)
            bar.set_postfix(loss=f"{logs['loss']:.4f}")
            if self.is_main and ((step + 1) % cfg.log_every == 0 or step + 1 == total or step == start):
                self._log(logs, out.images)
            finished = step + 1 == total
            out_of_time = cfg.max_minutes is not None and time.monotonic() - self._started > 60 * cfg.max_minutes
            if finished or self._stop or out_of_time or (step + 1) % cfg.ckpt_every == 0:
                self.save_checkpoint()
            if self._stop or out_of_time:
                self._stop = True
                self._stopped_by = (f"the wall-time guard (max_minutes {cfg.max_minutes:g})" if out_of_time
                                    else "a stop request") + f" at {stage} step {step + 1} of {total}"
                break
        bar.close()
        if self.steps_done[stage] == total:
            self._end_of_stage(stage)

    def _prepare_stage(self, stage: str) -> None:
        model = self.model
        if stage == "clip":
            model.dclip.train().requires_grad_(True)
            model.generator.requires_grad_(False)
            model.discriminator.requires_grad_(False)
            return
        model.dclip.lock()                          # frozen: no gradients computed or stored
        if self.steps_done["init"] + self.steps_done["finetune"] == 0:
            self.ema.set(self.ema_parts)            # average from the weights stage 2 starts with
        if self.cfg.tune_text:
            model.dclip.text.train().requires_grad_(True)
        model.generator.train()
        for name, parameter in model.generator.named_parameters():
            parameter.requires_grad_(self._trains(name))
        model.discriminator.train().requires_grad_(stage == "finetune")
        if self._perceptual is None:
            self._perceptual = PerceptualLoss(self.cfg.perceptual, model.dclip.image,
                                              self.cfg.perceptual_weights).to(self.device)

    def _train_step(self, stage: str, data: dict, step: int):
        """One update of a stage: every optimiser step, zero_grad, sync and clip happens here."""
        cfg = self.cfg
        if stage == "clip":
            opts, params = [self.optimizers["clip"]], list(self.model.dclip.parameters())
            self._zero_grad(opts)
            with self._autocast():
                out = clip_step(self.model, data, cfg, self.device)
        else:
            rng = torch.Generator().manual_seed(cfg.seed * 1_000_003 + STAGES.index(stage) * 10_007 + step)
            opts = [self.optimizers["gen"]] + ([self.optimizers["text"]] if cfg.tune_text else [])
            params = list(self.ema_parts.parameters())
            self._zero_grad(opts)
            with self._autocast():
                forward = generator_forward(self.model, data, cfg, self.device, self._perceptual,
                                            finetune=stage == "finetune", rng=rng,
                                            with_images=self.is_main and (step + 1) % cfg.image_every == 0,
                                            reference=self.reference)
                disc = discriminator_loss(self.model, forward) if forward.adversarial else None
            if disc is not None:                # D learns first; G's adversarial term then faces the new D
                self._zero_grad([self.optimizers["disc"]])
                self._update([self.optimizers["disc"]], list(self.model.discriminator.parameters()),
                             disc.loss, clip=False)
            with self._autocast():
                out = generator_loss(self.model, forward, cfg)
            if disc is not None:
                out.logs = {**disc.logs, **out.logs}
        self._update(opts, params, out.loss, clip=bool(cfg.grad_clip))
        if stage != "clip":
            self.ema.update(self.ema_parts, step=self.steps_done["init"] + self.steps_done["finetune"])
        return out

    @staticmethod
    def _zero_grad(optimizers: list[torch.optim.Optimizer]) -> None:
        for opt in optimizers:
            opt.zero_grad(set_to_none=True)

    def _update(self, optimizers: list[torch.optim.Optimizer], params: list[nn.Parameter],
                loss: torch.Tensor, clip: bool) -> None:
        """Backward, average over ranks, clip (when asked), step."""
        loss.backward()
        self._sync_grads(params)
        if clip:
            torch.nn.utils.clip_grad_norm_(params, self.cfg.grad_clip)
        for opt in optimizers:
            opt.step()

    def _autocast(self):
        use_bf16 = self.cfg.amp == "bf16" or (self.cfg.amp == "auto" and self.device.type == "cuda")
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=use_bf16)

    def _sync_grads(self, params) -> None:
        """Average gradients over ranks in one flat all-reduce (missing grads count as 0)."""
        if not self.world.distributed:
            return
        params = [p for p in params if p.requires_grad]
        for p in params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        flat = torch.cat([p.grad.reshape(-1) for p in params])
        dist.all_reduce(flat)
        flat /= self.world.size
        offset = 0
        for p in params:
            n = p.numel()
            p.grad.copy_(flat[offset:offset + n].view_as(p))
            offset += n

    def _lr_factor(self, stage: str, step: int) -> float:
        """Warm-up, then constant or cosine, per stage: the same shape for every optimiser."""
        cfg = self.cfg
        if cfg.warmup_steps and step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        if cfg.lr_schedule == "cosine":
            total = max(1, self.stage_length(stage) - cfg.warmup_steps)
            progress = min(1.0, (step - cfg.warmup_steps) / total)
            return 0.5 * (1 + math.cos(math.pi * progress))
        return 1.0

    def _lr(self, stage: str, step: int) -> float:
        """The learning rate logged for a stage (DCLIP's in stage 1, the generator's after)."""
        return self.base_lr["clip" if stage == "clip" else "gen"] * self._lr_factor(stage, step)

    def _set_lr(self, stage: str, step: int) -> None:
        names = ("clip",) if stage == "clip" else ("gen", "disc", "text")
        for name in names:
            for group in self.optimizers[name].param_groups:
                group["lr"] = self.base_lr[name] * self._lr_factor(stage, step)

    # ------------------------------------------------------------------ outputs
    def _log(self, logs: dict, images: dict | None) -> None:
        with open(self.files.metrics, "a") as fh:
            fh.write(json.dumps({**logs, "time": time.time()}) + "\n")
        writer = self._tensorboard()
        global_step = sum(self.steps_done.values())
        for key, value in logs.items():
            if isinstance(value, float):
                writer.add_scalar(f"{logs['stage']}/{key}", value, global_step)
        if images:
            grid = torch.cat([images["source"], images["translation"], images["target"]], dim=3)
            grid = grid.float().clamp(0, 1.5) / 1.5
            writer.add_images(f"{logs['stage']}/source_translation_target", grid, global_step)
            _save_grid_png(grid, self.files.sample)
        if self.on_metrics is not None:
            self.on_metrics(logs)

    def _tensorboard(self):
        if self._writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(str(self.files.tensorboard))
        return self._writer

    def save_checkpoint(self) -> None:
        if not self.is_main:
            return
        save_training_checkpoint(self.files.checkpoint, self.model, self.ema.module, self.optimizers,
                                 {"steps_done": self.steps_done}, self._info(trained=False),
                                 previous=self.files.previous_checkpoint)

    def _end_of_stage(self, stage: str) -> None:
        if stage == "clip" and self.is_main:
            from .evaluate import dclip_report

            report = dclip_report(self.model, self.cfg, self.device, self.out)
            self._log({"stage": stage, "step": self.steps_done[stage], **report}, None)

    def _info(self, trained: bool) -> CheckpointInfo:
        return CheckpointInfo(
            trained=trained,
            description=f"napari-evai2i model trained with recipe {self.cfg.name!r}",
            normalization={"MR": self.cfg.intensity_rule, "CT": "hu"},
            provenance={"recipe": self.cfg.to_dict(), "steps_done": dict(self.steps_done),
                        "world_size": self.world.size,
                        "device": str(self.device), "torch": torch.__version__,
                        **({"continued_from": self._continued_from} if self._continued_from else {}),
                        **({"stopped_by": self._stopped_by} if self._stopped_by else {})})

    def export(self) -> Path:
        """Write the inference checkpoint (EMA generator, DCLIP, EMA text tower if tuned) to ``OUT/model``."""
        folder = self.files.model
        if self.is_main:
            trained = self.steps_done["init"] > 0 or self.steps_done["finetune"] > 0
            raw = {k: v.clone() for k, v in self.ema_parts.state_dict().items()}
            self.ema_parts.load_state_dict(self.ema.module.state_dict())
            try:
                save_pretrained(self.model, folder, self._info(trained))
            finally:
                self.ema_parts.load_state_dict(raw)
        return folder

    def close(self) -> None:
        shutdown_distributed()


def continued_from_record(path: str | Path, info: CheckpointInfo) -> dict:
    """What a continued run started from: the folder, and the steps, recipe, device and own
    ``continued_from`` (or, for an average, ``averaged_weights_of``; for a distilled model,
    ``prompt_numbers_distilled_from``) its config records, so a chain of continuations stays
    readable."""
    provenance = info.provenance if isinstance(info.provenance, dict) else {}
    recipe = provenance.get("recipe")
    record = {"checkpoint": str(path), "description": info.description,
              "steps_done": provenance.get("steps_done"),
              "recipe": recipe.get("name") if isinstance(recipe, dict) else None,
              "device": provenance.get("device"), "torch": provenance.get("torch")}
    for key in ("stopped_by", "continued_from", "averaged_weights_of", "prompt_numbers_distilled_from"):
        if key in provenance:
            record[key] = provenance[key]
    return {k: v for k, v in record.items() if v is not None}


def _save_grid_png(grid: torch.Tensor, path: Path) -> None:
    """Rows of [source | translation | target] as one PNG the Train widget can show."""
    import imageio.v3 as iio

    path.parent.mkdir(parents=True, exist_ok=True)
    image = (grid[:, 0].cpu().numpy() * 255).astype(np.uint8)
    tmp = path.with_suffix(".tmp.png")
    iio.imwrite(tmp, np.concatenate(list(image), axis=0))
    tmp.replace(path)
