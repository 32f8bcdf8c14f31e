"""Checking a device name (`--device`) before anything is loaded onto it."""

from __future__ import annotations

import torch

from asr.errors import DeviceError

DEVICE_CHOICES = "cpu, cuda, cuda:N or auto"


def resolve_device(name: str, cpu_only: bool = False) -> str:
    """`name` checked against this machine ('auto': cuda when a GPU is there and cpu_only is
    False, else cpu). Raises DeviceError with what to use instead."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() and not cpu_only else "cpu"
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise DeviceError(f"unknown device {name!r}: use {DEVICE_CHOICES}") from None
    if device.type == "cuda":
        _check_cuda(name, device.index)
    elif device.type == "mps":
        if not torch.backends.mps.is_available():
            raise DeviceError(f"device {name!r}: Apple's MPS is not available here; use cpu")
    elif device.type != "cpu":
        raise DeviceError(f"device {name!r} is not supported: use {DEVICE_CHOICES}")
    return name


def _check_cuda(name: str, index: int | None) -> None:
    if not torch.cuda.is_available():
        raise DeviceError(f"device {name!r}: no CUDA GPU is available on this machine (or torch was built without CUDA); use cpu")
    count = torch.cuda.device_count()
    if index is not None and index >= count:
        raise DeviceError(f"device {name!r}: this machine has {count} GPU(s), cuda:0 to cuda:{count - 1}")
