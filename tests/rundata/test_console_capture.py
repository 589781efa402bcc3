"""Console capture: stdout and stderr teed into the run with timestamps and stream names,
progress bars collapsed, a size cap with a marker, ``console="off"``."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import kiseki
from kiseki.runlog.records import ConsoleLines
from kiseki.sdk.console_capture import MAX_PARTIAL_CHARS, ConsoleCapture, clean_line


def captured(records: list[Any]) -> list[list[Any]]:
    return [line for record in records for line in record.lines]


def test_clean_line_keeps_the_last_carriage_return_state_without_escape_codes() -> None:
    assert clean_line("plain") == "plain"
    assert (
        clean_line("  0%|     | 0/10\r 50%|##   | 5/10\r100%|#####| 10/10") == "100%|#####| 10/10"
    )
    assert clean_line("windows line\r") == "windows line"
    assert clean_line("\x1b[31mred\x1b[0m and \x1b[1mbold\x1b[22m") == "red and bold"
    assert clean_line("\r\x1b[2K\x1b[32m━━━━\x1b[0m 100%") == "━━━━ 100%"


def test_progress_bars_collapse_to_their_last_state() -> None:
    got: list[Any] = []
    capture = ConsoleCapture(got.append, 1 << 20)
    for i in range(101):  # tqdm redraws the bar with \r, then ends it with \n
        capture.feed("stderr", f"\rtraining: {i:3d}%|{'#' * (i // 10):<10}|")
    capture.feed("stderr", "\n")
    capture.feed("stdout", "epoch 1 done\n")
    capture.close()
    lines = captured(got)
    assert [(s, t) for _, s, t in lines] == [
        ("stderr", "training: 100%|##########|"),
        ("stdout", "epoch 1 done"),
    ]


def test_a_long_line_is_recorded_in_pieces_and_a_last_partial_line_at_close() -> None:
    got: list[Any] = []
    capture = ConsoleCapture(got.append, 1 << 22)
    capture.feed("stdout", "x" * (MAX_PARTIAL_CHARS * 2 + 5))
    capture.feed("stdout", "tail without newline")
    capture.close()
    texts = [t for _, _, t in captured(got)]
    assert texts[:2] == ["x" * MAX_PARTIAL_CHARS] * 2
    assert texts[2] == "xxxxxtail without newline"


def test_the_size_cap_ends_capture_with_a_marker_line() -> None:
    got: list[Any] = []
    capture = ConsoleCapture(got.append, 100)
    for i in range(50):
        capture.feed("stdout", f"line {i:04d}\n")  # 9 characters + a newline: 10 bytes
    capture.close()
    lines = captured(got)
    assert [t for _, _, t in lines[:-1]] == [f"line {i:04d}" for i in range(10)]
    marker = lines[-1]
    assert marker[1] == "kiseki" and "limit of 100 bytes" in marker[2]
    assert "console_max_bytes" in marker[2]
    assert capture.capped


def test_the_user_still_sees_the_output_and_the_run_keeps_it(
    kiseki_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = kiseki.init(project="console", settings={"stats_interval": 0})
    print("hello from stdout")
    print("something went wrong", file=sys.stderr)
    sys.stdout.write("no newline yet")
    sys.stdout.write(" ... done\n")
    run.log({"loss": 0.5})
    run.finish()
    seen = capsys.readouterr()
    assert "hello from stdout" in seen.out and "no newline yet ... done" in seen.out
    assert "something went wrong" in seen.err
    assert not hasattr(sys.stdout, "detach_capture")  # the streams are restored
    lines = kiseki.Api().run(run.path).logs()
    assert [(x.stream, x.text) for x in lines] == [
        ("stdout", "hello from stdout"),
        ("stderr", "something went wrong"),
        ("stdout", "no newline yet ... done"),
    ]
    assert [x.line_no for x in lines] == [0, 1, 2]
    assert all(run.start_time <= x.timestamp <= time.time() for x in lines)


def test_search_and_stream_filters(kiseki_dir: Path) -> None:
    run = kiseki.init(project="console", settings={"stats_interval": 0})
    for i in range(30):
        print(f"step {i} loss={1 / (i + 1):.3f}")
    print("WARNING: 100% of disk used", file=sys.stderr)
    run.finish()
    stored = kiseki.Api().run(run.path)
    assert [x.text for x in stored.logs(search="step 2")] == [
        "step 2 loss=0.333",
        *[f"step {i} loss={1 / (i + 1):.3f}" for i in range(20, 30)],
    ]
    assert [x.text for x in stored.logs(search="100%")] == ["WARNING: 100% of disk used"]
    assert [x.text for x in stored.logs(search="warning")] == ["WARNING: 100% of disk used"]
    assert [x.stream for x in stored.logs(stream="stderr")] == ["stderr"]


def test_threads_printing_at_once_lose_no_line(kiseki_dir: Path) -> None:
    run = kiseki.init(project="console", settings={"stats_interval": 0})

    def chatter(name: str) -> None:
        for i in range(300):  # one write per line (print() makes two, which threads interleave)
            sys.stdout.write(f"{name}-{i}\n")

    threads = [threading.Thread(target=chatter, args=(f"t{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run.finish()
    texts = [x.text for x in kiseki.Api().run(run.path).logs()]
    assert sorted(texts) == sorted(f"t{n}-{i}" for n in range(4) for i in range(300))


def test_console_off_leaves_the_streams_alone(kiseki_dir: Path) -> None:
    before = sys.stdout
    run = kiseki.init(project="console", settings={"console": "off", "stats_interval": 0})
    assert sys.stdout is before
    print("not recorded")
    run.finish()
    assert kiseki.Api().run(run.path).logs() == []


def test_a_failing_capture_never_reaches_the_script(
    kiseki_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = kiseki.init(project="console", settings={"stats_interval": 0})
    capture = run._run_data.console

    def broken(stream: str, text: str) -> None:
        raise RuntimeError("capture bug")

    capture.feed = broken
    print("still printed")
    run.finish()
    assert "still printed" in capsys.readouterr().out


def test_console_records_are_batched(kiseki_dir: Path) -> None:
    got: list[Any] = []
    capture = ConsoleCapture(got.append, 1 << 20)
    for i in range(500):
        capture.feed("stdout", f"{i}\n")
    capture.close()
    assert all(type(r) is ConsoleLines for r in got)
    assert len(got) <= 3
    assert len(captured(got)) == 500


def test_console_setting_values(monkeypatch: pytest.MonkeyPatch) -> None:
    from kiseki.errors import ConfigError
    from kiseki.settings import resolve_settings

    assert resolve_settings().console == "auto"
    monkeypatch.setenv("WANDB_CONSOLE", "redirect")  # W&B's fd-level mode: kiseki wraps
    assert resolve_settings().console == "wrap"
    monkeypatch.setenv("KISEKI_CONSOLE", "OFF")
    assert resolve_settings().console == "off"
    with pytest.raises(ConfigError, match="not a console mode"):
        resolve_settings(None, {"console": "loud"})
    with pytest.raises(ConfigError, match="console_max_bytes"):
        resolve_settings(None, {"console_max_bytes": -1})


def test_a_forked_child_does_not_write_into_the_parents_run(kiseki_dir: Path) -> None:
    import os

    run = kiseki.init(project="console", settings={"stats_interval": 0})
    print("parent before fork")
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:  # the child: its output is not the parent's run's
        try:
            print("child output")
            sys.stdout.flush()
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    print("parent after fork")
    run.finish()
    texts = [x.text for x in kiseki.Api().run(run.path).logs()]
    assert texts == ["parent before fork", "parent after fork"]


def test_records_stay_small_when_long_lines_pour_out() -> None:
    from kiseki.sdk.console_capture import MAX_BATCH_CHARS

    got: list[Any] = []
    capture = ConsoleCapture(got.append, 1 << 30)
    for i in range(100):
        capture.feed("stdout", f"{i:03d}" + "y" * 60_000 + "\n")
    capture.close()
    assert len(got) > 1
    assert all(sum(len(t) for _, _, t in r.lines) <= MAX_BATCH_CHARS for r in got)
    assert [t[:3] for _, _, t in captured(got)] == [f"{i:03d}" for i in range(100)]
