"""Artifacts: versioned datasets and models, logged and used by runs, with lineage.

:class:`Artifact` is the public object (also ``kiseki.Artifact``); entries and the content
digest live in :mod:`kiseki.artifacts.manifest`, name and path rules in
:mod:`kiseki.artifacts.names`, reference entries in :mod:`kiseki.artifacts.references`, and
the stores artifacts are read from in :mod:`kiseki.artifacts.sources`.
"""

from kiseki.artifacts.artifact import Artifact, ArtifactVerifyError, ArtifactWaitTimeoutError
from kiseki.artifacts.manifest import ArtifactEntry

__all__ = ["Artifact", "ArtifactEntry", "ArtifactVerifyError", "ArtifactWaitTimeoutError"]
