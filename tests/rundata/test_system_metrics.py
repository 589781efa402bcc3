"""System metrics: psutil fields, NVML absent (its documented error paths) and present (a fake
``pynvml`` with the real API's signatures), the system stream apart from the user's ``_step``."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pynvml
import pytest
from fake_nvml import FakeGpu, make_fake_nvml

import kiseki
from kiseki.errors import ConfigError
from kiseki.sdk.system_metrics import GpuReader, SystemMetricsCollector, SystemMetricsSampler

GPU_FIELDS = {
    "gpu",
    "memory",
    "memory_allocated",
    "memory_allocated_bytes",
    "temp",
    "power_watts",
    "power_percent",
    "sm_clock_mhz",
}


def wait_until(predicate: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def test_a_sample_holds_cpu_memory_disk_network_and_process_fields() -> None:
    collector = SystemMetricsCollector(per_core=True)
    values = collector.sample()
    for key in (
        "system/cpu.percent",
        "system/cpu.0.percent",
        "system/memory.percent",
        "system/disk.percent",
        "system/disk.used_gb",
        "system/disk.read_mb",
        "system/disk.write_mb",
        "system/network.sent_mb",
        "system/network.recv_mb",
        "system/proc.cpu.percent",
        "system/proc.memory.rss_mb",
        "system/proc.memory.percent",
        "system/proc.threads",
    ):
        assert isinstance(values[key], float), key
    assert 0.0 <= values["system/memory.percent"] <= 100.0
    assert values["system/proc.memory.rss_mb"] > 1.0
    assert values["system/proc.threads"] >= 1
    assert not any(key.startswith("system/gpu") for key in values)


def test_the_process_tree_counts_children() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        alone = SystemMetricsCollector().sample()
        tree = SystemMetricsCollector(process_tree=True).sample()
    finally:
        child.kill()
        child.wait()
    assert "system/proc.count" not in alone
    assert tree["system/proc.count"] >= 2
    assert tree["system/proc.memory.rss_mb"] > alone["system/proc.memory.rss_mb"]


def test_without_an_nvidia_driver_nvml_reports_why_and_no_gpu_field_appears() -> None:
    try:  # this machine has no driver: the real library must fail the documented way
        pynvml.nvmlInit()
        pynvml.nvmlShutdown()
        pytest.skip("an NVIDIA driver is present here; the fake-NVML tests cover the rest")
    except pynvml.NVMLError_LibraryNotFound:
        pass
    except pynvml.NVMLError_DriverNotLoaded:
        pass
    reader = GpuReader()
    assert reader.start() is False
    assert reader.status.startswith("NVML unavailable")
    values: dict[str, float] = {}
    reader.read(values)
    assert values == {}
    reader.stop()


def test_a_real_gpu_gives_its_fields() -> None:
    """Runs where an NVIDIA driver and card are present (a GPU machine); skipped elsewhere."""
    try:
        pynvml.nvmlInit()
        count = pynvml.nvmlDeviceGetCount()
        pynvml.nvmlShutdown()
    except pynvml.NVMLError as exc:
        pytest.skip(f"no NVIDIA driver here ({exc}); the fake-NVML tests cover the fields")
    if count == 0:
        pytest.skip("NVML works but sees no GPU")
    reader = GpuReader()
    assert reader.start() is True
    values: dict[str, float] = {}
    reader.read(values)
    reader.stop()
    for field in ("gpu", "memory_allocated", "memory_allocated_bytes"):
        assert f"system/gpu.0.{field}" in values, (field, sorted(values))
    assert 0.0 <= values["system/gpu.0.gpu"] <= 100.0


@pytest.mark.parametrize(
    "error", [pynvml.NVMLError_LibraryNotFound, pynvml.NVMLError_DriverNotLoaded]
)
def test_nvml_failing_to_start_leaves_gpus_out(error: type[Exception]) -> None:
    reader = GpuReader(make_fake_nvml([FakeGpu()], init_error=error))
    assert reader.start() is False
    assert str(error()) in reader.status
    collector = SystemMetricsCollector(gpu=reader)
    assert not any(key.startswith("system/gpu") for key in collector.sample())


def test_fake_nvml_gives_every_gpu_field() -> None:
    nvml = make_fake_nvml([FakeGpu(), FakeGpu(utilization_gpu=5, temperature=40)])
    reader = GpuReader(nvml)
    assert reader.start() is True and reader.status == "ok"
    values: dict[str, float] = {}
    reader.read(values)
    for index in (0, 1):
        fields = {k.split(".", 2)[2] for k in values if k.startswith(f"system/gpu.{index}.")}
        assert fields == GPU_FIELDS
    assert values["system/gpu.0.gpu"] == 87.0
    assert values["system/gpu.1.gpu"] == 5.0
    assert values["system/gpu.0.memory_allocated"] == pytest.approx(25.0)
    assert values["system/gpu.0.power_watts"] == pytest.approx(250.0)
    assert values["system/gpu.0.power_percent"] == pytest.approx(50.0)
    assert values["system/gpu.1.temp"] == 40.0
    assert values["system/gpu.0.sm_clock_mhz"] == 1410.0
    reader.stop()
    assert nvml.shutdowns == 1


def test_an_unsupported_field_is_left_out_and_not_asked_again() -> None:
    flaky = FakeGpu(temperature=pynvml.NVMLError_NotSupported, power_mw=pynvml.NVMLError_GpuIsLost)
    reader = GpuReader(make_fake_nvml([flaky, FakeGpu()]))
    reader.start()
    for _ in range(3):
        values: dict[str, float] = {}
        reader.read(values)
        assert "system/gpu.0.temp" not in values
        assert "system/gpu.0.power_watts" not in values
        assert "system/gpu.0.gpu" in values and "system/gpu.1.temp" in values
    assert flaky.calls["temperature"] == 1  # NotSupported: never asked again
    assert flaky.calls["power"] == 3  # another error (a lost GPU) is tried again next time


def test_a_failing_sample_is_skipped_with_one_warning(capfd: pytest.CaptureFixture[str]) -> None:
    class Broken(SystemMetricsCollector):
        def sample(self) -> dict[str, float]:
            raise RuntimeError("sensor exploded")

    got: list[object] = []
    sampler = SystemMetricsSampler(got.append, 0.02, time.time(), lambda: Broken())
    sampler.start()
    time.sleep(0.2)
    sampler.stop()
    assert got == []
    assert capfd.readouterr().err.count("sensor exploded") == 1


def test_the_system_stream_has_its_own_steps(
    kiseki_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", make_fake_nvml([FakeGpu()]))
    run = kiseki.init(project="sys", settings={"stats_interval": 0.05})
    for i in range(3):
        run.log({"loss": 1.0 / (i + 1)})
        time.sleep(0.1)
    sampler = run._run_data.sampler
    wait_until(lambda: sampler.samples_taken >= 4)
    run.finish()
    stored = kiseki.Api().run(run.path)
    assert stored.last_step == 2 and stored.history_rows == 3
    assert [row["_step"] for row in stored.scan_history()] == [0, 1, 2]
    assert not any(k.startswith("system/") for k in stored.history_keys())
    rows = stored.history(stream="system", pandas=False)
    assert len(rows) >= 4
    assert [row["_step"] for row in rows] == list(range(len(rows)))
    times = [row["_timestamp"] for row in rows]
    assert times == sorted(times) and all(row["_runtime"] >= 0 for row in rows)
    assert rows[0]["system/gpu.0.gpu"] == 87.0
    assert "system/cpu.percent" in rows[0]
    default = stored.history(pandas=False)
    assert all(not any(k.startswith("system/") for k in row) for row in default)
    some = stored.history(
        samples=2, keys=["system/gpu.0.temp"], x_axis="_runtime", pandas=False, stream="system"
    )
    assert len(some) == 2
    assert list(some[0]) == ["system/gpu.0.temp", "_runtime", "_step"]


def test_stats_interval_zero_samples_nothing(kiseki_dir: Path) -> None:
    run = kiseki.init(project="sys", settings={"stats_interval": 0})
    assert run._run_data.sampler is None
    run.log({"a": 1})
    run.finish()
    rows = kiseki.Api().run(run.path).history(stream="system", pandas=False)
    assert not any(key.startswith("system/") for row in rows for key in row)


def test_stats_interval_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from kiseki.settings import resolve_settings

    monkeypatch.setenv("KISEKI_STATS_INTERVAL", "2.5")
    assert resolve_settings().stats_interval == 2.5
    assert resolve_settings().stats_per_core is False
    with pytest.raises(ConfigError, match="stats_interval"):
        resolve_settings(None, {"stats_interval": -1})
    with pytest.raises(ConfigError, match="KISEKI_STATS_INTERVAL"):
        resolve_settings(None, None, {"KISEKI_STATS_INTERVAL": "often"})
