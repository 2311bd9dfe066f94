"""Share of a training step spent making data: both simulators against the demo's generator step.

    python benchmarks/bench_generator.py --max-seconds 20

For each simulator ("template", the first demo's; "randomized", the domain-randomised one)
it times making one generator batch (``gen_batch`` items and their collation, in the
trainer's process as ``num_workers=0`` does) and one init step of the demo recipe on such a
batch, and prints JSON lines with seconds per batch, per step and the data share
``data / (data + step)``. Both simulators and the step run in the same process, so the ratio
holds on the machine it was measured on.
"""

from __future__ import annotations

import argparse
import time

import torch

from _common import emit, machine, timed
from napari_evai2i.data.simulated_dataset import SimulatedDataConfig, SimulatedPairs, collate_items
from napari_evai2i.engine import resolve_device
from napari_evai2i.train.config import load_train_config
from napari_evai2i.train.trainer import Trainer


def data_seconds(data: SimulatedPairs, batch: int, max_seconds: float) -> tuple[float, int]:
    data[0]                                              # caches: template maps, head distance
    start, index, batches = time.perf_counter(), 1, 0
    while True:
        collate_items([data[index + k] for k in range(batch)])
        index += batch
        batches += 1
        elapsed = time.perf_counter() - start
        if elapsed > max_seconds and batches >= 3:
            return elapsed / batches, batches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--max-seconds", type=float, default=20.0)
    args = parser.parse_args()
    device = resolve_device(args.device)
    emit({"bench": "machine", **machine(), "device": str(device)})
    cfg = load_train_config("demo", [f"device={device}", "out=/tmp/evai2i_bench_generator"])
    trainer = Trainer(cfg)
    trainer._prepare_stage("init")
    for simulator in ("template", "randomized"):
        data = SimulatedPairs(SimulatedDataConfig(size=cfg.crop_size, seed=5, generator=simulator))
        per_batch, batches = data_seconds(data, cfg.gen_batch, args.max_seconds)
        batch = collate_items([data[i] for i in range(cfg.gen_batch)])
        step = iter(range(10**6))
        per_step, repeats = timed(lambda: trainer._train_step("init", batch, next(step)), device,
                                  max_seconds=args.max_seconds)
        emit({"bench": "generator", "simulator": simulator, "device": str(device), "crop": cfg.crop_size,
              "batch": cfg.gen_batch, "data_seconds_per_batch": round(per_batch, 4), "data_batches": batches,
              "step_seconds": round(per_step, 4), "step_repeats": repeats,
              "data_share": round(per_batch / (per_batch + per_step), 3)})


if __name__ == "__main__":
    main()
