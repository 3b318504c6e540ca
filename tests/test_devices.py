"""`resolve_device`: the one place a user's device string becomes a torch device, or one clear line."""

from __future__ import annotations

import pytest
import torch

from rtrdit import Stylizer
from rtrdit.devices import DeviceError, resolve_device, resolve_dtype


def test_cpu_and_auto() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.parametrize(("spec", "message"), [
    ("gpu0", "is not a torch device"),
    ("", "is not a torch device"),
    ("cuda:99", "not available"),  # no machine here has 100 GPUs; without CUDA it is not available at all
    ("meta", "only cpu, cuda and mps"),
])
def test_unusable_devices_are_one_line(spec: str, message: str) -> None:
    with pytest.raises(DeviceError, match=message) as info:
        resolve_device(spec)
    assert "\n" not in str(info.value)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_cuda_without_a_gpu_says_so() -> None:
    with pytest.raises(DeviceError, match="CUDA is not available on this machine"):
        resolve_device("cuda")


def test_from_pretrained_refuses_a_missing_device_before_loading() -> None:
    from rtrdit.stream.session import StylizerError

    with pytest.raises(StylizerError, match="cuda:99"):
        Stylizer.from_pretrained("demo", device="cuda:99")


def test_dtype_auto_is_float32_on_a_cpu_and_names_are_read() -> None:
    cpu = torch.device("cpu")
    assert resolve_dtype(None, cpu) == resolve_dtype("auto", cpu) == torch.float32
    assert resolve_dtype("bf16", cpu) == resolve_dtype("bfloat16", cpu) == resolve_dtype(torch.bfloat16, cpu) == torch.bfloat16
    assert resolve_dtype("float16", cpu) == resolve_dtype(" FP16 ", cpu) == torch.float16
    assert resolve_dtype("float32", cpu) == torch.float32


@pytest.mark.parametrize("spec", ["int8", "", "float64", torch.float64, torch.int8])
def test_other_dtypes_are_one_line(spec) -> None:
    with pytest.raises(DeviceError, match="float32, bfloat16") as info:
        resolve_dtype(spec, torch.device("cpu"))
    assert "\n" not in str(info.value)


def test_from_pretrained_refuses_a_bad_dtype_before_loading() -> None:
    from rtrdit.stream.session import StylizerError

    with pytest.raises(StylizerError, match="'int8' is not a weight dtype"):
        Stylizer.from_pretrained("demo", dtype="int8")
