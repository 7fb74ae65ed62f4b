"""The result of one simulation run: totals, the per-interval table, and a chart."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from capplan._text import table_text
from capplan.simulation import engine

if TYPE_CHECKING:  # pragma: no cover
    from capplan.simulation.simulator import SimulationSpec

__all__ = ["SimulationResult"]

_COUNT_COLUMNS = {
    "first_tries": engine.I_FIRST,
    "retries": engine.I_RETRY,
    "refused": engine.I_REFUSED,
    "admitted": engine.I_ADMITTED,
    "started": engine.I_STARTED,
    "served": engine.I_SERVED,
    "wasted": engine.I_WASTED,
    "abandoned": engine.I_ABANDONED,
    "failed": engine.I_FAILED,
    "queue": engine.I_QUEUE_END,
}


class SimulationResult:
    """One simulation run: what went in (``spec``), totals, and a table per interval.

    Totals (``customers``, ``wait_prob``, ...) cover the intervals after the
    warm-up; the table (:meth:`to_frame`) covers the whole run. Read-only.

    Attributes
    ----------
    spec : SimulationSpec
        The validated scenario that was run.
    diagnostics : dict
        Sizes at the end of the run: ``ring_capacity`` (slots of the waiting
        line's buffer), ``event_heap_capacity``, ``longest_line`` (most
        requests waiting at once), ``retries_scheduled_at_end``. They show that
        memory followed the requests in the system, not the requests simulated.
    """

    def __init__(self, spec: SimulationSpec, counts, values, wait_hist, diagnostics):
        self.spec = spec
        self.diagnostics = dict(diagnostics)
        self._counts = counts
        self._values = values
        self._hist = wait_hist
        for arr in (counts, values, wait_hist):
            arr.flags.writeable = False
        after = slice(spec.warmup_intervals, None)
        self._tot = {name: int(counts[after, col].sum()) for name, col in _COUNT_COLUMNS.items()}
        self._tot["immediate"] = int(counts[after, engine.I_IMMEDIATE].sum())
        self._wait_sum = float(values[after, engine.F_WAIT_SUM].sum())
        self._drop_wait_sum = float(values[after, engine.F_DROP_WAIT_SUM].sum())

    # --- totals ------------------------------------------------------------------

    @property
    def customers(self) -> int:
        """Attempts that arrived (first tries and retries) after the warm-up."""
        return self._tot["first_tries"] + self._tot["retries"]

    @property
    def first_tries(self) -> int:
        """First tries that arrived after the warm-up."""
        return self._tot["first_tries"]

    @property
    def retries(self) -> int:
        """Retries that arrived after the warm-up."""
        return self._tot["retries"]

    @property
    def wait_prob(self) -> float:
        """Probability that an admitted request could not start at once (all workers busy)."""
        admitted = self._tot["admitted"]
        return np.nan if admitted == 0 else 1.0 - self._tot["immediate"] / admitted

    @property
    def mean_wait(self) -> float:
        """Mean time a request spent in the line (s), over the requests that left it.

        Requests that started count their wait; with ``on_timeout="drop"``,
        those whose client gave up count their time until then (the Erlang A
        mean wait). Requests still waiting at the end are left out.
        """
        n = self._tot["started"]
        if self.spec.on_timeout == "drop":
            n += self._tot["abandoned"]
        return np.nan if n == 0 else (self._wait_sum + self._drop_wait_sum) / n

    @property
    def refuse_prob(self) -> float:
        """Share of arriving attempts refused because the line was full."""
        return np.nan if self.customers == 0 else self._tot["refused"] / self.customers

    @property
    def abandon_prob(self) -> float:
        """Share of admitted attempts whose client timed out."""
        admitted = self._tot["admitted"]
        return np.nan if admitted == 0 else self._tot["abandoned"] / admitted

    @property
    def served(self) -> int:
        """Requests answered in time after the warm-up."""
        return self._tot["served"]

    @property
    def wasted(self) -> int:
        """Requests served for a client that had given up ("serve" mode)."""
        return self._tot["wasted"]

    @property
    def failed(self) -> int:
        """Clients whose last attempt failed and that did not retry."""
        return self._tot["failed"]

    @property
    def queue_at_end(self) -> int:
        """Requests still waiting when the run ended."""
        return int(self._counts[-1, engine.I_QUEUE_END])

    def wait_quantile(self, q) -> float | np.ndarray:
        """Quantile(s) of the wait of started requests after the warm-up (s).

        From a histogram with 32 log-spaced bins per decade (about 7% wide),
        interpolated within the bin; exact at 0 (requests that did not wait).
        """
        q_arr = np.atleast_1d(np.asarray(q, dtype=float))
        if np.any((q_arr < 0) | (q_arr > 1)) or not np.all(np.isfinite(q_arr)):
            raise ValueError(f"q must be in [0, 1]; got {q!r}")
        total = int(self._hist.sum())
        out = np.array([engine.hist_quantile(self._hist, total, float(x)) for x in q_arr])
        return float(out[0]) if np.ndim(q) == 0 else out

    # --- tables ------------------------------------------------------------------

    def to_frame(self) -> pd.DataFrame:
        """One row per interval, indexed by its start ``time_s`` (s).

        Columns: ``end_s``; ``servers``; ``offered_rate_per_s`` (expected first
        tries per second); counts ``first_tries``, ``retries``, ``arrivals``
        (their sum), ``refused``, ``admitted``, ``started``, ``served``,
        ``wasted``, ``abandoned`` (clients that timed out), ``failed`` (clients
        that gave up for good); ``immediate`` (admitted attempts that started at
        once, without waiting: ``1 - immediate / admitted`` is the interval's delay
        probability); at the end of the interval: ``queue`` (requests waiting),
        ``busy`` (workers serving, including removed ones finishing the request in
        hand), ``draining`` (those removed ones) and ``in_system`` (``busy +
        queue``, the number in system N(t)); time averages over the interval:
        ``queue_mean``, ``busy_mean``, ``draining_mean`` and ``in_system_mean``
        (an arrival waits iff ``in_system - draining >= servers``); the waits of
        the requests
        that started in the interval (s): ``wait_mean_s``, ``wait_p50_s``,
        ``wait_p90_s``, ``wait_p99_s`` (from a histogram, about 7% bins) and
        ``wait_max_s`` (exact); NaN where none started.
        """
        spec = self.spec
        c, v = self._counts, self._values
        started = c[:, engine.I_STARTED]
        with np.errstate(invalid="ignore", divide="ignore"):
            wait_mean = np.where(started > 0, v[:, engine.F_WAIT_SUM] / started, np.nan)
        frame = pd.DataFrame(
            {
                "end_s": spec.starts + spec.lengths,
                "servers": spec.servers,
                "offered_rate_per_s": spec.first_tries.offered_rate(spec.lengths),
                "first_tries": c[:, engine.I_FIRST],
                "retries": c[:, engine.I_RETRY],
                "arrivals": c[:, engine.I_FIRST] + c[:, engine.I_RETRY],
                **{
                    name: c[:, col]
                    for name, col in _COUNT_COLUMNS.items()
                    if name not in ("first_tries", "retries", "queue")
                },
                "immediate": c[:, engine.I_IMMEDIATE],
                "queue": c[:, engine.I_QUEUE_END],
                "busy": c[:, engine.I_BUSY_END],
                "draining": c[:, engine.I_DRAINING_END],
                "in_system": c[:, engine.I_BUSY_END] + c[:, engine.I_QUEUE_END],
                "queue_mean": v[:, engine.F_QUEUE_MEAN],
                "busy_mean": v[:, engine.F_BUSY_MEAN],
                "draining_mean": v[:, engine.F_DRAINING_MEAN],
                "in_system_mean": v[:, engine.F_BUSY_MEAN] + v[:, engine.F_QUEUE_MEAN],
                "wait_mean_s": wait_mean,
                "wait_p50_s": v[:, engine.F_P50],
                "wait_p90_s": v[:, engine.F_P90],
                "wait_p99_s": v[:, engine.F_P99],
                "wait_max_s": np.where(started > 0, v[:, engine.F_WAIT_MAX], np.nan),
            },
            index=pd.Index(spec.starts, name="time_s"),
        )
        return frame

    def summary(self) -> pd.DataFrame:
        """Totals after the warm-up: a ``value`` and a ``unit`` per row."""
        p50, p90, p99 = self.wait_quantile([0.5, 0.9, 0.99])
        rows = [
            ("customers", self.customers, "attempts"),
            ("first_tries", self.first_tries, "attempts"),
            ("retries", self.retries, "attempts"),
            ("wait_prob", self.wait_prob, "probability"),
            ("mean_wait_s", self.mean_wait, "s"),
            ("wait_p50_s", p50, "s"),
            ("wait_p90_s", p90, "s"),
            ("wait_p99_s", p99, "s"),
            ("refuse_prob", self.refuse_prob, "probability"),
            ("abandon_prob", self.abandon_prob, "probability"),
            ("served", self.served, "requests"),
            ("wasted", self.wasted, "requests"),
            ("failed", self.failed, "clients"),
            ("queue_at_end", self.queue_at_end, "requests"),
        ]
        return pd.DataFrame(
            {"value": [float(r[1]) for r in rows], "unit": [r[2] for r in rows]},
            index=pd.Index([r[0] for r in rows], name="metric"),
        )

    def __str__(self) -> str:
        spec = self.spec
        svc = spec.service_time
        timeout = "none"
        if spec.timeout is not None:
            timeout = f"{type(spec.timeout).__name__} mean {spec.timeout.mean:.4g} s"
            timeout += f" (on_timeout={spec.on_timeout!r})"
        head = (
            f"Simulated FCFS queue: {spec.duration:g} s in {spec.n_intervals} intervals of "
            f"{spec.interval:g} s (warm-up {spec.warmup:g} s)\n"
            f"servers {int(spec.servers.min())}-{int(spec.servers.max())}, service "
            f"{type(svc).__name__} mean {svc.mean:.4g} s scv {svc.scv:.3g}, buffer "
            f"{_buffer_text(spec.buffer)}, timeout {timeout}, "
            f"retry {type(spec.retry).__name__}\n"
        )
        return head + table_text(self.summary())

    def __repr__(self) -> str:
        return (
            f"<SimulationResult: {self.customers} customers, wait_prob={self.wait_prob:.4g}, "
            f"mean_wait={self.mean_wait:.4g} s>"
        )

    def chart(self, *, title: str | None = None):
        """Attempts, answers, line length and waits over time (an altair Chart);
        see :func:`capplan.charts.simulation_chart`."""
        from capplan import charts

        return charts.simulation_chart(self, title=title)


def _buffer_text(buffer) -> str:
    if buffer is None:
        return "unlimited"
    if np.ndim(buffer) == 0:
        return str(buffer)
    return f"{int(np.min(buffer))}-{int(np.max(buffer))} by interval"
