"""A run's config: the hyperparameters and settings a run was started with."""

from __future__ import annotations

import argparse
import copy
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from kiseki.errors import ConfigError, UsageError
from kiseki.sdk.mapping import AttributeMapping
from kiseki.sdk.values import normalize_tree


def load_yaml_config(path: str | Path) -> dict[str, Any]:
    """Read a config YAML file; W&B's ``{"key": {"value": v, "desc": ...}}`` form is unwrapped."""
    import yaml

    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle) or {}
    except OSError as exc:
        raise ConfigError(f"Cannot read the config file {path}: {exc.strerror}.") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"The config file {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"The config file {path} must hold a mapping of names to values.")
    result = {}
    for key, value in data.items():
        if key == "wandb_version" or key == "_wandb":
            continue
        if isinstance(value, dict) and "value" in value and set(value) <= {"value", "desc"}:
            value = value["value"]
        result[str(key)] = value
    return result


def as_config_dict(source: Any) -> dict[str, Any]:
    """Turn a dict, an ``argparse.Namespace`` or a YAML file path into a config dict."""
    if source is None:
        return {}
    if isinstance(source, argparse.Namespace):
        return dict(vars(source))
    if isinstance(source, str | Path):
        if str(source).endswith((".yaml", ".yml")):
            return load_yaml_config(source)
        raise ConfigError(
            f"config={source!r} is a string but not a .yaml/.yml file path: pass a dict, an "
            "argparse.Namespace or the path of a YAML file."
        )
    if isinstance(source, Mapping):
        return dict(source)
    if hasattr(source, "__dict__") and not callable(source):
        return {k: v for k, v in vars(source).items() if not k.startswith("_")}
    raise ConfigError(
        f"config must be a dict, an argparse.Namespace or a YAML file path, "
        f"got {type(source).__name__}."
    )


class Config(AttributeMapping):
    """The config of a run: attribute and item access, ``update``, ``setdefaults``, ``as_dict``.

    >>> run.config.lr = 1e-3                       # doctest: +SKIP
    >>> run.config.update({"layers": 3})           # doctest: +SKIP
    >>> run.config["layers"]                       # doctest: +SKIP
    3

    Changing an existing key to a different value raises :class:`~kiseki.errors.ConfigError`
    unless ``update(..., allow_val_change=True)`` is used. Nested dicts stay nested.
    """

    _kind = "config"

    def __init__(self, on_change: Callable[[dict[str, Any]], None] | None = None) -> None:
        super().__init__()
        object.__setattr__(self, "_on_change", on_change)
        object.__setattr__(self, "_locked", {})

    def values(self) -> Any:
        """The config's values."""
        return self._data.values()

    def as_dict(self) -> dict[str, Any]:
        """A deep copy of the config as a plain dict."""
        return copy.deepcopy(self._data)

    # -- changes ------------------------------------------------------------------------
    def update(self, data: Any, allow_val_change: bool = False) -> None:
        """Add keys from ``data`` (dict, Namespace or YAML path).

        Raises :class:`~kiseki.errors.ConfigError` when a key already holds a different value
        and ``allow_val_change`` is false; nothing of ``data`` is applied in that case.
        """
        incoming = self._without_locked(normalize_tree(as_config_dict(data)))
        if not allow_val_change:
            for key, value in incoming.items():
                if key in self._data and self._data[key] != value:
                    raise ConfigError(
                        f"config[{key!r}] is already {self._data[key]!r}; refusing to change it "
                        f"to {value!r}. Pass allow_val_change=True to "
                        "run.config.update() if the change is intended."
                    )
        changed = any(self._data.get(k, _MISSING) != v for k, v in incoming.items())
        self._data.update(incoming)
        if changed:
            self._changed()

    def lock(self, keys: Any, owner: str) -> None:
        """Lock ``keys``: later changes to them are ignored with a warning naming the key and
        ``owner`` (what set them, e.g. a sweep)."""
        for key in keys:
            self._locked[key] = owner

    def _without_locked(self, incoming: dict[str, Any]) -> dict[str, Any]:
        if not self._locked:
            return incoming
        kept = {}
        for key, value in incoming.items():
            if key in self._locked and self._data.get(key, _MISSING) != value:
                from kiseki.sdk.run import KisekiWarning

                warnings.warn(
                    f"config[{key!r}] is set by {self._locked[key]} and locked: the change to "
                    f"{value!r} is ignored (it stays {self._data.get(key)!r}).",
                    KisekiWarning,
                    stacklevel=3,
                )
                continue
            kept[key] = value
        return kept

    def setdefaults(self, data: Any) -> dict[str, Any]:
        """Set keys of ``data`` that the config does not have yet; return the whole config."""
        incoming = normalize_tree(as_config_dict(data))
        missing = {k: v for k, v in incoming.items() if k not in self._data}
        if missing:
            self._data.update(missing)
            self._changed()
        return self.as_dict()

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change(self.as_dict())

    def _attach(self, on_change: Callable[[dict[str, Any]], None]) -> None:
        object.__setattr__(self, "_on_change", on_change)


class _Missing:
    pass


_MISSING = _Missing()


class DetachedConfig(Config):
    """``kiseki.config`` when no run is active: reading is empty, changing explains what to do."""

    def update(self, data: Any, allow_val_change: bool = False) -> None:
        """Refuse: there is no run to configure."""
        raise UsageError(
            "kiseki.config was changed before kiseki.init(): pass config={...} to "
            "kiseki.init() or call run.config.update() after it."
        )

    def setdefaults(self, data: Any) -> dict[str, Any]:
        """Refuse: there is no run to configure."""
        self.update(data)
        return {}
