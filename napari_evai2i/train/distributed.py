"""torchrun/SLURM environment, process group set-up and rank-aware gathering.

One entry point serves a single process and ``torchrun --nproc_per_node N``: the world is
read from the environment, the seed becomes ``seed + rank``, and only rank 0 logs and
writes files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    rank: int = 0
    local_rank: int = 0
    size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def world_from_env() -> World:
    """Read the process's place from torchrun (or SLURM) variables; a lone process is rank 0."""
    env = os.environ
    if "WORLD_SIZE" in env:
        return World(int(env.get("RANK", 0)), int(env.get("LOCAL_RANK", 0)), int(env["WORLD_SIZE"]))
    if "SLURM_NTASKS" in env and "SLURM_PROCID" in env:
        return World(int(env["SLURM_PROCID"]), int(env.get("SLURM_LOCALID", 0)), int(env["SLURM_NTASKS"]))
    return World()


def init_distributed(world: World, device: torch.device) -> None:
    """Start the process group (NCCL on CUDA, gloo otherwise) when there is more than one rank."""
    if not world.distributed or dist.is_initialized():
        return
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(world.local_rank)
    dist.init_process_group(backend=backend, rank=world.rank, world_size=world.size)


def shutdown_distributed() -> None:
    """Leave the process group together: a rank that tears gloo down while a peer is still
    talking to it can abort ("terminate called without an active exception")."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def gather_with_grad(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate a tensor from every rank along dim 0, differentiably.

    Uses the autograd-aware all-gather: in backward every rank's rows receive the sum of
    the gradients all ranks computed for them, so averaging parameter gradients over ranks
    afterwards gives exactly the gradient of the global (all-sample) loss.
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return tensor
    from torch.distributed.nn.functional import all_gather

    return torch.cat(all_gather(tensor.contiguous()))


def gather_objects(items: list) -> list:
    """Concatenate picklable lists (prompt texts and fields) from every rank, in rank order."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return list(items)
    gathered: list = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, list(items))
    return [x for part in gathered for x in part]


def rank_offset(local_count: int) -> int:
    """Index of this rank's first row in a gathered tensor (equal counts on every rank)."""
    if not (dist.is_available() and dist.is_initialized()):
        return 0
    return dist.get_rank() * local_count


def average_scalar(value: float) -> float:
    """Mean of a float over ranks (for logging only)."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return float(value)
    t = torch.tensor([float(value)], dtype=torch.float64)
    dist.all_reduce(t)
    return float(t.item()) / dist.get_world_size()
