"""FastAPI dependencies shared by the API routes and the web app's pages.

``get_service`` gives the app's :class:`TrackerService`; ``get_viewer`` tells who is asking:
the local user in ``kiseki ui`` (no login), otherwise the user of a session cookie or an API
key, or :data:`ANONYMOUS`.
"""

from __future__ import annotations

from fastapi import Request

from kiseki.server.service import ANONYMOUS, TrackerService, Viewer


def get_service(request: Request) -> TrackerService:
    """The :class:`TrackerService` of the app serving ``request``."""
    service: TrackerService = request.app.state.service
    return service


def get_viewer(request: Request) -> Viewer:
    """Who sent ``request``: local user, session/API-key user, or :data:`ANONYMOUS`.

    Raises :class:`~kiseki.errors.AuthError` for an API key that is not accepted, and for a
    change to ``/api/`` authenticated only by the session cookie without the
    ``X-CSRF-Token`` header (see :mod:`kiseki.server.auth`).
    """
    cached = getattr(request.state, "viewer", None)
    if isinstance(cached, Viewer):
        return cached
    auth = getattr(request.app.state, "auth", None)
    viewer = ANONYMOUS if auth is None else auth.viewer_for(request)
    request.state.viewer = viewer
    if auth is not None:
        auth.check_csrf(request)
    return viewer
