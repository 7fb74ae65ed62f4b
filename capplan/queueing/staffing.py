"""Least server count meeting a service target, for one load or whole arrays at once.

Start from square-root staffing ``c ~ a + beta sqrt(a)`` (or a fluid estimate when
customers abandon), then evaluate the pair ``(c, c + 1)``: a pair that straddles the
target ends the search, otherwise a Newton step on the log of the measure moves it,
with galloping and integer bisection as the fallback. The whole search for one load is
compiled (``_kernels.servers_for``), and an array of loads runs it load by load in
compiled code: a day of per-second loads costs well under a second, one load a few
microseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _compiled
from ._validate import (
    ZERO_INT64,
    as_count,
    as_float,
    as_probability,
    record,
    scalar_count,
    scalar_float,
    scalar_or_array,
    scalar_probability,
)

_TARGETS = ("max_wait_prob", "max_blocking", "service_level", "max_mean_wait", "max_abandon_prob")
# (target, with mean_patience, with waiting_room) -> (the kernel's code, model name)
_MODELS = {
    ("max_blocking", False, False): ("BLOCKING_B", "M/M/c/c (Erlang B)"),
    ("max_blocking", False, True): ("BLOCKING_K", "M/M/c/K"),
    ("max_abandon_prob", True, False): ("ABANDON_A", "M/M/c+M (Erlang A)"),
    ("max_wait_prob", True, False): ("WAIT_A", "M/M/c+M (Erlang A)"),
    ("max_wait_prob", False, False): ("WAIT_C", "M/M/c (Erlang C)"),
    ("service_level", True, False): ("LEVEL_A", "M/M/c+M (Erlang A)"),
    ("service_level", False, False): ("LEVEL_C", "M/M/c (Erlang C)"),
    ("max_mean_wait", True, False): ("MEAN_WAIT_A", "M/M/c+M (Erlang A)"),
    ("max_mean_wait", False, False): ("MEAN_WAIT_C", "M/M/c (Erlang C)"),
}
# ((which of _TARGETS are given), with mean_patience, with waiting_room) ->
# (index of the target, code, model): the valid requests, looked up in one step.
_PLANS = {
    (tuple(t == name for t in _TARGETS), patience, room): (_TARGETS.index(name), code, model)
    for (name, patience, room), (code, model) in _MODELS.items()
}
_ALLEN_CUNNEEN = "G/G/c (Allen-Cunneen)"  # max_mean_wait with SCVs other than 1
_NOT_CONVERGED = "servers_for: the search did not converge; please report this"


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


def _one_target(*values) -> tuple[str, object]:
    """The one target given among ``_TARGETS`` (values in that order), or ValueError."""
    chosen = [name for name, v in zip(_TARGETS, values, strict=True) if v is not None]
    if len(chosen) != 1:
        raise ValueError(
            f"servers_for needs exactly one target among {', '.join(_TARGETS)}; "
            f"got {', '.join(chosen) if chosen else 'none'}"
        )
    return chosen[0], values[_TARGETS.index(chosen[0])]


def _scalar_problem(code, value, load, tau, patience, room, arrival_scv, service_scv):
    """The search's arguments ``(a, tau, patience, room, limit, t, factor)`` when every
    input is one valid number and the options fit the model ``code`` (from ``_MODELS``);
    else None, and the array path checks everything and raises its message."""
    a = scalar_float(load)
    if a is None:
        return None
    if tau is None:
        if code not in ("BLOCKING_B", "BLOCKING_K", "WAIT_C"):
            return None  # time targets and Erlang A need mean_service_time
        tau = 1.0
    elif (tau := scalar_float(tau, True)) is None:
        return None
    if patience is None:
        patience = 1.0
    elif (patience := scalar_float(patience, True)) is None:
        return None
    if room is None:
        room = 0
    elif (room := scalar_count(room)) is None:
        return None
    if type(arrival_scv) is float and type(service_scv) is float and arrival_scv == 1.0:
        factor = 1.0 if service_scv == 1.0 else None
    else:
        factor = None
    if factor is None:  # SCVs other than the default 1.0 and 1.0
        ca2, cs2 = scalar_float(arrival_scv), scalar_float(service_scv)
        if ca2 is None or cs2 is None or (code != "MEAN_WAIT_C" and (ca2 != 1 or cs2 != 1)):
            return None
        factor = (ca2 + cs2) / 2.0
    t = 0.0
    if code in ("LEVEL_C", "LEVEL_A"):
        if type(value) not in (tuple, list) or len(value) != 2:
            return None
        t, limit = scalar_float(value[0]), scalar_probability(value[1])
        if t is None:
            return None
    elif code in ("MEAN_WAIT_C", "MEAN_WAIT_A"):
        limit = scalar_float(value, True)
    else:
        limit = scalar_probability(value)
    if limit is None:
        return None
    return a, tau, patience, room, limit, t, factor


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
    values = (max_wait_prob, max_blocking, service_level, max_mean_wait, max_abandon_prob)
    plan = _PLANS.get(
        (
            (
                max_wait_prob is not None,
                max_blocking is not None,
                service_level is not None,
                max_mean_wait is not None,
                max_abandon_prob is not None,
            ),
            mean_patience is not None,
            waiting_room is not None,
        )
    )  # None: not one target, or options that do not fit it (reported below)
    if plan is not None:
        index, code, model = plan
        args = _scalar_problem(
            code,
            values[index],
            load,
            mean_service_time,
            mean_patience,
            waiting_room,
            arrival_scv,
            service_scv,
        )
        if args is not None:
            kernels = _compiled.kernels or _compiled.load()
            servers, achieved = kernels.servers_for(getattr(kernels, code), *args)
            if servers < 0:
                raise RuntimeError(_NOT_CONVERGED)
            if code == "MEAN_WAIT_C" and args[-1] != 1:
                model = _ALLEN_CUNNEEN
            return record(
                Staffing,
                {
                    "servers": ZERO_INT64 + servers,
                    "achieved": np.float64(achieved),
                    "target": _TARGETS[index],
                    "model": model,
                },
            )
    target, value = _one_target(*values)
    code, model = _MODELS.get(
        (target, mean_patience is not None, waiting_room is not None), (None, None)
    )  # None: the options do not fit the target, which the checks below report
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

    def flat(arr, fill=None):
        arr = np.asarray(fill if arr is None else arr)
        return np.array(np.broadcast_to(arr, shape), order="C").reshape(-1)

    t, limit = limits if target == "service_level" else (None, limits[0])
    factor = flat((ca2 + cs2) / 2.0)
    if code == "MEAN_WAIT_C" and np.any(factor != 1):
        model = _ALLEN_CUNNEEN
    servers = np.empty(factor.size, dtype=np.int64)
    achieved = np.empty(factor.size)
    kernels = _compiled.kernels or _compiled.load()
    kernels.servers_for_many(
        getattr(kernels, code),
        flat(a),
        flat(tau),
        flat(patience, 1.0),
        flat(room, np.int64(0)),
        flat(limit),
        flat(t, 0.0),
        factor,
        servers,
        achieved,
    )
    if np.any(servers < 0):
        raise RuntimeError(_NOT_CONVERGED)
    return Staffing(
        servers=scalar_or_array(servers.reshape(shape)),
        achieved=scalar_or_array(np.asarray(achieved, dtype=float).reshape(shape)),
        target=target,
        model=model,
    )
