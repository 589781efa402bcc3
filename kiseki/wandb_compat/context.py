"""What a resolver of the W&B-compatible endpoint works with: the app's services and who asks."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from kiseki.errors import AuthError, UsageError
from kiseki.server.service import TrackerService, Viewer
from kiseki.store.applier import RunKey
from kiseki.wandb_compat.urls import UrlSigner
from kiseki.wandb_compat.writer import WandbRunWriter


@dataclass
class WandbContext:
    """One request's view of the server."""

    app_state: Any
    viewer: Viewer
    base_url: str

    @property
    def service(self) -> TrackerService:
        """The tracker service (reads with privacy rules)."""
        service: TrackerService = self.app_state.service
        return service

    @property
    def writer(self) -> WandbRunWriter:
        """The writer of client runs."""
        writer: WandbRunWriter = self.app_state.wandb_writer
        return writer

    @property
    def signer(self) -> UrlSigner:
        """The signer of file URLs."""
        signer: UrlSigner = self.app_state.wandb_signer
        return signer

    def require_user(self) -> Viewer:
        """The signed-in viewer, or :class:`AuthError`."""
        if self.viewer.is_anonymous:
            raise AuthError(
                "Send a kiseki API key as WANDB_API_KEY (the client sends it as the Basic "
                "password)."
            )
        return self.viewer

    def entity_or_default(self, entity: Any) -> str:
        """``entity``, or the viewer's own user name when the client sent none."""
        if isinstance(entity, str) and entity:
            return entity
        return self.require_user().username


def run_node_id(key: RunKey) -> str:
    """The opaque id the client keeps for a run (``Run:v1:<run>:<project>:<entity>``)."""
    raw = f"Run:v1:{key.run_id}:{key.project}:{key.entity}"
    return base64.b64encode(raw.encode()).decode()


def run_key_of_id(node_id: str) -> RunKey:
    """The run a :func:`run_node_id` names; :class:`UsageError` for anything else."""
    try:
        kind, version, run_id, project, entity = (
            base64.b64decode(node_id.encode()).decode().split(":", 4)
        )
    except ValueError as exc:
        raise UsageError(f"{node_id!r} is not a run id this server gave out.") from exc
    if kind != "Run" or version != "v1":
        raise UsageError(f"{node_id!r} is not a run id this server gave out.")
    return RunKey(entity, project, run_id)
