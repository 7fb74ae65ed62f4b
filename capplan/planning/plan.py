"""``plan_event``: join-path workers, queue limits and stream servers per interval, with
every margin reported on its own line; ``EventPlan``, the result."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from capplan._text import table_text
from capplan.planning import methods as _methods
from capplan.planning import steps
from capplan.planning.inputs import (
    SLO,
    ArgumentError,
    ClientPolicy,
    JoinService,
    Margins,
    QueuePolicy,
    check_capacity,
    check_sessions,
    plan_arguments,
    with_headroom,
)

__all__ = ["EventPlan", "plan_event"]


def _sessions_spec(sessions):
    """(name, params) of a session model; SessionsFit or (name, params) (checked)."""
    return check_sessions(sessions)


def plan_event(
    forecast,
    sessions,
    *,
    service: JoinService,
    streams_per_server: float,
    slo: SLO | None = None,
    client: ClientPolicy | None = None,
    queue: QueuePolicy | None = None,
    margins: Margins | None = None,
    window: tuple[float, float] = (-3600.0, 10800.0),
    interval_s: int = 60,
    method: str = "mol",
    lobby_start_s: float | None = 0.0,
    isa_replications: int = 10,
    isa_max_iter: int = 10,
    seed=0,
) -> EventPlan:
    """Size the join path and the stream servers of one event, interval by interval.

    Parameters
    ----------
    forecast : JoinForecast or JoinCurveFit
        First tries per second with their uncertainty. A fitted join curve is
        turned into ``JoinForecast.from_fit(fit, level=0.95)`` over the window;
        per-second rates with a multiplicative quantile, or scenarios, go through
        :meth:`JoinForecast.from_rates` / :meth:`JoinForecast.from_scenarios`.
    sessions : SessionsFit or (name, params)
        Session lengths, for the concurrent streams (M_t/G/inf).
    service : JoinService
        Work per join on a worker: mean (s) and SCV.
    streams_per_server : float
        Concurrent streams one stream server holds.
    slo : SLO, default SLO(wait_s=2, fraction=0.99, max_refused=0.001)
    client : ClientPolicy, default ClientPolicy()
        Client timeout (s) and retry policy.
    queue : QueuePolicy, default QueuePolicy()
        The queue limit per interval (by default: what clients can wait for).
    margins : Margins, default Margins()
        Burst quantile, retry failure share, attack traffic (1/s), N+k, zone loss.
    window : (start_s, end_s), default (-3600, 10800)
        Planning window (s from the start): one hour before to three after.
    interval_s : int, default 60
        Planning interval (s): workers and stream servers are constant within one.
    method : {"mol", "psa", "lagged_psa", "isa"}, default "mol"
        Time-varying method (see :mod:`capplan.planning.methods` for when each is
        right). ``"isa"`` simulates: it measures the retry amplification instead of
        assuming it.
    lobby_start_s : float or None, default 0.0
        Joins before this time wait in a lobby and start their session then (None:
        no lobby).
    isa_replications, isa_max_iter : int, default 10, 10
        Simulation effort of ``"isa"``: runs per iteration (pooled per interval),
        and most iterations.
    seed : int, Generator or None
        Randomness of ``"isa"``.

    Returns
    -------
    EventPlan

    Raises
    ------
    ValueError
        A forecast that does not cover the window; a timeout not longer than the work
        per join, or an SLO no finite capacity meets; bad sizes (named in the message).
        Every argument is checked by :func:`capplan.planning.inputs.plan_arguments`, the
        rules :func:`~capplan.load_plan` also holds a saved plan to: a refusal is an
        ``ArgumentError`` (a ValueError; for a wrong type also a TypeError) whose
        ``argument`` names it, as do values that would make more than 1e9 workers or
        stream servers, 1e15 concurrent streams or requests in a queue, or a result that
        is not finite.

    Notes
    -----
    Join path, per interval ``i``: the forecast's upper curve ``u`` (the forecast
    quantile margin), times the burst factor ``B_i`` (worst second over the
    interval mean), times the retry amplification ``A``, plus the attack rate,
    is the design rate; the method turns it into an offered load; the
    stationary formula (:func:`~capplan.queueing.servers_for`) gives the least
    workers meeting the waiting target, raised if the queue limit would refuse
    more than ``max_refused`` (M/M/c/K); then ``/ (1 - zone_loss) + k``. Streams:
    the expected concurrency of the upper curve, ``/ streams_per_server``, then
    the same failure headroom.

    Examples
    --------
    >>> import pandas as pd
    >>> from capplan.planning import JoinForecast, JoinService, plan_event
    >>> rates = pd.Series(100.0, index=pd.RangeIndex(0, 600))
    >>> fc = JoinForecast.from_rates(rates, factor=1.2)
    >>> plan = plan_event(fc, ("exponential", {"mean_s": 300.0}), window=(0, 600),
    ...                   service=JoinService(0.05), streams_per_server=1000)
    >>> int(plan.frame["workers"].max()) > 6
    True
    """
    args = plan_arguments(
        forecast,
        sessions,
        service=service,
        streams_per_server=streams_per_server,
        slo=slo,
        client=client,
        queue=queue,
        margins=margins,
        window=window,
        interval_s=interval_s,
        method=method,
        lobby_start_s=lobby_start_s,
        isa_replications=isa_replications,
        isa_max_iter=isa_max_iter,
        seed=seed,
    )
    fc, sessions, service, slo = args.forecast, args.sessions, args.service, args.slo
    client, queue, margins, method = args.client, args.queue, args.margins, args.method
    (start_s, end_s), interval_s, lobby_start_s = args.window, args.interval_s, args.lobby_start_s
    streams_per_server = args.streams_per_server

    # The pipeline: each step is a function of capplan.planning.steps.
    demand = steps.join_demand(fc, interval_s, margins, client)
    design_i = demand.design
    load = steps.offered_load(design_i, service, interval_s, method)
    if not np.all(np.isfinite(load)):
        raise ArgumentError(
            "forecast",
            "the design rate's offered load is not finite in some interval: check the "
            "forecast's units (joins per second), its margins and the work per join (s)",
        )
    try:
        needed, model = steps.staffing(load, slo, service)
    except ValueError as exc:  # more workers than any event needs: the units are wrong
        i = int(np.argmax(design_i))
        parts = demand.amplification * demand.burst[i] * demand.upper[i]
        raise ArgumentError(
            "margins" if margins.attack_rps > parts else "forecast",
            f"{exc}: the design rate peaks at {design_i[i]:.3g} joins/s (the forecast's upper "
            f"{demand.upper[i]:.3g}/s x burst {demand.burst[i]:.3g} x retries "
            f"{demand.amplification:.3g} + attack_rps {margins.attack_rps:.3g}) with "
            f"{service.mean_s:g} s of work per join",
        ) from None
    amp = demand.amplification
    isa_history = None
    if method == "isa":  # measures the retry amplification instead of assuming it
        needed, isa_history, amp, model = _isa(
            demand,
            needed,
            model,
            slo,
            service,
            client,
            queue,
            interval_s,
            args.isa_replications,
            args.isa_max_iter,
            args.seed,
        )
    needed, notes = steps.queue_limited(
        needed, load, slo=slo, service=service, client=client, queue=queue
    )
    workers = with_headroom("margins", "workers", needed, margins.zone_loss, margins.spare_workers)
    queue_limit = queue.limits(workers, service.mean_s, client.timeout_s)
    conc_point, conc_upper = steps.concurrency_of(fc, sessions, interval_s, lobby_start_s)
    if not (np.all(np.isfinite(conc_point)) and np.all(np.isfinite(conc_upper))):
        raise ArgumentError(
            "sessions",
            f"the concurrent streams of the sessions {sessions} are not finite in some "
            "interval: check the session model's parameters",
        )
    check_capacity(
        "streams_per_server",
        "stream servers",
        conc_upper / streams_per_server,
        f"streams_per_server={streams_per_server:g} is too few for the concurrency; check its "
        "units (concurrent streams one server holds)",
    )
    with_headroom(
        "margins",
        "stream servers",
        np.ceil(conc_upper / streams_per_server),
        margins.zone_loss,
        margins.spare_stream_servers,
    )
    stream_need, stream_servers = steps.stream_servers(conc_upper, streams_per_server, margins)

    starts = start_s + interval_s * np.arange(len(design_i))
    frame = pd.DataFrame(
        {
            "end_s": starts + interval_s,
            "join_rate_per_s": demand.point,
            "join_rate_upper_per_s": demand.upper,
            "forecast_factor": demand.forecast_factor,
            "burst_factor": demand.burst,
            "retry_amplification": amp,
            "attack_rps": demand.attack_rps,
            "design_rate_per_s": design_i,
            "offered_load": load,
            "workers_needed": needed,
            "workers": workers,
            "queue_limit": queue_limit,
            "concurrent": conc_point,
            "concurrent_upper": conc_upper,
            "stream_servers_needed": stream_need,
            "stream_servers": stream_servers,
        },
        index=pd.Index(starts, name="start_s"),
    )
    margins_table = _margins_table(
        frame,
        fc,
        service,
        slo,
        method,
        margins,
        amp,
        streams_per_server,
        interval_s,
        isa_history is not None,
    )
    return EventPlan(
        frame=frame,
        margins_table=margins_table,
        forecast=fc,
        sessions=sessions,
        service=service,
        slo=slo,
        client=client,
        queue=queue,
        margins=margins,
        window=(start_s, end_s),
        interval_s=interval_s,
        method=method,
        model=model,
        streams_per_server=float(streams_per_server),
        lobby_start_s=lobby_start_s,
        notes=notes,
        isa_history=isa_history,
    )


def _isa(
    demand, needed, model, slo, service, client, queue, interval_s, replications, max_iter, seed
):
    """Iterative staffing by simulation from the stationary staffing ``needed``: returns
    the workers, the iterations, the measured retry amplification and the model name."""
    des_per_s = np.repeat(demand.burst * demand.upper + demand.attack_rps, interval_s)
    warm = int(max(1, math.ceil(10 * service.mean_s / interval_s))) * interval_s
    needed, history, amp = _methods.iterative_staffing(
        des_per_s,
        needed,
        slo=slo,
        service=service,
        client=client,
        queue=queue,
        interval_steps=interval_s,
        replications=replications,
        max_iter=max_iter,
        seed=seed,
        warmup_s=warm,
    )
    return needed, history, amp, f"simulation (ISA, {len(history)} iterations) on {model}"


def _margins_table(
    frame, fc, service, slo, method, margins, amp, streams_per_server, interval_s, isa
):
    """One row per margin: what it is, its factor or count, what it covers, and the
    workers (stream servers) it adds at the busiest interval (the others held)."""
    i = int(np.argmax(frame["workers"].to_numpy()))
    j = int(np.argmax(frame["stream_servers"].to_numpy()))
    row = frame.iloc[i]
    m = "mol" if method == "isa" else method

    # Workers at the busiest interval as the margins are added one by one (formula-based).
    p, fq, b = row["join_rate_per_s"], row["forecast_factor"], row["burst_factor"]
    steps = [p, p * fq, p * fq * b, p * fq * b * amp, p * fq * b * amp + margins.attack_rps]
    loads = np.array(steps) * service.mean_s
    if m != "psa":  # the method's load at this interval, scaled
        ratio = row["offered_load"] / max(row["design_rate_per_s"] * service.mean_s, 1e-300)
        loads = loads * ratio
    c = np.asarray(_methods.stationary_servers(loads, slo, service).servers, dtype=np.int64)
    z_c = math.ceil(c[-1] / (1 - margins.zone_loss) - 1e-9)
    added = np.diff(np.concatenate([c, [z_c, z_c + margins.spare_workers]]))
    s_row = frame.iloc[j]
    s_point = math.ceil(s_row["concurrent"] / streams_per_server - 1e-9)
    s_up = int(s_row["stream_servers_needed"])
    s_zone = math.ceil(s_up / (1 - margins.zone_loss) - 1e-9)
    q = margins.burst_quantile
    rows = [
        (
            "forecast quantile",
            "join path",
            fq,
            np.nan,
            int(added[0]),
            f"forecast error: join rate at its {fc.level:.0%} quantile ({fc.description})",
        ),
        (
            "burst factor",
            "join path",
            b,
            np.nan,
            int(added[1]),
            "worst second vs the interval mean"
            + (
                f" at its {q:.0%} quantile (shape within the interval and over-dispersion)"
                if q
                else ": off"
            ),
        ),
        (
            "retry amplification",
            "join path",
            amp,
            np.nan,
            int(added[2]),
            (
                "simulated attempts per first try (ISA)"
                if isa
                else f"attempts per client if {margins.retry_failure_prob:.0%} of attempts fail"
            ),
        ),
        (
            "attack headroom",
            "join path",
            steps[4] / max(steps[3], 1e-300),
            margins.attack_rps,
            int(added[3]),
            "hostile or junk requests per second on the join path",
        ),
        (
            "zone loss",
            "join path",
            1 / (1 - margins.zone_loss),
            np.nan,
            int(added[4]),
            f"losing {margins.zone_loss:.0%} of capacity at once",
        ),
        (
            "failure headroom (N+k)",
            "join path",
            np.nan,
            margins.spare_workers,
            int(added[5]),
            "k spare workers: a crash or a deploy",
        ),
        (
            "forecast quantile",
            "stream servers",
            s_row["concurrent_upper"] / max(s_row["concurrent"], 1e-300),
            np.nan,
            s_up - s_point,
            f"concurrency at its {fc.level:.0%} quantile (its own forecast)"
            if fc.concurrency_factor is not None
            else f"concurrency of the join rate at its {fc.level:.0%} quantile",
        ),
        (
            "zone loss",
            "stream servers",
            1 / (1 - margins.zone_loss),
            np.nan,
            s_zone - s_up,
            f"losing {margins.zone_loss:.0%} of capacity at once",
        ),
        (
            "failure headroom (N+k)",
            "stream servers",
            np.nan,
            margins.spare_stream_servers,
            margins.spare_stream_servers,
            "k spare stream servers",
        ),
    ]
    table = pd.DataFrame(
        rows, columns=["margin", "applies_to", "factor", "count", "added_at_peak", "covers"]
    )
    table.attrs["peak_interval_s"] = float(frame.index[i])
    table.attrs["base_workers_at_peak"] = int(c[0])
    return table


class EventPlan:
    """A capacity plan for one event: per-interval workers, queue limits and stream servers,
    the margins one by one, and what went in. Built by :func:`plan_event`; read-only.

    Attributes
    ----------
    frame : pandas.DataFrame
        One row per interval (index ``start_s``): forecast rates (1/s), each
        margin's factor, the design rate, the offered load (Erlangs),
        ``workers_needed``/``workers``, ``queue_limit`` (-1: none), concurrency
        (point and upper) and ``stream_servers_needed``/``stream_servers``.
    margins_table : pandas.DataFrame
        ``margin``, ``applies_to``, ``factor``, ``count``, ``added_at_peak``
        (workers or stream servers it adds at the busiest interval), ``covers``.
    method : str
        Time-varying method used; ``model`` the queueing model behind it.
    forecast, sessions, service, slo, client, queue, margins, window, interval_s,
    streams_per_server, lobby_start_s
        The inputs (the forecast cut to the window).
    """

    def __init__(
        self,
        *,
        frame,
        margins_table,
        forecast,
        sessions,
        service,
        slo,
        client,
        queue,
        margins,
        window,
        interval_s,
        method,
        model,
        streams_per_server,
        lobby_start_s,
        notes=(),
        isa_history=None,
    ):
        self.frame = frame
        self.margins_table = margins_table
        self.forecast = forecast
        self.sessions = sessions
        self.service = service
        self.slo = slo
        self.client = client
        self.queue = queue
        self.margins = margins
        self.window = tuple(window)
        self.interval_s = int(interval_s)
        self.method = method
        self.model = model
        self.streams_per_server = float(streams_per_server)
        self.lobby_start_s = lobby_start_s
        self.notes = list(notes)
        self.isa_history = isa_history

    # -- the face of a result -----------------------------------------------------------------

    def to_frame(self) -> pd.DataFrame:
        """The per-interval plan (a copy)."""
        return self.frame.copy()

    def margins_frame(self) -> pd.DataFrame:
        """The margins, one per row (a copy)."""
        return self.margins_table.copy()

    def summary(self) -> pd.DataFrame:
        """Key numbers: ``value`` and ``unit`` by ``quantity``."""
        f = self.frame
        iw, js = int(f["workers"].argmax()), int(f["stream_servers"].argmax())
        rows = [
            ("method", self.method, ""),
            ("model", self.model, ""),
            ("slo", self.slo.describe(), ""),
            ("peak_join_rate_per_s", f["join_rate_per_s"].max(), "1/s"),
            ("peak_join_rate_upper_per_s", f["join_rate_upper_per_s"].max(), "1/s"),
            ("peak_design_rate_per_s", f["design_rate_per_s"].max(), "1/s"),
            ("peak_workers", int(f["workers"].max()), "workers"),
            ("peak_workers_start_s", float(f.index[iw]), "s"),
            ("queue_limit_at_peak", int(f["queue_limit"].iloc[iw]), "requests"),
            ("peak_concurrent", f["concurrent"].max(), "streams"),
            ("peak_concurrent_upper", f["concurrent_upper"].max(), "streams"),
            ("peak_stream_servers", int(f["stream_servers"].max()), "servers"),
            ("peak_stream_servers_start_s", float(f.index[js]), "s"),
            ("worker_seconds", float((f["workers"] * self.interval_s).sum()), "worker-s"),
        ]
        return pd.DataFrame(
            {"value": [r[1] for r in rows], "unit": [r[2] for r in rows]},
            index=pd.Index([r[0] for r in rows], name="quantity"),
        )

    def __str__(self) -> str:
        head = (
            f"Event plan ({self.method}), {self.window[0]:g}..{self.window[1]:g} s in "
            f"{len(self.frame)} intervals of {self.interval_s} s\n"
            f"forecast: {self.forecast.description}\n"
        )
        body = table_text(self.summary()) + "\n\nMargins\n" + table_text(self.margins_table)
        tail = "".join(f"\nnote: {n}" for n in self.notes)
        return head + body + tail

    def __repr__(self) -> str:
        f = self.frame
        return (
            f"<EventPlan {self.method}: peak {int(f['workers'].max())} workers, "
            f"{int(f['stream_servers'].max())} stream servers>"
        )

    def chart(self, validation=None):
        """Workers, stream servers, the margins and (given a validation) the simulated service
        level against the target (an altair Chart)."""
        from capplan import charts

        return charts.plan_chart(self, validation)

    # -- use ---------------------------------------------------------------------------------

    def validate(
        self,
        scenarios=None,
        *,
        replay=None,
        scale_to=None,
        seed=None,
        replications: int = 1,
        noise: bool = True,
        progress: bool = False,
        scheduler="threads",
    ):
        """Simulate the plan's join path over the forecast's scenarios and over observed
        seconds replayed through it; see :class:`~capplan.planning.validate.PlanValidation`.

        Each scenario runs second by second through the plan's workers per interval, its
        queue limit, the clients' timeout and retries, and the attack traffic of the
        margins (Poisson, ``margins.attack_rps`` per second); each interval is judged
        against the SLO. A *replay* puts observed first tries, second by second, through
        the same path: it can disagree with the model, where the model's scenarios
        cannot.

        Parameters
        ----------
        scenarios : list of str, optional
            Names among ``forecast.scenarios`` (default all: ``point``, ``upper``, and
            a scenario forecast's curves); ``[]``: none (replays only).
        replay : pandas.Series, dict of str to Series, bool or None, default None
            Observed first tries per second to replay, indexed by seconds since the
            event's start on a 1-s grid (as ``History.event(id)["joins"]`` or
            ``["requests"]`` gives), NaN for a missing second; a dict replays several,
            each named by its key. The series is laid on the plan's window by its index
            (second ``s`` of the series is second ``s`` of the plan). None (default):
            the forecast's ``observed`` seconds if it has them (a plan from
            :func:`~capplan.forecast_event` or :meth:`JoinForecast.from_peak`: the
            analogue's joins), scaled to the forecast's ``point`` and to its ``upper``
            peak (two replays); nothing otherwise (a loaded plan whose file did not
            keep them, a forecast from rates). True: the same, an error if there are
            none. False: no replay.
        scale_to : {None, "point", "upper"} or a list of them, default None
            Scale a replay's counts so that their peak of the 1-minute mean (the highest
            mean over 60 consecutive observed seconds of the window) equals the
            forecast's point or upper curve's (the same measure): every second's count
            times ``forecast peak / observed peak``, rounded to a whole count at random
            (``floor(x) + 1`` with probability ``x - floor(x)``: unbiased), drawn from
            ``seed``. A list gives one replay per entry; None keeps the counts as observed
            (for the default replay: both ``"point"`` and ``"upper"``).
        seed : int, Generator or None
            Randomness of every run (service times, arrival times within a second, the
            forecast's noise, attack counts, rounding); the same seed gives the same
            validation, and adding replays leaves the model's scenarios unchanged.
        replications : int, default 1
            Runs per scenario and per replay, pooled per interval.
        noise : bool, default True
            Over-dispersed per-second first tries in the model's scenarios (the
            forecast's alpha); False: Poisson. A replay gets no noise: observed counts
            carry their own.
        progress : bool, default False
            A progress bar, one step per simulated run (a headline event's run takes
            a few seconds).
        scheduler : "threads", None, "inline", str or distributed.Client, default "threads"
            Where the runs (each replication of each scenario, each stretch of a replay)
            are simulated, by :func:`capplan.scale.sweep.run_jobs`: ``"threads"`` in
            this process, one thread per core (the simulator releases the GIL; nothing
            to start, the fastest on one machine); None a local Dask cluster, one worker
            process per core, started and closed for this call (about 3 s more); an
            address such as ``"tcp://10.0.0.5:8786"``, or a ``distributed.Client``, a
            running cluster, to spread a validation over several machines;
            ``"inline"`` one run after the other here. The biggest runs start first.
            Every run's randomness comes from ``seed``, so the validation is the same
            wherever it ran.

        Returns
        -------
        PlanValidation
            Rows of ``source == "model"`` and ``"replay"`` side by side; its ``replays``
            table says how each replay was scaled and what it covered.

        Raises
        ------
        ValueError
            An unknown scenario or ``scale_to``; a replay not on a 1-s grid of whole
            seconds, with negative or fractional counts, not overlapping the plan's
            window or covering no whole interval of it (the message names the argument).

        Notes
        -----
        Only the intervals whose every second the replay observed are judged: seconds of
        the window outside the series, and missing seconds (NaN, or absent from the
        index), are never filled; an interval with any is left out, counted in
        ``intervals_left_out`` (and printed). Each run of whole intervals is simulated
        on its own, starting from a warm-up at its first second's count. The attack
        traffic of the margins is added to a replay too (Poisson counts: it is not in the
        observed seconds). A replay's ``concurrent`` (the replayed joins through the
        plan's sessions) stops at its first missing second (none if that comes before the
        lobby's start). Intervals are judged as for the scenarios (see
        :mod:`capplan.planning.validate`).

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> from capplan.planning import JoinForecast, JoinService, plan_event
        >>> fc = JoinForecast.from_rates(pd.Series(50.0, index=pd.RangeIndex(0, 600)), factor=1.2)
        >>> plan = plan_event(fc, ("exponential", {"mean_s": 300.0}), window=(0, 600),
        ...                   service=JoinService(0.05), streams_per_server=1000)
        >>> seen = pd.Series(np.random.default_rng(0).poisson(50, 600), index=range(0, 600))
        >>> v = plan.validate(replay=seen, seed=1)
        >>> list(v.summary()["source"])
        ['model', 'model', 'replay']
        """
        from capplan.planning.validate import validate_plan

        return validate_plan(
            self,
            scenarios=scenarios,
            replay=replay,
            scale_to=scale_to,
            seed=seed,
            replications=replications,
            noise=noise,
            progress=progress,
            scheduler=scheduler,
        )

    def replan(self, **changes) -> EventPlan:
        """A new plan from this one's inputs with ``changes`` (plan_event's arguments)."""
        args = dict(
            forecast=self.forecast,
            sessions=self.sessions,
            service=self.service,
            streams_per_server=self.streams_per_server,
            slo=self.slo,
            client=self.client,
            queue=self.queue,
            margins=self.margins,
            window=self.window,
            interval_s=self.interval_s,
            method=self.method,
            lobby_start_s=self.lobby_start_s,
        )
        args.update(changes)
        return plan_event(args.pop("forecast"), args.pop("sessions"), **args)

    def save(self, path, format: str | None = None):
        """Write the plan as JSON (one file) or CSV (a directory of tables); see :mod:`.io`."""
        from capplan.planning.io import save_plan

        return save_plan(self, path, format=format)
