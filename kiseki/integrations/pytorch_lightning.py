"""The kiseki logger for the standalone ``pytorch_lightning`` package.

>>> import pytorch_lightning as pl                                          # doctest: +SKIP
>>> from kiseki.integrations.pytorch_lightning import KisekiLogger          # doctest: +SKIP
>>> trainer = pl.Trainer(logger=KisekiLogger(project="mnist"))             # doctest: +SKIP
"""

from __future__ import annotations

from pytorch_lightning.loggers import Logger

from kiseki.integrations.lightning_logger import KisekiLoggerCore


class KisekiLogger(KisekiLoggerCore, Logger):
    """The same logger as :class:`kiseki.integrations.lightning.KisekiLogger`, built on
    ``pytorch_lightning.loggers.Logger``."""
