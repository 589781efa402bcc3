"""System metrics: a background thread samples the machine every ``stats_interval`` seconds.

Each sample is one :class:`~kiseki.runlog.records.SystemSampled` record of ``system/...`` keys
(see docs/system-and-console.md for the list): CPU (system and process, per core optionally),
memory, disk and network from psutil, and per GPU from NVML (nvidia-ml-py) when an NVIDIA driver
is present. Samples have their own numbering in the store, so they never move the run's
``_step``. Nothing here may reach the training loop: a field that fails is left out of the
sample (NVML's ``NotSupported`` per field, a lost GPU, a vanished child process), and a
sample that fails as a whole is skipped with one warning on stderr.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

from kiseki.runlog.records import SystemSampled
from kiseki.sdk.console import warn_once

MB = 1024 * 1024
GB = 1024 * MB


class GpuReader:
    """Per-GPU metrics through NVML; inactive when NVML or its driver is missing.

    ``nvml`` is the ``pynvml`` module (imported when not given). :attr:`status` says why no
    GPU is read (``"NVML library not found"``, ``"driver not loaded"``, ...) or ``"ok"``.
    """

    def __init__(self, nvml: Any = None) -> None:
        self.status = "not started"
        self._nvml = nvml
        self._handles: list[Any] = []
        self._unsupported: set[tuple[int, str]] = set()

    def start(self) -> bool:
        """Initialise NVML and find the GPUs; ``False`` (with :attr:`status`) when it cannot."""
        try:
            if self._nvml is None:
                import pynvml

                self._nvml = pynvml
            nvml = self._nvml
            nvml.nvmlInit()
            count = int(nvml.nvmlDeviceGetCount())
            self._handles = [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        except ImportError:
            self.status = "nvidia-ml-py is not installed"
            return False
        except Exception as exc:  # NVMLError_LibraryNotFound, _DriverNotLoaded, ...
            self.status = f"NVML unavailable: {exc}"
            self._handles = []
            return False
        self.status = "ok" if self._handles else "no GPU found"
        return bool(self._handles)

    def stop(self) -> None:
        """Shut NVML down (errors ignored)."""
        if self._nvml is not None and self.status in ("ok", "no GPU found"):
            try:
                self._nvml.nvmlShutdown()
            except Exception:
                pass
        self._handles = []

    def read(self, values: dict[str, float]) -> None:
        """Add every readable field of every GPU to ``values``."""
        nvml = self._nvml
        for index, handle in enumerate(self._handles):
            prefix = f"system/gpu.{index}."
            utilization = self._field(
                index, "utilization", nvml.nvmlDeviceGetUtilizationRates, handle
            )
            if utilization is not None:
                values[prefix + "gpu"] = float(utilization.gpu)
                values[prefix + "memory"] = float(utilization.memory)
            memory = self._field(index, "memory", nvml.nvmlDeviceGetMemoryInfo, handle)
            if memory is not None and memory.total:
                values[prefix + "memory_allocated"] = 100.0 * memory.used / memory.total
                values[prefix + "memory_allocated_bytes"] = float(memory.used)
            temperature = self._field(
                index, "temp", nvml.nvmlDeviceGetTemperature, handle, nvml.NVML_TEMPERATURE_GPU
            )
            if temperature is not None:
                values[prefix + "temp"] = float(temperature)
            power = self._field(index, "power", nvml.nvmlDeviceGetPowerUsage, handle)
            if power is not None:
                values[prefix + "power_watts"] = power / 1000.0  # NVML reports milliwatts
                limit = self._field(index, "limit", nvml.nvmlDeviceGetEnforcedPowerLimit, handle)
                if limit:
                    values[prefix + "power_percent"] = 100.0 * power / limit
            clock = self._field(
                index, "sm_clock", nvml.nvmlDeviceGetClockInfo, handle, nvml.NVML_CLOCK_SM
            )
            if clock is not None:
                values[prefix + "sm_clock_mhz"] = float(clock)

    def _field(self, index: int, name: str, call: Callable[..., Any], *args: Any) -> Any:
        """One NVML call; ``None`` when it fails (never asked again when not supported)."""
        if (index, name) in self._unsupported:
            return None
        try:
            return call(*args)
        except Exception as exc:
            if getattr(exc, "value", None) == getattr(self._nvml, "NVML_ERROR_NOT_SUPPORTED", -1):
                self._unsupported.add((index, name))
            return None


class SystemMetricsCollector:
    """Takes one sample of the machine and this process (``process_tree``: with children)."""

    def __init__(
        self,
        *,
        per_core: bool = False,
        process_tree: bool = False,
        gpu: GpuReader | None = None,
        disk_path: str | None = None,
    ) -> None:
        import psutil

        self._psutil = psutil
        self.per_core = per_core
        self.process_tree = process_tree
        self.gpu = gpu
        self._disk_path = disk_path or os.getcwd()
        self._process = psutil.Process()
        self._children: dict[int, Any] = {}
        self._disk_start = self._attempt(psutil.disk_io_counters)
        self._net_start = self._attempt(psutil.net_io_counters)
        self._attempt(lambda: psutil.cpu_percent(percpu=per_core))  # primes the CPU counters
        self._attempt(self._process.cpu_percent)

    @staticmethod
    def _attempt(call: Callable[[], Any]) -> Any:
        try:
            return call()
        except Exception:
            return None

    def sample(self) -> dict[str, float]:
        """One sample: ``system/...`` keys to numbers (fields that fail are left out)."""
        psutil = self._psutil
        values: dict[str, float] = {}
        put = self._put
        if self.per_core:
            cores = self._attempt(lambda: psutil.cpu_percent(percpu=True)) or []
            for index, percent in enumerate(cores):
                values[f"system/cpu.{index}.percent"] = float(percent)
            if cores:
                values["system/cpu.percent"] = sum(cores) / len(cores)
        else:
            put(values, "system/cpu.percent", psutil.cpu_percent)
        put(values, "system/memory.percent", lambda: psutil.virtual_memory().percent)
        usage = self._attempt(lambda: psutil.disk_usage(self._disk_path))
        if usage is not None:
            values["system/disk.percent"] = float(usage.percent)
            values["system/disk.used_gb"] = usage.used / GB
        disk = self._attempt(psutil.disk_io_counters)
        if disk is not None and self._disk_start is not None:
            values["system/disk.read_mb"] = (disk.read_bytes - self._disk_start.read_bytes) / MB
            values["system/disk.write_mb"] = (disk.write_bytes - self._disk_start.write_bytes) / MB
        net = self._attempt(psutil.net_io_counters)
        if net is not None and self._net_start is not None:
            values["system/network.sent_mb"] = (net.bytes_sent - self._net_start.bytes_sent) / MB
            values["system/network.recv_mb"] = (net.bytes_recv - self._net_start.bytes_recv) / MB
        self._process_values(values)
        if self.gpu is not None:
            try:
                self.gpu.read(values)
            except Exception:  # a GPU reader must not cost the rest of the sample
                pass
        return values

    def _put(self, values: dict[str, float], key: str, call: Callable[[], Any]) -> None:
        value = self._attempt(call)
        if value is not None:
            values[key] = float(value)

    def _process_values(self, values: dict[str, float]) -> None:
        processes = [self._process]
        if self.process_tree:
            processes += self._current_children()
        cpu = rss = threads = 0.0
        found = False
        for process in processes:
            try:
                with process.oneshot():
                    cpu += process.cpu_percent()
                    rss += process.memory_info().rss
                    threads += process.num_threads()
                found = True
            except Exception:  # a child that exited meanwhile
                continue
        if not found:
            return
        values["system/proc.cpu.percent"] = cpu
        values["system/proc.memory.rss_mb"] = rss / MB
        total = self._attempt(lambda: self._psutil.virtual_memory().total)
        if total:
            values["system/proc.memory.percent"] = 100.0 * rss / total
        values["system/proc.threads"] = threads
        if self.process_tree:
            values["system/proc.count"] = float(len(processes))

    def _current_children(self) -> list[Any]:
        try:
            current = self._process.children(recursive=True)
        except Exception:
            return []
        known = self._children
        alive = {}
        for child in current:  # keep the same Process objects: cpu_percent needs the last call
            alive[child.pid] = known.get(child.pid, child)
            if child.pid not in known:
                self._attempt(child.cpu_percent)
        self._children = alive
        return list(alive.values())


class SystemMetricsSampler:
    """A daemon thread that submits a sample every ``interval`` seconds until :meth:`stop`.

    ``submit`` is the run writer's queue; ``epoch`` is the time the run's ``_runtime`` counts
    from (its start minus the runtime of earlier resumed parts).
    """

    def __init__(
        self,
        submit: Callable[[Any], None],
        interval: float,
        epoch: float,
        collector_factory: Callable[[], SystemMetricsCollector],
    ) -> None:
        self._submit = submit
        self.interval = interval
        self._epoch = epoch
        self._collector_factory = collector_factory
        self._stop = threading.Event()
        self._warned: set[str] = set()
        self.samples_taken = 0
        self.collector: SystemMetricsCollector | None = None
        self._thread = threading.Thread(target=self._main, name="kiseki-system", daemon=True)

    def start(self) -> None:
        """Start sampling."""
        self._thread.start()

    def stop(self, wait: float = 1.0) -> None:
        """Stop sampling; wait up to ``wait`` seconds for the thread (a hung driver is left)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(wait)

    def _main(self) -> None:
        try:
            self.collector = self._collector_factory()
            if self.collector.gpu is not None:
                self.collector.gpu.start()
        except Exception as exc:
            self._warn(f"kiseki: system metrics are off: {exc!r}")
            return
        try:
            while not self._stop.wait(self.interval):
                self.sample_once()
        finally:
            if self.collector.gpu is not None:
                self.collector.gpu.stop()

    def sample_once(self) -> None:
        """Take and submit one sample (a failure is reported once, then ignored)."""
        assert self.collector is not None
        try:
            values = self.collector.sample()
            now = time.time()
            if values:
                self._submit(SystemSampled(0, now, now - self._epoch, values))
                self.samples_taken += 1
        except Exception as exc:
            self._warn(f"kiseki: a system-metrics sample failed and was skipped: {exc!r}")

    def _warn(self, message: str) -> None:
        warn_once(self._warned, "sample", message)
