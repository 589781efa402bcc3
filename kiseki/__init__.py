"""kiseki: a local-first experiment tracker with a wandb-shaped API."""

__version__ = "0.1.0"
