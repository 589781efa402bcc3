"""The server's few extra error kinds, and the HTTP status of every kiseki error.

Every error reaches the client as JSON ``{"error": "<what was wrong and what to do>"}``::

    NotFoundError                     404
    AuthError                         401 when nobody is signed in, else 403
    ConflictError (a UsageError)      409  e.g. records for a run that was never started
    PayloadTooLargeError (UsageError) 413  a request body over the size limit
    UsageError, ConfigError           400
    StoreError                        503  the database is unreachable or busy: retry later
"""

from __future__ import annotations

from kiseki.errors import AuthError, ConfigError, KisekiError, NotFoundError, StoreError, UsageError


class ConflictError(UsageError):
    """The request is well formed but does not fit the run's state (HTTP 409)."""


class PayloadTooLargeError(UsageError):
    """The request body is larger than the server accepts (HTTP 413)."""


def status_of(exc: KisekiError, signed_in: bool) -> int:
    """The HTTP status for ``exc``; ``signed_in`` tells a refused user (403) from nobody (401)."""
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, AuthError):
        return 403 if signed_in else 401
    if isinstance(exc, ConflictError):
        return 409
    if isinstance(exc, PayloadTooLargeError):
        return 413
    if isinstance(exc, UsageError | ConfigError):
        return 400
    if isinstance(exc, StoreError):
        return 503
    return 400
