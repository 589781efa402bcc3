"""How the API writes JSON: kiseki's tags for NaN/±inf/huge integers, records as objects."""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi.responses import JSONResponse

from kiseki import jsoncodec
from kiseki.store.accounts import Account, Team
from kiseki.store.queries import ProjectRecord, RunRecord


class KisekiJSONResponse(JSONResponse):
    """JSON written with :mod:`kiseki.jsoncodec`, so NaN and infinities survive the trip."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        """Encode ``content``."""
        return jsoncodec.dumps_bytes(content)


def run_json(run: RunRecord) -> dict[str, Any]:
    """A run as the API returns it: every :class:`RunRecord` field but the internal ``pk``,
    so a client can rebuild it with ``RunRecord(pk=0, **data)``; times are epoch seconds."""
    data = dataclasses.asdict(run)
    del data["pk"]
    return data


def project_json(project: ProjectRecord) -> dict[str, Any]:
    """A project: the fields of :class:`ProjectRecord` (``ProjectRecord(**data)``)."""
    return dataclasses.asdict(project)


def user_json(account: Account) -> dict[str, Any]:
    """A user as ``GET /api/v1/users`` lists it (never a key or a password hash)."""
    return {
        "username": account.username,
        "admin": account.is_admin,
        "disabled": account.disabled,
        "teams": list(account.teams),
        "key_prefix": account.key_prefix,
        "has_password": account.has_password,
        "created_at": account.created_at,
    }


def team_json(team: Team) -> dict[str, Any]:
    """A team and its members."""
    return {"name": team.name, "members": list(team.members), "created_at": team.created_at}
