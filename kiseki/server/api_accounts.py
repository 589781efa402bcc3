"""Version, the caller, users and teams.

Admins create users and teams; a user may rotate their own key, set their own password and
disable themselves; a team member may add users to their team.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from kiseki import __version__
from kiseki.errors import AuthError
from kiseki.server.deps import get_viewer
from kiseki.server.encoding import KisekiJSONResponse, team_json, user_json
from kiseki.server.service import Viewer
from kiseki.store.accounts import AccountStore

router = APIRouter(prefix="/api/v1", tags=["accounts"])

API_VERSION = 1
"""Bumped when the API changes incompatibly; clients compare it with what they speak."""
ViewerDep = Annotated[Viewer, Depends(get_viewer)]
Name = Annotated[str, Path(min_length=1, max_length=128)]


class NewUser(BaseModel):
    """``POST /api/v1/users``."""

    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    admin: bool = False
    password: str | None = Field(None, max_length=1024)


class NewPassword(BaseModel):
    """``POST /api/v1/users/{username}/password``."""

    model_config = ConfigDict(extra="forbid")
    password: str = Field(max_length=1024)


class NewTeam(BaseModel):
    """``POST /api/v1/teams``."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64)


class NewMember(BaseModel):
    """``POST /api/v1/teams/{team}/members``."""

    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=128)


def _accounts(request: Request) -> AccountStore:
    accounts: AccountStore | None = request.app.state.accounts
    if accounts is None:
        raise AuthError("This server has no accounts: `kiseki ui` serves one local user.")
    return accounts


def _signed_in(viewer: Viewer) -> str:
    if viewer.username is None:
        raise AuthError("Sign in: send 'Authorization: Bearer <api key>'.")
    return viewer.username


def _require_admin(viewer: Viewer, what: str) -> None:
    _signed_in(viewer)
    if not viewer.is_admin:
        raise AuthError(f"Only admins may {what}.")


def _require_self_or_admin(viewer: Viewer, username: str, what: str) -> None:
    if _signed_in(viewer) != username and not viewer.is_admin:
        raise AuthError(f"Only {username!r} or an admin may {what}.")


@router.get("/version", summary="Server and API version")
def get_version() -> KisekiJSONResponse:
    """``{"version": "<kiseki version>", "api": 1}``; needs no sign-in."""
    return KisekiJSONResponse({"version": __version__, "api": API_VERSION})


@router.get("/viewer", summary="The signed-in caller")
def get_viewer_info(viewer: ViewerDep) -> KisekiJSONResponse:
    """``{"username", "entity", "admin", "teams"}``: ``entity`` is where runs go by default."""
    username = _signed_in(viewer)
    return KisekiJSONResponse(
        {
            "username": username,
            "entity": username,
            "admin": viewer.is_admin,
            "teams": sorted(viewer.entities - {username}),
        }
    )


@router.post("/users", status_code=201, summary="Create a user (admins)")
def create_user(new: NewUser, request: Request, viewer: ViewerDep) -> KisekiJSONResponse:
    """``{"username", "api_key"}``: the key is shown this once."""
    _require_admin(viewer, "create users")
    account, key = _accounts(request).create_user(
        new.username, admin=new.admin, password=new.password
    )
    return KisekiJSONResponse({"username": account.username, "api_key": key}, status_code=201)


@router.get("/users", summary="Every user (admins)")
def list_users(request: Request, viewer: ViewerDep) -> KisekiJSONResponse:
    """``{"users": [...]}``: name, admin, disabled, teams, key prefix, created_at."""
    _require_admin(viewer, "list users")
    return KisekiJSONResponse({"users": [user_json(a) for a in _accounts(request).users()]})


@router.post("/users/{username}/disable", summary="Disable a user (admins or themself)")
def disable_user(username: Name, request: Request, viewer: ViewerDep) -> KisekiJSONResponse:
    """The user's keys and sessions stop working; their runs stay."""
    _require_self_or_admin(viewer, username, "disable this user")
    account = _accounts(request).set_disabled(username, True)
    request.app.state.auth.invalidate()
    return KisekiJSONResponse(user_json(account))


@router.post("/users/{username}/enable", summary="Enable a disabled user (admins)")
def enable_user(username: Name, request: Request, viewer: ViewerDep) -> KisekiJSONResponse:
    """Undo ``disable``."""
    _require_admin(viewer, "enable users")
    account = _accounts(request).set_disabled(username, False)
    request.app.state.auth.invalidate()
    return KisekiJSONResponse(user_json(account))


@router.post("/users/{username}/rotate-key", summary="Replace a user's API key")
def rotate_key(username: Name, request: Request, viewer: ViewerDep) -> KisekiJSONResponse:
    """``{"username", "api_key"}``: the old key stops working; the new one is shown once."""
    _require_self_or_admin(viewer, username, "rotate this key")
    key = _accounts(request).rotate_key(username)
    request.app.state.auth.invalidate()
    return KisekiJSONResponse({"username": username, "api_key": key})


@router.post("/users/{username}/password", status_code=204, summary="Set a user's web password")
def set_password(username: Name, new: NewPassword, request: Request, viewer: ViewerDep) -> Response:
    """The password signs in to the web app (at least 8 characters)."""
    _require_self_or_admin(viewer, username, "set this password")
    _accounts(request).set_password(username, new.password)
    return Response(status_code=204)


@router.get("/teams", summary="Teams (admins: all; others: their own)")
def list_teams(request: Request, viewer: ViewerDep) -> KisekiJSONResponse:
    """``{"teams": [{"name", "members", "created_at"}]}``."""
    _signed_in(viewer)
    teams = _accounts(request).teams()
    if not viewer.is_admin:
        teams = [t for t in teams if t.name in viewer.entities]
    return KisekiJSONResponse({"teams": [team_json(t) for t in teams]})


@router.post("/teams", status_code=201, summary="Create a team (admins)")
def create_team(new: NewTeam, request: Request, viewer: ViewerDep) -> KisekiJSONResponse:
    """A team is an entity shared by its members."""
    _require_admin(viewer, "create teams")
    return KisekiJSONResponse(team_json(_accounts(request).create_team(new.name)), status_code=201)


@router.post("/teams/{team}/members", summary="Add a user to a team (admins or members)")
def add_member(
    team: Name, new: NewMember, request: Request, viewer: ViewerDep
) -> KisekiJSONResponse:
    """The user may then log to and change the team's runs."""
    _signed_in(viewer)
    accounts = _accounts(request)
    found = accounts.team(team)
    if not viewer.is_admin and team not in viewer.entities:
        raise AuthError(f"Only admins and members of {found.name!r} may add members.")
    result = team_json(accounts.add_member(team, new.username))
    request.app.state.auth.invalidate()
    return KisekiJSONResponse(result)
