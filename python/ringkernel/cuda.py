"""CUDA devices as the library sees them (rk_backend_probe / rk_backend_devices).

devices() lists the GPUs (name, memory, SMs, compute capability, driver); without a usable GPU it is an empty
list whose .reason says why (no driver, no device, or a build without the CUDA backend).
"""
from dataclasses import dataclass
from typing import List, Tuple

from ringkernel import _native


@dataclass(frozen=True)
class DeviceInfo:
    index: int
    name: str
    memory_bytes: int
    multiprocessors: int
    compute_capability: Tuple[int, int]
    driver: str


class DeviceList(list):
    """A list of DeviceInfo with .reason: the backend's one-line summary, or why there is no device."""

    reason: str = ""


def status() -> dict:
    """{'backend', 'available', 'compiled', 'device_count', 'reason'} of the CUDA backend."""
    return _native.backend_probe("cuda")


def available() -> bool:
    return bool(status()["available"])


def devices() -> List[DeviceInfo]:
    st = status()
    out = DeviceList()
    out.reason = st["reason"]
    if st["available"]:
        for d in _native.backend_devices("cuda"):
            out.append(DeviceInfo(d["index"], d["name"], d["memory_bytes"], d["multiprocessors"],
                                  tuple(d["compute_capability"]), d["driver"]))
    return out


__all__ = ["DeviceInfo", "DeviceList", "available", "devices", "status"]
