"""Training throughput: pairs/s of a generator step and samples/s of a DCLIP step.

    python benchmarks/bench_training.py --configs tiny paper --device auto
    python benchmarks/bench_training.py --configs tiny --stages init finetune --amps off bf16   # bf16's speed-up

Runs the real step functions of the trainer (``napari_evai2i.train.steps``) on simulated
batches and prints JSON lines with the rate and the peak memory (CUDA: allocator peak;
CPU: process peak RSS).
"""

from __future__ import annotations

import argparse

import torch

from _common import emit, machine, peak_rss_mb, timed
from napari_evai2i.data.simulated_dataset import SimulatedDataConfig, SimulatedPairs, collate_items
from napari_evai2i.engine import resolve_device
from napari_evai2i.train.config import load_train_config
from napari_evai2i.train.trainer import Trainer


#: (crop, pairs per generator step, slices per DCLIP step): the official batch sizes
#: (6 pairs; 20 slices x 3 protocols = 60 images per DCLIP step) at each config's crop.
OFFICIAL = {"tiny": (128, 6, 20), "paper": (256, 6, 20)}
#: The paper config at official sizes needs more than the 24 GiB of our CPU machines
#: (killed by the OOM killer); on CPU it is measured smaller.
CPU_PAPER = (128, 2, 4)


def bench(config: str, device: torch.device, crop: int, gen_batch: int, clip_batch: int,
          max_seconds: float, stage: str, amp: str = "auto") -> float:
    """Seconds per step (median), after printing the measurement."""
    cfg = load_train_config(None, [f"amp={amp}", f"model={config}", f"device={device}", f"crop_size={crop}",
                                   f"gen_batch={gen_batch}", f"clip_batch={clip_batch}", "out=/tmp/evai2i_bench",
                                   "w_tissue=1" if config == "tiny" else "w_tissue=0",
                                   "source_prompt_probability=0.8" if config == "tiny" else
                                   "source_prompt_probability=0"])
    trainer = Trainer(cfg)
    data = SimulatedPairs(SimulatedDataConfig(size=crop, seed=5))
    batch_size = clip_batch if stage == "clip" else gen_batch
    batch = collate_items([data[i] for i in range(batch_size)])
    trainer._prepare_stage(stage)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    step = iter(range(10**6))
    seconds, repeats = timed(lambda: trainer._train_step(stage, batch, next(step)), device,
                             max_seconds=max_seconds)
    memory = (torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else peak_rss_mb())
    units = batch_size * 3 if stage == "clip" else batch_size
    emit({"bench": "training", "config": config, "stage": stage, "device": str(device), "crop": crop,
          "batch": batch_size, "seconds_per_step": round(seconds, 3), "repeats": repeats,
          ("samples_per_s" if stage == "clip" else "pairs_per_s"): round(units / seconds, 3),
          "peak_memory_mb": round(memory, 1), "amp": cfg.amp})
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", nargs="+", default=["tiny", "paper"])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--crop", type=int, default=None, help="default: see CPU_PAPER and OFFICIAL")
    parser.add_argument("--gen-batch", type=int, default=None)
    parser.add_argument("--clip-batch", type=int, default=None)
    parser.add_argument("--stages", nargs="+", default=["init", "finetune", "clip"])
    parser.add_argument("--max-seconds", type=float, default=30.0)
    parser.add_argument("--amps", nargs="+", default=["auto"], choices=("auto", "bf16", "off"),
                        help="autocast settings, each measured in turn; with more than one, the first is "
                             "the baseline of a ratio line per stage")
    args = parser.parse_args()
    device = resolve_device(args.device)
    emit({"bench": "machine", **machine(), "device": str(device)})
    for config in args.configs:
        sizes = CPU_PAPER if (config == "paper" and device.type == "cpu") else OFFICIAL[config]
        crop, gen_batch, clip_batch = (given or default for given, default in
                                       zip((args.crop, args.gen_batch, args.clip_batch), sizes))
        for stage in args.stages:
            seconds = {amp: bench(config, device, crop, gen_batch, clip_batch, args.max_seconds, stage, amp)
                       for amp in args.amps}
            baseline = args.amps[0]
            for amp in args.amps[1:]:
                emit({"bench": "training_ratio", "config": config, "stage": stage, "device": str(device),
                      "baseline": baseline, "amp": amp, "speedup": round(seconds[baseline] / seconds[amp], 3)})


if __name__ == "__main__":
    main()
