"""The kiseki server: REST API under ``/api/v1`` and the web app, on one store."""
