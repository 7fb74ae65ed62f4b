"""Simulate the per-second joins, leaves and concurrency of one event.

The steps, each vectorised over seconds or over listeners:

1. expected first-try arrivals per second (lobby, flood, trickle, background),
   integrated exactly over each second;
2. over-dispersed counts: ``Poisson(mu G)`` with ``G ~ Gamma(1/alpha, alpha)``, so a
   second's count has variance ``mu + alpha mu**2``;
3. the join path: with a capacity, a loop over the seconds in overload (and
   while retries are pending) decides which attempts succeed and schedules
   retries; without one, every attempt succeeds;
4. one session per successful join, drawn per listener in chunks, and the
   leave seconds counted with ``numpy.bincount``.

The simulation starts ``burn_in_s`` before the window from the exact
stationary state of the background (an M/G/∞ queue: Poisson(λ E[S])
listeners with equilibrium residual lifetimes), so the background is
stationary when the window opens and lobby arrivals made before the window
are still connected in it.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd

from capplan.synth.params import EventParams

COLUMNS = ("timestamp", "joins", "leaves", "concurrent", "join_errors", "requests")
_CHUNK = 1 << 22  # listeners per block of session draws (~200 MB of temporaries at most)


def simulate_event(
    params: EventParams,
    scheduled_start,
    *,
    interval_s: int = 1,
    before_s: int = 3600,
    after_s: int = 1800,
    burn_in_s: int = 7200,
    seed=None,
) -> pd.DataFrame:
    """Simulate the measured series of one event.

    Parameters
    ----------
    params : EventParams
        The event's generating parameters.
    scheduled_start : timestamp-like, timezone-aware
        Announced start; converted to UTC. Naive timestamps are refused.
    interval_s : int, default 1
        Length of a row (s). The simulation runs per second; counts are
        summed over an interval and ``concurrent`` is its last second's.
    before_s : int, default 3600
        The window opens this long before the scheduled start (s).
    after_s : int, default 1800
        The window closes this long after the end, actual start +
        ``params.duration_s`` (s); rounded up to a whole interval.
    burn_in_s : int, default 7200
        Seconds simulated before the window and then dropped (s).
    seed : int, numpy.random.SeedSequence, numpy.random.Generator or None
        Randomness; the same seed gives the same frame.

    Returns
    -------
    pandas.DataFrame
        One row per interval: ``timestamp`` (interval start, UTC),
        ``joins``, ``leaves``, ``concurrent`` (listeners connected at the end
        of the interval), ``join_errors`` (failed attempts), ``requests``
        (all join attempts, retries included: ``joins + join_errors``), as
        int64. ``concurrent`` differences equal ``joins - leaves`` exactly.

    Examples
    --------
    >>> p = EventParams(audience=2_000, duration_s=600, background_rate_per_s=0.1)
    >>> s = simulate_event(p, "2026-03-01 18:00Z", before_s=600, after_s=300, seed=1)
    >>> list(s.columns)
    ['timestamp', 'joins', 'leaves', 'concurrent', 'join_errors', 'requests']
    >>> bool((s.concurrent.diff().iloc[1:] == (s.joins - s.leaves).iloc[1:]).all())
    True
    """
    if not isinstance(params, EventParams):
        raise TypeError(f"params must be an EventParams, not {type(params).__name__}")
    interval_s = _whole_seconds("interval_s", interval_s, minimum=1)
    before_s = _whole_seconds("before_s", before_s)
    after_s = _whole_seconds("after_s", after_s)
    burn_in_s = _whole_seconds("burn_in_s", burn_in_s)
    start = utc_timestamp(scheduled_start, "scheduled_start")
    rng = np.random.default_rng(seed)

    # The grid: whole seconds relative to the scheduled start, burn-in first.
    window_s = before_s + params.start_delay_s + params.duration_s + after_s
    n_rows = math.ceil(window_s / interval_s)
    first_s = -before_s - burn_in_s
    n_s = burn_in_s + n_rows * interval_s
    edges = np.arange(first_s, first_s + n_s + 1, dtype=np.float64)

    mean_event, mean_background = expected_arrivals(params, edges)
    first_event, first_background = _overdispersed_counts(
        mean_event, mean_background, params.overdispersion_alpha, rng
    )
    joins_event, joins_background, errors = _join_path(first_event, first_background, params, rng)
    n_initial, leaves = _leaves(joins_event, joins_background, params, first_s, rng)

    joins = joins_event + joins_background
    concurrent = n_initial + np.cumsum(joins - leaves)
    cut = slice(burn_in_s, None)
    joins, leaves, errors, concurrent = joins[cut], leaves[cut], errors[cut], concurrent[cut]
    if interval_s > 1:
        joins, leaves, errors = (
            x.reshape(n_rows, interval_s).sum(axis=1) for x in (joins, leaves, errors)
        )
        concurrent = concurrent[interval_s - 1 :: interval_s]
    offsets = -before_s + interval_s * np.arange(n_rows, dtype=np.int64)
    timestamps = (start + pd.to_timedelta(offsets, unit="s")).as_unit("us")
    return pd.DataFrame(
        {
            "timestamp": timestamps,
            "joins": joins.astype(np.int64),
            "leaves": leaves.astype(np.int64),
            "concurrent": concurrent.astype(np.int64),
            "join_errors": errors.astype(np.int64),
            "requests": (joins + errors).astype(np.int64),
        }
    )


def expected_arrivals(params: EventParams, edges_s) -> tuple[np.ndarray, np.ndarray]:
    """Expected first-try arrivals between consecutive time edges.

    Parameters
    ----------
    params : EventParams
    edges_s : array of float
        Increasing times relative to the scheduled start (s). The lobby's
        ``lobby_share * audience`` arrivals are placed between ``edges_s[0]``
        and the scheduled start, so ``edges_s[0]`` should lie several
        ``lobby_scale_s`` before it; the flood and trickle fall inside the
        event, between the actual start and the end.

    Returns
    -------
    event, background : numpy.ndarray
        Expected event-caused and background arrivals in each interval
        (counts, length ``len(edges_s) - 1``).

    Examples
    --------
    >>> p = EventParams(audience=1_000, duration_s=3_000, background_rate_per_s=0)
    >>> event, background = expected_arrivals(p, np.arange(-7_200.0, 3_601.0))
    >>> round(float(event.sum()), 6)
    1000.0
    """
    edges = np.asarray(edges_s, dtype=np.float64)
    if edges.ndim != 1 or len(edges) < 2 or np.any(np.diff(edges) <= 0):
        raise ValueError("edges_s must be a 1-d increasing array of at least two times (s)")
    p = params
    delay = p.start_delay_s
    lobby = p.audience * p.lobby_share
    flood = p.audience * p.flood_share
    late = p.audience * p.late_share

    # Lobby before the scheduled start: rate peak * exp(t / L), normalised on [edges[0], 0].
    scale = p.lobby_scale_s
    norm = scale * -math.expm1(min(edges[0], 0.0) / scale)
    peak_rate = lobby / norm if norm > 0 else 0.0
    if norm == 0:
        flood += lobby  # no time before the start for a lobby: those listeners join in the flood
    before = np.minimum(edges, 0.0)
    event = peak_rate * scale * np.diff(np.exp(before / scale))

    # A late event: arrivals go on at the rate reached, decaying; taken from the flood.
    if delay > 0 and peak_rate > 0:
        waiting = np.clip(edges, 0.0, delay)
        in_delay = peak_rate * scale * -np.diff(np.exp(-waiting / scale))
        planned = peak_rate * scale * -math.expm1(-delay / scale)
        if planned > 0:
            taken = min(planned, flood)
            event += in_delay * (taken / planned)
            flood -= taken

    # Flood from the actual start: difference of exponentials, truncated at the end.
    rise, decay = p.flood_rise_s, p.flood_decay_s
    u = np.clip(edges - delay, 0.0, p.duration_s)

    def cdf(x):
        return (decay * -np.expm1(-x / decay) - rise * -np.expm1(-x / rise)) / (decay - rise)

    event += flood * np.diff(cdf(u)) / cdf(p.duration_s)
    # Trickle of late joiners, constant over the event.
    event += late * np.diff(u) / p.duration_s
    background = p.background_rate_per_s * np.diff(edges)
    return event, background


def _overdispersed_counts(mean_event, mean_background, alpha, rng):
    total = mean_event + mean_background
    # Below 1e-12 the gamma factor's spread (sqrt(alpha)) is nil and its shape overflows.
    if alpha > 1e-12:
        total = total * rng.gamma(1.0 / alpha, alpha, size=total.shape)
    counts = rng.poisson(total)
    mean_total = mean_event + mean_background
    share = np.divide(mean_event, mean_total, out=np.zeros_like(mean_total), where=mean_total > 0)
    event = rng.binomial(counts, share)
    return event.astype(np.int64), (counts - event).astype(np.int64)


def _join_path(first_event, first_background, params: EventParams, rng):
    """Successful joins (event, background) and failed attempts per second.

    Clients waiting to retry sit in one pool per (kind, try number); an
    exponential back-off rounded up to whole seconds is geometric, so each
    second a waiting client makes its next try with a fixed probability:
    the pools are memoryless and each second costs a few vector draws.
    """
    n = len(first_event)
    errors = np.zeros(n, dtype=np.int64)
    if params.join_capacity_per_s is None:
        return first_event, first_background, errors
    capacity = int(params.join_capacity_per_s)
    tries = params.max_tries
    joins_event, joins_background = first_event.copy(), first_background.copy()
    means = params.retry_backoff_s * 2.0 ** np.arange(tries - 1)
    release = -np.expm1(-1.0 / means)  # P(a waiting client tries again this second)
    pools = np.zeros((2, tries - 1), dtype=np.int64)  # pools[kind, j]: waiting for try j + 2
    overloaded = np.flatnonzero(first_event + first_background > capacity)
    t = 0
    while t < n:
        if not pools.any():  # nothing pending: skip to the next overloaded second
            i = np.searchsorted(overloaded, t)
            if i == len(overloaded):
                break
            t = int(overloaded[i])
        released = rng.binomial(pools, release)
        pools -= released
        attempts = np.concatenate(([[first_event[t]], [first_background[t]]], released), axis=1)
        if attempts.sum() <= capacity:
            admitted = attempts
        else:
            admitted = rng.multivariate_hypergeometric(
                attempts.ravel(), capacity, method="marginals"
            ).reshape(attempts.shape)
        failed = attempts - admitted
        joins_event[t], joins_background[t] = admitted.sum(axis=1)
        errors[t] = failed.sum()
        if tries > 1:
            pools += rng.binomial(failed[:, :-1], params.retry_probability)
        t += 1
    return joins_event, joins_background, errors


def _leaves(joins_event, joins_background, params: EventParams, first_s, rng):
    """Listeners connected at the grid start, and leaves per grid second."""
    p = params
    n = len(joins_event)
    leaves = np.zeros(n, dtype=np.int64)
    mu, sigma = math.log(p.session_median_s), p.session_sigma

    def count(leave_time):
        index = np.floor(leave_time - first_s).astype(np.int64)
        leaves[:] += np.bincount(index[index < n], minlength=n)

    # The background's stationary state at the grid start: Poisson(λ E[S]) listeners,
    # each with an equilibrium residual life U * S', S' length-biased (log-normal, μ + σ²).
    n_initial = int(rng.poisson(p.background_rate_per_s * p.session_mean_s))
    residual = rng.random(n_initial) * rng.lognormal(mu + sigma**2, sigma, n_initial)
    count(first_s + residual)

    delay, end = p.start_delay_s, p.start_delay_s + p.duration_s
    for kind, joins in (("background", joins_background), ("event", joins_event)):
        for seconds, counts in _chunks(joins):
            second = np.repeat(seconds, counts)
            joined = first_s + second + rng.random(len(second))
            if kind == "background":
                count(joined + rng.lognormal(mu, sigma, len(joined)))
                continue
            # Event listeners wait for the actual start; the session clock starts then.
            leave = np.maximum(joined, delay) + rng.lognormal(mu, sigma, len(joined))
            if delay > 0:
                waiting = np.flatnonzero(joined < delay)
                give_up = np.maximum(joined[waiting], 0.0) + rng.exponential(
                    p.lobby_patience_s, len(waiting)
                )
                gone = give_up < delay
                leave[waiting[gone]] = give_up[gone]
            # The exodus: whoever is still there at the end leaves over a few minutes.
            exodus_from = np.maximum(joined, end)
            staying = np.flatnonzero(leave > exodus_from)
            leave[staying] = np.minimum(
                leave[staying],
                exodus_from[staying] + rng.exponential(p.exodus_s, len(staying)),
            )
            count(leave)
    return n_initial, leaves


def _chunks(counts):
    """Blocks of consecutive seconds holding about `_CHUNK` listeners each."""
    total = np.cumsum(counts)
    if len(total) == 0 or total[-1] == 0:
        return
    cuts = np.searchsorted(total, np.arange(_CHUNK, total[-1], _CHUNK), side="right")
    bounds = np.unique(np.concatenate(([0], cuts, [len(counts)])))
    for lo, hi in itertools.pairwise(bounds):
        if total[hi - 1] - (total[lo - 1] if lo else 0) > 0:
            yield np.arange(lo, hi), counts[lo:hi]


def utc_timestamp(value, name: str) -> pd.Timestamp:
    """`value` as a UTC pandas Timestamp; naive times are refused."""
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be a timestamp, got {value!r}: {error}") from None
    if stamp is pd.NaT:
        raise ValueError(f"{name} must be a timestamp, got {value!r}")
    if stamp.tzinfo is None:
        raise ValueError(
            f"{name} must be timezone-aware, got {value!r}; add the zone, e.g. "
            f"pd.Timestamp({str(stamp)!r}, tz='UTC')"
        )
    return stamp.tz_convert("UTC")


def _whole_seconds(name: str, value, minimum: int = 0) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, np.integer, float))
        or not float(value).is_integer()
        or value < minimum
    ):
        raise ValueError(f"{name} must be a whole number of seconds >= {minimum}, got {value!r}")
    return int(value)
