"""What a run records beside ``log()``: system metrics, console output and saved files.

:func:`start_run_data` starts the parts the settings ask for when ``kiseki.init`` starts a
run; :meth:`RunData.close` stops them at ``finish`` (before the run's last records are
written), saving ``end`` files and what the console still holds.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from kiseki.sdk.console_capture import ConsoleCapture
from kiseki.sdk.file_saver import RunFileSaver
from kiseki.sdk.system_metrics import GpuReader, SystemMetricsCollector, SystemMetricsSampler
from kiseki.settings import Settings


class RunData:
    """The running parts of one run (each may be ``None`` when switched off)."""

    def __init__(
        self,
        files: RunFileSaver,
        sampler: SystemMetricsSampler | None,
        console: ConsoleCapture | None,
    ) -> None:
        self.files = files
        self.sampler = sampler
        self.console = console

    def close(self) -> None:
        """Stop sampling, save the remaining files, record the console's last lines."""
        for part in (self.sampler, self.files, self.console):
            if part is None:
                continue
            try:
                part.stop() if isinstance(part, SystemMetricsSampler) else part.close()
            except Exception as exc:  # finishing must go on
                name = type(part).__name__
                print(f"kiseki: stopping {name} failed: {exc!r}", file=sys.__stderr__)


def start_run_data(
    settings: Settings, submit: Callable[[Any], None], epoch: float, program: str | None
) -> RunData:
    """Start what ``settings`` ask for; ``epoch`` is when the run's ``_runtime`` is 0."""
    from kiseki.blobs import local_blob_store

    files = RunFileSaver(submit, local_blob_store(settings.kiseki_dir))
    files.save_requirements()  # a millisecond or two; its record follows RunStarted
    if settings.save_code:
        files.save_code(program)
    sampler = None
    if settings.stats_interval > 0:
        per_core, tree = settings.stats_per_core, settings.stats_process_tree

        def collector() -> SystemMetricsCollector:
            return SystemMetricsCollector(per_core=per_core, process_tree=tree, gpu=GpuReader())

        sampler = SystemMetricsSampler(submit, settings.stats_interval, epoch, collector)
        sampler.start()
    console = None
    if settings.console != "off":
        console = ConsoleCapture(submit, settings.console_max_bytes)
        console.install()
    return RunData(files, sampler, console)
