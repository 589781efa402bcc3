"""Loggers and callbacks that connect training libraries to kiseki.

Each integration lives in its own module and imports its library only when that module is
imported, so ``import kiseki`` never imports Lightning, Transformers or Keras:

- :mod:`kiseki.integrations.lightning` — ``KisekiLogger`` for PyTorch Lightning
  (:mod:`kiseki.integrations.pytorch_lightning` for the ``pytorch_lightning`` package);
- :mod:`kiseki.integrations.transformers` — ``KisekiCallback`` for the Hugging Face ``Trainer``;
- :mod:`kiseki.integrations.keras` — ``KisekiMetricsLogger`` and ``KisekiModelCheckpoint``
  for Keras 3.

See ``docs/integrations.md`` for an example of each.
"""
