"""Turn an existing torchvision or timm ResNet into a shrinkage network, keeping its weights.

:func:`add_shrinkage` puts a :class:`~deepshrink.layers.Shrinkage` gate at the end of the
residual branch of every ``BasicBlock`` and ``Bottleneck`` of a torchvision or timm ResNet
(ResNet-18 ... 152, wide ResNets, ResNeXt, timm's ``resnet*d`` and friends)::

    branch = BN(Conv(... ReLU(BN(Conv(x)))))     the block's own layers, unchanged
    branch = Shrinkage(branch)                   new: learned soft thresholding
    out    = ReLU(branch + shortcut(x))          the block's own addition and ReLU

Every weight of the original model stays where it was, bit for bit and under the same
``state_dict`` key; the gates add new keys only:

* timm blocks: the gate goes into timm's attention slot, ``<block>.se`` (where timm's own
  ``attn_layer`` goes: after the last BN, before drop-path and the addition);
* torchvision blocks: the gate is ``<block>.shrinkage``, and the block's class becomes a
  subclass whose ``forward`` is torchvision's with the gate after the last BN.

Difference from the paper: torchvision and timm ResNets are *post-activation* (He et al. 2016a):
their blocks end with a ReLU after the addition, which stays, so negative features do not
survive a block. The paper's RSBU (Zhao et al. 2020) is pre-activation with no ReLU after the
addition; :func:`deepshrink.create_model` builds that exactly (e.g. ``"drsn_cw18_2d"``). Use
this module to start from a trained ImageNet ResNet (fine-tuning), not to reproduce the paper.

For a new timm model, timm's ``attn_layer`` option does the same from the start::

    timm.create_model("resnet18", block_args=dict(attn_layer=Shrinkage))
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from deepshrink.errors import ConfigError
from deepshrink.layers.gates import Shrinkage

__all__ = ["add_shrinkage", "find_residual_blocks"]

_BLOCK_NAMES = ("BasicBlock", "Bottleneck")


def _library(block: nn.Module) -> str | None:
    """``"timm"`` or ``"torchvision"`` for the ResNet blocks this module knows, else None."""
    cls = type(block)
    if cls.__name__ not in _BLOCK_NAMES:
        return None
    if cls.__module__.startswith("timm.") and hasattr(block, "se"):
        return "timm"
    if cls.__module__ == "torchvision.models.resnet":
        return "torchvision"
    return None


def _out_channels(block: nn.Module) -> int:
    last_conv = block.conv3 if type(block).__name__ == "Bottleneck" else block.conv2
    return int(last_conv.out_channels)


def find_residual_blocks(model: nn.Module) -> dict[str, nn.Module]:
    """The torchvision and timm ResNet blocks of ``model``, by qualified module name.

    Blocks that already carry a gate from :func:`add_shrinkage` are included.
    """
    blocks: dict[str, nn.Module] = {}
    for name, module in model.named_modules():
        if isinstance(module, _GatedTorchvisionBlock) or _library(module) is not None:
            blocks[name] = module
    return blocks


class _GatedTorchvisionBlock:
    """Marker base of the torchvision block subclasses made by :func:`add_shrinkage`."""

    shrinkage: nn.Module


class _GatedBasicForward(_GatedTorchvisionBlock):
    """``torchvision.models.resnet.BasicBlock.forward`` with ``self.shrinkage`` after ``bn2``."""

    def forward(self, x: Tensor) -> Tensor:
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.shrinkage(self.bn2(self.conv2(out)))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class _GatedBottleneckForward(_GatedTorchvisionBlock):
    """``torchvision.models.resnet.Bottleneck.forward`` with ``self.shrinkage`` after ``bn3``."""

    def forward(self, x: Tensor) -> Tensor:
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.shrinkage(self.bn3(self.conv3(out)))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


_GATED_CLASSES: dict[type, type] = {}


def _gated_class(cls: type) -> type:
    """The subclass of a torchvision block class with a gate after the last BN (made once)."""
    if cls not in _GATED_CLASSES:
        mixin = _GatedBottleneckForward if cls.__name__ == "Bottleneck" else _GatedBasicForward
        name = f"Shrinkage{cls.__name__}"
        gated = type(name, (mixin, cls), {"__module__": __name__, "__qualname__": name})
        globals()[name] = gated  # so that pickle and copy can find the class by name
        _GATED_CLASSES[cls] = gated
    return _GATED_CLASSES[cls]


def add_shrinkage(model: nn.Module, mode: str = "cw", **shrinkage_kwargs: Any) -> nn.Module:
    """Add a :class:`~deepshrink.layers.Shrinkage` gate to every residual block of a ResNet.

    Works on torchvision's and timm's ResNets (``BasicBlock`` and ``Bottleneck`` blocks, any
    depth or width). The gate goes at the end of each residual branch, after its last BN and
    before the addition; the ReLU the block applies after the addition stays (see the module
    docstring for how this differs from the paper's pre-activation RSBU). The model is changed
    in place and returned; its existing weights are untouched and keep their ``state_dict``
    keys, the new gates are on the model's device and dtype and in its train/eval mode.

    Args:
        model: a torchvision or timm ResNet (or any model containing their blocks).
        mode: ``"cw"`` (one threshold per sample and channel, DRSN-CW) or ``"cs"`` (one per
            sample, DRSN-CS).
        **shrinkage_kwargs: passed to :class:`~deepshrink.layers.Shrinkage`, e.g.
            ``reduction=4`` for a hidden width of C/4 (the paper uses C; at ResNet-50 widths,
            C→C sub-networks add about 2·C² parameters per block).

    Returns:
        ``model``, with the gates added.

    Raises:
        ConfigError: no torchvision or timm ResNet block was found, a block already has a gate
            (from an earlier call, or timm's ``attn_layer``), or a Shrinkage argument is wrong.
    """
    blocks = find_residual_blocks(model)
    if not blocks:
        hint = ""
        if hasattr(model, "config") and "gate" in getattr(model, "config", {}):
            hint = "; for a deepshrink model pick the gate when building it, e.g. create_model(name, gate='cw')"
        raise ConfigError(
            f"add_shrinkage found no residual block in {type(model).__name__}: it supports the BasicBlock "
            f"and Bottleneck blocks of torchvision and timm ResNets{hint}"
        )
    for name, block in blocks.items():
        taken = block.se if _library(block) == "timm" else getattr(block, "shrinkage", None)
        if taken is not None or isinstance(block, _GatedTorchvisionBlock):
            raise ConfigError(
                f"block {name or type(model).__name__!r} already has a gate ({type(taken).__name__}); "
                "add_shrinkage adds one gate per block"
            )
    # Build every gate before changing anything, so a bad argument leaves the model as it was.
    gates = {}
    for name, block in blocks.items():
        gate = Shrinkage(_out_channels(block), mode=mode, **shrinkage_kwargs)
        ref = next(block.parameters(), None)
        if ref is not None:
            gate = gate.to(device=ref.device, dtype=ref.dtype)
        gates[name] = gate.train(block.training)
    for name, block in blocks.items():
        if _library(block) == "timm":
            block.se = gates[name]
        else:
            block.__class__ = _gated_class(type(block))
            block.shrinkage = gates[name]
    return model
