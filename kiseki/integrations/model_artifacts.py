"""Log a saved model (a file or a directory) as a ``model`` artifact of a run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from kiseki.integrations.config_values import plain_config
from kiseki.sdk.run import Run


def log_model_files(
    run: Run,
    path: str | Path,
    name: str,
    metadata: Mapping[str, Any] | None = None,
    aliases: Sequence[str] = (),
) -> Any:
    """Log the model saved at ``path`` (one file, or every file under a directory) as the next
    version of the ``model`` artifact ``name``; returns the :class:`kiseki.Artifact`.

    >>> log_model_files(run, "checkpoints/last.ckpt", f"model-{run.id}", {"epoch": 3})
    ... # doctest: +SKIP
    """
    from kiseki.artifacts import Artifact

    artifact = Artifact(name, type="model", metadata=plain_config(dict(metadata or {})))
    source = Path(path)
    if source.is_dir():
        artifact.add_dir(str(source))
    else:
        artifact.add_file(str(source))
    return run.log_artifact(artifact, aliases=list(aliases))
