"""kiseki: a local-first experiment tracker with a wandb-shaped API.

>>> import kiseki as wandb                                      # doctest: +SKIP
>>> run = wandb.init(project="mnist", config={"lr": 1e-3})      # doctest: +SKIP
>>> wandb.log({"loss": 0.25})                                   # doctest: +SKIP
>>> wandb.finish()                                              # doctest: +SKIP

``kiseki.run``, ``kiseki.config`` and ``kiseki.summary`` refer to the active run.
"""

from __future__ import annotations

from typing import Any

from kiseki.errors import (
    ApiError,
    AuthError,
    ConfigError,
    KisekiError,
    NotFoundError,
    StoreError,
    UsageError,
    ValueTypeError,
)
from kiseki.media import Histogram, Image, Table
from kiseki.sdk.run import KisekiWarning, Run
from kiseki.sdk.session import define_metric, finish, init, log, save
from kiseki.settings import Settings

__version__ = "0.1.0"

__all__ = [
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


def __getattr__(name: str) -> Any:
    """``run``, ``config`` and ``summary`` follow the active run; ``Api``, ``Artifact``,
    ``sweep`` and ``agent`` are imported lazily."""
    from kiseki.sdk import session

    if name == "run":
        return session.current_run()
    if name == "config":
        return session.active_config()
    if name == "summary":
        return session.active_summary()
    if name in ("agent", "sweep"):
        from kiseki.sweeps import agent

        return getattr(agent, name)
    if name == "Api":
        from kiseki.api import Api

        return Api
    if name == "Artifact":
        from kiseki.artifacts import Artifact

        return Artifact
    raise AttributeError(f"module 'kiseki' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
