"""Who is asking: API keys, web sessions, CSRF tokens.

* API clients send ``Authorization: Bearer <key>``, or HTTP Basic with the key as the
  password (what the ``wandb`` client sends, with any user name). A key that is not
  recognised is refused (401), never treated as anonymous.
* The web app's login form sets the ``kiseki_session`` cookie (HttpOnly, SameSite=Lax, Secure
  over https). A missing, unknown or expired session is simply anonymous.
* Form posts and cookie-authenticated API writes carry a CSRF token: for a signed-in session
  a digest of its token (so it cannot be guessed without the HttpOnly cookie), otherwise the
  value of the ``kiseki_csrf`` cookie (double-submit), which the server sets when first needed.

Looking a key up costs a database query, so answers are cached for a few seconds per process:
disabling a user or rotating a key takes effect at once in the process that did it and
within :data:`CACHE_SECONDS` elsewhere.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import threading
import time
from typing import Any

from starlette.requests import HTTPConnection

from kiseki.errors import AuthError
from kiseki.server.service import ANONYMOUS, Viewer
from kiseki.store.accounts import Account, AccountStore, hash_secret

SESSION_COOKIE = "kiseki_session"
CSRF_COOKIE = "kiseki_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
CACHE_SECONDS = 2.0
_NEW_CSRF = "kiseki_new_csrf_cookie"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def viewer_of(account: Account) -> Viewer:
    """The :class:`Viewer` of a signed-in account."""
    return Viewer(username=account.username, is_admin=account.is_admin, entities=account.entities)


class Authenticator:
    """Turns a request's credentials into a :class:`Viewer`.

    Without ``accounts`` (``kiseki ui``) every request is ``Viewer.local(local_user)``.
    """

    def __init__(self, accounts: AccountStore | None, local_user: str | None = None) -> None:
        self.accounts = accounts
        self.local_user = local_user
        self._cache: dict[str, tuple[float, Account | None]] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        """Whether requests must sign in (``False`` for ``kiseki ui``)."""
        return self.accounts is not None

    # -- caching ------------------------------------------------------------------------------
    def _cached(self, kind: str, secret: str) -> Account | None:
        assert self.accounts is not None
        cache_key = kind + hash_secret(secret)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(cache_key)
        if hit is not None and hit[0] > now:
            return hit[1]
        if kind == "key":
            account = self.accounts.account_for_key(secret)
        else:
            account = self.accounts.account_for_session(secret)
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[cache_key] = (now + CACHE_SECONDS, account)
        return account

    def invalidate(self) -> None:
        """Forget cached answers (after a user was disabled or a key rotated)."""
        with self._lock:
            self._cache.clear()

    # -- viewers ------------------------------------------------------------------------------
    def viewer_for(self, request: HTTPConnection) -> Viewer:
        """The viewer of ``request``; :class:`AuthError` for a key that is not accepted."""
        if self.accounts is None:
            return Viewer.local(self.local_user or "local")
        key = api_key_of(request.headers.get("authorization"))
        if key is not None:
            account = self._cached("key", key)
            if account is None:
                raise AuthError(
                    "The API key was not recognised: check KISEKI_API_KEY, or sign in again "
                    "with `kiseki login`. An admin can issue a new key with "
                    "`kiseki user rotate-key NAME`."
                )
            if account.disabled:
                raise AuthError(
                    f"The user {account.username!r} is disabled: ask an admin to enable it."
                )
            return viewer_of(account)
        account = self.session_account(request)
        return ANONYMOUS if account is None else viewer_of(account)

    def check_csrf(self, request: HTTPConnection) -> None:
        """Refuse a change to the JSON API (``/api/``) that only a session cookie
        authenticates, unless it carries the ``X-CSRF-Token`` header: a page of another site
        must not be able to act with a visitor's session."""
        if request.scope.get("method", "GET") in SAFE_METHODS:
            return
        if not request.url.path.startswith("/api/") or not self.uses_session(request):
            return
        if not csrf_valid(request, request.headers.get(CSRF_HEADER)):
            raise AuthError(
                "A change made with a web session needs the X-CSRF-Token header (the page's "
                "CSRF token); scripts should send an API key instead."
            )

    def session_account(self, request: HTTPConnection) -> Account | None:
        """The account of the request's session cookie, or ``None``."""
        token = request.cookies.get(SESSION_COOKIE)
        if not token or self.accounts is None:
            return None
        account = self._cached("session", token)
        return None if account is None or account.disabled else account

    def uses_session(self, request: HTTPConnection) -> bool:
        """Whether the request is authenticated by a session cookie (not an API key)."""
        if self.accounts is None:
            return False
        if api_key_of(request.headers.get("authorization")) is not None:
            return False
        return self.session_account(request) is not None


def api_key_of(header: str | None) -> str | None:
    """The API key in an ``Authorization`` header (Bearer, or Basic with the key as password)."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    scheme, value = scheme.lower(), value.strip()
    if scheme in ("bearer", "token") and value:
        return value
    if scheme == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise AuthError(
                "The Basic Authorization header is not valid base64 of 'user:api_key'."
            ) from None
        password = decoded.partition(":")[2]
        return password or None
    raise AuthError(
        f"Unsupported Authorization scheme {scheme!r}: send 'Bearer <api key>' (or HTTP Basic "
        "with the API key as the password)."
    )


# -- CSRF ------------------------------------------------------------------------------------
def csrf_token(request: HTTPConnection) -> str:
    """The CSRF token forms on this request's page must carry (sets a cookie when needed)."""
    session = request.cookies.get(SESSION_COOKIE)
    authenticator: Authenticator | None = getattr(request.app.state, "auth", None)
    if session and authenticator is not None and authenticator.session_account(request):
        return _session_csrf(session)
    token = request.cookies.get(CSRF_COOKIE) or request.scope.get("state", {}).get(_NEW_CSRF)
    if not token:
        token = secrets.token_urlsafe(24)
        request.scope.setdefault("state", {})[_NEW_CSRF] = token
    return str(token)


def csrf_valid(request: HTTPConnection, submitted: str | None) -> bool:
    """Whether ``submitted`` is the CSRF token of this request's session or cookie."""
    if not submitted:
        return False
    session = request.cookies.get(SESSION_COOKIE)
    authenticator: Authenticator | None = getattr(request.app.state, "auth", None)
    if session and authenticator is not None and authenticator.session_account(request):
        return hmac.compare_digest(submitted, _session_csrf(session))
    cookie = request.cookies.get(CSRF_COOKIE)
    return bool(cookie) and hmac.compare_digest(submitted, str(cookie))


def _session_csrf(session_token: str) -> str:
    return hashlib.sha256(b"kiseki-csrf:" + session_token.encode()).hexdigest()


class CsrfCookieMiddleware:
    """Sets the ``kiseki_csrf`` cookie on responses whose page asked for a new token."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """ASGI entry point."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})

        async def send_with_cookie(message: Any) -> None:
            if message["type"] == "http.response.start":
                token = scope.get("state", {}).get(_NEW_CSRF)
                if token:
                    secure = "; Secure" if scope.get("scheme") == "https" else ""
                    cookie = f"{CSRF_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax{secure}"
                    message.setdefault("headers", [])
                    message["headers"] = [
                        *message["headers"],
                        (b"set-cookie", cookie.encode("latin-1")),
                    ]
            await send(message)

        await self.app(scope, receive, send_with_cookie)


class EntityDirectory:
    """Whether a name is a user or a team, remembered for a while (entities are never
    deleted, so a positive answer stays true)."""

    def __init__(self, accounts: AccountStore | None) -> None:
        self.accounts = accounts
        self._known: set[str] = set()

    def exists(self, name: str) -> bool:
        """Whether ``name`` is an entity (always true without accounts: ``kiseki ui``)."""
        if self.accounts is None or name in self._known:
            return True
        if self.accounts.entity_exists(name):
            self._known.add(name)
            return True
        return False
