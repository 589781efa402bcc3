"""Program mode's command macros."""

from __future__ import annotations

import json
import os
import sys

import pytest

from kiseki.errors import ConfigError
from kiseki.sweeps.macros import ENV_PATH, expand_command

PARAMS = {"lr": 0.01, "batch": 64, "opt": {"name": "adam"}, "flag": True}


def expand(command: list[str], **overrides: object) -> list[str]:
    options: dict[str, object] = {
        "program": "train.py",
        "params": PARAMS,
        "args_json_file": "/tmp/params.json",
        "environ": {"DATA": "/data/mnist"},
    }
    options.update(overrides)
    return expand_command(command, **options)  # type: ignore[arg-type]


def test_default_command_expands_env_interpreter_program_and_args() -> None:
    argv = expand(["${env}", "${interpreter}", "${program}", "${args}"])
    prefix = [ENV_PATH] if os.path.exists(ENV_PATH) else []
    assert argv == [
        *prefix,
        sys.executable,
        "train.py",
        "--lr=0.01",
        "--batch=64",
        '--opt={"name": "adam"}',
        "--flag=True",
    ]


def test_args_no_hyphens_json_json_file_and_envvar() -> None:
    argv = expand(
        [
            "python",
            "${program}",
            "${args_no_hyphens}",
            "${args_json}",
            "--config=${args_json_file}",
            "--data=${envvar:DATA}",
        ]
    )
    assert argv[:6] == [
        "python",
        "train.py",
        "lr=0.01",
        "batch=64",
        'opt={"name": "adam"}',
        "flag=True",
    ]
    assert json.loads(argv[6]) == PARAMS
    assert argv[7:] == ["--config=/tmp/params.json", "--data=/data/mnist"]


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (["${envvar:MISSING}"], "MISSING is not set"),
        (["--x=${args}"], "element of its own"),
        (["${nonsense}"], "not a macro"),
    ],
)
def test_bad_macros_are_explained(command: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        expand(command)


def test_program_macro_without_a_program_is_explained() -> None:
    with pytest.raises(ConfigError, match="no `program`"):
        expand(["${program}"], program=None)
