"""Who may read and change a run from the web app: the preamble its run routes share.

A web route about one run declares ``run: RunAccessDep``; FastAPI fills it from the path
(``entity``, ``project``, ``run_id``), the app's :class:`TrackerService` and the request's
viewer. The handler then asks for the run inside its own error handling::

    @router.delete("/web-api/runs/{entity}/{project}/{run_id}")
    @_api
    def delete_run_json(run: RunAccessDep) -> dict[str, Any]:
        record = run.writable()  # write header checked, then the run loaded (or 404)
        ...

Loading happens in the handler, not in the dependency, so a hidden or missing run becomes
the handler's own error answer (``{"error": ...}`` with 404) as before. Whether the viewer
may change the run is still decided by the service's write methods.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from kiseki.errors import AuthError, UsageError
from kiseki.server.deps import get_service, get_viewer
from kiseki.server.service import TrackerService, Viewer
from kiseki.store.queries import RunRecord

ServiceDep = Annotated[TrackerService, Depends(get_service)]
"""The app's :class:`TrackerService`, as a route parameter."""
ViewerDep = Annotated[Viewer, Depends(get_viewer)]
"""The request's viewer, as a route parameter."""
WRITE_HEADER = "x-kiseki-web"
"""The header every change from the web app's scripts carries (value ``1``)."""


def require_write_header(request: Request) -> None:
    """Refuse a write that did not come from the app's own scripts (cross-site requests)."""
    if request.headers.get(WRITE_HEADER) != "1":
        raise UsageError(
            "This request changes data and must come from the kiseki web app: send the header "
            "'X-Kiseki-Web: 1' (or use the REST API under /api/v1)."
        )
    auth = getattr(request.app.state, "auth", None)
    if auth is not None and getattr(auth, "enabled", False) and auth.uses_session(request):
        from kiseki.server.auth import CSRF_HEADER, csrf_valid

        if not csrf_valid(request, request.headers.get(CSRF_HEADER)):
            raise AuthError(
                "The page's security token is missing or out of date: reload the page and try "
                "again."
            )


class RunAccess:
    """One run named by a web route's path, with the service and viewer to load it."""

    def __init__(
        self,
        request: Request,
        entity: str,
        project: str,
        run_id: str,
        service: ServiceDep,
        viewer: ViewerDep,
    ) -> None:
        self.request = request
        self.entity = entity
        self.project = project
        self.run_id = run_id
        self.service = service
        self.viewer = viewer

    def readable(self) -> RunRecord:
        """The run, or :class:`~kiseki.errors.NotFoundError` when missing or hidden."""
        return self.service.run(self.viewer, self.entity, self.project, self.run_id)

    def writable(self) -> RunRecord:
        """The run for a change: the write header (and CSRF token) checked first, then
        :meth:`readable`."""
        require_write_header(self.request)
        return self.readable()

    def can_write(self, run: RunRecord) -> bool:
        """Whether the viewer may change ``run``."""
        return self.service.can_write(self.viewer, run)


RunAccessDep = Annotated[RunAccess, Depends()]
"""A route parameter giving the :class:`RunAccess` of the run in the path."""
