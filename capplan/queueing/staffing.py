"""Least server count meeting a service target, for whole arrays of loads at once.

Start from square-root staffing ``c ~ a + beta sqrt(a)`` (or a fluid estimate when
customers abandon), then evaluate the pair ``(c, c + 1)`` of every open interval in one
vectorised call per round: a pair that straddles the target ends the search, otherwise
a Newton step on the log of the measure moves it, with galloping and integer bisection
as the fallback. A day of per-second loads costs a handful of array evaluations, not a
loop over intervals or servers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri

from ._validate import as_count, as_float, as_probability, scalar_or_array
from .erlang import _erlang_b, _erlang_c
from .erlang_a import erlang_a
from .mmck import mmck

_TARGETS = ("max_wait_prob", "max_blocking", "service_level", "max_mean_wait", "max_abandon_prob")
_MAX_ROUNDS = 200
_NEWTON_ROUNDS = 12


@dataclass(frozen=True)
class Staffing:
    """Result of :func:`servers_for`.

    Attributes
    ----------
    servers : numpy.ndarray of int64 (or a scalar)
        Least server count meeting the target, per load.
    achieved : numpy.ndarray of float (or a scalar)
        The target's measure at that count (a probability, or seconds for
        ``max_mean_wait``); one server fewer misses the target.
    target : str
        Which target was met, e.g. ``"max_wait_prob"``.
    model : str
        The queueing model used, e.g. ``"M/M/c (Erlang C)"``.
    """

    servers: np.ndarray
    achieved: np.ndarray
    target: str
    model: str


def _one_target(given: dict) -> tuple[str, object]:
    chosen = [k for k in _TARGETS if given[k] is not None]
    if len(chosen) != 1:
        got = ", ".join(chosen) if chosen else "none"
        raise ValueError(
            f"servers_for needs exactly one target among {', '.join(_TARGETS)}; got {got}"
        )
    return chosen[0], given[chosen[0]]


def _model(target, limit, a, tau, patience, room, ca2, cs2):
    """Return ``(evaluate, c_min, start, model name)`` for one target.

    ``evaluate(c, i)`` gives, for server counts ``c`` at flat positions ``i``, a score
    that is ``<= 0`` exactly where the target is met, and the measure itself. The score
    is a difference of logs, nearly linear in ``c``, which makes the Newton steps of
    :func:`_search` land within a server or two. ``c_min`` None means "just above the
    load", the stability bound of a queue without abandonment. ``start`` is a first
    guess: square-root staffing ``a + beta sqrt(a)``, or a fluid estimate.
    """
    root = np.sqrt(a)

    def sqrt_staffing(beta):
        return a + np.clip(beta, 0.0, 8.0) * root

    def at_most(measure):
        def evaluate(c, i):
            value = np.asarray(measure(c, i), dtype=float)
            with np.errstate(divide="ignore"):
                return np.log(value) - np.log(limit[i]), value

        return evaluate

    def ea(c, i):
        return erlang_a(c, a[i] / tau[i], tau[i], patience[i])

    if target == "max_blocking":
        beta = ndtri(1 - limit)
        if room is None:
            return (
                at_most(lambda c, i: _erlang_b(c, a[i])),
                1,
                sqrt_staffing(beta),
                "M/M/c/c (Erlang B)",
            )
        return (
            at_most(lambda c, i: mmck(c, c + room[i], a[i]).blocking),
            1,
            sqrt_staffing(beta),
            "M/M/c/K",
        )
    if target == "max_abandon_prob":
        # Fluid start: with short patience c ~ a (1 - P(Ab)).
        return (
            at_most(lambda c, i: ea(c, i).abandon_prob),
            1,
            a * (1 - limit),
            "M/M/c+M (Erlang A)",
        )
    if target == "max_wait_prob":
        beta = 0.8 * ndtri(1 - limit)
        if patience is not None:
            return (
                at_most(lambda c, i: ea(c, i).wait_prob),
                1,
                sqrt_staffing(beta),
                "M/M/c+M (Erlang A)",
            )
        return (
            at_most(lambda c, i: _erlang_c(c, a[i])),
            None,
            sqrt_staffing(beta),
            "M/M/c (Erlang C)",
        )
    if target == "service_level":
        t, x = limit

        def tail(c, i):  # 1 - level, so that the score is a log ratio of small numbers
            if patience is not None:
                return np.asarray(ea(c, i).miss_prob(t[i]))
            with np.errstate(under="ignore"):
                return _erlang_c(c, a[i]) * np.exp(-(c - a[i]) * t[i] / tau[i])

        def evaluate(c, i):
            miss = tail(c, i)
            with np.errstate(divide="ignore"):
                return np.log(miss) - np.log1p(-x[i]), 1.0 - miss

        c_min = 1 if patience is not None else None
        name = "M/M/c+M (Erlang A)" if patience is not None else "M/M/c (Erlang C)"
        return evaluate, c_min, sqrt_staffing(ndtri(x)), name
    # max_mean_wait
    if patience is not None:
        fluid = a * (1 - np.minimum(limit / patience, 1.0))  # E[W] = P(Ab) * patience
        return at_most(lambda c, i: ea(c, i).mean_wait), 1, fluid, "M/M/c+M (Erlang A)"
    factor = (ca2 + cs2) / 2.0
    name = "M/M/c (Erlang C)" if np.all(factor == 1) else "G/G/c (Allen-Cunneen)"
    return (
        at_most(lambda c, i: _erlang_c(c, a[i]) * tau[i] / (c - a[i]) * factor[i]),
        None,
        sqrt_staffing(1.0),
        name,
    )


def _search(evaluate, c_min, guess, step):
    """Least ``c >= c_min`` with score ``<= 0``; returns it and its measure.

    Each round evaluates the pair ``(c, c + 1)`` of every open interval in one call:
    a pair that straddles the target ends the search, and the pair's difference gives
    a Newton step on the score. After a few rounds, or when Newton leaves the bracket
    known so far, it bisects, so it always ends. ``c_min - 1`` counts as failing.
    """
    n = guess.size
    big = np.iinfo(np.int64).max // 4
    lo = (c_min - 1).astype(np.int64)  # largest count known to fail
    hi = np.full(n, big, dtype=np.int64)  # smallest count known to meet
    achieved = np.full(n, np.nan)
    c = guess.astype(np.int64)
    step = step.astype(np.int64)
    for round_ in range(_MAX_ROUNDS):
        open_ = np.nonzero(hi - lo > 1)[0]
        if open_.size == 0:
            return hi, achieved
        left = np.clip(c[open_], lo[open_] + 1, np.maximum(hi[open_] - 1, lo[open_] + 1))
        pts = np.concatenate([left, left + 1])
        where = np.concatenate([open_, open_])
        score, value = evaluate(pts, where)
        meet = score <= 0
        for part in (slice(None, open_.size), slice(open_.size, None)):
            m, p, w, v = meet[part], pts[part], where[part], value[part]
            better = m & (p < hi[w])
            hi[w[better]] = p[better]
            achieved[w[better]] = v[better]
            worse = ~m & (p > lo[w])
            lo[w[worse]] = p[worse]
        f0, f1 = score[: open_.size], score[open_.size :]
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            slope = f1 - f0
            newton = left - f0 / slope
        usable = np.isfinite(newton) & (slope < 0) & (np.abs(newton - left) < 1e15)
        lo_o, hi_o, step_o = lo[open_], hi[open_], step[open_]
        hi_known = hi_o < big
        # Gallop from the known side, bisect once both sides are near and known.
        gallop = np.where(hi_known, hi_o - 1 - step_o, lo_o + step_o)
        bisect = hi_known & ((lo_o >= c_min[open_]) | (hi_o - lo_o <= 2 * step_o))
        fallback = np.where(bisect, lo_o + (hi_o - lo_o) // 2, gallop)
        step[open_] = np.where(bisect, step_o, 2 * step_o)
        newton_ok = usable & (round_ < _NEWTON_ROUNDS) & (newton > lo_o) & (newton < hi_o)
        nxt = np.where(newton_ok, np.floor(np.where(newton_ok, newton, 0.0)), fallback)
        c[open_] = nxt.astype(np.int64)
    raise RuntimeError("servers_for: the search did not converge; please report this")


def servers_for(
    load,
    *,
    max_wait_prob=None,
    max_blocking=None,
    service_level=None,
    max_mean_wait=None,
    max_abandon_prob=None,
    mean_service_time=None,
    mean_patience=None,
    waiting_room=None,
    arrival_scv=1.0,
    service_scv=1.0,
):
    """Least number of servers meeting one service target, for each load.

    Parameters
    ----------
    load : float or array_like
        Offered load ``a`` in Erlangs (arrival rate per second times mean service time
        in seconds), ``>= 0``; any shape, e.g. 86 400 per-second intervals.
    max_wait_prob : float or array_like, optional
        ``P(an arrival waits) <= max_wait_prob``: Erlang C, or Erlang A with
        ``mean_patience``.
    max_blocking : float or array_like, optional
        ``P(an arrival is refused) <= max_blocking``: Erlang B (M/M/c/c), or M/M/c/K
        with ``K = c + waiting_room`` when ``waiting_room`` is given.
    service_level : (t, fraction), optional
        ``P(wait <= t seconds) >= fraction``; needs ``mean_service_time``. M/M/c, or
        with ``mean_patience`` Erlang A's share of arrivals *served* within ``t``
        (abandoners count as failures; :meth:`ErlangA.service_level`).
    max_mean_wait : float or array_like, optional
        Mean wait (seconds) at most this; needs ``mean_service_time``. M/M/c, scaled by
        ``(arrival_scv + service_scv) / 2`` (Allen-Cunneen, an approximation) when those
        differ from 1, or Erlang A with ``mean_patience``.
    max_abandon_prob : float or array_like, optional
        ``P(an arrival abandons) <= max_abandon_prob``: Erlang A; needs
        ``mean_patience`` and ``mean_service_time``.
    mean_service_time : float or array_like, optional
        Mean service time (seconds), for time-based targets and Erlang A.
    mean_patience : float or array_like, optional
        Mean exponential patience (seconds); switches waiting targets to Erlang A.
    waiting_room : int or array_like of int, optional
        Places to wait beyond the servers, for ``max_blocking`` only.
    arrival_scv, service_scv : float or array_like, default 1.0
        Squared coefficients of variation, for ``max_mean_wait`` only.

    Returns
    -------
    Staffing
        ``servers`` (int64), ``achieved`` (the measure at that count), ``target`` and
        ``model``. Arrays take the broadcast shape of the arguments; scalars stay scalar.

    Raises
    ------
    ValueError
        No target or more than one; a missing ``mean_service_time`` or
        ``mean_patience``; an option that does not apply to the target; a bad value
        (named in the message).

    Notes
    -----
    The count is exact: one server fewer misses the target (checked by the tests).
    It is at least 1, and for waiting targets without abandonment it is always above
    the load (a stable queue), whatever the target. Poisson arrivals and exponential
    service are assumed, as in the formula named in ``model``.

    Examples
    --------
    >>> from capplan.queueing import servers_for
    >>> s = servers_for(100.0, max_wait_prob=0.2)
    >>> int(s.servers), round(float(s.achieved), 4)
    (111, 0.1998)
    >>> servers_for([5.0, 50.0], max_blocking=0.01).servers
    array([11, 64])
    >>> s = servers_for(50.0, service_level=(20.0, 0.8), mean_service_time=180.0)
    >>> int(s.servers), s.model
    (56, 'M/M/c (Erlang C)')
    """
    target, value = _one_target(
        dict(
            max_wait_prob=max_wait_prob,
            max_blocking=max_blocking,
            service_level=service_level,
            max_mean_wait=max_mean_wait,
            max_abandon_prob=max_abandon_prob,
        )
    )
    a = as_float(load, "load")
    if target in ("service_level", "max_mean_wait") and mean_service_time is None:
        raise ValueError(f"{target} needs mean_service_time (seconds); got None")
    if mean_patience is not None and mean_service_time is None:
        raise ValueError("mean_patience (Erlang A) needs mean_service_time (seconds); got None")
    if target == "max_abandon_prob" and mean_patience is None:
        raise ValueError("max_abandon_prob needs mean_patience (seconds); got None")
    if target == "max_blocking" and mean_patience is not None:
        raise ValueError("mean_patience does not apply to max_blocking; pass None")
    if waiting_room is not None and target != "max_blocking":
        raise ValueError(f"waiting_room applies to max_blocking only, not {target}")
    scv_given = np.any(np.asarray(arrival_scv) != 1) or np.any(np.asarray(service_scv) != 1)
    if scv_given and (target != "max_mean_wait" or mean_patience is not None):
        raise ValueError(
            "arrival_scv and service_scv apply to max_mean_wait without mean_patience only"
        )
    if target == "service_level":
        try:
            t_raw, x_raw = value
        except (TypeError, ValueError) as exc:
            raise ValueError(
                "service_level must be a pair (t_seconds, fraction) meaning "
                f"P(wait <= t) >= fraction; got {value!r}"
            ) from exc
        limits = [
            as_float(t_raw, "service_level t (seconds)"),
            as_probability(x_raw, "service_level fraction"),
        ]
    elif target == "max_mean_wait":
        limits = [as_float(value, "max_mean_wait (seconds)", positive=True)]
    else:
        limits = [as_probability(value, target)]
    tau = (
        np.asarray(1.0)
        if mean_service_time is None
        else as_float(mean_service_time, "mean_service_time", positive=True)
    )
    patience = (
        None if mean_patience is None else as_float(mean_patience, "mean_patience", positive=True)
    )
    room = None if waiting_room is None else as_count(waiting_room, "waiting_room")
    ca2 = as_float(arrival_scv, "arrival_scv")
    cs2 = as_float(service_scv, "service_scv")

    given = [a, tau, ca2, cs2, *limits] + [p for p in (patience, room) if p is not None]
    shape = np.broadcast_shapes(*(p.shape for p in given))

    def flat(arr):
        return None if arr is None else np.broadcast_to(arr, shape).ravel()

    a_f = flat(a)
    limit = tuple(flat(v) for v in limits) if target == "service_level" else flat(limits[0])
    evaluate, c_min, start, model = _model(
        target, limit, a_f, flat(tau), flat(patience), flat(room), flat(ca2), flat(cs2)
    )
    if c_min is None:  # waiting without abandonment: only c > a is stable
        c_min = np.floor(a_f).astype(np.int64) + 1
    c_min = np.broadcast_to(np.asarray(c_min, dtype=np.int64), a_f.shape)
    guess = np.maximum(c_min, np.ceil(start)).astype(np.int64)
    step = np.maximum(1, np.ceil(0.5 * np.sqrt(a_f))).astype(np.int64)
    servers, achieved = _search(evaluate, c_min, guess, step)
    return Staffing(
        servers=scalar_or_array(servers.reshape(shape)),
        achieved=scalar_or_array(np.asarray(achieved, dtype=float).reshape(shape)),
        target=target,
        model=model,
    )
