"""torch.hub entry points: one per registered deepshrink model, plus ``from_pretrained``.

    model = torch.hub.load("path/to/deepshrink", "drsn_cw_paper", source="local", num_classes=8)
    model = torch.hub.load("path/to/deepshrink", "from_pretrained", source="local", directory="runs/x")
    torch.hub.load("OWNER/deepshrink", "drsn_cw20_2d", in_channels=3, num_classes=10)   # from GitHub

Keyword arguments go to :func:`deepshrink.create_model` (``in_channels``, ``num_classes`` and
any ``ResidualNet`` argument). No pretrained weights are published: train one and load its
folder with ``from_pretrained``. The entry points are made from the model registry, so a model
added there is here too. This file uses the repository's own ``src/deepshrink`` when
deepshrink is not imported yet (a hub checkout need not be pip-installed).
"""

import os as _os
import sys as _sys

dependencies = ["torch", "numpy"]


def _import_deepshrink():
    src = _os.path.join(_os.path.dirname(_os.path.abspath(__file__)), "src")
    added = "deepshrink" not in _sys.modules and _os.path.isdir(_os.path.join(src, "deepshrink"))
    if added:
        _sys.path.insert(0, src)
    try:
        import deepshrink
    finally:
        if added and src in _sys.path:
            _sys.path.remove(src)
    return deepshrink


_deepshrink = _import_deepshrink()


def _entrypoint(name):
    def entrypoint(pretrained=False, **kwargs):
        if pretrained:
            raise _deepshrink.ConfigError(
                f"no published pretrained weights for {name!r}: train a model, then load its folder with "
                "torch.hub.load(..., 'from_pretrained', directory=FOLDER) or deepshrink.from_pretrained(FOLDER)"
            )
        return _deepshrink.create_model(name, **kwargs)

    entrypoint.__name__ = entrypoint.__qualname__ = name
    entrypoint.__doc__ = (
        f"Build deepshrink's {name!r} (randomly initialised).\n\n"
        f"Keyword arguments go to deepshrink.create_model({name!r}, ...): in_channels, num_classes and any\n"
        "ResidualNet argument."
    )
    return entrypoint


def from_pretrained(directory, map_location="cpu"):
    """Load a model saved by ``save_pretrained`` or ``deepshrink train`` (config.json + model.safetensors)."""
    return _deepshrink.from_pretrained(directory, map_location=map_location)


for _name in _deepshrink.list_models():
    if not _name.isidentifier() or _name in globals():
        raise RuntimeError(f"model name {_name!r} cannot be a torch.hub entry point")
    globals()[_name] = _entrypoint(_name)
del _name
