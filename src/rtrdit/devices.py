"""Turn a user's device string into a torch device this machine has, and a dtype name into the DiT's
weight dtype there, or one readable error.

Every command's ``--device`` and ``Stylizer.from_pretrained(device=...)`` go through
:func:`resolve_device`, so "cuda" on a machine without a GPU says so in one line instead of a
driver traceback from deep inside ``Module.to``; ``--dtype`` and ``dtype=`` through :func:`resolve_dtype`.
"""

from __future__ import annotations

import torch


class DeviceError(ValueError):
    """The device string is not a torch device, or this machine does not have that device."""


def resolve_device(spec: str | torch.device) -> torch.device:
    """``"auto"`` -> the first CUDA GPU if there is one, else the CPU; anything else must exist here."""
    if isinstance(spec, str) and spec.strip().lower() == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(spec)
    except (RuntimeError, ValueError, TypeError):
        raise DeviceError(f"{spec!r} is not a torch device (cpu, cuda, cuda:1, mps, auto)") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            build = f"a CUDA {torch.version.cuda} build" if torch.version.cuda else "a CPU-only build"
            raise DeviceError(f"{spec}: CUDA is not available on this machine (torch {torch.__version__}, {build}, "
                              "no usable NVIDIA driver or GPU); use cpu")
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise DeviceError(f"{spec}: not available, this machine has {count} CUDA device(s) (cuda:0 to cuda:{count - 1})")
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise DeviceError(f"{spec}: Apple MPS is not available on this machine; use cpu")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise DeviceError(f"{spec}: only cpu, cuda and mps devices are supported")
    return device


DTYPES = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
          "float16": torch.float16, "fp16": torch.float16, "half": torch.float16}


def resolve_dtype(spec: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    """The DiT's weight dtype on ``device``: ``None`` or ``"auto"`` -> bfloat16 on a GPU that computes in it
    (Ampere or newer), float16 on an older one (a T4, a V100), float32 elsewhere; else float32, bfloat16
    or float16 as named."""
    if spec is None or (isinstance(spec, str) and spec.strip().lower() == "auto"):
        if device.type != "cuda":
            return torch.float32
        return torch.bfloat16 if torch.cuda.is_bf16_supported(including_emulation=False) else torch.float16
    if isinstance(spec, torch.dtype):
        if spec not in DTYPES.values():
            raise DeviceError(f"{spec}: the weights may be float32, bfloat16 or float16")
        return spec
    dtype = DTYPES.get(str(spec).strip().lower())
    if dtype is None:
        raise DeviceError(f"{spec!r} is not a weight dtype (auto, float32, bfloat16, float16)")
    return dtype
