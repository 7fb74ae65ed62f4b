"""``simulate``: the join path as a time-varying multi-server FCFS queue with a
finite waiting room, client timeouts and retries."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from capplan.simulation import budget, engine
from capplan.simulation._jit import HAVE_NUMBA
from capplan.simulation._validate import check_int, check_number, check_series, streams
from capplan.simulation.arrivals import RATE_SHAPES, FirstTries
from capplan.simulation.policies import NoRetry, RetryPolicy
from capplan.simulation.result import SimulationResult
from capplan.simulation.service import (
    Deterministic,
    Distribution,
    Exponential,
    as_distribution,
)
from capplan.warnings import SlowSimulationWarning

__all__ = ["SimulationSpec", "simulate"]

ON_TIMEOUT = ("serve", "drop")
MAX_INTERVALS = 2_000_000  # rows of the per-interval table (about 150 bytes each)
# A run's budget, unless told otherwise: attempts simulated (one core simulates 5 to 20
# million a second, so a few minutes at most; the headline plan's attack as is takes a
# third of it) and memory for the requests in the system.
MAX_ATTEMPTS = 1e9
MAX_MEMORY_GB = 4.0


@dataclass(frozen=True)
class SimulationSpec:
    """A validated scenario: everything :func:`simulate` runs, but the seed.

    Arrays are per interval and read-only. Build it with :func:`simulate`
    (which keeps it as ``result.spec``) or directly with the same arguments
    through :meth:`SimulationSpec.build`.
    """

    first_tries: FirstTries
    servers: np.ndarray
    service_time: Distribution
    duration: float
    interval: float
    buffer: int | np.ndarray | None
    timeout: Distribution | None
    on_timeout: str
    retry: RetryPolicy
    warmup: float
    starts: np.ndarray = field(repr=False)
    lengths: np.ndarray = field(repr=False)
    attack_rate: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(1))
    max_attempts: float = MAX_ATTEMPTS
    max_memory_gb: float = MAX_MEMORY_GB

    @property
    def n_intervals(self) -> int:
        return int(self.servers.size)

    @property
    def warmup_intervals(self) -> int:
        """Intervals left out of the run's totals (the warm-up, rounded up)."""
        return int(np.searchsorted(self.starts, self.warmup - 1e-9 * self.interval))

    @classmethod
    def build(
        cls,
        arrival_rate=None,
        service_time=None,
        servers=None,
        duration=None,
        *,
        interval=1.0,
        arrival_counts=None,
        rate_shape="step",
        buffer=None,
        timeout=None,
        on_timeout="serve",
        retry=None,
        warmup=0.0,
        attack_rate=0.0,
        max_attempts=MAX_ATTEMPTS,
        max_memory_gb=MAX_MEMORY_GB,
    ) -> SimulationSpec:
        """Validate :func:`simulate`'s arguments (see there) into a spec."""
        interval = check_number("interval", interval, strict=True)
        if (arrival_rate is None) == (arrival_counts is None):
            raise ValueError(
                "give exactly one of arrival_rate (first tries per second) and "
                "arrival_counts (first tries per interval); got "
                + ("both" if arrival_rate is not None else "neither")
            )
        if service_time is None:
            raise ValueError("service_time is required: a mean in seconds or a distribution")
        if servers is None:
            raise ValueError("servers is required: a number of servers or one per interval")
        if rate_shape not in RATE_SHAPES:
            raise ValueError(f"rate_shape must be one of {RATE_SHAPES}; got {rate_shape!r}")
        if rate_shape == "linear" and arrival_counts is not None:
            raise ValueError("rate_shape='linear' applies to arrival_rate, not arrival_counts")
        if on_timeout not in ON_TIMEOUT:
            raise ValueError(f"on_timeout must be one of {ON_TIMEOUT}; got {on_timeout!r}")

        arrival_name = "arrival_rate" if arrival_counts is None else "arrival_counts"
        arrival_raw = arrival_rate if arrival_counts is None else arrival_counts
        arrivals = check_series(arrival_name, arrival_raw, integer=arrival_counts is not None)
        server_arr = check_series("servers", servers, integer=True)
        attack_arr = check_series("attack_rate", attack_rate)
        buffer_arr = None if buffer is None else check_series("buffer", buffer, integer=True)

        # Per-interval arrays fix the number of intervals; they must agree.
        given = {
            name: arr.size
            for name, raw, arr in (
                (arrival_name, arrival_raw, arrivals),
                ("servers", servers, server_arr),
                ("attack_rate", attack_rate, attack_arr),
                ("buffer", buffer, buffer_arr),
            )
            if np.ndim(raw) > 0
        }
        if len(set(given.values())) > 1:
            listed = ", ".join(f"{k} has {v}" for k, v in given.items())
            raise ValueError(
                f"per-interval arrays must have one value per interval, the same length: {listed}"
            )
        if given:
            n_int = next(iter(given.values()))
            if duration is None:
                duration = n_int * interval
            duration = check_number("duration", duration, strict=True)
            if not (n_int - 1) * interval < duration <= n_int * interval * (1 + 1e-12):
                raise ValueError(
                    f"duration ({duration:g} s) does not match the {n_int} intervals of "
                    f"{interval:g} s given by {', '.join(given)}; leave duration out or give "
                    f"a value in ({(n_int - 1) * interval:g}, {n_int * interval:g}] s"
                )
        else:
            if duration is None:
                raise ValueError("duration (s) is required when no per-interval array is given")
            duration = check_number("duration", duration, strict=True)
            n_int = max(1, math.ceil(duration / interval - 1e-9))
        if n_int > MAX_INTERVALS:
            raise ValueError(
                f"duration / interval gives {n_int:,} intervals, more than {MAX_INTERVALS:,} "
                "rows of statistics; pass a longer interval (s)"
            )
        starts = np.arange(n_int) * interval
        lengths = np.minimum(starts + interval, duration) - starts

        if arrival_counts is not None:
            first = FirstTries.from_counts(arrivals, n_int)
        else:
            first = FirstTries.from_rates(arrivals, n_int, rate_shape)
        server_arr = np.broadcast_to(server_arr, (n_int,)).copy()
        if first.any_arrivals() and not server_arr.any():
            raise ValueError(
                f"servers is 0 in every interval but {arrival_name} brings first tries: "
                "nobody could be served; give at least one server"
            )

        service = as_distribution(service_time, "service_time", Exponential)
        patience = None if timeout is None else as_distribution(timeout, "timeout", Deterministic)
        if buffer_arr is not None and np.ndim(buffer) == 0:
            buffer = check_int("buffer", buffer)
        elif buffer_arr is not None:
            buffer = buffer_arr
        attack_arr = np.broadcast_to(attack_arr, (n_int,)).copy()
        if rate_shape == "linear" and attack_arr.any():
            raise ValueError("attack_rate applies to rate_shape='step' or to arrival_counts")
        max_attempts = check_number("max_attempts", max_attempts, strict=True)
        max_memory_gb = check_number("max_memory_gb", max_memory_gb, strict=True)
        if retry is None:
            retry = NoRetry()
        if not isinstance(retry, RetryPolicy):
            raise ValueError(
                "retry must be a RetryPolicy such as ExponentialBackoff(...) or None; "
                f"got {type(retry).__name__}"
            )
        warmup = check_number("warmup", warmup)
        if warmup >= duration:
            raise ValueError(
                f"warmup ({warmup:g} s) must be shorter than duration ({duration:g} s)"
            )

        for arr in (first.rates, first.counts, server_arr, starts, lengths, attack_arr):
            arr.flags.writeable = False
        if isinstance(buffer, np.ndarray):
            buffer.flags.writeable = False
        spec = cls(
            first_tries=first,
            servers=server_arr,
            service_time=service,
            duration=duration,
            interval=interval,
            buffer=buffer,
            timeout=patience,
            on_timeout=on_timeout,
            retry=retry,
            warmup=warmup,
            starts=starts,
            lengths=lengths,
            attack_rate=attack_arr,
            max_attempts=max_attempts,
            max_memory_gb=max_memory_gb,
        )
        budget.check_before(spec)
        return spec

    @property
    def buffers(self) -> np.ndarray:
        """The most requests waiting in each interval; -1 where there is no limit."""
        if self.buffer is None:
            return np.full(self.n_intervals, -1, np.int64)
        return np.broadcast_to(np.asarray(self.buffer, np.int64), (self.n_intervals,))

    def run(self, seed: int | np.random.Generator | None = None) -> SimulationResult:
        """Simulate this scenario once; see :func:`simulate`."""
        return self._run(seed)

    def _run(self, seed, timeout_fifo=True, bulk_release=True, at_once=True):
        """:meth:`run`, for tests: ``timeout_fifo=False`` sends a fixed timeout's checks
        through the event heap, as a timeout distribution's; ``bulk_release=False`` hands
        out workers done by now from their heap one at a time, however many there are;
        ``at_once=False`` sends first tries that start at once through the general loop.
        The same results either way (but for which busy workers go when workers are
        removed, an arbitrary choice)."""
        if not HAVE_NUMBA:
            warnings.warn(SlowSimulationWarning(), stacklevel=4)
        # Streams 5 and 6 (attack marks and counts) leave the first four as they were.
        rng_arrival, rng_service, rng_patience, rng_retry, rng_mark, rng_attack = streams(seed, 6)
        n = self.n_intervals
        first = self.first_tries
        rates, counts, one_shot = first.rates, first.counts, np.zeros(n)
        if self.attack_rate.any():  # step rates or counts (build refuses linear rates)
            if first.mode == engine.ARR_COUNTS:
                clients, attack = first.counts, rng_attack.poisson(self.attack_rate * self.lengths)
                counts = clients + attack
            else:
                clients, attack = first.rates, self.attack_rate
                rates = clients + attack
            total = clients + attack
            one_shot = np.divide(attack, total, out=np.zeros(n), where=total > 0)
        out_i = np.zeros((n, engine.N_INT_COLUMNS), np.int64)
        out_f = np.zeros((n, engine.N_FLOAT_COLUMNS), np.float64)
        hist_total = np.zeros(engine.N_BINS, np.int64)
        svc = self.service_time._code()
        pat = (
            (engine.D_NONE, 0.0, 0.0, np.zeros(1)) if self.timeout is None else self.timeout._code()
        )
        r = self.retry
        bkind, bbase, bmult, bmax, jitter = r._backoff_code()
        shared = r.budget
        pending, ring_cap, heap_cap, line_max, stopped, reached, attempts = engine.run(
            rng_arrival,
            rng_service,
            rng_patience,
            rng_retry,
            rng_mark,
            float(self.duration),
            float(self.interval),
            n,
            first.mode,
            _writeable(rates, dtype=np.float64),
            _writeable(counts, dtype=np.int64),
            _writeable(one_shot, dtype=np.float64),
            _writeable(self.servers, dtype=np.int64),
            _writeable(self.buffers, dtype=np.int64),
            svc[0],
            float(svc[1]),
            float(svc[2]),
            _writeable(svc[3], dtype=np.float64),
            pat[0],
            float(pat[1]),
            float(pat[2]),
            _writeable(pat[3], dtype=np.float64),
            self.on_timeout == "drop",
            -1 if r.max_retries is None else int(r.max_retries),
            bkind,
            bbase,
            bmult,
            bmax,
            jitter,
            shared is not None,
            0.0 if shared is None else float(shared.ratio),
            1.0 if shared is None else float(shared.window),
            0.0 if shared is None else float(shared.min_per_s),
            self.warmup_intervals,
            bool(timeout_fifo),
            bool(bulk_release),
            bool(at_once),
            float(self.max_attempts),
            float(self.max_memory_gb * budget.GIB),
            out_i,
            out_f,
            hist_total,
        )
        if stopped:
            raise budget.stopped_error(self, stopped, reached, attempts)
        diagnostics = {
            "retries_scheduled_at_end": int(pending),
            "ring_capacity": int(ring_cap),
            "event_heap_capacity": int(heap_cap),
            "longest_line": int(line_max),
        }
        return SimulationResult(self, out_i, out_f, hist_total, diagnostics)


def _writeable(values, dtype):
    """A fresh writeable copy: numba compiles once per array type, and a read-only
    array is another type."""
    return np.array(values, dtype=dtype, copy=True, order="C")


def simulate(
    arrival_rate=None,
    service_time=None,
    servers=None,
    duration=None,
    *,
    interval: float = 1.0,
    arrival_counts=None,
    rate_shape: str = "step",
    buffer=None,
    timeout=None,
    on_timeout: str = "serve",
    retry: RetryPolicy | None = None,
    warmup: float = 0.0,
    attack_rate=0.0,
    max_attempts: float = MAX_ATTEMPTS,
    max_memory_gb: float = MAX_MEMORY_GB,
    seed: int | np.random.Generator | None = None,
) -> SimulationResult:
    """Simulate the join path: a FCFS queue on ``servers`` workers, request by request.

    First tries arrive as a Poisson process of rate ``arrival_rate`` (or as
    replayed ``arrival_counts``); each request needs one worker for a service
    time; a request that finds every worker busy waits in a line of at most
    ``buffer`` requests (refused when it is full); a client whose request is not
    answered within ``timeout`` gives up, and a refused or timed-out client
    retries as ``retry`` says. Statistics are streamed per interval; single
    requests are not kept, so memory stays bounded by the requests in the
    system, however long the run.

    Parameters
    ----------
    arrival_rate : float or array-like, optional
        First tries per second: one rate, or one per interval (piecewise
        constant, or linear between interval starts with
        ``rate_shape="linear"``). Give this or ``arrival_counts``.
    service_time : float or Distribution
        A mean service time (s), for exponential service; or a distribution
        such as ``Deterministic(0.05)``, ``LogNormal(mean=0.05, scv=2)``,
        ``Gamma``, ``Empirical(measured_times)``.
    servers : int or array-like of int
        Workers in each interval. Intervals with 0 workers (an outage) are
        allowed, but not 0 throughout when first tries arrive.
    duration : float, optional
        Length of the run (s), from time 0. Defaults to the number of
        intervals of the per-interval arrays times ``interval``; required
        when every argument is a single number.
    interval : float, default 1.0
        Length of one interval (s): the step of per-interval inputs and the row
        of the output table. The default of one second matches the measured
        series (joins per second) and resolves the first seconds of a flood.
        At most two million intervals: for long stationary runs pass a longer
        interval.
    arrival_counts : array-like of int, optional
        First tries per interval to replay (for example measured joins per
        second), each placed uniformly at random within its interval.
    rate_shape : {"step", "linear"}, default "step"
        How ``arrival_rate`` varies within an interval: constant, or linear
        from this interval's value to the next one's (sampled by thinning; the
        last interval keeps its value).
    buffer : int, array-like of int or None, default None
        Most requests waiting for a worker (not counting those in service); an
        arrival that finds it full is refused at once. One limit, or one per
        interval (a plan's limits follow its workers). None: unlimited;
        0: a loss system (Erlang B).
    timeout : float or Distribution or None, default None
        Client timeout (s): a number is a fixed timeout (what clients have),
        a distribution gives each request its own patience (``Exponential``
        for Erlang A). None: clients wait for ever.
    on_timeout : {"serve", "drop"}, default "serve"
        What becomes of a request whose client has timed out:

        - ``"serve"``: the request stays in the line and is still served,
          taking a worker for nothing (counted as ``wasted``). The client's
          timeout bounds the whole response (wait + service), since the
          client cannot see when service starts. This is the default because
          it is what most servers do (an HTTP server does not learn that the
          client has gone; nothing cancels the queued request), it is the
          pessimistic choice for planning, and it is the mechanism of
          metastable retry storms.
        - ``"drop"``: Erlang A abandonment. A request whose client times out
          while it waits leaves the line and takes no work; the timeout bounds
          the wait only, and a request that has started is finished and
          answered (as servers that check a propagated deadline when they
          take a request from the line do).
    retry : RetryPolicy or None, default None
        What a refused or timed-out client does: ``ImmediateRetry``,
        ``ExponentialBackoff`` (each with ``max_retries`` and an optional
        ``RetryBudget``). None: no retries. Retries count as arrivals.
    warmup : float, default 0.0
        Time (s) left out of the run's totals (``customers``, ``wait_prob``,
        ...), rounded up to whole intervals. The per-interval table keeps it.
    attack_rate : float or array-like, default 0.0
        Attack requests per second (one rate, or one per interval), a Poisson
        stream added to the first tries. They are served, refused and time out
        as a client's are, and are counted among the first tries, but never
        retry: an attacker sends new requests instead. With ``arrival_counts``
        their counts are drawn per interval. Not with ``rate_shape="linear"``.
    max_attempts : float, default 1e9
        The run's budget of attempts (first tries and retries; one core
        simulates 5 to 20 million a second). A run whose expected first tries
        pass it is refused before it starts; one whose retries carry it past
        (clients that retry without limit under overload: their attempts grow
        with the square of the time) stops with a ValueError saying when.
    max_memory_gb : float, default 4.0
        The run's budget of memory (GiB) for the workers and the requests in
        the system. A run estimated to need more is refused before it starts
        (an estimate of its longest line is in the message); one whose line
        grows past it (an unbounded buffer under a retry storm) stops with a
        ValueError.
    seed : int, numpy.random.Generator or None
        Randomness; the same seed gives the same result. First tries, service
        times, timeouts and back-off jitter use four streams derived from it,
        so two scenarios run with the same seed see the same first tries.

    Returns
    -------
    SimulationResult
        ``customers``, ``wait_prob``, ``mean_wait`` and the other totals after
        the warm-up; ``to_frame()``: one row per interval; ``summary()``;
        ``chart()``.

    Notes
    -----
    The queue is simulated exactly, request by request, in time order. The
    busy servers are a min-heap of the times they next become free (the
    Kiefer-Wolfowitz workload vector): the head of the line starts at the
    later of its arrival and the earliest free time, which is exact for FCFS.
    Starts are events processed in time order, so a change of the server
    count applies to every request that has not started. A fixed timeout is
    checked in arrival order, without a heap; see
    :mod:`capplan.simulation.engine` for the other exact shortcuts that make
    a run of a hundred million requests take seconds.

    The only approximation is what happens when workers are removed at an
    interval boundary: idle workers go first; a busy worker that is removed
    finishes the request in hand (a graceful drain) and then leaves; which
    busy workers go is arbitrary (the last ones in the busy workers' array).

    Counting: an attempt (first try or retry) that arrives is ``refused`` or
    ``admitted``; an admitted request ``starts`` service at once or after a
    wait; a started request is ``served`` (answered in time) or ``wasted``
    (its client had timed out or will before the answer comes, "serve" mode
    only); a client whose attempt is refused or times out (``abandoned``)
    retries, or ``failed`` when the policy or budget says no. Each count goes
    to the interval in which it happened. Requests still waiting at the end
    are in ``queue`` of the last row; their waits are not in the wait
    statistics.

    Examples
    --------
    >>> from capplan.simulation import simulate
    >>> r = simulate(arrival_rate=8.0, service_time=0.5, servers=5, duration=600, seed=1)
    >>> r.customers > 4000, 0 < r.wait_prob < 1
    (True, True)
    >>> r.to_frame().shape[0]  # one row per second
    600
    """
    spec = SimulationSpec.build(
        arrival_rate,
        service_time,
        servers,
        duration,
        interval=interval,
        arrival_counts=arrival_counts,
        rate_shape=rate_shape,
        buffer=buffer,
        timeout=timeout,
        on_timeout=on_timeout,
        retry=retry,
        warmup=warmup,
        attack_rate=attack_rate,
        max_attempts=max_attempts,
        max_memory_gb=max_memory_gb,
    )
    return spec.run(seed)
