"""Planning inputs: SLO, join-path service, client, queue policy and margins.

Frozen dataclasses, validated when built: each error names the argument and the
value, and says what to give instead. Times are seconds, rates per second.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from capplan.errors import ArgumentError
from capplan.planning.steps import MAX_SERVERS
from capplan.simulation import (
    Deterministic,
    ExponentialBackoff,
    Gamma,
    ImmediateRetry,
    LogNormal,
    NoRetry,
    RetryPolicy,
)
from capplan.simulation import Exponential as SimExponential

__all__ = [
    "SLO",
    "ArgumentError",
    "ClientPolicy",
    "JoinService",
    "Margins",
    "QueuePolicy",
    "plan_arguments",
]

_FAMILIES = ("exponential", "lognormal", "gamma", "deterministic")

#: Most requests a queue limit may hold (the queueing formulas count exactly to 2**53).
MAX_QUEUE = 10**15
#: Most expected concurrent streams a plan's forecast and sessions may make.
MAX_STREAMS = 1e15
#: Longest planning interval (s): some 30 years.
MAX_INTERVAL_S = 10**9
#: Most retries per client (a cap beyond it is no cap: give None).
MAX_RETRIES = 10**6


def _show(value, limit: int = 80) -> str:
    """``repr(value)``, cut to ``limit`` characters."""
    try:
        text = repr(value)
    except Exception:  # a repr that fails still names the type
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def whole_number(name: str, value, *, minimum: int = 0, maximum: float | None = None) -> int:
    """``value`` as an int: a whole number (an integral float such as 60.0 too, not a bool)
    from ``minimum`` to ``maximum``, else a ValueError naming ``name``."""
    ok = not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))
    if ok:
        try:
            ok = float(value).is_integer()
        except OverflowError:  # an int beyond the float range
            ok = maximum is None
    if ok:
        n = int(value)
        ok = n >= minimum and (maximum is None or n <= maximum)
    if not ok:
        top = "" if maximum is None else f" and <= {maximum:.0e}"
        raise ValueError(f"{name} must be a whole number >= {minimum}{top}; got {_show(value)}")
    return n


def _finite(name: str, value, *, minimum=None, maximum=None, strict=False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number; got {_show(value)}")
    try:
        x = float(value)
    except OverflowError:  # an int beyond the float range
        x = math.inf
    if not math.isfinite(x):
        raise ValueError(f"{name} must be finite; got {value!r}")
    if minimum is not None and (x <= minimum if strict else x < minimum):
        rel = ">" if strict else ">="
        raise ValueError(f"{name} must be {rel} {minimum:g}; got {value!r}")
    if maximum is not None and x > maximum:
        raise ValueError(f"{name} must be <= {maximum:g}; got {value!r}")
    return x


@dataclass(frozen=True)
class SLO:
    """Service-level objective of the join path, met in every planning interval.

    Give one waiting target: ``wait_s`` with ``fraction`` (``fraction`` of joins
    start service within ``wait_s`` seconds), or ``max_wait_prob`` (share of joins
    that wait at all); plus ``max_refused``, the share of attempts refused by a
    full queue.

    Parameters
    ----------
    wait_s : float, optional
        Waiting-time threshold (s), ``>= 0``.
    fraction : float, optional
        Share of joins that must start within ``wait_s``, in (0, 1).
    max_wait_prob : float, optional
        Most probability that a join waits at all, in (0, 1).
    max_refused : float, default 0.001
        Most share of attempts refused (queue full), in (0, 1).

    Raises
    ------
    ValueError
        Both or neither waiting target; a fraction of 1 or a probability of 0
        (no finite capacity meets them with Poisson arrivals).

    Examples
    --------
    >>> SLO(wait_s=2.0, fraction=0.99, max_refused=0.001).describe()
    '99% of joins wait under 2 s, at most 0.1% refused'
    """

    wait_s: float | None = None
    fraction: float | None = None
    max_wait_prob: float | None = None
    max_refused: float = 0.001

    def __post_init__(self):
        by_time = self.wait_s is not None or self.fraction is not None
        if by_time == (self.max_wait_prob is not None):
            raise ValueError(
                "SLO needs one waiting target: wait_s with fraction (e.g. SLO(wait_s=2, "
                "fraction=0.99)) or max_wait_prob; got " + ("both" if by_time else "neither")
            )
        never = "no finite capacity meets it: with random arrivals some join always waits"
        if by_time:
            if self.wait_s is None or self.fraction is None:
                raise ValueError(
                    f"SLO: wait_s and fraction go together; got wait_s={self.wait_s!r}, "
                    f"fraction={self.fraction!r}"
                )
            _finite("SLO: wait_s (s)", self.wait_s, minimum=0.0)
            f = _finite("SLO: fraction", self.fraction, minimum=0.0, strict=True)
            if f >= 1:
                raise ValueError(f"SLO: fraction must be below 1; got {self.fraction!r}: {never}")
        else:
            p = _finite("SLO: max_wait_prob", self.max_wait_prob, maximum=1.0)
            if p <= 0:
                raise ValueError(f"SLO: max_wait_prob must be above 0; got {p!r}: {never}")
            if p >= 1:
                raise ValueError(f"SLO: max_wait_prob must be below 1; got {p!r}")
        r = _finite("SLO: max_refused", self.max_refused, maximum=1.0)
        if r <= 0:
            raise ValueError(
                f"SLO: max_refused must be above 0; got {r!r}: no finite queue refuses "
                "nobody under random arrivals; use e.g. 0.001"
            )

    @property
    def kind(self) -> str:
        """``"service_level"`` or ``"wait_prob"``."""
        return "wait_prob" if self.max_wait_prob is not None else "service_level"

    @property
    def miss_limit(self) -> float:
        """Most share of joins that may miss the waiting target."""
        return self.max_wait_prob if self.kind == "wait_prob" else 1.0 - self.fraction

    def describe(self) -> str:
        if self.kind == "wait_prob":
            head = f"at most {self.max_wait_prob:.3g} of joins wait"
        else:
            head = f"{self.fraction * 100:.4g}% of joins wait under {self.wait_s:g} s"
        return f"{head}, at most {self.max_refused * 100:.3g}% refused"


#: The SLO a plan (and an assessment of capacity) holds to when none is given.
DEFAULT_SLO = SLO(wait_s=2.0, fraction=0.99, max_refused=0.001)


@dataclass(frozen=True)
class JoinService:
    """Work per join on one join-path worker.

    Parameters
    ----------
    mean_s : float
        Mean work per join (s), > 0.
    scv : float, default 1.0
        Squared coefficient of variation of the work (variance / mean²).
    family : {"lognormal", "gamma", "exponential", "deterministic"}, optional
        Shape used by simulation and the offered-load integral. Default:
        exponential when ``scv == 1``, deterministic when 0, else log-normal.
    """

    mean_s: float
    scv: float = 1.0
    family: str | None = None

    def __post_init__(self):
        _finite("JoinService: mean_s (s)", self.mean_s, minimum=0.0, strict=True)
        _finite("JoinService: scv", self.scv, minimum=0.0)
        fam = self.family
        if fam is None:
            fam = (
                "exponential"
                if self.scv == 1
                else "deterministic"
                if self.scv == 0
                else "lognormal"
            )
            object.__setattr__(self, "family", fam)
        if fam not in _FAMILIES:
            raise ValueError(f"JoinService: family must be one of {_FAMILIES}; got {fam!r}")
        if fam == "exponential" and self.scv != 1:
            raise ValueError(f"JoinService: an exponential has scv 1; got scv={self.scv!r}")
        if fam == "deterministic" and self.scv != 0:
            raise ValueError(f"JoinService: a deterministic time has scv 0; got scv={self.scv!r}")
        if fam in ("lognormal", "gamma") and self.scv <= 0:
            raise ValueError(f"JoinService: a {fam} needs scv > 0; got {self.scv!r}")

    def distribution(self):
        """The simulator's distribution."""
        if self.family == "exponential":
            return SimExponential(self.mean_s)
        if self.family == "deterministic":
            return Deterministic(self.mean_s)
        if self.family == "gamma":
            return Gamma(mean=self.mean_s, scv=self.scv)
        return LogNormal(mean=self.mean_s, scv=self.scv)

    def survival(self, x) -> np.ndarray:
        """``P(B > x)`` for ``x`` in seconds."""
        x = np.asarray(x, dtype=float)
        m, v = self.mean_s, self.scv
        if self.family == "exponential":
            return np.exp(-np.maximum(x, 0) / m)
        if self.family == "deterministic":
            return (x < m).astype(float)
        if self.family == "gamma":
            return stats.gamma.sf(x, 1.0 / v, scale=m * v)
        s2 = math.log1p(v)
        return stats.lognorm.sf(x, math.sqrt(s2), scale=m * math.exp(-s2 / 2))

    def integrated_survival(self, x) -> np.ndarray:
        """``H(x) = E[min(B, x)] = ∫_0^x P(B > u) du`` (s), by quadrature on a fine grid."""
        x = np.asarray(x, dtype=float)
        if self.family == "exponential":
            return self.mean_s * -np.expm1(-np.maximum(x, 0) / self.mean_s)
        if self.family == "deterministic":
            return np.minimum(np.maximum(x, 0), self.mean_s)
        top = float(np.max(x)) if x.size else 0.0
        grid = np.linspace(0.0, max(top, 1e-12), 20_001)
        sf = self.survival(grid)
        cum = np.concatenate([[0.0], np.cumsum((sf[1:] + sf[:-1]) / 2 * np.diff(grid))])
        return np.interp(x, grid, cum)


@dataclass(frozen=True)
class ClientPolicy:
    """What clients do: how long they wait for an answer, and how they retry.

    Parameters
    ----------
    timeout_s : float or None, default 10.0
        Client timeout (s), > 0; None: clients wait for ever.
    retry : RetryPolicy, default ExponentialBackoff(base=1, max_delay=30, max_retries=3)
        A policy from :mod:`capplan.simulation`.
    on_timeout : {"serve", "drop"}, default "serve"
        Whether the server still serves a request whose client has gone
        (``"serve"``, what most servers do) or drops it (a propagated deadline).
    """

    timeout_s: float | None = 10.0
    retry: RetryPolicy = field(
        default_factory=lambda: ExponentialBackoff(base=1.0, max_delay=30.0, max_retries=3)
    )
    on_timeout: str = "serve"

    def __post_init__(self):
        if self.timeout_s is not None:
            t = _finite("ClientPolicy: timeout_s (s)", self.timeout_s)
            if t <= 0:
                raise ValueError(
                    f"ClientPolicy: timeout_s must be a positive number of seconds (or None for "
                    f"clients that never give up); got {self.timeout_s!r}"
                )
        if not isinstance(self.retry, RetryPolicy):
            raise ValueError(
                "ClientPolicy: retry must be a RetryPolicy such as ExponentialBackoff(...) or "
                f"NoRetry(); got {type(self.retry).__name__}"
            )
        if self.on_timeout not in ("serve", "drop"):
            raise ValueError(
                f"ClientPolicy: on_timeout must be 'serve' or 'drop'; got {self.on_timeout!r}"
            )

    def retry_amplification(self, failure_prob: float) -> float:
        """Attempts per client when each attempt fails with ``failure_prob``.

        ``sum_{k=0}^{r} p^k`` for at most ``r`` retries (``1 / (1 - p)`` without a
        cap), capped at ``1 + budget.ratio`` when a retry budget is set.
        """
        p = float(failure_prob)
        r = self.retry.max_retries
        if isinstance(self.retry, NoRetry) or r == 0:
            return 1.0
        amp = 1.0 / (1.0 - p) if r is None else (1.0 - p ** (r + 1)) / (1.0 - p)
        if self.retry.budget is not None:
            amp = min(amp, 1.0 + self.retry.budget.ratio)
        return float(amp)


@dataclass(frozen=True)
class QueuePolicy:
    """The join path's queue limit (requests waiting beyond the busy workers).

    Parameters
    ----------
    kind : {"timeout", "fixed", "unlimited"}, default "timeout"
        ``"timeout"``: per interval, ``floor(fraction * workers * (timeout - work) /
        work)``: the longest line whose last request still starts before its client
        gives up; a longer line only holds requests that will be served for nobody
        (the fuel of a retry storm). ``"fixed"``: ``size`` in every interval.
        ``"unlimited"``: no limit (refusals never happen; not advised).
    fraction : float, default 1.0
        Share of the timeout-derived limit (``"timeout"`` only).
    size : int, optional
        The limit (``"fixed"`` only).
    """

    kind: str = "timeout"
    fraction: float = 1.0
    size: int | None = None

    def __post_init__(self):
        if self.kind not in ("timeout", "fixed", "unlimited"):
            raise ValueError(
                f"QueuePolicy: kind must be 'timeout', 'fixed' or 'unlimited'; got {self.kind!r}"
            )
        _finite("QueuePolicy: fraction", self.fraction, minimum=0.0, strict=True)
        if self.kind == "fixed":
            if self.size is None or isinstance(self.size, bool) or int(self.size) != self.size:
                raise ValueError(f"QueuePolicy: kind='fixed' needs a whole size; got {self.size!r}")
            if self.size < 0:
                raise ValueError(f"QueuePolicy: size must be >= 0; got {self.size!r}")
            if self.size > MAX_QUEUE:
                raise ValueError(
                    f"QueuePolicy: size must be at most {MAX_QUEUE:.0e} requests; got "
                    f"{_show(self.size)}: use QueuePolicy(kind='unlimited') for no limit"
                )

    def limits(self, workers: np.ndarray, mean_s: float, timeout_s: float | None) -> np.ndarray:
        """Queue limit per interval for ``workers`` (int64; -1 means unlimited)."""
        workers = np.asarray(workers, dtype=np.int64)
        if self.kind == "unlimited":
            return np.full(workers.shape, -1, dtype=np.int64)
        if self.kind == "fixed":
            return np.full(workers.shape, int(self.size), dtype=np.int64)
        if timeout_s is None:
            raise ArgumentError(
                "queue",
                "QueuePolicy(kind='timeout') needs a client timeout; give "
                "ClientPolicy(timeout_s=...)"
                " or QueuePolicy(kind='fixed', size=...)",
            )
        per_worker = self.fraction * max(timeout_s - mean_s, 0.0) / mean_s
        with np.errstate(over="ignore", invalid="ignore"):
            limits = np.floor(workers * per_worker)
        if not np.all(limits <= MAX_QUEUE):  # also NaN
            raise ArgumentError(
                "queue",
                f"QueuePolicy(kind='timeout', fraction={self.fraction!r}) with a client timeout "
                f"of {timeout_s!r} s and {mean_s!r} s of work per join makes queue limits of "
                f"{np.nanmax(limits):.3g} requests, more than {MAX_QUEUE:.0e}: check the units "
                "(seconds) of the timeout and the work, or use QueuePolicy(kind='unlimited')",
            )
        return limits.astype(np.int64)


@dataclass(frozen=True)
class Margins:
    """The explicit margins, each reported on its own line of the plan.

    Parameters
    ----------
    burst_quantile : float or None, default 0.99
        Quantile of the worst second's rate within an interval over the
        interval's mean rate (deterministic shape within the interval and
        over-dispersion beyond Poisson); None: size for the interval's mean.
    retry_failure_prob : float, default 0.05
        Share of attempts assumed to fail (refused or timed out) in a degraded
        interval, for the retry amplification of the client's policy.
    attack_rps : float, default 0.0
        Hostile or junk requests per second added to the join path.
    spare_workers, spare_stream_servers : int, default 2
        N+k: workers and stream servers beyond the need (a crash, a deploy).
    zone_loss : float, default 0.0
        Share of capacity that may be lost at once (one of three zones: 1/3);
        capacity is the need divided by ``1 - zone_loss``.
    """

    burst_quantile: float | None = 0.99
    retry_failure_prob: float = 0.05
    attack_rps: float = 0.0
    spare_workers: int = 2
    spare_stream_servers: int = 2
    zone_loss: float = 0.0

    def __post_init__(self):
        if self.burst_quantile is not None:
            q = _finite("Margins: burst_quantile", self.burst_quantile)
            if not 0 < q < 1:
                raise ValueError(f"Margins: burst_quantile must be in (0, 1) or None; got {q!r}")
        p = _finite("Margins: retry_failure_prob", self.retry_failure_prob, minimum=0.0)
        if p >= 1:
            raise ValueError(f"Margins: retry_failure_prob must be below 1; got {p!r}")
        _finite("Margins: attack_rps (1/s)", self.attack_rps, minimum=0.0)
        for name in ("spare_workers", "spare_stream_servers"):
            whole_number(f"Margins: {name}", getattr(self, name), minimum=0, maximum=MAX_SERVERS)
        z = _finite("Margins: zone_loss", self.zone_loss, minimum=0.0)
        if z >= 1:
            raise ValueError(f"Margins: zone_loss must be below 1; got {z!r}")


# --- plain-dict encoding for save/load ---------------------------------------------------------

_RETRY_TYPES = {c.__name__: c for c in (NoRetry, ImmediateRetry, ExponentialBackoff)}


def retry_to_dict(policy: RetryPolicy) -> dict:
    from dataclasses import asdict

    d = asdict(policy)
    d["type"] = type(policy).__name__
    return d


def _same_keys(what: str, d: dict, names) -> None:
    """A ValueError unless ``d`` has exactly the keys ``names``."""
    missing = [k for k in names if k not in d]
    extra = [k for k in d if k not in names]
    if missing or extra:
        parts = ([f"missing {missing}"] if missing else []) + (
            [f"unknown {extra}"] if extra else []
        )
        raise ValueError(f"{what} needs the keys {list(names)}; {', '.join(parts)}")


def retry_from_dict(d: dict) -> RetryPolicy:
    """The retry policy of :func:`retry_to_dict`'s dict: its ``type`` and every field, no
    other key (a ValueError naming the key otherwise)."""
    from dataclasses import fields

    from capplan.simulation import RetryBudget

    if not isinstance(d, dict):
        raise ValueError(f"a retry policy must be an object (type and fields); got {_show(d)}")
    d = dict(d)
    kind = d.pop("type", None)
    if not isinstance(kind, str) or kind not in _RETRY_TYPES:
        raise ValueError(f"type: unknown retry policy {_show(kind)}; known: {sorted(_RETRY_TYPES)}")
    cls = _RETRY_TYPES[kind]
    _same_keys(kind, d, [f.name for f in fields(cls)])
    budget = d["budget"]
    if budget is not None:
        if not isinstance(budget, dict):
            raise ValueError(f"budget must be null or an object (RetryBudget); got {_show(budget)}")
        _same_keys("budget", budget, [f.name for f in fields(RetryBudget)])
        d["budget"] = RetryBudget(**budget)
    return cls(**d)


# --- plan_event's arguments: one set of rules, for plans made and plans read back ----------------

_KINDS = ("fit", "peak", "rates", "scenarios")


@contextmanager
def _argument(name: str):
    """A ValueError (or a TypeError, an OverflowError) in the block as an ArgumentError
    naming ``name``."""
    try:
        yield
    except ArgumentError:
        raise
    except (ValueError, TypeError, OverflowError) as exc:
        raise ArgumentError(name, str(exc)) from None


def check_sessions(sessions) -> tuple[str, dict]:
    """``(name, params)`` of a session model: a SessionsFit, or ``(name, params)`` with a
    known distribution's parameters, each a finite number > 0, and a finite mean."""
    from capplan.models import SessionsFit
    from capplan.models.concurrency import _sessions
    from capplan.models.distributions import DISTRIBUTIONS

    if isinstance(sessions, SessionsFit):
        dist = sessions.distribution
        values = sessions.estimate.values
        params = {p.name: float(v) for p, v in zip(dist.params, values, strict=False)}
    elif isinstance(sessions, (tuple, list)) and len(sessions) == 2:
        name, params = sessions
        if not isinstance(name, str) or name not in DISTRIBUTIONS:
            raise ArgumentError(
                "sessions",
                f"sessions: unknown session distribution {_show(name)}; known: "
                f"{sorted(DISTRIBUTIONS)}",
            )
        if not isinstance(params, dict):
            raise ArgumentError(
                "sessions", f"sessions: the parameters must be a dict; got {_show(params)}"
            )
        with _argument("sessions"):
            for k, v in params.items():  # a number, not a bool or a string
                _finite(f"sessions: {name} parameter {k!r}", v)
            dist, params, _ = _sessions((name, params))
        for p in dist.params:  # the model's declared range of each parameter
            if not p.lower < params[p.name] <= p.upper:
                raise ArgumentError(
                    "sessions",
                    f"sessions: {dist.name} parameter {p.name!r} must be in ({p.lower:g}, "
                    f"{p.upper:g}] (the model's range); got {params[p.name]!r}",
                )
    else:
        raise ArgumentError(
            "sessions",
            "sessions must be a SessionsFit (from fit_sessions) or (name, params), e.g. "
            f"('lognormal', {{'median_s': 1500, 'sigma': 1.0}}); got {type(sessions).__name__}",
        )
    mean = session_mean_s((dist.name, params))
    if not math.isfinite(mean):
        raise ArgumentError(
            "sessions",
            f"sessions: {dist.name} {params} has no finite mean session length: check the "
            "parameters' units (seconds)",
        )
    return dist.name, params


def session_mean_s(sessions: tuple[str, dict]) -> float:
    """The mean session length (s) of a checked ``(name, params)``."""
    from capplan.models.distributions import DISTRIBUTIONS

    name, params = sessions
    try:
        with np.errstate(all="ignore"):
            return float(DISTRIBUTIONS[name].mean(params))
    except (OverflowError, ZeroDivisionError):  # Python floats' arithmetic: beyond the range
        return math.inf


def check_interval(interval_s) -> int:
    """The planning interval: a whole number of seconds >= 1."""
    with _argument("interval_s"):
        return whole_number("interval_s (s)", interval_s, minimum=1, maximum=MAX_INTERVAL_S)


def check_window(window, interval_s: int) -> tuple[float, float]:
    """``(start_s, end_s)``: two finite numbers, increasing, a whole number of intervals."""
    if isinstance(window, (str, bytes, dict)) or not hasattr(window, "__len__") or len(window) != 2:
        raise ArgumentError(
            "window",
            f"window must be (start_s, end_s), two numbers of seconds from the start; got "
            f"{_show(window)}",
        )
    with _argument("window"):
        start_s = _finite("window: start_s", window[0])
        end_s = _finite("window: end_s", window[1])
    n = (end_s - start_s) / interval_s
    if not end_s > start_s or abs(n - round(n)) > 1e-9 or round(n) < 1:
        raise ArgumentError(
            "window",
            f"window ({start_s:g}, {end_s:g}) s must be increasing and a whole number of "
            f"intervals of {interval_s} s",
        )
    return start_s, end_s


def check_streams_per_server(streams_per_server) -> float:
    """Concurrent streams one stream server holds: a finite number >= 1."""
    with _argument("streams_per_server"):
        return _finite(
            "streams_per_server (concurrent streams one stream server holds)",
            streams_per_server,
            minimum=1.0,
        )


def check_lobby(lobby_start_s, window: tuple[float, float]) -> float | None:
    """When the lobby opens (s), or None: a lobby not inside the window (a second from
    either end) is none."""
    if lobby_start_s is None:
        return None
    with _argument("lobby_start_s"):
        x = _finite("lobby_start_s (s, or None for no lobby)", lobby_start_s)
    return x if window[0] + 1 <= x <= window[1] - 1 else None


def check_forecast(forecast, window: tuple[float, float]):
    """A JoinForecast (a JoinCurveFit is evaluated over the window; its level and rates are
    JoinForecast's to check) with finite over-dispersion >= 0, a known kind, on a 1-s grid
    covering the window: the forecast cut to the window."""
    from capplan.models import JoinCurveFit
    from capplan.planning.forecast import JoinForecast

    start_s, end_s = window
    if isinstance(forecast, JoinCurveFit):
        forecast = JoinForecast.from_fit(forecast, start_s=start_s, end_s=end_s)
    elif isinstance(forecast, (pd.Series, pd.DataFrame, np.ndarray)):
        raise ArgumentError(
            "forecast",
            "forecast: wrap rates in JoinForecast.from_rates(rates, factor=...) (one "
            "multiplicative quantile) or scenarios in JoinForecast.from_scenarios(frame)",
        )
    elif not isinstance(forecast, JoinForecast):
        raise ArgumentError(
            "forecast",
            f"forecast must be a JoinForecast or JoinCurveFit; got {type(forecast).__name__}",
        )
    fc = forecast
    with _argument("forecast"):
        _finite("forecast: alpha_per_second", fc.alpha_per_second, minimum=0.0)
        _finite("forecast: cluster_per_second", fc.cluster_per_second, minimum=0.0)
        if fc.kind not in _KINDS:
            raise ValueError(f"forecast: kind must be one of {_KINDS}; got {_show(fc.kind)}")
        if not isinstance(fc.description, str):
            raise ValueError(f"forecast: description must be text; got {_show(fc.description)}")
        t = np.asarray(fc.t, dtype=float)
        if t.ndim != 1 or t.size < 1 or np.any(np.abs(np.diff(t) - 1.0) > 1e-9):
            raise ValueError("forecast: t must be the seconds of a 1-s grid, increasing")
        fc = fc.window(start_s, end_s)
        if fc.t.size != round(end_s - start_s):
            raise ValueError(
                f"forecast: its seconds do not line up with the window ({start_s:g}, {end_s:g})"
            )
    return fc


def check_streams_bound(fc, sessions: tuple[str, dict]) -> None:
    """The most concurrent streams the forecast and sessions can make (the peak rate times
    the mean session, plus every join of the window, which a lobby may hold) <= 1e15."""
    mean = session_mean_s(sessions)
    point, upper = np.asarray(fc.point), np.asarray(fc.upper)
    top = max(float(point.max()), float(upper.max()))
    with np.errstate(all="ignore"):
        bound = (fc.concurrency_factor or 1.0) * (
            top * mean + float(np.maximum(point, upper).sum())
        )
    if not bound <= MAX_STREAMS:
        raise ArgumentError(
            "sessions",
            f"the forecast (peak {top:.3g} joins/s) and the sessions (mean {mean:.3g} s) make up "
            f"to {bound:.3g} concurrent streams, more than {MAX_STREAMS:.0e}: check the "
            "forecast's units (joins per second) and the session lengths (seconds)",
        )


def check_capacity(argument: str, what: str, values, why: str) -> None:
    """``values`` (a count per interval) finite and <= 1e9, else an ArgumentError."""
    v = np.asarray(values, dtype=float)
    if not np.all(v <= MAX_SERVERS):  # also NaN
        worst = float(np.nanmax(v)) if np.any(~np.isnan(v)) else math.nan
        raise ArgumentError(
            argument,
            f"the plan needs {worst:.3g} {what} in some interval, more than {MAX_SERVERS:.0e}: "
            f"{why}",
        )


def with_headroom(argument: str, what: str, needed, zone_loss: float, spare: int) -> np.ndarray:
    """``ceil(needed / (1 - zone_loss)) + spare`` (:func:`steps.failure_headroom`), checked
    to be at most 1e9 before it is counted in int64."""
    from capplan.planning import steps

    with np.errstate(all="ignore"):
        total = np.asarray(needed, dtype=float) / (1 - zone_loss) + spare
    check_capacity(
        argument,
        what,
        total,
        f"zone_loss={zone_loss!r} and {spare!r} spares make that many; check the margins",
    )
    return steps.failure_headroom(needed, zone_loss, spare)


@dataclass(frozen=True)
class PlanArguments:
    """:func:`plan_event`'s arguments, checked: the forecast cut to the window, the
    sessions as ``(name, params)``, the lobby None where it is not inside the window."""

    forecast: object
    sessions: tuple
    service: JoinService
    slo: SLO
    client: ClientPolicy
    queue: QueuePolicy
    margins: Margins
    window: tuple[float, float]
    interval_s: int
    method: str
    streams_per_server: float
    lobby_start_s: float | None
    isa_replications: int = 10
    isa_max_iter: int = 10
    seed: object = 0


def plan_arguments(
    forecast,
    sessions,
    *,
    service,
    streams_per_server,
    slo=None,
    client=None,
    queue=None,
    margins=None,
    window=(-3600.0, 10800.0),
    interval_s=60,
    method="mol",
    lobby_start_s=0.0,
    isa_replications=10,
    isa_max_iter=10,
    seed=0,
) -> PlanArguments:
    """:func:`~capplan.planning.plan_event`'s arguments checked, each refusal an
    :class:`ArgumentError` (a ValueError) naming the argument, the value and what to give.

    The rules of a plan made, and of a plan read back (:func:`~capplan.load_plan`).
    """
    from capplan.planning import methods
    from capplan.simulation._validate import generator

    slo = DEFAULT_SLO if slo is None else slo
    client = ClientPolicy() if client is None else client
    queue = QueuePolicy() if queue is None else queue
    margins = Margins() if margins is None else margins
    for name, value, kind in (
        ("slo", slo, SLO),
        ("client", client, ClientPolicy),
        ("queue", queue, QueuePolicy),
        ("margins", margins, Margins),
        ("service", service, JoinService),
    ):
        if not isinstance(value, kind):
            raise ArgumentError(
                name, f"{name} must be a {kind.__name__}; got {type(value).__name__}"
            )
    if not isinstance(method, str):
        raise ArgumentError(
            "method", f"method must be one of {methods.METHODS}; got {_show(method)}"
        )
    with _argument("method"):
        method = methods._check_method(method)
    interval_s = check_interval(interval_s)
    streams_per_server = check_streams_per_server(streams_per_server)
    window = check_window(window, interval_s)
    if client.timeout_s is not None and client.timeout_s <= service.mean_s:
        raise ArgumentError(
            "client",
            f"the client timeout ({client.timeout_s:g} s) is not longer than the work per join "
            f"({service.mean_s:g} s): clients give up before an idle worker can answer, so no "
            "finite capacity meets the SLO; raise ClientPolicy(timeout_s=...)",
        )
    if queue.kind == "timeout" and client.timeout_s is None:
        raise ArgumentError(
            "queue",
            "QueuePolicy(kind='timeout') needs a client timeout; give ClientPolicy(timeout_s=...) "
            "or QueuePolicy(kind='fixed', size=...)",
        )
    r = client.retry.max_retries
    if r is not None and r > MAX_RETRIES:
        raise ArgumentError(
            "client",
            f"ClientPolicy: retry.max_retries must be at most {MAX_RETRIES}; got {_show(r)} "
            "(None: no cap, with a back-off or a budget)",
        )
    fc = check_forecast(forecast, window)
    sessions = check_sessions(sessions)
    check_streams_bound(fc, sessions)
    lobby_start_s = check_lobby(lobby_start_s, window)
    with _argument("isa_replications"):
        isa_replications = whole_number("isa_replications", isa_replications, minimum=1)
    with _argument("isa_max_iter"):
        isa_max_iter = whole_number("isa_max_iter", isa_max_iter, minimum=1)
    with _argument("seed"):
        rng = generator(seed)
    if seed is not None and not isinstance(seed, (int, np.integer)):  # a Generator, a sequence
        seed = int(rng.integers(2**63))
    return PlanArguments(
        fc,
        sessions,
        service,
        slo,
        client,
        queue,
        margins,
        window,
        interval_s,
        method,
        streams_per_server,
        lobby_start_s,
        isa_replications,
        isa_max_iter,
        seed,
    )
