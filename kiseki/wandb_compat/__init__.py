"""The W&B-compatible endpoint of ``kiseki server``: the official ``wandb`` client logs to and
reads from kiseki unchanged (``WANDB_BASE_URL`` + a kiseki API key as ``WANDB_API_KEY``).

``POST /graphql`` (a lenient executor, see :mod:`kiseki.wandb_compat.executor`),
``POST /files/<entity>/<project>/<run>/file_stream`` and signed file URLs map every request onto
kiseki's own run-log records, applied by the same ingest path as kiseki's SDK. See
``docs/wandb-compat.md``.
"""
