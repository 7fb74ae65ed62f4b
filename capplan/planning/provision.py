"""From plan to action: fleets of instances and a pre-warm ladder on the event's wall clock.

A plan says how many join-path workers and stream servers each interval needs. Machines
come in instances of several units, take minutes from request to ready, may be added only
so fast, are held a while before they may be scaled in, and cost per instance-hour.
:func:`provision` turns the plan into a ladder, minute by minute on the wall clock (UTC):
instances needed, requested, ready and billed, each step requested early enough to be
ready before it is needed, scale-in after the flood, and the cost of the window.

The ladder, per fleet, on a grid of whole minutes from the plan's window start:

- **need**: ``n[m] = max(min_instances, ceil(units needed / units_per_instance))``, the
  units needed in a minute being the most of the plan's intervals overlapping it;
- **rate limit** (a backward pass): the least ready count that is at least the need and
  never rises by more than ``max_added_per_min`` in a minute,
  ``r[m] = max(n[m], r[m + 1] - max_added_per_min)``; a jump the rate cannot follow
  starts ramping earlier, before the window if need be;
- **requests**: an instance ready from minute ``m`` is requested at minute ``m - L``,
  ``L = ceil(lead_time_s / 60)`` (requests on the minute; a booting instance is billed);
- **scale-in** (a forward pass): instances beyond ``r[m]`` are released, oldest first,
  once they have been ready ``min_hold_s``, but not while the ladder needs them again
  within the lead time, ``max(r[m..m + L])`` (a replacement would be requested, and
  billed, by now anyway), and never below ``r[m]``;
- **billed** instances: ready plus requested and not ready yet; the cost is
  ``sum over minutes of billed / 60 x price_per_hour``.

Before the ladder starts (and before the window) a fleet holds ``min_instances``; the
ladder ends with the plan's window.
"""

from __future__ import annotations

import json
import math
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from capplan._files import staged
from capplan._text import table_text

__all__ = ["RESOURCES", "Fleet", "ProvisioningLadder", "provision"]

STEP_S = 60  # the ladder's step (s): one row per minute
RESOURCES = ("workers", "stream_servers")  # the plan's columns a fleet can provide
_EPS = 1e-9


# Bounds beyond which a fleet's number is a typo, not a fleet: its ladder would not fit
# in memory or in int64 (a lead time of 1e300 s, a millionth of a worker per instance).
_MAX_COUNT = 1e9
_MAX_SECONDS = 30 * 86_400.0  # a month


def _number(
    owner: str,
    name: str,
    value,
    *,
    minimum: float = 0.0,
    strict: bool = False,
    maximum: float = _MAX_COUNT,
):
    """A finite number >= (or > if ``strict``) ``minimum`` and <= ``maximum``, else a
    ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{owner}: {name} must be a number; got {value!r}")
    try:
        x = float(value)
    except OverflowError:  # an int beyond the float range
        x = math.inf
    ok = math.isfinite(x) and (x > minimum if strict else x >= minimum) and x <= maximum
    if not ok:
        rel = ">" if strict else ">="
        raise ValueError(
            f"{owner}: {name} must be a finite number {rel} {minimum:g} and <= {maximum:g}; "
            f"got {value!r}"
        )
    return x


def _whole(owner: str, name: str, value, *, minimum: int) -> int:
    """A whole number >= ``minimum`` (at most a billion), else a ValueError naming it."""
    x = _number(owner, name, value, minimum=minimum)
    if x != round(x):
        raise ValueError(f"{owner}: {name} must be a whole number >= {minimum}; got {value!r}")
    return int(x)


@dataclass(frozen=True, kw_only=True)
class Fleet:
    """A kind of instance that provides one resource of the plan.

    Parameters
    ----------
    name : str
        The fleet's name (a column label, a key of the exports).
    resource : {"workers", "stream_servers"}
        What it provides: join-path workers (the plan's ``workers``) or stream servers
        (the plan's ``stream_servers``).
    units_per_instance : float
        What one instance provides: join-path workers per instance for ``"workers"``,
        stream servers per instance for ``"stream_servers"``; from 0.001 to a billion.
    lead_time_s : float
        Seconds from the request to the instance being ready to serve (boot, image,
        application warm-up); from 0 to a month (2,592,000 s).
    price_per_hour : float
        Money per instance-hour (in ``currency``); >= 0. An instance is billed from its
        request to its release.
    max_added_per_min : int or None, default None
        Most instances added (requested, hence made ready) in one minute; None: no limit.
    min_hold_s : float, default 0.0
        Shortest time (s) an instance is held once ready before it may be scaled in (at
        most a month).
    min_instances : int, default 0
        Instances the fleet always holds (before, during and after the ladder).
    currency : str, default "USD"
        Label of the money in ``price_per_hour`` and the costs.

    Raises
    ------
    ValueError
        A field out of range, naming the field and the value.

    Examples
    --------
    >>> from capplan.planning.provision import Fleet
    >>> Fleet(name="join", resource="workers", units_per_instance=16, lead_time_s=330,
    ...       price_per_hour=0.68, max_added_per_min=200).units_per_instance
    16
    """

    name: str
    resource: str
    units_per_instance: float
    lead_time_s: float
    price_per_hour: float
    max_added_per_min: int | None = None
    min_hold_s: float = 0.0
    min_instances: int = 0
    currency: str = "USD"

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"Fleet: name must be a non-empty string; got {self.name!r}")
        who = f"Fleet {self.name!r}"
        if self.resource not in RESOURCES:
            raise ValueError(
                f"{who}: resource must be one of {list(RESOURCES)} (the plan's columns); "
                f"got {self.resource!r}"
            )
        _number(who, "units_per_instance", self.units_per_instance, minimum=1e-3)
        _number(who, "lead_time_s (s)", self.lead_time_s, maximum=_MAX_SECONDS)
        _number(who, "price_per_hour (money per instance-hour)", self.price_per_hour)
        if self.max_added_per_min is not None:
            _whole(who, "max_added_per_min (instances)", self.max_added_per_min, minimum=1)
        _number(who, "min_hold_s (s)", self.min_hold_s, maximum=_MAX_SECONDS)
        _whole(who, "min_instances", self.min_instances, minimum=0)
        if not isinstance(self.currency, str) or not self.currency.strip():
            raise ValueError(f"{who}: currency must be a non-empty label; got {self.currency!r}")

    @property
    def lead_steps(self) -> int:
        """Whole minutes from request to ready (requests are made on the minute)."""
        return math.ceil(self.lead_time_s / STEP_S - _EPS)

    @property
    def hold_steps(self) -> int:
        """Whole minutes an instance is held once ready before it may be released."""
        return math.ceil(self.min_hold_s / STEP_S - _EPS)

    def instances_for(self, units) -> np.ndarray:
        """Instances needed for ``units`` (workers or stream servers): at least
        ``min_instances``, else ``ceil(units / units_per_instance)``."""
        units = np.asarray(units, dtype=float)
        return np.maximum(
            np.ceil(units / self.units_per_instance - _EPS).astype(np.int64), self.min_instances
        )


# -- input checks ---------------------------------------------------------------------------


def utc_timestamp(value, name: str = "scheduled_start") -> pd.Timestamp:
    """A timezone-aware timestamp (or ISO-8601 string) as a UTC Timestamp; a naive one is
    refused (its zone is the reader's guess)."""
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be a timestamp, e.g. '2026-05-01T19:00:00Z'; got {value!r}"
        ) from None
    if stamp is pd.NaT:
        raise ValueError(f"{name} must be a timestamp; got {value!r}")
    if stamp.tzinfo is None:
        raise ValueError(
            f"{name} {value!r} has no time zone: give one, e.g. '2026-05-01T19:00:00Z', "
            "'2026-05-01T21:00:00+02:00' or pd.Timestamp(..., tz='Europe/Paris')"
        )
    return stamp.tz_convert("UTC")


def _fleet_list(fleets) -> tuple[Fleet, ...]:
    """One Fleet or a list of them, at most one per resource and one per name."""
    given = (fleets,) if isinstance(fleets, Fleet) else tuple(fleets)
    if not given:
        raise ValueError("fleets is empty: give a Fleet, or one per resource")
    for f in given:
        if not isinstance(f, Fleet):
            raise TypeError(f"fleets must be Fleet objects; got {type(f).__name__}")
    for key in ("resource", "name"):
        seen = {}
        for f in given:
            value = getattr(f, key)
            if value in seen:
                raise ValueError(
                    f"two fleets for one {key} {value!r}: {seen[value]!r} and {f.name!r}; "
                    "give one fleet per resource"
                    if key == "resource"
                    else f"two fleets named {value!r}: give each its own name"
                )
            seen[value] = f.name
    return given


# -- the ladder -----------------------------------------------------------------------------


def units_per_minute(plan, resource: str) -> tuple[np.ndarray, np.ndarray]:
    """The plan's ``resource`` needed per minute of its window: ``(minute starts (s from the
    scheduled start), most units needed over the plan's intervals overlapping each minute)``.
    """
    frame = plan.to_frame()
    if resource not in frame:
        raise ValueError(f"the plan has no column {resource!r}; its columns: {list(frame)}")
    starts = frame.index.to_numpy(dtype=float)
    values = frame[resource].to_numpy(dtype=float)
    end = starts[-1] + float(plan.interval_s)
    minutes = starts[0] + STEP_S * np.arange(math.ceil((end - starts[0]) / STEP_S - _EPS))
    first = np.searchsorted(starts, minutes, side="right") - 1
    last = np.searchsorted(starts, np.minimum(minutes + STEP_S, end), side="left") - 1
    need = np.array([values[a : b + 1].max() for a, b in zip(first, last, strict=True)])
    return minutes, need


def ladder_counts(
    needed, *, lead_steps: int, max_added: int | None, hold_steps: int, base: int
) -> dict[str, np.ndarray]:
    """The ladder of one fleet on a minute grid (pure: numbers and arrays).

    Parameters
    ----------
    needed : array of int
        Instances needed per minute; the grid must start early enough (at ``base``) for the
        ramp and the lead time (ValueError otherwise).
    lead_steps, hold_steps : int
        Minutes from request to ready; minutes held once ready before a release.
    max_added : int or None
        Most instances made ready (so requested) per minute.
    base : int
        Instances held before the grid (ready long ago).

    Returns
    -------
    dict of arrays
        ``ready``, ``requested`` (in that minute), ``released`` (from that minute on),
        ``billed`` (ready plus booting) and ``floor`` (the rate-limited least ready count).
    """
    needed = np.maximum(np.asarray(needed, dtype=np.int64), base)
    n = needed.size
    rate = np.inf if max_added is None else max_added
    floor = needed.copy()
    for i in range(n - 2, -1, -1):  # start ramps early enough for the rate limit
        floor[i] = max(floor[i], floor[i + 1] - rate)
    # Keep an instance the ladder needs again within the lead time: a replacement would be
    # requested, and billed, from now on anyway.
    keep = pd.Series(floor[::-1]).rolling(lead_steps + 1, min_periods=1).max()
    keep = keep.to_numpy(dtype=np.int64)[::-1]
    ready = np.zeros(n, np.int64)
    requested = np.zeros(n, np.int64)
    released = np.zeros(n, np.int64)
    cohorts = deque([[-(10**12), base]])  # [minute ready from, instances], oldest first
    now = base
    for i in range(n):
        if floor[i] > now:
            add = int(floor[i] - now)
            if i - lead_steps < 0:
                raise ValueError("ladder_counts: the grid starts too late for the lead time")
            requested[i - lead_steps] += add
            cohorts.append([i, add])
            now += add
        elif now > keep[i]:
            want = int(now - keep[i])
            while want and cohorts and cohorts[0][0] <= i - hold_steps:
                take = min(want, cohorts[0][1])
                cohorts[0][1] -= take
                want -= take
                released[i] += take
                if cohorts[0][1] == 0:
                    cohorts.popleft()
            now -= int(released[i])
        ready[i] = now
    # Booting: requested in the last lead_steps minutes, this one included.
    total = np.cumsum(requested)
    lagged = np.concatenate(
        [np.zeros(min(lead_steps, n), np.int64), total[: max(n - lead_steps, 0)]]
    )
    booting = total - lagged
    return dict(
        ready=ready, requested=requested, released=released, billed=ready + booting, floor=floor
    )


def provision(plan, fleets, *, scheduled_start) -> ProvisioningLadder:
    """Turn a plan into a pre-warm ladder per fleet on the event's wall clock.

    Parameters
    ----------
    plan : EventPlan
        The plan (anything with ``to_frame()`` indexed by ``start_s``, seconds from the
        scheduled start, holding ``workers`` / ``stream_servers``, and ``interval_s``).
    fleets : Fleet or list of Fleet
        One fleet per resource provisioned.
    scheduled_start : timestamp or str
        The event's scheduled start, timezone-aware (a naive one is refused); converted
        to UTC.

    Returns
    -------
    ProvisioningLadder
        One row per fleet and minute, from the first request (the lead time, and any ramp
        the rate limit forces, before the first need) to the end of the plan's window.

    Raises
    ------
    ValueError
        A naive or unreadable ``scheduled_start``; two fleets for one resource or name.

    Notes
    -----
    See the module's docstring for the ladder's rules. Every minute's ready instances
    cover the need: ``ready * units_per_instance >= the plan's units``.

    Examples
    --------
    >>> import pandas as pd
    >>> from types import SimpleNamespace
    >>> from capplan.planning.provision import Fleet, provision
    >>> frame = pd.DataFrame({"workers": [4, 40, 8]},
    ...                      index=pd.Index([0.0, 60.0, 120.0], name="start_s"))
    >>> plan = SimpleNamespace(to_frame=frame.copy, interval_s=60)
    >>> fleet = Fleet(name="join", resource="workers", units_per_instance=4,
    ...               lead_time_s=120, price_per_hour=0.6)
    >>> ladder = provision(plan, fleet, scheduled_start="2026-05-01T19:00Z")
    >>> f = ladder.to_frame()  # requests 2 minutes before they are needed
    >>> f.index.strftime("%H:%M").tolist()
    ['18:58', '18:59', '19:00', '19:01', '19:02']
    >>> f["needed"].tolist(), f["ready"].tolist(), f["billed"].tolist()
    ([0, 0, 1, 10, 2], [0, 0, 1, 10, 2], [1, 10, 10, 10, 2])
    >>> print(f"{ladder.cost:.2f}")  # 33 instance-minutes at 0.6 an instance-hour
    0.33
    """
    fleets = _fleet_list(fleets)
    start = utc_timestamp(scheduled_start)
    needs = {}
    for f in fleets:
        minutes, units = units_per_minute(plan, f.resource)
        needs[f.name] = (units, f.instances_for(units))
    # Enough minutes before the window for each fleet's ramp (at its rate) and lead time.
    pad = 0
    for f in fleets:
        rise = _first_floor(needs[f.name][1], f.max_added_per_min) - f.min_instances
        ramp = 1 if f.max_added_per_min is None else math.ceil(max(rise, 0) / f.max_added_per_min)
        pad = max(pad, f.lead_steps + ramp)
    grid_s = np.concatenate([minutes[0] - STEP_S * np.arange(pad, 0, -1), minutes])
    counts = {}
    for f in fleets:
        units, needed = needs[f.name]
        padded = np.concatenate([np.full(pad, f.min_instances), needed])
        counts[f.name] = ladder_counts(
            padded,
            lead_steps=f.lead_steps,
            max_added=f.max_added_per_min,
            hold_steps=f.hold_steps,
            base=f.min_instances,
        )
        counts[f.name]["needed"] = padded
        counts[f.name]["units_needed"] = np.concatenate([np.full(pad, np.nan), units])
    # Start at the first request of any fleet (or the window).
    firsts = [np.flatnonzero(c["requested"]) for c in counts.values()]
    first = min([pad] + [int(x[0]) for x in firsts if x.size])
    rows = []
    for f in fleets:
        c = counts[f.name]
        rows.append(
            pd.DataFrame(
                {
                    "start_s": grid_s[first:],
                    "fleet": f.name,
                    "resource": f.resource,
                    "units_needed": c["units_needed"][first:],
                    "needed": c["needed"][first:],
                    "ready": c["ready"][first:],
                    "requested_now": c["requested"][first:],
                    "released_now": c["released"][first:],
                    "billed": c["billed"][first:],
                    "ready_units": c["ready"][first:] * f.units_per_instance,
                },
                index=pd.DatetimeIndex(
                    start + pd.to_timedelta(grid_s[first:], unit="s"), name="time_utc"
                ),
            )
        )
    frame = pd.concat(rows).sort_index(kind="stable")
    return ProvisioningLadder(frame, fleets, start, (float(minutes[0]), float(grid_s[-1] + 60)))


def _first_floor(needed: np.ndarray, max_added: int | None) -> int:
    """The rate-limited ready count the window's first minute needs."""
    if max_added is None:
        return int(needed[0])
    steps = np.arange(needed.size)
    return int(np.max(needed - max_added * steps))


# -- the result -----------------------------------------------------------------------------


def _z(stamp: pd.Timestamp) -> str:
    """ISO-8601 in UTC with a 'Z': ``2026-05-01T18:52:00Z``."""
    return stamp.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


class ProvisioningLadder:
    """A pre-warm ladder: per fleet and minute on the wall clock, instances needed,
    requested, ready and billed, and the window's cost. Built by :func:`provision`.

    Attributes
    ----------
    frame : pandas.DataFrame
        One row per fleet and minute (index ``time_utc``, the minute's start in UTC):
        ``start_s`` (s from the scheduled start), ``fleet``, ``resource``,
        ``units_needed`` (the plan's workers or stream servers; NaN before the window),
        ``needed`` (instances), ``ready`` (instances ready through the minute),
        ``requested_now`` (requested at the minute's start), ``released_now`` (released at
        its start), ``billed`` (ready plus booting: the desired capacity to set) and
        ``ready_units``.
    fleets : tuple of Fleet
    scheduled_start : pandas.Timestamp
        In UTC.
    window : (start_s, end_s)
        The plan's window on the minute grid (s from the scheduled start).
    """

    def __init__(self, frame, fleets, scheduled_start, window):
        self.frame = frame
        self.fleets = tuple(fleets)
        self.scheduled_start = scheduled_start
        self.window = tuple(window)

    def fleet(self, name: str) -> Fleet:
        """The fleet called ``name``."""
        for f in self.fleets:
            if f.name == name:
                return f
        raise KeyError(f"no fleet {name!r}; the ladder has {[f.name for f in self.fleets]}")

    def to_frame(self) -> pd.DataFrame:
        """The per-minute ladder, one row per fleet and minute (a copy)."""
        return self.frame.copy()

    def summary(self) -> pd.DataFrame:
        """Per fleet (index ``fleet``): ``resource``, ``units_per_instance``,
        ``lead_time_s``, ``peak_needed`` and ``peak_instances`` (most billed at once:
        the quota to hold), ``first_request_utc`` and ``first_request_s`` (s from the
        scheduled start; NaT/NaN if nothing is requested), ``instance_hours``,
        ``price_per_hour``, ``cost`` and ``currency``."""
        rows = {}
        for f in self.fleets:
            g = self.frame[self.frame["fleet"] == f.name]
            asked = g[g["requested_now"] > 0]
            hours = float(g["billed"].sum()) * STEP_S / 3600.0
            rows[f.name] = {
                "resource": f.resource,
                "units_per_instance": f.units_per_instance,
                "lead_time_s": f.lead_time_s,
                "peak_needed": int(g["needed"].max()),
                "peak_instances": int(g["billed"].max()),
                "first_request_utc": asked.index[0] if len(asked) else pd.NaT,
                "first_request_s": float(asked["start_s"].iloc[0]) if len(asked) else np.nan,
                "instance_hours": hours,
                "price_per_hour": f.price_per_hour,
                "cost": hours * f.price_per_hour,
                "currency": f.currency,
            }
        return pd.DataFrame.from_dict(rows, orient="index").rename_axis("fleet")

    @property
    def cost(self) -> float:
        """The window's cost, every fleet together (in their currency; they must share it)."""
        currencies = {f.currency for f in self.fleets}
        if len(currencies) > 1:
            raise ValueError(f"the fleets are priced in {sorted(currencies)}: see summary()")
        return float(self.summary()["cost"].sum())

    def __str__(self) -> str:
        first, last = self.frame.index[0], self.frame.index[-1] + pd.Timedelta(seconds=STEP_S)
        head = (
            f"Pre-warm ladder, scheduled start {_z(self.scheduled_start)}: "
            f"{first:%Y-%m-%d %H:%M}..{last:%H:%M} UTC by the minute\n"
        )
        return head + table_text(self.summary().T)

    def __repr__(self) -> str:
        s = self.summary()
        parts = ", ".join(
            f"{name} peak {r['peak_instances']} ({r['cost']:,.2f} {r['currency']})"
            for name, r in s.iterrows()
        )
        return f"<ProvisioningLadder {parts}>"

    def chart(self):
        """Instances needed and ready per minute on the wall clock (UTC), one panel per
        fleet (an altair Chart); see :func:`capplan.charts.ladder_chart`."""
        from capplan import charts

        return charts.ladder_chart(self)

    # -- exports -------------------------------------------------------------------------

    def schedule(self) -> list[dict]:
        """The desired instances per fleet: ``{"time_utc": "...Z", "fleet": name,
        "desired_instances": n}`` at the fleet's first request and at each change after it
        (a fleet never requested: one entry, its ``min_instances``, at the first minute),
        in time order. The desired count is the billed one (ready plus booting): the
        capacity to ask for. Nothing is set before a fleet's first request: the fleet is
        left as it is until its ladder starts."""
        out = []
        for f in self.fleets:
            g = self.frame[self.frame["fleet"] == f.name]
            asked = np.flatnonzero(g["requested_now"].to_numpy() > 0)
            billed = g["billed"].iloc[asked[0] if asked.size else 0 :]
            changed = billed.ne(billed.shift())
            for t, n in billed[changed].items():
                out.append({"time_utc": _z(t), "fleet": f.name, "desired_instances": int(n)})
        return sorted(out, key=lambda r: r["time_utc"])

    def to_csv(self, path) -> Path:
        """Write the per-minute ladder (:meth:`to_frame`, times as ISO-8601 'Z') as CSV."""
        path = Path(path)
        frame = self.to_frame()
        frame.index = [_z(t) for t in frame.index]
        with staged(path) as (temporary,):  # a failure leaves no half-written file
            frame.rename_axis("time_utc").to_csv(temporary)
        return path

    def to_json(self, path) -> Path:
        """Write :meth:`schedule` as JSON (a list of ``{time_utc, fleet,
        desired_instances}``), the schedule a deploy job reads."""
        path = Path(path)
        text = json.dumps(self.schedule(), indent=1) + "\n"
        with staged(path) as (temporary,):  # a failure leaves no half-written file
            temporary.write_text(text)
        return path

    def aws_scheduled_actions(self, group_names: dict, *, prefix: str = "capplan") -> list[dict]:
        """EC2 Auto Scaling scheduled actions for the ladder, one per change of desired
        capacity, each a ``put-scheduled-update-group-action`` input.

        Parameters
        ----------
        group_names : dict
            Fleet name -> Auto Scaling group name; fleets left out are not exported.
        prefix : str, default "capplan"
            Start of each ``ScheduledActionName`` (then the fleet and the UTC minute).

        Returns
        -------
        list of dict
            ``AutoScalingGroupName``, ``ScheduledActionName``, ``StartTime``
            (``YYYY-MM-DDThh:mm:ssZ``, UTC), ``DesiredCapacity``, ``MinSize`` (the desired
            count: a reactive policy may add above the ladder, never scale in below it)
            and ``MaxSize`` (the fleet's peak on the ladder, at least the desired count).
            For ``batch-put-scheduled-update-group-action``, group them by
            ``AutoScalingGroupName`` and pass the rest of each as
            ``ScheduledUpdateGroupActions`` (at most 50 per call).
        """
        names = {f.name for f in self.fleets}
        unknown = [k for k in group_names if k not in names]
        if unknown:
            raise ValueError(
                f"group_names: no fleet {unknown[0]!r} in the ladder; its fleets: {sorted(names)}"
            )
        peaks = self.summary()["peak_instances"]
        out = []
        for entry in self.schedule():
            fleet = entry["fleet"]
            if fleet not in group_names:
                continue
            n = entry["desired_instances"]
            stamp = entry["time_utc"].replace("-", "").replace(":", "")
            out.append(
                {
                    "AutoScalingGroupName": str(group_names[fleet]),
                    "ScheduledActionName": f"{prefix}-{fleet}-{stamp}",
                    "StartTime": entry["time_utc"],
                    "DesiredCapacity": n,
                    "MinSize": n,
                    "MaxSize": max(n, int(peaks[fleet])),
                }
            )
        return out
