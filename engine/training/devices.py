"""Choosing and describing compute devices."""

from __future__ import annotations

import os
from typing import Any

import torch

from engine.errors import ConfigError


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"train.device = '{name}' but no CUDA device is available (use 'auto' or 'cpu')")
        index = int(name.split(":")[1]) if ":" in name else 0
        if index >= torch.cuda.device_count():
            raise ConfigError(f"train.device = '{name}' but only {torch.cuda.device_count()} CUDA device(s) exist")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError("train.device = 'mps' but MPS is not available (use 'auto' or 'cpu')")
    return torch.device(name)


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        return f"cpu ({os.cpu_count()} cores, {torch.get_num_threads()} threads)"
    return str(device)


def list_devices() -> list[dict[str, Any]]:
    """What a run can use: CUDA devices with name and memory, MPS, and the CPU."""
    devices: list[dict[str, Any]] = []
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            free, total = torch.cuda.mem_get_info(index)
            devices.append({"name": f"cuda:{index}", "label": torch.cuda.get_device_name(index), "memory_total": total, "memory_free": free})
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        devices.append({"name": "mps", "label": "Apple GPU (MPS)", "memory_total": None, "memory_free": None})
    total = free = None
    try:
        import psutil

        memory = psutil.virtual_memory()
        total, free = memory.total, memory.available
    except ImportError:
        pass
    devices.append({"name": "cpu", "label": f"CPU ({os.cpu_count()} cores)", "memory_total": total, "memory_free": free})
    return devices
