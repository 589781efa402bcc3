"""The public surface: ``kiseki.__all__``, a light ``import kiseki``, and documented settings."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import kiseki
from kiseki.cli.main import cli
from kiseki.settings import _ENV_FIELDS, Settings

ROOT = Path(__file__).resolve().parent.parent

EXPECTED_ALL = [
    "Api",
    "ApiError",
    "Artifact",
    "AuthError",
    "ConfigError",
    "Histogram",
    "Image",
    "KisekiError",
    "KisekiWarning",
    "NotFoundError",
    "Run",
    "Settings",
    "StoreError",
    "Table",
    "UsageError",
    "ValueTypeError",
    "__version__",
    "agent",
    "config",
    "define_metric",
    "finish",
    "init",
    "log",
    "run",
    "save",
    "summary",
    "sweep",
]


def test_all_is_sorted_and_guarded() -> None:
    assert kiseki.__all__ == EXPECTED_ALL
    assert kiseki.__all__ == sorted(kiseki.__all__)
    for name in kiseki.__all__:
        if name not in ("run",):
            assert getattr(kiseki, name) is not None, name


def test_every_public_name_has_a_docstring() -> None:
    for name in kiseki.__all__:
        value = getattr(kiseki, name)
        if callable(value):
            assert value.__doc__, f"kiseki.{name} has no docstring"


def test_import_kiseki_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys, kiseki; heavy = [m for m in ('sqlalchemy', 'alembic', 'numpy', 'pandas', "
        "'psutil', 'rich', 'click', 'yaml') if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_every_setting_and_environment_variable_is_documented() -> None:
    text = (ROOT / "docs" / "sdk.md").read_text()
    for field in dataclasses.fields(Settings):
        if field.name != "run_dir_root":
            assert f"`{field.name}`" in text, f"setting {field.name} is not in docs/sdk.md"
    for variables in _ENV_FIELDS.values():
        for variable in variables:
            if variable:
                assert variable in text, f"{variable} is not in docs/sdk.md"
    assert "KISEKI_USERNAME" in text


def _commands(group, prefix=""):
    for name, command in group.commands.items():
        full = f"{prefix}{name}"
        yield full, command
        if hasattr(command, "commands"):
            yield from _commands(command, full + " ")


def test_every_cli_command_and_option_is_documented() -> None:
    text = (ROOT / "docs" / "cli.md").read_text()
    for name, command in _commands(cli):
        assert f"kiseki {name}" in text, f"`kiseki {name}` is not in docs/cli.md"
        for param in command.params:
            for option in getattr(param, "opts", []):
                if option.startswith("--") and option != "--help":
                    assert re.search(rf"kiseki {name}\b.*{re.escape(option)}", text), (
                        f"option {option} of `kiseki {name}` is not in docs/cli.md"
                    )


def test_every_relative_link_in_the_docs_resolves() -> None:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    for page in pages:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" in target or target.startswith("mailto:"):
                continue
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"
