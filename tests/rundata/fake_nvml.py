"""A stand-in for the ``pynvml`` module (nvidia-ml-py) with the real API's names and
signatures, describing GPUs given by the test; it raises the real ``pynvml`` exception classes,
so kiseki's error handling meets the same types as on a machine with a driver."""

from __future__ import annotations

import types
from dataclasses import dataclass, field
from typing import Any

import pynvml


@dataclass
class FakeGpu:
    """One GPU's readings; a field set to an exception class raises it when read."""

    utilization_gpu: Any = 87
    utilization_memory: Any = 41
    memory_total: int = 80 * 1024**3
    memory_used: int = 20 * 1024**3
    temperature: Any = 64
    power_mw: Any = 250_000
    power_limit_mw: Any = 500_000
    sm_clock: Any = 1410
    calls: dict[str, int] = field(default_factory=dict)


def _value(gpu: FakeGpu, name: str, value: Any) -> Any:
    gpu.calls[name] = gpu.calls.get(name, 0) + 1
    if isinstance(value, type) and issubclass(value, Exception):
        raise value()
    return value


def make_fake_nvml(gpus: list[FakeGpu], init_error: type[Exception] | None = None) -> Any:
    """A module object that answers like ``pynvml`` for ``gpus``."""
    module = types.ModuleType("pynvml")
    module.NVMLError = pynvml.NVMLError  # type: ignore[attr-defined]
    module.NVML_ERROR_NOT_SUPPORTED = pynvml.NVML_ERROR_NOT_SUPPORTED  # type: ignore[attr-defined]
    module.NVML_TEMPERATURE_GPU = pynvml.NVML_TEMPERATURE_GPU  # type: ignore[attr-defined]
    module.NVML_CLOCK_SM = pynvml.NVML_CLOCK_SM  # type: ignore[attr-defined]
    module.shutdowns = 0  # type: ignore[attr-defined]

    def nvmlInit() -> None:
        if init_error is not None:
            raise init_error()

    def nvmlShutdown() -> None:
        module.shutdowns += 1  # type: ignore[attr-defined]

    def nvmlDeviceGetCount() -> int:
        return len(gpus)

    def nvmlDeviceGetHandleByIndex(index: int) -> FakeGpu:
        return gpus[index]

    def nvmlDeviceGetUtilizationRates(handle: FakeGpu) -> Any:
        gpu = _value(handle, "utilization", handle.utilization_gpu)
        return pynvml.c_nvmlUtilization_t(gpu=gpu, memory=handle.utilization_memory)

    def nvmlDeviceGetMemoryInfo(handle: FakeGpu, version: Any = None) -> Any:
        _value(handle, "memory", None)
        return types.SimpleNamespace(
            total=handle.memory_total,
            used=handle.memory_used,
            free=handle.memory_total - handle.memory_used,
        )

    def nvmlDeviceGetTemperature(handle: FakeGpu, sensor: int) -> int:
        assert sensor == pynvml.NVML_TEMPERATURE_GPU
        return int(_value(handle, "temperature", handle.temperature))

    def nvmlDeviceGetPowerUsage(handle: FakeGpu) -> int:
        return int(_value(handle, "power", handle.power_mw))

    def nvmlDeviceGetEnforcedPowerLimit(handle: FakeGpu) -> int:
        return int(_value(handle, "power_limit", handle.power_limit_mw))

    def nvmlDeviceGetClockInfo(handle: FakeGpu, type: int) -> int:
        assert type == pynvml.NVML_CLOCK_SM
        return int(_value(handle, "sm_clock", handle.sm_clock))

    for function in (
        nvmlInit,
        nvmlShutdown,
        nvmlDeviceGetCount,
        nvmlDeviceGetHandleByIndex,
        nvmlDeviceGetUtilizationRates,
        nvmlDeviceGetMemoryInfo,
        nvmlDeviceGetTemperature,
        nvmlDeviceGetPowerUsage,
        nvmlDeviceGetEnforcedPowerLimit,
        nvmlDeviceGetClockInfo,
    ):
        setattr(module, function.__name__, function)
    return module
