"""RTR-DiT: real-time streaming video stylization with an autoregressive diffusion transformer.

Nothing heavy happens at import: the public names are resolved lazily on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["DiT", "DiTConfig", "KVCache", "Stylizer", "StylizerConfig", "__version__", "load_dit"]

if TYPE_CHECKING:  # pragma: no cover
    from rtrdit.model.cache import KVCache
    from rtrdit.model.config import DiTConfig
    from rtrdit.model.dit import DiT
    from rtrdit.model.loading import load_dit
    from rtrdit.stream.stylizer import Stylizer, StylizerConfig

_LAZY = {
    "load_dit": ("rtrdit.model.loading", "load_dit"),
    "DiT": ("rtrdit.model.dit", "DiT"),
    "DiTConfig": ("rtrdit.model.config", "DiTConfig"),
    "KVCache": ("rtrdit.model.cache", "KVCache"),
    "Stylizer": ("rtrdit.stream.stylizer", "Stylizer"),
    "StylizerConfig": ("rtrdit.stream.stylizer", "StylizerConfig"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'rtrdit' has no attribute {name!r}")
