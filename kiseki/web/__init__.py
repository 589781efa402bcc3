"""The web app: server-rendered pages and the JSON their scripts call (see docs/web.md).

:mod:`kiseki.web.routes` exposes ``router``, a FastAPI ``APIRouter`` that the server's app
includes: HTML pages at ``/`` and under ``/projects/``, the pages' JSON under ``/web-api/``
and their scripts, styles and Plotly's JS under ``/web-static/``. Every read and write goes
through :class:`kiseki.server.service.TrackerService` with the request's viewer.
"""
