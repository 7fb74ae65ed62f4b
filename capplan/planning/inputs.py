"""Planning inputs: SLO, join-path service, client, queue policy and margins.

Frozen dataclasses, validated when built: each error names the argument and the
value, and says what to give instead. Times are seconds, rates per second.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

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

__all__ = ["SLO", "ClientPolicy", "JoinService", "Margins", "QueuePolicy"]

_FAMILIES = ("exponential", "lognormal", "gamma", "deterministic")


def _finite(name: str, value, *, minimum=None, maximum=None, strict=False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number; got {value!r}")
    x = float(value)
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

    def limits(self, workers: np.ndarray, mean_s: float, timeout_s: float | None) -> np.ndarray:
        """Queue limit per interval for ``workers`` (int64; -1 means unlimited)."""
        workers = np.asarray(workers, dtype=np.int64)
        if self.kind == "unlimited":
            return np.full(workers.shape, -1, dtype=np.int64)
        if self.kind == "fixed":
            return np.full(workers.shape, int(self.size), dtype=np.int64)
        if timeout_s is None:
            raise ValueError(
                "QueuePolicy(kind='timeout') needs a client timeout; give "
                "ClientPolicy(timeout_s=...)"
                " or QueuePolicy(kind='fixed', size=...)"
            )
        per_worker = self.fraction * max(timeout_s - mean_s, 0.0) / mean_s
        return np.floor(workers * per_worker).astype(np.int64)


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
            v = getattr(self, name)
            if isinstance(v, bool) or int(v) != v or v < 0:
                raise ValueError(f"Margins: {name} must be a whole number >= 0; got {v!r}")
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


def retry_from_dict(d: dict) -> RetryPolicy:
    from capplan.simulation import RetryBudget

    d = dict(d)
    kind = d.pop("type")
    if kind not in _RETRY_TYPES:
        raise ValueError(f"unknown retry policy {kind!r}; known: {sorted(_RETRY_TYPES)}")
    if d.get("budget") is not None:
        d["budget"] = RetryBudget(**d["budget"])
    return _RETRY_TYPES[kind](**d)
