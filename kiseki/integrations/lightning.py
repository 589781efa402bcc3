"""A PyTorch Lightning logger that records a ``Trainer``'s run in kiseki.

>>> from lightning.pytorch import Trainer                       # doctest: +SKIP
>>> from kiseki.integrations.lightning import KisekiLogger      # doctest: +SKIP
>>> trainer = Trainer(logger=KisekiLogger(project="mnist", log_model=True))  # doctest: +SKIP

Uses the ``lightning`` package, or ``pytorch_lightning`` when only that one is installed (with
both installed and a ``pytorch_lightning.Trainer``, use
:mod:`kiseki.integrations.pytorch_lightning`).
"""

from __future__ import annotations

try:
    from lightning.pytorch.loggers import Logger
except ImportError:  # only the older standalone package is installed
    from pytorch_lightning.loggers import Logger

from kiseki.integrations.lightning_logger import KisekiLoggerCore


class KisekiLogger(KisekiLoggerCore, Logger):
    """Log hyperparameters to the run's config, metrics to its history (at Lightning's global
    step) and, with ``log_model``, checkpoints as versions of a ``model`` artifact
    (``model-<run id>``; ``True``: when training ends, ``"all"``: as each is saved; the best
    gets the alias ``best``). The run is started on first use with ``project``, ``name``,
    ``id`` and any other :func:`kiseki.init` argument, unless ``experiment=`` gives one or a
    run is already active. A run the logger started is finished when the trainer is done:
    ``finished`` after a clean ``fit``, ``failed`` after an exception.
    """
