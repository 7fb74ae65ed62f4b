"""The tipping point of a retry storm: mean-field fixed points of the attempt stream.

Attempts (first tries and retries) arrive at total rate ``L`` per second, a Poisson
stream on an M/M/c queue of ``c`` servers with mean service time ``s`` (load
``a = L s`` Erlangs). An attempt fails when its wait exceeds the client timeout ``T``:

    f(L) = P(W > T) = C(c, a) exp(-(c - a) T / s)     for a < c,      f = 1 for a >= c,

with ``C`` the Erlang C probability (:func:`capplan.queueing.erlang_c`, here in its log
form). A failed attempt is retried up to ``R`` times and its work is still done (the
server does not learn that the client has gone). At a fresh rate ``lambda`` the attempt
rate is a fixed point of

    L = lambda (1 + f + ... + f^R),   i.e.   lambda = h(L) = L / (1 + f(L) + ... + f(L)^R).

``h`` rises from 0 (the good branch), reaches a maximum at the fold, falls back to
``c / (s (R + 1))`` at the capacity ``L = c / s`` (the unstable branch), and is
``L / (R + 1)`` beyond it (the failed branch, where every attempt times out). Hence:

* below ``fresh_rate_low = c / (s (R + 1))`` only the good state exists;
* between it and ``fresh_rate_critical = max h`` on the good branch the path is
  bistable: a good and a failed state, separated by an unstable one; a trigger that
  pushes the attempt rate past the unstable state leaves the path failed after the
  trigger ends (a metastable failure);
* above ``fresh_rate_critical`` only the failed state exists.

With no retries (``R = 0``) ``h(L) = L`` and the two thresholds coincide: monostable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar

from ._validate import as_float
from .erlang import log_poisson_ratio

__all__ = ["Metastability", "metastability"]

_GRID = 600  # log-spaced slacks scanned for the fold before refining
_MIN_SLACK = 1e-13  # smallest slack c - a scanned, relative to c
_BISECT_MAX = 200


# --- the model ------------------------------------------------------------------------


def _log_timeout_prob(c: float, slack: np.ndarray, ratio: float) -> np.ndarray:
    """``log f`` as a function of the slack ``u = c - a`` (Erlangs); 0 where ``u <= 0``.

    ``log C(c, a) = -log(1 + R_p (u / c))`` with ``R_p = P[N <= c-1] / P[N = c]``
    (``N ~ Poisson(a)``), evaluated in log space as :func:`erlang_c` does, and exact
    near ``a = c`` because ``u / c`` is formed from ``u`` itself. ``ratio = T / s``.
    """
    u = np.asarray(slack, dtype=float)
    out = np.zeros(u.shape)
    live = u > 0
    if live.any():
        ul = u[live]
        cl = np.full(ul.shape, c)
        log_r = log_poisson_ratio(cl, np.maximum(c - ul, 0.0))
        out[live] = -np.logaddexp(0.0, log_r + np.log(ul / c)) - ul * ratio
    return out


def _amplification(log_f: np.ndarray, retries: int) -> np.ndarray:
    """``1 + f + ... + f^R`` from ``log f <= 0``, without cancellation near ``f = 1``."""
    log_f = np.asarray(log_f, dtype=float)
    out = np.full(log_f.shape, float(retries + 1))
    part = log_f < 0
    lf = log_f[part]
    with np.errstate(over="ignore", invalid="ignore"):
        out[part] = np.expm1((retries + 1) * lf) / np.expm1(lf)
    out[part & np.isneginf(log_f)] = 1.0
    return out


def _fresh_of_slack(c: float, s: float, ratio: float, retries: int, slack) -> np.ndarray:
    """``h`` at the attempt rate ``(c - u) / s``: the fresh rate with that fixed point."""
    u = np.asarray(slack, dtype=float)
    return ((c - u) / s) / _amplification(_log_timeout_prob(c, u, ratio), retries)


def _bisect_slack(fun, target, lo, hi):
    """Vectorised bisection for ``fun(u) = target`` on brackets ``[lo, hi]`` (arrays),
    ``fun(lo) - target`` and ``fun(hi) - target`` of opposite signs; to a few ulps."""
    lo = np.array(lo, dtype=float)
    hi = np.array(hi, dtype=float)
    f_lo = fun(lo) - target
    for _ in range(_BISECT_MAX):
        width = np.abs(hi - lo)
        if np.all(width <= 4 * np.finfo(float).eps * np.maximum(np.abs(lo), np.abs(hi))):
            break
        mid = 0.5 * (lo + hi)
        f_mid = fun(mid) - target
        same = np.sign(f_mid) == np.sign(f_lo)
        lo = np.where(same, mid, lo)
        f_lo = np.where(same, f_mid, f_lo)
        hi = np.where(same, hi, mid)
    return 0.5 * (lo + hi)


def _fold(c: float, s: float, ratio: float, retries: int) -> tuple[float, float]:
    """``(slack, fresh rate)`` at the maximum of ``h`` below capacity: scan a log grid of
    slacks, then bounded Brent on ``log u`` between the grid neighbours of the best."""
    if retries == 0:
        return 0.0, c / s
    log_u = np.linspace(np.log(c * _MIN_SLACK), np.log(c), _GRID)
    values = _fresh_of_slack(c, s, ratio, retries, np.exp(log_u))
    best = int(np.argmax(values))
    cap_value = c / (s * (retries + 1))
    if best == 0 and values[0] <= cap_value * (1 + 1e-15):
        return 0.0, cap_value  # h rises all the way to capacity: no fold below it
    lo, hi = log_u[max(best - 1, 0)], log_u[min(best + 1, _GRID - 1)]

    def negative(v):
        return -float(_fresh_of_slack(c, s, ratio, retries, np.exp(v)))

    opt = minimize_scalar(
        negative, bounds=(lo, hi), method="bounded", options={"xatol": 1e-12, "maxiter": 500}
    )
    candidates = [
        (float(-opt.fun), float(np.exp(opt.x))),
        (float(values[best]), float(np.exp(log_u[best]))),
    ]
    value, slack = max(candidates)
    if value <= cap_value:
        return 0.0, cap_value
    return slack, value


# --- validation -----------------------------------------------------------------------


def _scalar(value, name: str, *, positive: bool) -> float:
    if isinstance(value, bool) or np.ndim(value) != 0:
        raise ValueError(f"{name} must be a single number; got {value!r}")
    return float(as_float(value, name, positive=positive))


def _whole(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or np.ndim(value) != 0:
        raise ValueError(f"{name} must be a whole number >= {minimum}; got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a whole number >= {minimum}; got {value!r}") from None
    if not np.isfinite(number) or number != np.floor(number) or number < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}; got {value!r}")
    if number > 2.0**53:
        raise ValueError(f"{name} must be at most 2**53; got {value!r}")
    return int(number)


# --- the result -----------------------------------------------------------------------


@dataclass(frozen=True)
class Metastability:
    """Thresholds and fixed points of a retry storm; build it with :func:`metastability`.

    Attributes
    ----------
    servers : int
        Servers ``c`` on the path.
    mean_service_s : float
        Mean (exponential) service time ``s`` (s).
    timeout_s : float
        Client timeout ``T`` on the wait (s).
    max_retries : int
        Retries ``R`` after a failed attempt.
    capacity_rate : float
        ``c / s``: attempts per second the servers can do (attempts/s).
    fresh_rate_low : float
        ``c / (s (R + 1))`` (first tries/s): above it a failed state exists, in which
        every attempt times out and is retried ``R`` times.
    fresh_rate_critical : float
        The fold (first tries/s): above it no good state exists. Equal to
        ``fresh_rate_low`` when there is no bistable band (``R = 0``).
    attempt_rate_fold : float
        Attempt rate at the fold (attempts/s), where the good and unstable states meet;
        ``capacity_rate`` when there is no fold below capacity.
    arrival_rate : numpy.ndarray or None
        The fresh rates asked about (first tries/s), or None.
    attempt_rate_good, attempt_rate_unstable, attempt_rate_failed : numpy.ndarray or None
        Attempt rate ``L`` (attempts/s) of each state at ``arrival_rate``; NaN where
        the state does not exist.
    state : numpy.ndarray of str or None
        ``"good only"``, ``"bistable"`` or ``"failed only"`` per arrival rate.
    """

    servers: int
    mean_service_s: float
    timeout_s: float
    max_retries: int
    capacity_rate: float
    fresh_rate_low: float
    fresh_rate_critical: float
    attempt_rate_fold: float
    arrival_rate: np.ndarray | None = None
    attempt_rate_good: np.ndarray | None = None
    attempt_rate_unstable: np.ndarray | None = None
    attempt_rate_failed: np.ndarray | None = None
    state: np.ndarray | None = None

    @property
    def bistable(self) -> bool:
        """True when some fresh rates have both a good and a failed state."""
        return self.fresh_rate_critical > self.fresh_rate_low

    def timeout_prob(self, attempt_rate):
        """``f(L) = P(W > T)``: share of attempts that time out at attempt rate ``L``
        (attempts/s, array-like); 1 at or above capacity."""
        rate = as_float(attempt_rate, "attempt_rate")
        slack = self.servers - rate * self.mean_service_s
        ratio = self.timeout_s / self.mean_service_s
        out = np.exp(_log_timeout_prob(float(self.servers), slack, ratio))
        return out[()] if out.ndim == 0 else out

    def fresh_rate(self, attempt_rate):
        """``h(L) = L / (1 + f + ... + f^R)``: the fresh rate (first tries/s) whose fixed
        point is the attempt rate ``L`` (attempts/s, array-like)."""
        rate = as_float(attempt_rate, "attempt_rate")
        slack = self.servers - rate * self.mean_service_s
        log_f = _log_timeout_prob(float(self.servers), slack, self.timeout_s / self.mean_service_s)
        out = rate / _amplification(log_f, self.max_retries)
        return out[()] if out.ndim == 0 else out

    def summary(self):
        """The thresholds as a DataFrame: a ``value`` and a ``unit`` per row."""
        import pandas as pd

        rows = [
            ("servers", self.servers, "servers"),
            ("mean_service_s", self.mean_service_s, "s"),
            ("timeout_s", self.timeout_s, "s"),
            ("max_retries", self.max_retries, "retries"),
            ("capacity_rate", self.capacity_rate, "attempts/s"),
            ("fresh_rate_low", self.fresh_rate_low, "first tries/s"),
            ("fresh_rate_critical", self.fresh_rate_critical, "first tries/s"),
            ("attempt_rate_fold", self.attempt_rate_fold, "attempts/s"),
        ]
        return pd.DataFrame(
            {"value": [float(r[1]) for r in rows], "unit": [r[2] for r in rows]},
            index=pd.Index([r[0] for r in rows], name="metric"),
        )

    def to_frame(self):
        """One row per asked ``arrival_rate`` (none when it was not given): the
        attempt rate of each state (attempts/s, NaN where absent), the timeout share
        in the good state, and the ``state``."""
        import pandas as pd

        if self.arrival_rate is None:
            rates = np.zeros(0)
            good = unstable = failed = np.zeros(0)
            state = np.zeros(0, dtype=object)
        else:
            rates = np.ravel(self.arrival_rate)
            good = np.ravel(self.attempt_rate_good)
            unstable = np.ravel(self.attempt_rate_unstable)
            failed = np.ravel(self.attempt_rate_failed)
            state = np.ravel(self.state)
        good_f = np.full(good.shape, np.nan)
        has = np.isfinite(good)
        if has.any():
            good_f[has] = self.timeout_prob(good[has])
        return pd.DataFrame(
            {
                "arrival_rate": rates,
                "attempt_rate_good": good,
                "attempt_rate_unstable": unstable,
                "attempt_rate_failed": failed,
                "timeout_prob_good": good_f,
                "state": state,
            }
        )

    def __str__(self) -> str:
        from capplan._text import human_number, table_text

        band = (
            f"bistable for fresh rates in [{human_number(self.fresh_rate_low)}, "
            f"{human_number(self.fresh_rate_critical)}) /s"
            if self.bistable
            else "monostable: no bistable band"
        )
        return f"Retry-storm fixed points (mean field), {band}\n" + table_text(self.summary())


def metastability(
    servers, mean_service_s, timeout_s, max_retries, arrival_rate=None
) -> Metastability:
    """Where retries make the join path bistable, and its states at a fresh rate.

    Parameters
    ----------
    servers : int
        Servers ``c >= 1`` (whole; ``5.0`` is accepted). Up to ten million.
    mean_service_s : float
        Mean service time ``s`` (s), > 0; service is exponential.
    timeout_s : float
        Client timeout ``T`` (s), >= 0: an attempt fails when its wait in line exceeds
        it.
    max_retries : int
        Retries ``R >= 0`` a client makes after a failed attempt.
    arrival_rate : float or array_like, optional
        Fresh rate(s) ``lambda`` (first tries per second, >= 0) at which to find the
        good, unstable and failed states.

    Returns
    -------
    Metastability
        ``fresh_rate_low``, ``fresh_rate_critical`` (first tries/s), the fold's attempt
        rate, and at ``arrival_rate`` the attempt rates (attempts/s) of the three states
        and the ``state``; ``summary()``, ``to_frame()``, ``timeout_prob(L)``,
        ``fresh_rate(L)``.

    Notes
    -----
    The mean-field model: attempts form a Poisson stream of rate ``L``, independent of
    one another, and a timed-out attempt's work is still done, so the queue sees the
    whole attempt stream (the simulator's ``on_timeout="serve"``). The fixed points
    solve ``lambda = h(L) = L / (1 + f(L) + ... + f(L)^R)`` with
    ``f(L) = C(c, L s) exp(-(c - L s) T / s)`` below capacity and 1 above it.

    The fold is the maximum of ``h`` below capacity: a scan of 600 log-spaced slacks
    ``c - a`` from ``1e-13 c`` to ``c``, then bounded Brent minimisation of ``-h`` on
    ``log(c - a)`` between the neighbours of the best grid point; since ``h`` is flat
    there, its value is exact to a few ulps. The good and unstable states are the roots
    of ``h(L) = lambda`` on either side of the fold, found by bisection in the slack to a
    few ulps, vectorised over ``arrival_rate``. ``h`` is assumed to rise once and fall
    once below capacity (single-humped), as it does for the Erlang C tail.

    At ``lambda = fresh_rate_low`` the failed state sits at capacity, and the state is
    counted as bistable; at ``lambda >= fresh_rate_critical``, "failed only".

    Examples
    --------
    >>> from capplan.queueing.metastability import metastability
    >>> m = metastability(servers=20, mean_service_s=0.1, timeout_s=1.0, max_retries=3,
    ...                   arrival_rate=120.0)
    >>> round(m.fresh_rate_low, 6), str(m.state)
    (50.0, 'bistable')
    >>> bool(m.fresh_rate_critical > 150.0)
    True
    """
    c = _whole(servers, "servers", 1)
    s = _scalar(mean_service_s, "mean_service_s", positive=True)
    t = _scalar(timeout_s, "timeout_s", positive=False)
    r = _whole(max_retries, "max_retries", 0)
    ratio = t / s
    cf = float(c)
    capacity = cf / s
    low = capacity / (r + 1)
    fold_slack, critical = _fold(cf, s, ratio, r)
    fold_rate = (cf - fold_slack) / s

    fields = {}
    if arrival_rate is not None:
        lam = as_float(arrival_rate, "arrival_rate")
        flat = np.ravel(lam)
        good = np.full(flat.shape, np.nan)
        unstable = np.full(flat.shape, np.nan)
        failed = np.full(flat.shape, np.nan)

        def fun(u):
            return _fresh_of_slack(cf, s, ratio, r, u)

        has_good = flat < critical
        if has_good.any():
            target = flat[has_good]
            n = target.size
            # slack c (L = 0, h = 0) to the fold's slack (h = critical)
            root = _bisect_slack(fun, target, np.full(n, cf), np.full(n, fold_slack))
            good[has_good] = (cf - root) / s
            good[has_good & (flat == 0)] = 0.0
        has_unstable = (flat > low) & (flat < critical)
        if has_unstable.any():
            target = flat[has_unstable]
            n = target.size
            root = _bisect_slack(fun, target, np.full(n, fold_slack), np.zeros(n))
            unstable[has_unstable] = (cf - root) / s
        has_failed = flat >= low
        failed[has_failed] = flat[has_failed] * (r + 1)
        state = np.where(
            flat >= critical, "failed only", np.where(flat >= low, "bistable", "good only")
        ).astype(object)

        def shaped(x):
            x = x.reshape(lam.shape)
            return x[()] if x.ndim == 0 else x

        fields = {
            "arrival_rate": shaped(flat.copy()),
            "attempt_rate_good": shaped(good),
            "attempt_rate_unstable": shaped(unstable),
            "attempt_rate_failed": shaped(failed),
            "state": shaped(state),
        }
    return Metastability(
        servers=c,
        mean_service_s=s,
        timeout_s=t,
        max_retries=r,
        capacity_rate=capacity,
        fresh_rate_low=low,
        fresh_rate_critical=critical,
        attempt_rate_fold=fold_rate,
        **fields,
    )
