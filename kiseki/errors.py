"""Every exception kiseki raises on purpose.

The hierarchy::

    KisekiError                 root: catch this to catch anything kiseki raised on purpose
    ├── UsageError              the API was called in a way that cannot work (log before init, ...)
    │   └── ValueTypeError      a logged value has a type kiseki cannot record (also a TypeError)
    ├── ConfigError             a setting or config change is invalid (also a ValueError)
    ├── StoreError              the store could not be opened, migrated or written
    ├── RunLogError             a run log file is not a kiseki run log or cannot be read
    ├── AuthError               credentials are missing or wrong
    ├── NotFoundError           a project, run or file does not exist
    └── ApiError                a server answered with an error (carries the HTTP status)

Every message says what was wrong and what to do about it.
"""

from __future__ import annotations


class KisekiError(Exception):
    """Root of every error kiseki raises on purpose."""


class UsageError(KisekiError):
    """The API was used in a way that cannot work, e.g. ``log()`` before ``init()``."""


class ValueTypeError(UsageError, TypeError):
    """A value passed to ``log``, ``config`` or ``summary`` has a type kiseki cannot record."""


class ConfigError(KisekiError, ValueError):
    """A setting or a config change is invalid, e.g. changing a config key without
    ``allow_val_change=True``."""


class StoreError(KisekiError):
    """The store could not be opened, migrated, read or written."""


class RunLogError(KisekiError):
    """A run log file is missing, is not a kiseki run log, or cannot be read."""


class AuthError(KisekiError):
    """Credentials are missing or were refused."""


class NotFoundError(KisekiError, LookupError):
    """A project, run or file that was asked for does not exist."""


class ApiError(KisekiError):
    """A kiseki server answered with an error.

    ``status`` is the HTTP status code of the answer.
    """

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status
