"""The web app's sign-in and sign-out: ``GET/POST /login`` and ``POST /logout``.

A successful sign-in sets the ``kiseki_session`` cookie (HttpOnly, SameSite=Lax, Secure over
https) and redirects to ``next`` (a path on this server) or ``/``. Both forms carry a CSRF
token (see :mod:`kiseki.server.auth`); a post without the right one is refused (403).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from kiseki.server.auth import SESSION_COOKIE, csrf_token, csrf_valid

router = APIRouter(include_in_schema=False)
TEMPLATES = Path(__file__).parent / "templates"


@cache
def _templates() -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape())


def safe_next(target: str | None) -> str:
    """``target`` when it is a path on this server, else ``/`` (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _login_page(
    request: Request, status: int = 200, error: str = "", username: str = "", next_: str = "/"
) -> HTMLResponse:
    html = (
        _templates()
        .get_template("login.html")
        .render(
            csrf_token=csrf_token(request),
            error=error,
            username=username,
            next=safe_next(next_),
        )
    )
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


def _secure(request: Request) -> bool:
    configured = request.app.state.config.secure_cookies
    return request.url.scheme == "https" if configured is None else bool(configured)


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    """The sign-in form (without sign-in, as in ``kiseki ui``, straight to ``next``)."""
    if not request.app.state.auth.enabled:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, next_=next)


@router.post("/login")
def login(
    request: Request,
    username: str = Form("", max_length=128),
    password: str = Form("", max_length=1024),
    csrf_token: str = Form("", alias="csrf_token", max_length=256),
    next: str = Form("/", max_length=2048),
) -> Response:
    """Check the password; on success set the session cookie and redirect."""
    auth = request.app.state.auth
    if not auth.enabled:
        return RedirectResponse(safe_next(next), status_code=303)
    if not csrf_valid(request, csrf_token):
        return _login_page(
            request, 403, "The form expired: sign in again.", username=username, next_=next
        )
    account = auth.accounts.check_password(username, password) if username else None
    if account is None:
        return _login_page(
            request, 401, "Wrong user name or password.", username=username, next_=next
        )
    lifetime = request.app.state.config.session_lifetime_s
    token = auth.accounts.create_session(account, lifetime)
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(lifetime),
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        path="/",
    )
    return response


@router.post("/logout")
def logout(request: Request, csrf_token: str = Form("", max_length=256)) -> Response:
    """End the session and go to the home page."""
    if not csrf_valid(request, csrf_token):
        return HTMLResponse("The form expired: reload the page and try again.", status_code=403)
    token = request.cookies.get(SESSION_COOKIE)
    auth = request.app.state.auth
    if token and auth.accounts is not None:
        auth.accounts.delete_session(token)
        auth.invalidate()
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response
