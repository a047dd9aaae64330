"""Distributed data parallel helpers: process context, sharding, reductions, synced BatchNorm.

Launch with ``torchrun`` (or ``python -m torch.distributed.run``), single- or multi-node::

    torchrun --nproc_per_node=4 -m deepshrink.train --config run.yaml
    torchrun --nnodes=2 --node_rank=0 --master_addr=host0 --nproc_per_node=8 -m deepshrink.train ...

torchrun sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and ``LOCAL_WORLD_SIZE``;
:meth:`DistContext.setup` reads them, picks NCCL for CUDA and gloo for the CPU, and binds each
process to GPU ``LOCAL_RANK``. Without those variables a run is a plain single process.

Batch semantics: ``batch_size`` in the config is the **global** batch. Every process draws the
same permutation of the training set (seeded by ``seed`` and the epoch), cuts it into global
batches of ``batch_size`` (the last partial batch is dropped, so every step has exactly
``batch_size`` observations) and takes every W-th observation of each batch
(:func:`shard_batch`). The per-process batch is ``batch_size / W``; since DDP averages the
gradients of equally sized shards, a step equals the 1-process step on the whole batch.

BatchNorm: with ``sync_bn`` (default) the BatchNorm layers normalise with statistics of the
whole global batch, as a single process would: :class:`torch.nn.SyncBatchNorm` on CUDA, and on
the CPU (where torch's SyncBatchNorm refuses to run) :class:`CPUSyncBatchNorm`, which all-reduces
the sums through gloo with autograd support. Without it, each process normalises with the
statistics of its own shard, and losses differ from a 1-process run by more than rounding.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from deepshrink.checks import check_device
from deepshrink.errors import ConfigError
from deepshrink.seeds import Purpose, derive_seed

__all__ = [
    "DistContext",
    "shard_batch",
    "CPUSyncBatchNorm",
    "convert_sync_batchnorm",
    "epoch_permutation",
]


def resolve_device(spec: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cuda`` without CUDA is a ConfigError."""
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return check_device(spec, "device")


def _env_int(name: str, default: int, low: int) -> int:
    """An integer torchrun variable (``default`` when unset); a ConfigError naming it otherwise."""
    text = os.environ.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < low:
        raise ConfigError(f"environment variable {name}={text!r}: expected an integer >= {low} (torchrun sets it)")
    return value


@dataclass
class DistContext:
    """Where this process stands: rank, world size and the device it computes on."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1
    device: torch.device = torch.device("cpu")
    initialized_here: bool = False
    bn_group: object | None = None

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def backend(self) -> str | None:
        return dist.get_backend() if dist.is_available() and dist.is_initialized() else None

    @classmethod
    def setup(cls, device: str = "auto", timeout_s: float = 1800.0) -> "DistContext":
        """Read the torchrun environment, initialise the process group and pick the device.

        Args:
            device: the config's device (``auto``, ``cpu``, ``cuda``, ``cuda:N``); under torchrun
                with CUDA each process uses ``cuda:LOCAL_RANK``.
            timeout_s: collective timeout.
        """
        world = _env_int("WORLD_SIZE", 1, 1)
        rank = _env_int("RANK", 0, 0)
        local_rank = _env_int("LOCAL_RANK", 0, 0)
        local_world = _env_int("LOCAL_WORLD_SIZE", world, 1)
        base = resolve_device(device)
        if world <= 1:
            return cls(device=base)
        if base.type == "cuda":
            if torch.cuda.device_count() <= local_rank:
                raise ConfigError(
                    f"LOCAL_RANK {local_rank} needs {local_rank + 1} CUDA devices, found {torch.cuda.device_count()}"
                )
            dev = torch.device("cuda", local_rank)
            torch.cuda.set_device(dev)
            backend = "nccl"
        else:
            dev = torch.device("cpu")
            backend = "gloo"
        initialized_here = False
        if not dist.is_initialized():
            kwargs = dict(backend=backend, timeout=datetime.timedelta(seconds=timeout_s))
            if backend == "nccl":
                kwargs["device_id"] = dev
            dist.init_process_group(**kwargs)
            initialized_here = True
        ctx = cls(rank=dist.get_rank(), world_size=dist.get_world_size(), local_rank=local_rank,
                  local_world_size=local_world, device=dev, initialized_here=initialized_here)  # fmt: skip
        if dev.type == "cpu":
            # A group of its own for the BatchNorm all-reduces, so they never interleave with
            # DDP's asynchronous gradient buckets on the default group.
            ctx.bn_group = dist.new_group(backend="gloo")
        return ctx

    def close(self) -> None:
        """Destroy the process group if this context created it."""
        if self.initialized_here and dist.is_initialized():
            dist.destroy_process_group()
            self.initialized_here = False

    # ------------------------------------------------------------------ collectives
    def barrier(self) -> None:
        if self.distributed:
            if self.device.type == "cuda":
                dist.barrier(device_ids=[self.device.index])
            else:
                dist.barrier()

    def all_reduce_sum(self, tensor: Tensor) -> Tensor:
        """Sum over processes (a no-op for one process); returns the tensor, reduced in place."""
        if self.distributed:
            dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor

    def broadcast_text(self, text: str | None, max_bytes: int = 8192) -> str:
        """Rank 0's ``text`` on every process (no pickling: raw UTF-8 bytes in a tensor)."""
        if not self.distributed:
            return text or ""
        buf = torch.zeros(max_bytes + 4, dtype=torch.uint8, device=self.device)
        if self.is_main:
            data = (text or "").encode()[:max_bytes]
            buf[:4] = torch.tensor(list(len(data).to_bytes(4, "little")), dtype=torch.uint8)
            if data:
                buf[4 : 4 + len(data)] = torch.tensor(list(data), dtype=torch.uint8)
        dist.broadcast(buf, src=0)
        raw = bytes(buf.cpu().tolist())
        n = int.from_bytes(raw[:4], "little")
        return raw[4 : 4 + n].decode()

    def all_gather_bytes(self, tensor: Tensor) -> list[Tensor]:
        """Every process's uint8 CPU tensor (same length everywhere), as a list by rank."""
        if not self.distributed:
            return [tensor]
        local = tensor.to(self.device)
        out = [torch.empty_like(local) for _ in range(self.world_size)]
        dist.all_gather(out, local)
        return [t.cpu() for t in out]


def epoch_permutation(n: int, seed: int, epoch: int) -> Tensor:
    """The shuffle of epoch ``epoch``: the same on every process, independent of world size."""
    g = torch.Generator()
    g.manual_seed(derive_seed(int(seed), Purpose.SHUFFLE, int(epoch)))
    return torch.randperm(n, generator=g)


def shard_batch(batch: Tensor, rank: int, world_size: int) -> Tensor:
    """This process's share of a global batch of indices: every ``world_size``-th entry."""
    return batch[rank::world_size]


# ---------------------------------------------------------------------- synced BatchNorm on the CPU
class _AllReduceSum(torch.autograd.Function):
    """Differentiable all-reduce (sum): the gradient of a sum over processes is the sum of the
    upstream gradients over processes."""

    @staticmethod
    def forward(ctx, tensor: Tensor, group: object) -> Tensor:  # type: ignore[override]
        ctx.group = group
        out = tensor.clone()
        dist.all_reduce(out, op=dist.ReduceOp.SUM, group=group)
        return out

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:  # type: ignore[override]
        grad = grad.clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM, group=ctx.group)
        return grad, None


class CPUSyncBatchNorm(_BatchNorm):
    """BatchNorm whose training statistics span all processes, for gloo on the CPU.

    Two all-reduces per layer: the sum (for the mean), then the sum of squared deviations (for
    the variance), both over every process's shard; this is the same two-pass computation a
    single process would do on the whole batch. In eval mode, or without a process group, it is
    plain :func:`torch.nn.functional.batch_norm`. State-dict compatible with ``BatchNormNd``.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, group: object | None = None) -> None:  # fmt: skip
        super().__init__(num_features, eps, momentum, affine, track_running_stats)
        self.group = group

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def forward(self, input: Tensor) -> Tensor:
        self._check_input_dim(input)
        sync = (
            self.training
            and dist.is_available()
            and dist.is_initialized()
            and dist.get_world_size(self.group) > 1
        )
        if not sync:
            return super().forward(input)
        dims = [0] + list(range(2, input.dim()))
        count = torch.tensor([float(input.numel() // input.shape[1])], dtype=input.dtype)
        dist.all_reduce(count, group=self.group)
        n = count.item()
        shape = [1, -1] + [1] * (input.dim() - 2)
        x = input.float() if input.dtype in (torch.float16, torch.bfloat16) else input
        mean = _AllReduceSum.apply(x.sum(dims), self.group) / n
        centered = x - mean.view(shape)
        var = _AllReduceSum.apply(centered.pow(2).sum(dims), self.group) / n
        if self.track_running_stats:
            momentum = self.momentum
            if self.num_batches_tracked is not None:
                self.num_batches_tracked.add_(1)
                if momentum is None:
                    momentum = 1.0 / float(self.num_batches_tracked)
            with torch.no_grad():
                unbiased = var * (n / max(n - 1.0, 1.0))
                self.running_mean.mul_(1 - momentum).add_(mean.detach(), alpha=momentum)
                self.running_var.mul_(1 - momentum).add_(unbiased.detach(), alpha=momentum)
        out = centered * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        return out.to(input.dtype)


def convert_sync_batchnorm(module: nn.Module, device: torch.device, group: object | None = None) -> nn.Module:
    """Replace every ``BatchNormNd`` by a synced one: torch's on CUDA, :class:`CPUSyncBatchNorm` on the CPU.

    Parameters and buffers are shared with the original layers, and the state-dict keys stay
    the same, so weights save and load as for the plain model.
    """
    if device.type != "cpu":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    return _convert_cpu(module, group)


def _convert_cpu(module: nn.Module, group: object | None) -> nn.Module:
    out = module
    if isinstance(module, _BatchNorm) and not isinstance(module, CPUSyncBatchNorm):
        out = CPUSyncBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                               module.track_running_stats, group=group)  # fmt: skip
        if module.affine:
            out.weight = module.weight
            out.bias = module.bias
        out.running_mean = module.running_mean
        out.running_var = module.running_var
        out.num_batches_tracked = module.num_batches_tracked
        out.training = module.training
    for name, child in module.named_children():
        out.add_module(name, _convert_cpu(child, group))
    return out
