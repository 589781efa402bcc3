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
from kiseki.sdk.run import KisekiWarning, Run
from kiseki.sdk.session import define_metric, finish, init, log
from kiseki.settings import Settings

__version__ = "0.1.0"

__all__ = [
    "Api",
    "ApiError",
    "AuthError",
    "ConfigError",
    "KisekiError",
    "KisekiWarning",
    "NotFoundError",
    "Run",
    "Settings",
    "StoreError",
    "UsageError",
    "ValueTypeError",
    "__version__",
    "config",
    "define_metric",
    "finish",
    "init",
    "log",
    "run",
    "summary",
]


def __getattr__(name: str) -> Any:
    """``run``, ``config`` and ``summary`` follow the active run; ``Api`` is imported lazily."""
    from kiseki.sdk import session

    if name == "run":
        return session.current_run()
    if name == "config":
        return session.active_config()
    if name == "summary":
        return session.active_summary()
    if name == "Api":
        from kiseki.api import Api

        return Api
    raise AttributeError(f"module 'kiseki' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
