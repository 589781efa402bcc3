"""The command macros of program mode: how ``command`` in a sweep config becomes an argv.

======================= ==========================================================
``${env}``              ``/usr/bin/env`` (dropped where it does not exist)
``${interpreter}``      the Python running the agent (``sys.executable``)
``${program}``          the config's ``program``
``${args}``             ``--name=value`` for each parameter
``${args_no_hyphens}``  ``name=value`` for each parameter
``${args_json}``        the parameters as one JSON argument
``${args_json_file}``   the path of a JSON file holding the parameters
``${envvar:NAME}``      the value of the environment variable ``NAME``
======================= ==========================================================

``${args}`` and ``${args_no_hyphens}`` expand to several arguments and must stand alone as an
element of ``command``; the others may sit inside a longer string (``--config=${args_json_file}``).
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from kiseki.errors import ConfigError

ENV_PATH = "/usr/bin/env"
_MACRO = re.compile(r"\$\{([a-z_]+)(?::([A-Za-z_][A-Za-z0-9_]*))?\}")
_LIST_MACROS = ("args", "args_no_hyphens")


def format_value(value: Any) -> str:
    """A parameter value as command-line text (JSON for lists and mappings)."""
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value)
    return str(value)


def expand_command(
    command: Sequence[str],
    *,
    program: str | None,
    params: Mapping[str, Any],
    args_json_file: str,
    environ: Mapping[str, str],
    interpreter: str = sys.executable,
) -> list[str]:
    """The argv ``command`` stands for with these parameters.

    >>> expand_command(["${program}", "${args}"], program="train.py", params={"lr": 0.1},
    ...                args_json_file="/tmp/p.json", environ={})
    ['train.py', '--lr=0.1']
    """
    argv: list[str] = []
    for part in command:
        whole = _MACRO.fullmatch(part)
        if whole and whole.group(1) in _LIST_MACROS:
            pairs = [f"{k}={format_value(v)}" for k, v in params.items()]
            if whole.group(1) == "args":
                pairs = [f"--{p}" for p in pairs]
            argv.extend(pairs)
            continue
        if whole and whole.group(1) == "env":
            if os.path.exists(ENV_PATH):
                argv.append(ENV_PATH)
            continue

        def substitute(match: re.Match[str], part: str = part) -> str:
            name, argument = match.group(1), match.group(2)
            if name in _LIST_MACROS:
                raise ConfigError(
                    f"command element {part!r}: ${{{name}}} expands to several arguments and "
                    "must be an element of its own."
                )
            if name == "env":
                return ENV_PATH
            if name == "interpreter":
                return interpreter
            if name == "program":
                if not program:
                    raise ConfigError(
                        "The sweep's command uses ${program} but the config has no `program`: "
                        "add program: train.py (or your script)."
                    )
                return program
            if name == "args_json":
                return json.dumps(dict(params))
            if name == "args_json_file":
                return args_json_file
            if name == "envvar":
                if argument is None:
                    raise ConfigError(f"command element {part!r}: write ${{envvar:NAME}}.")
                if argument not in environ:
                    raise ConfigError(
                        f"The sweep's command uses ${{envvar:{argument}}} but the environment "
                        f"variable {argument} is not set: set it before starting the agent."
                    )
                return environ[argument]
            raise ConfigError(
                f"command element {part!r}: ${{{name}}} is not a macro; use ${{env}}, "
                "${interpreter}, ${program}, ${args}, ${args_no_hyphens}, ${args_json}, "
                "${args_json_file} or ${envvar:NAME}."
            )

        argv.append(_MACRO.sub(substitute, part))
    return argv
