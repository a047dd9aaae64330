"""When a training step runs compiled: ``torch.compile`` where the run is long enough to pay for
compiling, eager where it is not, and eager again, with one warning line, where compiling fails.

On the CPU compiling costs tens of seconds once per process and network, and what it saves
is the per-op cost of small element-wise and reduction ops, which the gates (shrinkage, SE)
have many of: a gated network's step gets faster, a plain one's barely (benchmarks/RESULTS.md,
"compile: auto"). So ``compile: auto`` (the default) compiles on the CPU a network with gates
for a run of at least :data:`CPU_COMPILE_MIN_STEPS` optimiser steps; on CUDA it stays eager
until a GPU has been measured (``compile: true`` compiles anyway).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from deepshrink.layers.gates import Shrinkage, SqueezeExcite

__all__ = ["CPU_COMPILE_MIN_STEPS", "has_gates", "compile_pays", "EagerFallback", "maybe_compile"]

CPU_COMPILE_MIN_STEPS = 5000
"""Optimiser steps from which ``compile: auto`` compiles a gated network on the CPU: about where
the time a compiled step saves has paid for a cold compile, for the cohorts the study runner
trains (benchmarks/bench_compile_auto.py; the measurements are in benchmarks/RESULTS.md,
"compile: auto")."""


def has_gates(model: nn.Module) -> bool:
    """Whether ``model`` has shrinkage or squeeze-and-excitation gates (what compiling speeds up)."""
    return any(isinstance(m, (Shrinkage, SqueezeExcite)) for m in model.modules())


def compile_pays(setting: bool | str, device: torch.device, steps: int, gated: bool) -> bool:
    """Whether a run of ``steps`` optimiser steps on ``device`` compiles, given the ``compile``
    setting and whether the network has gates."""
    if setting != "auto":
        return bool(setting)
    return device.type == "cpu" and gated and steps >= CPU_COMPILE_MIN_STEPS


class EagerFallback:
    """Calls ``compiled``; if that raises (no C++ compiler, an op inductor cannot lower, a recompile
    that fails), says so in one line through ``log`` and calls ``eager`` from then on.

    Inductor compiles the backward graph only when the first backward runs, after the step has
    left this wrapper; so the first call that needs a gradient first makes a trial pass, forward
    and backward (``torch.autograd.grad``: nothing accumulates), and puts the module's buffers
    (BatchNorm's running statistics) and the random state back as they were, so the step itself
    is unchanged. A failure there, or in any later call, falls back. A genuine error of the model
    raises again from the eager call, so nothing is hidden.
    """

    def __init__(self, eager: nn.Module, compiled: Callable[..., Any], log: Callable[[str], None]) -> None:
        self.eager, self.compiled, self._log = eager, compiled, log
        self._backward_tried = False

    @property
    def is_compiled(self) -> bool:
        return self.compiled is not None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.compiled is not None:
            try:
                if not self._backward_tried and torch.is_grad_enabled():
                    self._trial(*args, **kwargs)
                return self.compiled(*args, **kwargs)
            except Exception as err:  # noqa: BLE001 - any failure of the compiler falls back to eager
                first = (str(err).strip().splitlines() or [""])[0][:160]
                self._log(f"warning: torch.compile failed ({type(err).__name__}: {first}); going on in eager mode")
                self.compiled = None
        return self.eager(*args, **kwargs)

    def _trial(self, *args: Any, **kwargs: Any) -> None:
        """One compiled forward and backward that leaves no trace (buffers and RNG restored)."""
        saved = [b.detach().clone() for b in self.eager.buffers()]
        cuda = [t.device for t in args if isinstance(t, torch.Tensor) and t.device.type == "cuda"][:1]
        try:
            with torch.random.fork_rng(devices=cuda):
                out = self.compiled(*args, **kwargs)
                if isinstance(out, torch.Tensor) and out.requires_grad:
                    params = [p for p in self.eager.parameters() if p.requires_grad]
                    torch.autograd.grad(out.float().sum(), params, allow_unused=True)
        finally:
            with torch.no_grad():
                for buffer, value in zip(self.eager.buffers(), saved):
                    buffer.copy_(value)
        self._backward_tried = True

    def train(self, mode: bool = True) -> EagerFallback:
        self.eager.train(mode)
        return self


def maybe_compile(module: nn.Module, setting: bool | str, device: torch.device, steps: int,
                  log: Callable[[str], None], mode: str | None = None) -> nn.Module | EagerFallback:  # fmt: skip
    """``module`` itself, or wrapped to run compiled with an eager fallback where :func:`compile_pays`."""
    if not compile_pays(setting, device, steps, has_gates(module)):
        return module
    try:
        compiled = torch.compile(module, mode=mode)
    except Exception as err:  # noqa: BLE001 - e.g. a Python that torch.compile does not support yet
        log(f"warning: torch.compile is not available ({type(err).__name__}: {err}); going on in eager mode")
        return module
    if setting == "auto":
        log(f"compiling the model ({steps} steps of a gated network, compile: auto); the first step takes longer")
    return EagerFallback(module, compiled, log)
