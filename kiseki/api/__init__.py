"""The public read API: ``Api``, ``Project``, ``Run``, shaped like ``wandb.Api``.

>>> from kiseki.api import Api
>>> for run in Api().runs("mnist", {"state": "finished"}):  # doctest: +SKIP
...     print(run.id, run.summary.get("acc"))
"""

from kiseki.api.api import Api
from kiseki.api.project import Project
from kiseki.api.run import Run, Runs

__all__ = ["Api", "Project", "Run", "Runs"]
