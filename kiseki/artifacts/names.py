"""What artifact names, aliases, versions and entry paths may look like.

Entry paths are relative POSIX paths (``data/train.csv``); nothing that could leave the
download root is accepted: no ``..`` part, no absolute path, no drive letter, no backslash,
no NUL. Names are what a ``name:alias`` reference can hold unambiguously.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kiseki.errors import UsageError

MAX_NAME = 128
MAX_PATH = 1024
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_ALIAS = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_VERSION = re.compile(r"^v(\d+)$")
LATEST = "latest"


def check_artifact_name(name: object) -> str:
    """``name`` if it is a valid artifact name (letters, digits, ``. _ -``; up to 128)."""
    if not isinstance(name, str) or not _NAME.match(name) or len(name) > MAX_NAME:
        raise UsageError(
            f"{name!r} is not an artifact name: use letters, digits, '.', '_' and '-' (up to "
            f"{MAX_NAME} characters, starting with a letter or digit), e.g. 'mnist-train'."
        )
    return name


def check_artifact_type(artifact_type: object) -> str:
    """``artifact_type`` if it is a valid type name (same rules as names)."""
    if not isinstance(artifact_type, str) or not _NAME.match(artifact_type):
        raise UsageError(
            f"{artifact_type!r} is not an artifact type: use a word such as 'dataset' or 'model'."
        )
    return artifact_type


def check_alias(alias: object) -> str:
    """``alias`` if it can name a version (``best``, ``prod``); ``v3``-like aliases are the
    versions' own names and cannot be given."""
    if not isinstance(alias, str) or not _ALIAS.match(alias) or len(alias) > MAX_NAME:
        raise UsageError(
            f"{alias!r} is not an alias: use letters, digits, '.', '_' and '-', e.g. 'best'."
        )
    if _VERSION.match(alias):
        raise UsageError(f"{alias!r} looks like a version name; choose another alias.")
    return alias


def check_entry_path(path: object) -> str:
    """``path`` as a normalised relative POSIX path inside the artifact, or
    :class:`~kiseki.errors.UsageError` when it could escape the download root."""
    if not isinstance(path, str) or not path or len(path) > MAX_PATH:
        raise UsageError(f"{path!r} is not an artifact entry path (a non-empty relative path).")
    if "\\" in path or "\0" in path:
        raise UsageError(f"The entry path {path!r} holds a backslash or NUL: use '/' only.")
    if path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        raise UsageError(
            f"The entry path {path!r} is absolute: entries must be relative to the artifact."
        )
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if not parts or any(part == ".." for part in parts):
        raise UsageError(
            f"The entry path {path!r} leaves the artifact ('..'): entries must stay inside it."
        )
    return "/".join(parts)


@dataclass(frozen=True)
class ArtifactRef:
    """A parsed ``[entity/][project/]name[:alias]`` reference (``alias`` defaults to
    ``latest``; ``v3`` names a version)."""

    entity: str | None
    project: str | None
    name: str
    alias: str

    @property
    def version_index(self) -> int | None:
        """``3`` for ``v3``; ``None`` for an alias."""
        match = _VERSION.match(self.alias)
        return int(match.group(1)) if match else None


def parse_artifact_ref(ref: str) -> ArtifactRef:
    """Parse ``name``, ``name:alias``, ``project/name:alias`` or ``entity/project/name:alias``."""
    if not isinstance(ref, str) or not ref:
        raise UsageError(f"{ref!r} is not an artifact reference: use e.g. 'mnist:latest'.")
    path, _, alias = ref.partition(":")
    alias = alias or LATEST
    parts = path.split("/")
    if len(parts) > 3:
        raise UsageError(
            f"{ref!r} is not an artifact reference: use name:alias, project/name:alias or "
            "entity/project/name:alias."
        )
    name = check_artifact_name(parts[-1])
    project = parts[-2] if len(parts) >= 2 else None
    entity = parts[-3] if len(parts) == 3 else None
    if not _VERSION.match(alias):
        check_alias(alias)
    return ArtifactRef(entity or None, project or None, name, alias)
