"""Run by test_distributed.py in two gloo processes: distributed loss/grad == single process."""

import os
import sys

import torch
import torch.distributed as dist
import torch.nn.functional as F

from napari_evai2i.train.losses import multi_positive_contrastive_loss


def main(rank: int, world: int, port: str, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=port)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.manual_seed(0)
    proj = torch.nn.Linear(6, 4)                    # same weights on both ranks
    data = torch.randn(8, 6)
    match = torch.eye(8, dtype=torch.bool)
    match[1, 5] = match[5, 1] = match[2, 6] = True
    local = slice(rank * 4, rank * 4 + 4)
    emb = F.normalize(proj(data[local]), dim=1)
    loss = multi_positive_contrastive_loss(emb, emb.flip(1), match)
    loss.backward()
    for p in proj.parameters():
        dist.all_reduce(p.grad)
        p.grad /= world
    losses = [torch.zeros(1) for _ in range(world)]
    dist.all_gather(losses, loss.detach().reshape(1))
    if rank == 0:
        torch.save({"loss": torch.cat(losses).mean(), "grad": proj.weight.grad.clone()}, out)
    dist.barrier()                                  # no rank leaves while its peer still talks
    dist.destroy_process_group()
    # gloo's C++ teardown at interpreter exit sometimes aborts ("terminate called without an
    # active exception", SIGABRT) after everything is done; the result is saved, so leave now.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4])
