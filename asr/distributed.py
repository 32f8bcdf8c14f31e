"""Multi-process training with torch.distributed, started by torchrun.

`torchrun --nproc_per_node N -m asr train CONFIG` sets RANK, WORLD_SIZE and LOCAL_RANK; each
process then trains a DistributedDataParallel replica on its share of the batches (see
asr.sampler.shard_batches). NCCL connects GPU processes, gloo CPU ones. Without those
variables everything here is a no-op for a single process."""

from __future__ import annotations

import gc
import hashlib
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist

from asr.device import resolve_device as check_device

# Rank 0 validates and writes checkpoints while the others wait: allow for long validations.
COLLECTIVE_TIMEOUT = timedelta(hours=2)


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """The one process that logs, validates and writes files."""
        return self.rank == 0


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """The config's device, checked (asr.device: one line for 'gpu' or cuda without a GPU); a
    bare 'cuda' is this process's GPU under torchrun."""
    device = torch.device(check_device(name))
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", local_rank)
    return device


def init_distributed(device_name: str) -> tuple[DistContext, torch.device]:
    """Join the process group torchrun describes (if any) and pick this process's device."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    ctx = DistContext(int(os.environ.get("RANK", "0")), world_size, int(os.environ.get("LOCAL_RANK", "0")))
    device = resolve_device(device_name, ctx.local_rank)
    if ctx.enabled and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend, timeout=COLLECTIVE_TIMEOUT, device_id=device if device.type == "cuda" else None)
    return ctx, device


def shutdown(ctx: DistContext) -> None:
    if ctx.enabled and dist.is_initialized():
        # The DDP wrapper sits in reference cycles and keeps the gloo group alive past
        # destroy_process_group; were it freed during interpreter shutdown, gloo's worker
        # threads would abort the process ("terminate called without an active exception")
        # about one run in three. Free it now, while the group is still whole.
        gc.collect()
        dist.destroy_process_group()


def gather_objects(obj: Any, ctx: DistContext) -> list[Any]:
    """Every process's obj, in rank order (on every process)."""
    if not ctx.enabled:
        return [obj]
    gathered: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(gathered, obj)
    return gathered


def broadcast_from_main(obj: Any, ctx: DistContext) -> Any:
    """Rank 0's obj, on every process (also a synchronization point)."""
    if not ctx.enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def weights_digest(model: torch.nn.Module) -> str:
    """A hash of every parameter's bytes: equal digests mean bitwise-equal weights."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()
