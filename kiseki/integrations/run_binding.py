"""The run an integration logs to, and how its failures are kept out of the training loop."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kiseki.errors import KisekiError
from kiseki.sdk.run import KisekiWarning, Run

_RESUME_SETTINGS = ("dir", "mode", "settings")


class RunBinding:
    """Holds the run an integration logs to.

    The run is the one given to the integration, else the process's active run (started by
    the user with ``kiseki.init``), else one the integration starts on first use with
    ``init_kwargs``. Only a run it started is finished by it; when such a run was finished
    (say at the end of ``fit``) and more data arrives (a ``test`` after it), the run is
    resumed instead of a new one being started.
    """

    def __init__(self, run: Run | None, init_kwargs: dict[str, Any], integration: str) -> None:
        self._run = run
        self._owned = False
        self._init_kwargs = dict(init_kwargs)
        self._integration = integration
        self._warned: set[str] = set()

    @property
    def started(self) -> bool:
        """Whether a run is attached (the integration has logged or been asked for its run)."""
        return self._run is not None

    @property
    def current(self) -> Run | None:
        """The run attached now, finished or not, without starting or resuming one."""
        return self._run

    @property
    def owned(self) -> bool:
        """Whether the integration started the run (and so finishes it)."""
        return self._owned

    def set_default(self, key: str, value: Any) -> None:
        """Use ``value`` for the :func:`kiseki.init` argument ``key`` unless one was given."""
        self._init_kwargs.setdefault(key, value)

    def run(self) -> Run:
        """The run to log to, started or resumed when needed."""
        import kiseki

        current = self._run
        if current is not None and not current.finished:
            return current
        if current is not None and self._owned and current.mode != "disabled":
            resume = {k: v for k, v in self._init_kwargs.items() if k in _RESUME_SETTINGS}
            self._run = kiseki.init(
                project=current.project,
                entity=current.entity,
                id=current.id,
                resume="allow",
                reinit="create_new",
                **resume,
            )
            return self._run
        active = kiseki.run
        if active is not None and not self._owned:
            self._run = active
            return active
        self._run = kiseki.init(reinit="create_new", **self._init_kwargs)
        self._owned = True
        return self._run

    def disabled_run(self) -> Run:
        """A no-op run, for the processes of a distributed job that must not log."""
        import kiseki

        if self._run is None:
            self._run = kiseki.init(mode="disabled", reinit="create_new")
        return self._run

    def finish(self, exit_code: int) -> None:
        """Finish the run with ``exit_code`` if the integration started it; a run given to it or
        started by the user stays open for the user to finish."""
        if self._run is None or not self._owned or self._run.finished:
            return
        with self.failures_reported("finish the run"):
            self._run.finish(exit_code=exit_code)

    @contextmanager
    def failures_reported(self, action: str) -> Iterator[None]:
        """Turn a tracker failure inside the block into one warning per ``action``, so that a
        full disk or a bad value never stops the training loop."""
        try:
            yield
        except (KisekiError, OSError) as exc:
            if action in self._warned:
                return
            self._warned.add(action)
            warnings.warn(
                f"kiseki ({self._integration}): could not {action}: {exc} Training goes on; "
                "later failures of the same kind are not reported again.",
                KisekiWarning,
                stacklevel=3,
            )
