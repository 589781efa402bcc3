"""Parameter distributions of a sweep: sampling, grid values, and Optuna's view of them.

Every continuous distribution is sampled through its quantile function from one uniform draw
``u`` in (0, 1): ``random`` draws ``u`` itself, ``bayes`` lets Optuna choose ``u`` (so TPE
works in the distribution's natural scale: log space for the log-uniform ones). The value
is then quantised (``q_*`` kinds: ``round(x / q) * q``).

======================== ==========================================================
``uniform``              ``U(min, max)``
``log_uniform``          ``exp(U(min, max))`` (``min``/``max`` are natural logs)
``log_uniform_values``   log-uniform between the values ``min`` and ``max``
``inv_log_uniform``      ``exp(-U(min, max))``: ``log(1/x)`` is uniform on [min, max]
``inv_log_uniform_values`` ``1/y`` with ``y`` log-uniform on [1/max, 1/min]
``normal``               ``N(mu, sigma)`` (defaults 0 and 1)
``log_normal``           ``exp(N(mu, sigma))``
``beta``                 ``Beta(a, b)`` (defaults 1 and 1)
``q_*``                  the same, quantised by ``q`` (default 1)
``int_uniform``          an integer uniform on [min, max]
``categorical``          one of ``values`` (weighted by ``probabilities`` if given)
``constant``             ``value``
======================== ==========================================================
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

from kiseki.errors import ConfigError

CONTINUOUS_KINDS = (
    "uniform",
    "log_uniform",
    "log_uniform_values",
    "inv_log_uniform",
    "inv_log_uniform_values",
    "normal",
    "log_normal",
    "beta",
)
QUANTISED_KINDS = tuple(f"q_{kind}" for kind in CONTINUOUS_KINDS)
DISCRETE_KINDS = ("int_uniform", "categorical", "constant")
DISTRIBUTIONS = (*DISCRETE_KINDS, *CONTINUOUS_KINDS, *QUANTISED_KINDS)
"""Every ``distribution`` a parameter may name."""
_U_EPSILON = 1e-12
_STANDARD_NORMAL = NormalDist()


@dataclass(frozen=True)
class Constant:
    """A parameter fixed to ``value``."""

    value: Any

    def sample(self, rng: Any) -> Any:
        """The value."""
        return self.value

    def grid_values(self, where: str) -> list[Any]:
        """One grid value: the constant."""
        return [self.value]

    def optuna_distribution(self) -> Any:
        """None: Optuna has nothing to choose."""
        return None

    def from_internal(self, internal: Any) -> Any:
        """The value."""
        return self.value


@dataclass(frozen=True)
class Categorical:
    """One of ``values``, uniformly or weighted by ``probabilities``."""

    values: tuple[Any, ...]
    probabilities: tuple[float, ...] | None = None

    def sample(self, rng: Any) -> Any:
        """A value drawn with the given probabilities."""
        index = int(rng.choice(len(self.values), p=self.probabilities))
        return self.values[index]

    def grid_values(self, where: str) -> list[Any]:
        """Every value."""
        return list(self.values)

    def optuna_distribution(self) -> Any:
        """Optuna chooses an index into ``values`` (values need not be hashable)."""
        from optuna.distributions import CategoricalDistribution

        return CategoricalDistribution(list(range(len(self.values))))

    def from_internal(self, internal: Any) -> Any:
        """The value at the chosen index."""
        return self.values[int(internal)]


@dataclass(frozen=True)
class IntUniform:
    """An integer uniform on ``[low, high]`` (both included)."""

    low: int
    high: int

    def sample(self, rng: Any) -> int:
        """An integer drawn uniformly."""
        return int(rng.integers(self.low, self.high + 1))

    def grid_values(self, where: str) -> range:
        """Every integer of the range (a ``range``: a huge one costs nothing until used)."""
        return range(self.low, self.high + 1)

    def optuna_distribution(self) -> Any:
        """Optuna's integer distribution on the same range."""
        from optuna.distributions import IntDistribution

        return IntDistribution(self.low, self.high)

    def from_internal(self, internal: Any) -> int:
        """The chosen integer."""
        return int(internal)


@dataclass(frozen=True)
class Continuous:
    """A continuous distribution (``kind`` of :data:`CONTINUOUS_KINDS`), quantised by ``q``
    when not ``None``."""

    kind: str
    a: float = 0.0
    b: float = 1.0
    q: float | None = None

    def quantile(self, u: float) -> float:
        """The value at probability ``u`` of the (unquantised) distribution."""
        u = min(max(u, _U_EPSILON), 1.0 - _U_EPSILON)
        kind, a, b = self.kind, self.a, self.b
        if kind == "uniform":
            return a + u * (b - a)
        if kind == "log_uniform":
            return math.exp(a + u * (b - a))
        if kind == "log_uniform_values":
            return math.exp(math.log(a) + u * (math.log(b) - math.log(a)))
        if kind == "inv_log_uniform":
            return math.exp(-(a + u * (b - a)))
        if kind == "inv_log_uniform_values":
            low, high = math.log(1.0 / b), math.log(1.0 / a)
            return 1.0 / math.exp(low + u * (high - low))
        if kind == "normal":
            return a + b * _STANDARD_NORMAL.inv_cdf(u)
        if kind == "log_normal":
            return math.exp(a + b * _STANDARD_NORMAL.inv_cdf(u))
        if kind == "beta":
            from scipy.special import betaincinv

            return float(betaincinv(a, b, u))
        raise ConfigError(f"Unknown distribution {kind!r}.")  # pragma: no cover - validated

    def value(self, u: float) -> float:
        """The (quantised) value at probability ``u``."""
        x = self.quantile(u)
        if self.q is not None:
            x = round(x / self.q) * self.q
            if float(self.q).is_integer():
                return float(round(x))
        return x

    def sample(self, rng: Any) -> float:
        """A value drawn from the distribution."""
        return self.value(float(rng.random()))

    def grid_values(self, where: str) -> list[Any]:
        """Refuse: a grid cannot enumerate a continuous distribution."""
        raise ConfigError(
            f"parameters.{where} has the continuous distribution {self.label!r}, which a grid "
            "search cannot enumerate: give it a `values` list, or use method random or bayes."
        )

    @property
    def label(self) -> str:
        """The distribution's name as written in a sweep config."""
        return f"q_{self.kind}" if self.q is not None else self.kind

    def optuna_distribution(self) -> Any:
        """Optuna chooses ``u`` in (0, 1); :meth:`from_internal` maps it to the value."""
        from optuna.distributions import FloatDistribution

        return FloatDistribution(0.0, 1.0)

    def from_internal(self, internal: Any) -> float:
        """The value at Optuna's chosen ``u``."""
        return self.value(float(internal))


Parameter = Constant | Categorical | IntUniform | Continuous
"""A leaf parameter of a sweep."""


def _number(spec: Mapping[str, Any], key: str, where: str, default: float | None = None) -> float:
    if key not in spec:
        if default is not None:
            return default
        raise ConfigError(f"parameters.{where} needs `{key}` for its distribution.")
    value = spec[key]
    try:
        number = float(value) if isinstance(value, int | float) else math.nan
    except OverflowError:
        number = math.nan
    if isinstance(value, bool) or not math.isfinite(number) or abs(number) > 1e300:
        raise ConfigError(f"parameters.{where}.{key} must be a finite number, not {value!r}.")
    return number


_ALLOWED_KEYS = {
    "value",
    "values",
    "probabilities",
    "distribution",
    "min",
    "max",
    "mu",
    "sigma",
    "a",
    "b",
    "q",
    "desc",
}


def parse_parameter(spec: Any, where: str) -> Parameter:
    """One leaf parameter from its sweep-config spec; ``where`` names it in errors.

    >>> parse_parameter({"min": 1, "max": 4}, "layers")
    IntUniform(low=1, high=4)
    """
    if not isinstance(spec, Mapping):
        raise ConfigError(
            f"parameters.{where} must be a mapping such as {{values: [...]}} or "
            f"{{min: 0, max: 1}}, not {spec!r}."
        )
    unknown = sorted(set(spec) - _ALLOWED_KEYS)
    if unknown:
        raise ConfigError(
            f"parameters.{where}.{unknown[0]} is not a parameter setting: use value, values, "
            "probabilities, distribution, min, max, mu, sigma, a, b or q."
        )
    kind = spec.get("distribution")
    if kind is None:
        if "value" in spec:
            kind = "constant"
        elif "values" in spec:
            kind = "categorical"
        elif "min" in spec and "max" in spec:
            both_int = all(
                isinstance(spec[k], int) and not isinstance(spec[k], bool) for k in ("min", "max")
            )
            kind = "int_uniform" if both_int else "uniform"
        else:
            raise ConfigError(
                f"parameters.{where} says nothing to search: give `value`, `values`, "
                "`min` and `max`, or a `distribution`."
            )
    if kind not in DISTRIBUTIONS:
        raise ConfigError(
            f"parameters.{where}.distribution {kind!r} is unknown: use one of "
            f"{', '.join(DISTRIBUTIONS)}."
        )
    if kind == "constant":
        if "value" not in spec:
            raise ConfigError(f"parameters.{where} is constant but has no `value`.")
        return Constant(spec["value"])
    if kind == "categorical":
        return _categorical(spec, where)
    if kind == "int_uniform":
        low, high = spec.get("min"), spec.get("max")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high)):
            raise ConfigError(f"parameters.{where}: int_uniform needs integer `min` and `max`.")
        assert isinstance(low, int) and isinstance(high, int)
        if low > high:
            raise ConfigError(f"parameters.{where}.min ({low}) is above its max ({high}).")
        if max(abs(low), abs(high)) > 2**62:
            raise ConfigError(f"parameters.{where}: int_uniform bounds must stay within ±2**62.")
        return IntUniform(low, high)
    return _continuous(spec, str(kind), where)


def _categorical(spec: Mapping[str, Any], where: str) -> Categorical:
    values = spec.get("values")
    if not isinstance(values, Sequence) or isinstance(values, str) or not values:
        raise ConfigError(f"parameters.{where}.values must be a non-empty list.")
    probabilities = spec.get("probabilities")
    if probabilities is None:
        return Categorical(tuple(values))
    if not isinstance(probabilities, Sequence) or len(probabilities) != len(values):
        raise ConfigError(
            f"parameters.{where}.probabilities must be a list as long as its values "
            f"({len(values)})."
        )
    weights = []
    for p in probabilities:
        if isinstance(p, bool) or not isinstance(p, int | float) or p < 0:
            raise ConfigError(f"parameters.{where}.probabilities holds {p!r}: use numbers >= 0.")
        weights.append(float(p))
    if abs(sum(weights) - 1.0) > 1e-6:
        raise ConfigError(
            f"parameters.{where}.probabilities sum to {sum(weights):g}: they must sum to 1."
        )
    return Categorical(tuple(values), tuple(w / sum(weights) for w in weights))


def _continuous(spec: Mapping[str, Any], kind: str, where: str) -> Continuous:
    q: float | None = None
    base = kind
    if kind.startswith("q_"):
        base = kind[2:]
        q = _number(spec, "q", where, default=1.0)
        if q <= 0:
            raise ConfigError(f"parameters.{where}.q must be positive, not {q:g}.")
    if base in ("normal", "log_normal"):
        a = _number(spec, "mu", where, default=0.0)
        b = _number(spec, "sigma", where, default=1.0)
        if b <= 0:
            raise ConfigError(f"parameters.{where}.sigma must be positive, not {b:g}.")
        return Continuous(base, a, b, q)
    if base == "beta":
        a = _number(spec, "a", where, default=1.0)
        b = _number(spec, "b", where, default=1.0)
        if a <= 0 or b <= 0:
            raise ConfigError(f"parameters.{where}: beta needs positive `a` and `b`.")
        return Continuous(base, a, b, q)
    low, high = _number(spec, "min", where), _number(spec, "max", where)
    if low >= high:
        raise ConfigError(f"parameters.{where}.min ({low:g}) must be below its max ({high:g}).")
    if base in ("log_uniform_values", "inv_log_uniform_values") and low <= 0:
        raise ConfigError(
            f"parameters.{where}.min must be positive for {kind} (it is a value, not a log), "
            f"not {low:g}."
        )
    return Continuous(base, low, high, q)
