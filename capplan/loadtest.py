"""Load tests that prove a plan: the forecast join flood as a Locust shape and a k6 script.

:func:`load_profile` turns a plan's forecast into target arrivals per second of *test*
time; :func:`write_locust` and :func:`write_k6` write self-contained scripts that send
it (the profile is embedded: nothing else is read at run time); :func:`write_loadtest`
writes both with ``settings.json``, ``profile.csv`` and ``README.txt``
(``capplan loadtest``).

Time and rates
--------------
A test plays the event's window faster and, if asked, thinner. With ``compress`` ``C``
and ``rate_scale`` ``s``, the forecast rate ``lambda(t)`` at event time ``t`` (s since
the scheduled start) is sent at ``s lambda(t)`` per second at test time
``(t - t0) / C``: the per-second rate keeps its shape and its height (times ``s``), and
the window lasts ``C`` times less. ``compress=10`` plays the event's hour in 6 minutes
at the event's own rates; the joins sent are ``s / C`` times the forecast's:

    total = (s / C) * integral of lambda(t) dt over the window.

Rates are kept rather than scaled by ``C`` because the peak rate is what a join path
must hold; ``rate_scale`` is for a test box that cannot send the peak (or for one of
``N`` load generators that share it: ``1 / N`` each).

Users (Little's law)
--------------------
An open-model test fixes arrival times, not users: a user (a Locust user, a k6 VU) is
only a slot to send from, busy for one response time. Each join holds one for at most
``R = slo.wait_s + service.mean_s`` (the SLO's wait plus the work) if the service meets
its SLO, so ``rate x R`` users are busy on average (Little's law). The scripts get
``ceil(headroom x R x rate)`` (the higher rate of this and the next stage, so users are
there before the rate), never fewer than before: Locust stops a waiting user by killing
it, and with it its next scheduled join. If responses are slower than ``R``, joins start
late (Locust counts them) or are dropped (k6's ``dropped_iterations``): raise
``headroom``.

Example
-------
>>> import numpy as np, pandas as pd
>>> from capplan.planning import JoinForecast, JoinService, SLO, plan_event
>>> rates = pd.Series(100.0, index=np.arange(-60, 60))
>>> plan = plan_event(JoinForecast.from_rates(rates, factor=1.2),
...                   ("exponential", {"mean_s": 600.0}), service=JoinService(0.05),
...                   streams_per_server=5000, window=(-60, 60), slo=SLO(wait_s=1.0, fraction=0.99))
>>> profile = load_profile(plan, compress=10, rate_scale=0.5)
>>> len(profile), float(profile["rate_per_s"].max()), round(float(profile["requests"].sum()))
(12, 50.0, 600)
>>> int(profile["users"].max())  # ceil(1.5 x (1.0 + 0.05) s x 50/s)
79
"""

from __future__ import annotations

import json
import math
import re
import string
import textwrap
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import pandas as pd

from capplan._files import staged

__all__ = ["load_profile", "write_k6", "write_loadtest", "write_locust"]

LOCUSTFILE, K6_SCRIPT = "locustfile.py", "k6.js"
SCHEDULED_HEADER = "X-Capplan-Scheduled-S"
LATE_S = 1.0  # a join sent later than this after its time is counted late
MAX_FACTOR = 1e6  # compress and rate_scale: a year in 30 s, a million times the rate
MAX_HEADROOM = 1e3
MAX_STAGES = 1_000_000  # about eleven days of one-second stages


# -- the profile ------------------------------------------------------------------------------


def load_profile(
    plan,
    *,
    curve: str = "point",
    compress: float = 1.0,
    rate_scale: float = 1.0,
    window_s: tuple[float, float] | None = None,
    step_s: int = 1,
    headroom: float = 1.5,
) -> pd.DataFrame:
    """Target arrivals per stage of test time, from a plan's forecast.

    Parameters
    ----------
    plan : EventPlan
        A plan (:func:`~capplan.plan_event`, :func:`~capplan.load_plan`).
    curve : str, default "point"
        The forecast curve to send: ``"point"``, ``"upper"`` (its upper quantile), or
        another of ``plan.forecast.scenarios``.
    compress : float, default 1
        Play the window this many times faster (> 0): ``10`` plays an hour in 6
        minutes. Rates per second are kept (times ``rate_scale``); the total is
        ``rate_scale / compress`` times the forecast's.
    rate_scale : float, default 1
        Multiply every rate (> 0), e.g. ``0.01`` for a small test box.
    window_s : (float, float), optional
        Event seconds to play, ``[start, end)``; default the plan's window.
    step_s : int, default 1
        Length of a stage in test seconds (a whole number >= 1); the last stage is
        shorter if the compressed window does not divide.
    headroom : float, default 1.5
        Users per busy user (>= 1): the Little's-law figure times this.

    Returns
    -------
    pandas.DataFrame
        One row per stage, indexed by ``test_s`` (its start, s of test time):
        ``event_s`` (event time at its start), ``duration_s`` (test seconds),
        ``rate_per_s`` (target arrivals per test second), ``requests`` (expected
        arrivals in the stage: the forecast's integral over its event seconds times
        ``rate_scale / compress``) and ``users`` (Little's law, see the module). The
        settings are in ``attrs``: ``curve``, ``compress``, ``rate_scale``,
        ``window_s``, ``step_s``, ``headroom``, ``wait_s`` (the SLO's, 0 without
        one), ``work_s`` (work per join), ``response_s`` (R, their sum), ``timeout_s``,
        ``duration_s``, ``total_requests`` (whole joins the scripts send),
        ``peak_rate_per_s``, ``peak_users``, ``spawn_rate``.

    Raises
    ------
    ValueError
        A number that is not finite and positive, a window outside the forecast, an
        unknown curve, or a profile with no joins.
    """
    compress = _positive("compress", compress, MAX_FACTOR)
    rate_scale = _positive("rate_scale", rate_scale, MAX_FACTOR)
    headroom = _positive("headroom", headroom, MAX_HEADROOM)
    if headroom < 1:
        raise ValueError(f"headroom must be >= 1 (users per busy user); got {headroom!r}")
    if isinstance(step_s, bool) or not isinstance(step_s, Integral) or not 1 <= step_s <= 86_400:
        raise ValueError(
            f"step_s must be a whole number of test seconds from 1 to 86400; got {step_s!r}"
        )
    forecast = plan.forecast
    rates = _curve(forecast, curve)
    start, end = _window(plan, window_s)
    stages = (end - start) / (compress * step_s)
    if stages > MAX_STAGES:
        raise ValueError(
            f"{end - start:g} event seconds at compress {compress:g} make a test of "
            f"{stages:.3g} stages of {step_s} s; at most {MAX_STAGES:,}: raise compress or "
            "step_s, or shorten window_s"
        )

    # The forecast is a rate per whole second: its integral is piecewise linear.
    edges = np.append(forecast.t, forecast.t[-1] + 1.0)
    cumulative = np.concatenate([[0.0], np.cumsum(rates)])
    bounds = np.arange(start, end, compress * step_s, dtype=float)
    bounds = np.append(bounds[bounds < end - 1e-9], end)
    events = np.diff(np.interp(bounds, edges, cumulative))
    duration = np.diff(bounds) / compress
    requests = events * rate_scale / compress
    rate = requests / duration
    if not requests.sum() >= 0.5:
        raise ValueError(
            f"the {curve!r} curve sends {requests.sum():.3g} joins over {start:g}..{end:g} s "
            f"at rate_scale {rate_scale:g} and compress {compress:g}: not one whole join; "
            "raise rate_scale or pick another window_s or curve"
        )

    wait_s, work_s = float(plan.slo.wait_s or 0.0), float(plan.service.mean_s)
    response_s = wait_s + work_s
    ahead = np.append(rate[1:], 0.0)
    needed = np.ceil(headroom * response_s * np.maximum(rate, ahead) - 1e-9)
    users = np.maximum.accumulate(np.maximum(needed, 1.0)).astype(np.int64)
    rises = np.diff(users, prepend=0)
    frame = pd.DataFrame(
        {
            "event_s": bounds[:-1],
            "duration_s": duration,
            "rate_per_s": rate,
            "requests": requests,
            "users": users,
        },
        index=pd.Index(np.arange(len(duration)) * float(step_s), name="test_s"),
    )
    frame.attrs.update(
        curve=curve,
        compress=compress,
        rate_scale=rate_scale,
        window_s=[start, end],
        step_s=int(step_s),
        headroom=headroom,
        wait_s=wait_s,
        work_s=work_s,
        response_s=response_s,
        timeout_s=float(plan.client.timeout_s),
        duration_s=float(duration.sum()),
        total_requests=math.floor(requests.sum() + 0.5),
        peak_rate_per_s=float(rate.max()),
        peak_users=int(users.max()),
        # every rise of users within half a stage (Locust's ramp blocks its shape)
        spawn_rate=float(max(1, math.ceil(2 * rises.max() / step_s))),
        description=forecast.description,
    )
    return frame


def _positive(name: str, value, most: float) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number > 0; got {value!r}")
    if value <= 0:
        raise ValueError(f"{name} must be > 0; got {value!r}")
    if value > most:
        raise ValueError(f"{name} must be at most {most:g}; got {value!r}")
    return float(value)


def _curve(forecast, curve) -> np.ndarray:
    if not isinstance(curve, str) or not curve.isprintable() or curve not in forecast.scenarios:
        raise ValueError(
            f"curve must be one of the forecast's curves {sorted(forecast.scenarios)}; "
            f"got {curve!r}"
        )
    return np.asarray(forecast.scenarios[curve], dtype=float)


def _window(plan, window_s) -> tuple[float, float]:
    forecast = plan.forecast
    if window_s is None:
        window_s = plan.window
    try:
        start, end = (float(v) for v in window_s)
    except (TypeError, ValueError):
        raise ValueError(
            f"window_s must be (start_s, end_s) in event seconds; got {window_s!r}"
        ) from None
    if not (math.isfinite(start) and math.isfinite(end) and start < end):
        raise ValueError(f"window_s must be finite with start < end; got {window_s!r}")
    if start < forecast.start_s - 1e-9 or end > forecast.end_s + 1e-9:
        raise ValueError(
            f"window_s {start:g}..{end:g} s is outside the plan's forecast "
            f"({forecast.start_s:g}..{forecast.end_s:g} s)"
        )
    return start, end


# -- writing ----------------------------------------------------------------------------------


def write_locust(
    plan, directory, *, host: str | None = None, path: str = "/join", **options
) -> Path:
    """Write a self-contained ``locustfile.py`` that sends the plan's flood.

    It holds the profile (:func:`load_profile` with ``options``), a ``LoadTestShape``
    whose ``tick()`` returns the stage's (users, spawn rate) and ends the test after
    the last stage, and a ``FastHttpUser`` that sends open-model arrivals: the joins'
    times are fixed in advance, evenly within each stage, and each user, after a
    join, sleeps until the next unsent time (its ``wait_time``), so that a slow
    response delays no later join while a user is free. Each request carries its
    scheduled test time in the ``X-Capplan-Scheduled-S`` header. Also writes
    ``settings.json``, ``profile.csv`` and ``README.txt`` (how to run it).

    Parameters
    ----------
    plan : EventPlan
    directory : str or Path
        Created if missing.
    host : str, optional
        Base URL (``http://`` or ``https://``); otherwise give ``--host`` to Locust.
    path : str, default "/join"
        The request's path (edit ``JoinUser.join`` for the real request).
    **options
        :func:`load_profile`'s keywords.

    Returns
    -------
    pathlib.Path
        The locustfile.
    """
    return _write(plan, directory, host, path, options, {LOCUSTFILE: _locustfile})[0]


def write_k6(plan, directory, *, host: str | None = None, path: str = "/join", **options) -> Path:
    """Write ``k6.js``: the plan's flood as k6's ``ramping-arrival-rate`` executor.

    One stage per profile stage (runs of equal targets merged): ``target`` is the
    stage's rate in iterations per ``timeUnit`` (whole numbers, as k6 wants: the unit
    is 1 s, 10 s or 1 min, the shortest that rounds the peak within 0.5%), reached by
    a linear ramp over the stage (k6's stages ramp; the profile steps, so k6 sends the
    profile smoothed over one stage). ``preAllocatedVUs`` is the Little's-law figure
    at the peak (:func:`load_profile`'s peak users), ``maxVUs`` the VUs that the peak
    rate would hold if every join waited for the client's timeout. Also writes
    ``settings.json``, ``profile.csv`` and ``README.txt``.

    Parameters and Returns are as :func:`write_locust`'s (the script's path).
    """
    return _write(plan, directory, host, path, options, {K6_SCRIPT: _k6_script})[0]


def write_loadtest(
    plan, directory, *, host: str | None = None, path: str = "/join", **options
) -> list[Path]:
    """Write the Locust and the k6 scripts with their ``settings.json``, ``profile.csv``
    and ``README.txt`` (``capplan loadtest``); returns the paths written."""
    scripts = {LOCUSTFILE: _locustfile, K6_SCRIPT: _k6_script}
    return _write(plan, directory, host, path, options, scripts)


def _write(plan, directory, host, path, options, scripts) -> list[Path]:
    """The profile's scripts (file name -> renderer) and the shared files; their paths,
    the scripts first. Everything is checked and rendered before anything is written, and
    the files are renamed into place together: a failure leaves `directory` as it was."""
    host, path = _check_target(host, path)
    directory = _directory(directory)
    profile = load_profile(plan, **options)
    texts = {name: render(profile, host, path) for name, render in scripts.items()}
    texts.update(_settings_files(profile, host, path))
    paths = [directory / name for name in texts]
    folders = [p.name for p in paths if p.is_dir()]
    if folders:  # found now, not when the first files were already renamed into place
        raise ValueError(f"{directory}: {', '.join(folders)} is a folder; nothing written")
    directory.mkdir(parents=True, exist_ok=True)
    with staged(*paths) as temporaries:
        for text, temporary in zip(texts.values(), temporaries, strict=True):
            temporary.write_text(text)
    return paths


# A host is written into the scripts and their comments: a URL's characters only.
_HOST = re.compile(r"https?://[A-Za-z0-9._~%!$&*+,;=:@\[\]-]+/*")
_PATH = re.compile(r"/[A-Za-z0-9._~%!$&()*+,;=:@/?#\[\]-]*")


def _check_target(host, path) -> tuple[str | None, str]:
    if host is not None:
        if not isinstance(host, str) or not host.startswith(("http://", "https://")):
            raise ValueError(f"host must be a URL starting with http:// or https://; got {host!r}")
        if not _HOST.fullmatch(host):
            raise ValueError(
                "host must be a URL's scheme and host (and port), with no space, quote or "
                f"path, e.g. https://join.example.com; got {host!r}"
            )
        host = host.rstrip("/")
    if not isinstance(path, str) or not path.startswith("/") or not _PATH.fullmatch(path):
        raise ValueError(
            "path must start with / and hold no quote, space or newline (a URL's path); "
            f"got {path!r}"
        )
    return host, path


def _directory(directory) -> Path:
    """The folder to write into, checked; made only when there is something to write."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise ValueError(f"{directory} is a file; give a directory to write the load test in")
    parent = directory.absolute().parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise ValueError(f"{directory}: {parent} is a file, not a directory")
    return directory


def _settings(profile: pd.DataFrame, host, path) -> dict:
    a = profile.attrs
    unit = _time_unit_s(a["peak_rate_per_s"])
    return {
        "profile": {
            k: a[k]
            for k in ("curve", "compress", "rate_scale", "window_s", "step_s", "description")
        },
        "duration_s": a["duration_s"],
        "total_requests": a["total_requests"],
        "peak_rate_per_s": a["peak_rate_per_s"],
        "littles_law": {
            "response_s": a["response_s"],
            "headroom": a["headroom"],
            "peak_users": a["peak_users"],
            "rule": "users = ceil(headroom x response_s x rate), response_s = SLO wait + work",
        },
        "locust": {
            "locustfile": LOCUSTFILE,
            "spawn_rate": a["spawn_rate"],
            "end_s": _end_s(profile),
            "command": _locust_command(profile, host),
        },
        "k6": {
            "script": K6_SCRIPT,
            "time_unit": _duration(unit),
            "preAllocatedVUs": a["peak_users"],
            "maxVUs": _max_vus(profile),
            "command": _k6_command(host),
        },
        "target": {"host": host, "path": path, "timeout_s": a["timeout_s"]},
    }


def _settings_files(profile, host, path) -> dict[str, str]:
    """``settings.json``, ``profile.csv`` and ``README.txt``, by name."""
    settings = _settings(profile, host, path)
    return {
        "settings.json": json.dumps(settings, indent=1) + "\n",
        "profile.csv": profile.to_csv(),
        "README.txt": _readme(profile, settings),
    }


def _end_s(profile) -> float:
    """When the shape ends the test: the last stage's end plus one response time."""
    a = profile.attrs
    return float(math.ceil(a["duration_s"] + a["response_s"]))


def _locust_command(profile, host) -> str:
    target = host or "https://join.example.internal"
    return f"locust -f {LOCUSTFILE} --headless --host {target} --only-summary"


def _k6_command(host) -> str:
    return f"k6 run -e BASE_URL={host or 'https://join.example.internal'} {K6_SCRIPT}"


def _readme(profile, settings) -> str:
    a = profile.attrs
    lo, hi = a["window_s"]
    return f"""\
Load test of the join path, written by `capplan loadtest`.

curve       the forecast's {a["curve"]} curve
window      event seconds {lo:g}..{hi:g}, played {a["compress"]:g} times faster \
({a["duration_s"]:g} s)
rate_scale  {a["rate_scale"]:g} (every rate times this)
joins       {a["total_requests"]} in all, peak {a["peak_rate_per_s"]:.4g}/s (per stage: profile.csv)

Users (Little's law): a join holds a user for up to R = SLO wait + work =
{a["response_s"]:g} s, so rate x R are busy; the scripts get {a["headroom"]:g}x that:
{a["peak_users"]} at the peak.

Locust (one process; the profile is in the file):
    {settings["locust"]["command"]}
  The shape ends the test after {settings["locust"]["end_s"]:g} s (Locust ignores --run-time
  with a shape).
  Joins sent more than {LATE_S:g} s late are counted and reported at the end.

k6 (ramping-arrival-rate, preAllocatedVUs {a["peak_users"]}, maxVUs {_max_vus(profile)}):
    {settings["k6"]["command"]}

More load than one generator can send: write the test with --rate-scale divided by N
and start N generators together.
"""


# -- the Locust file --------------------------------------------------------------------------

_LOCUST_TEMPLATE = string.Template('''\
"""Locust load test of the join path, written by capplan $version (`capplan loadtest`).

Self-contained: the profile is embedded below; nothing else is read at run time.

Profile
    curve       the forecast's $curve curve
    window      event seconds $lo..$hi (since the scheduled start)
    compress    $compress: the window plays in $duration s of test time
    rate_scale  $rate_scale: the rate r at event time t is sent at $rate_scale r per
                second at test time (t - t0) / $compress, t0 = $lo
    joins       $total in all, $peak/s at the peak, in stages of $step s

Arrivals (an open model, not closed-loop users)
    The joins' times are fixed in advance: the k-th at the test time where the profile's
    cumulative count reaches k + 1/2 (evenly spaced within a stage). A user is only a
    slot to send from: after a join it takes the next unsent time and sleeps until then
    (its wait_time), so a slow response delays no later join while a user is free.
    Each request carries its scheduled test time in the $header header.
    A join sent more than LATE_S after its time is counted late, reported at the end.

Users (Little's law on the SLO's wait)
    A join holds a user for its response time, at most R = SLO wait + work per join =
    $wait + $work = $response s if the service meets its SLO. Busy users = arrival rate
    x R (Little's law); each stage has ceil($headroom x R x rate) users (the higher rate of
    this stage and the next, so users are there first), never fewer than before (Locust
    stops a waiting user by killing it, with its next join): $peak_users at the peak,
    spawned at $spawn_rate/s. If responses are slower than R, joins start late: write
    the test again with a larger --headroom.

Run
    $command
    The shape ends the test after END_S = $end s (Locust ignores --run-time with a
    shape: stop it by hand with Ctrl-C, or by a timeout around the command).
    Run one Locust process, not --processes or --master/--worker (each process would
    send the whole profile). For more load than one process sends, write the test with
    --rate-scale divided by N and start N of them together.
"""

import heapq
import itertools
import logging
import math
import sys
import time
from bisect import bisect_left

from locust import FastHttpUser, LoadTestShape, events, task
from locust.runners import MasterRunner, WorkerRunner

HOST = $host
PATH = $path
HEADER = "$header"
TIMEOUT_S = $timeout  # the client's timeout in the plan
LATE_S = $late
STEP_S = $step
DURATION_S = $duration_repr
END_S = $end
SPAWN_RATE = $spawn_rate

# Expected joins per stage (stage i starts at i * STEP_S s of test time).
REQUESTS = [
$requests
]
# Users per stage (Little's law, with headroom; never fewer than before).
USERS = [
$users
]

CUMULATIVE = list(itertools.accumulate(REQUESTS, initial=0.0))
TOTAL = math.floor(CUMULATIVE[-1] + 0.5)
logger = logging.getLogger("capplan.loadtest")


def stage_length(i):
    return STEP_S if i < len(REQUESTS) - 1 else DURATION_S - i * STEP_S


def scheduled_time(k):
    """Test time (s) of the k-th join, k = 0 .. TOTAL - 1."""
    target = k + 0.5
    i = bisect_left(CUMULATIVE, target) - 1  # CUMULATIVE[i] < target <= CUMULATIVE[i + 1]
    return i * STEP_S + (target - CUMULATIVE[i]) / REQUESTS[i] * stage_length(i)


class Schedule:
    """The joins' times, handed out in order (one process: greenlets, no threads)."""

    def __init__(self):
        self.next = 0
        self.returned = []  # times taken by users that were stopped before sending
        self.sent = 0
        self.late = 0
        self.worst_late_s = 0.0

    def take(self):
        if self.returned:
            return heapq.heappop(self.returned)
        if self.next >= TOTAL:
            return None
        self.next += 1
        return scheduled_time(self.next - 1)

    def give_back(self, due):
        heapq.heappush(self.returned, due)

    def record(self, late_s):
        self.sent += 1
        self.worst_late_s = max(self.worst_late_s, late_s)
        if late_s > LATE_S:
            self.late += 1


SCHEDULE = Schedule()
_START = [time.perf_counter()]


def test_time(environment):
    """Seconds since the test started, on the shape's clock."""
    if environment.shape_class is not None:
        return environment.shape_class.get_run_time()
    return time.perf_counter() - _START[0]


@events.init.add_listener
def _one_process(environment, **_kwargs):
    if isinstance(environment.runner, (MasterRunner, WorkerRunner)):
        sys.exit(
            "this locustfile runs in one Locust process: each worker would send the whole "
            "profile; write N tests with --rate-scale divided by N instead"
        )


@events.test_start.add_listener
def _started(**_kwargs):
    _START[0] = time.perf_counter()


@events.quitting.add_listener
def _report(environment, **_kwargs):
    s = SCHEDULE
    line = (
        f"capplan: sent {s.sent} of {TOTAL} scheduled joins; {s.late} more than {LATE_S:g} s "
        f"late (worst {s.worst_late_s:.2f} s)"
    )
    if s.late > 0.01 * max(s.sent, 1):
        logger.warning(line + ": every user was busy or this load generator was short of CPU")
    else:
        logger.info(line)


class FloodShape(LoadTestShape):
    """Users per stage from the profile; None (the end) after END_S."""

    def tick(self):
        t = self.get_run_time()
        if t >= END_S:
            return None
        return USERS[min(int(t // STEP_S), len(USERS) - 1)], SPAWN_RATE


class JoinUser(FastHttpUser):
    """Sends scheduled joins; edit join() for the real request (auth, body)."""

    host = HOST
    network_timeout = TIMEOUT_S
    connection_timeout = TIMEOUT_S
    _due = None

    def wait_time(self):
        self._due = SCHEDULE.take()
        if self._due is None:
            return 1.0  # every join is sent: the shape ends the test
        return max(0.0, self._due - test_time(self.environment))

    @task
    def arrive(self):
        due, self._due = self._due, None
        if due is None:
            return  # just spawned: take a time first
        SCHEDULE.record(test_time(self.environment) - due)
        self.join(due)

    def join(self, scheduled_s):
        self.client.get(PATH, name="join", headers={HEADER: f"{scheduled_s:.3f}"})

    def on_stop(self):
        if self._due is not None:
            SCHEDULE.give_back(self._due)
            self._due = None
''')


def _locustfile(profile: pd.DataFrame, host, path) -> str:
    import capplan

    a = profile.attrs
    lo, hi = a["window_s"]
    return _LOCUST_TEMPLATE.substitute(
        version=capplan.__version__,
        curve=a["curve"],
        lo=f"{lo:g}",
        hi=f"{hi:g}",
        compress=f"{a['compress']:g}",
        duration=f"{a['duration_s']:g}",
        duration_repr=repr(a["duration_s"]),
        rate_scale=f"{a['rate_scale']:g}",
        total=a["total_requests"],
        peak=f"{a['peak_rate_per_s']:.4g}",
        step=a["step_s"],
        header=SCHEDULED_HEADER,
        wait=f"{a['wait_s']:g}",
        work=f"{a['work_s']:g}",
        response=f"{a['response_s']:g}",
        headroom=f"{a['headroom']:g}",
        peak_users=a["peak_users"],
        spawn_rate=f"{a['spawn_rate']:g}",
        command=_locust_command(profile, host),
        end=f"{_end_s(profile):g}",
        host=repr(host),
        path=repr(path),
        timeout=repr(a["timeout_s"]),
        late=repr(LATE_S),
        requests=_rows(f"{x:.10g}" for x in profile["requests"]),
        users=_rows(str(u) for u in profile["users"]),
    )


def _rows(items) -> str:
    return textwrap.indent(textwrap.fill(", ".join(items) + ",", width=92), "    ")


# -- the k6 script ----------------------------------------------------------------------------

_K6_TEMPLATE = string.Template("""\
// k6 load test of the join path, written by capplan $version (`capplan loadtest`).
//
// curve       the forecast's $curve curve
// window      event seconds $lo..$hi, played $compress times faster ($duration s)
// rate_scale  $rate_scale (every rate times this)
// joins       $total in all, $peak/s at the peak
// Executor ramping-arrival-rate (an open model): each stage's target is the profile's
// rate in iterations per timeUnit ($time_unit), reached by a linear ramp over the stage.
// VUs from Little's law: a join holds a VU for up to R = SLO wait + work = $response s;
// preAllocatedVUs = ceil($headroom x R x peak rate) = $pre, maxVUs = peak rate x the
// client's timeout ($timeout s) = $max. Iterations k6 cannot start for want of a VU
// are counted in dropped_iterations.
//
// Run: $command

import http from 'k6/http';

const BASE_URL = __ENV.BASE_URL || $host;
if (!BASE_URL) {
  throw new Error('give the target: k6 run -e BASE_URL=https://join.example.internal $script');
}

export const options = $options;

export default function () {
  http.get(BASE_URL + $path, { timeout: '$timeout_text', tags: { name: 'join' } });
}
""")


def _time_unit_s(peak_rate: float) -> int:
    """The shortest of 1 s, 10 s, 1 min whose whole targets round the peak within 0.5%."""
    for unit in (1, 10, 60):
        if 0.5 / unit <= 0.005 * peak_rate:
            return unit
    return 60


def _duration(seconds: float) -> str:
    text = f"{seconds:.3f}".rstrip("0").rstrip(".")
    return f"{text}s"


def _max_vus(profile) -> int:
    a = profile.attrs
    return int(max(a["peak_users"], math.ceil(a["peak_rate_per_s"] * a["timeout_s"])))


def _k6_stages(profile) -> tuple[int, list[dict]]:
    unit = _time_unit_s(profile.attrs["peak_rate_per_s"])
    targets = np.rint(profile["rate_per_s"].to_numpy() * unit).astype(np.int64)
    stages: list[list] = []
    for target, seconds in zip(targets, profile["duration_s"], strict=True):
        if stages and stages[-1][0] == target:
            stages[-1][1] += seconds  # a hold at the same target: one stage
        else:
            stages.append([int(target), float(seconds)])
    return unit, [{"duration": _duration(s), "target": t} for t, s in stages]


def _k6_options(profile) -> dict:
    a = profile.attrs
    unit, stages = _k6_stages(profile)
    return {
        "discardResponseBodies": True,
        "scenarios": {
            "join_flood": {
                "executor": "ramping-arrival-rate",
                "startRate": stages[0]["target"],
                "timeUnit": _duration(unit),
                "preAllocatedVUs": a["peak_users"],
                "maxVUs": _max_vus(profile),
                "gracefulStop": _duration(math.ceil(a["timeout_s"])),
                "stages": stages,
            }
        },
    }


def _k6_json(options: dict) -> str:
    """The options as JSON (valid JavaScript), one stage a line."""
    scenario = dict(options["scenarios"]["join_flood"])
    stages = scenario.pop("stages")
    head = "".join(f"      {json.dumps(k)}: {json.dumps(v)},\n" for k, v in scenario.items())
    rows = ",\n".join(f"        {json.dumps(stage)}" for stage in stages)
    top = "".join(
        f"  {json.dumps(k)}: {json.dumps(v)},\n" for k, v in options.items() if k != "scenarios"
    )
    return (
        f'{{\n{top}  "scenarios": {{\n    "join_flood": {{\n{head}'
        f'      "stages": [\n{rows}\n      ]\n    }}\n  }}\n}}'
    )


def _k6_script(profile: pd.DataFrame, host, path) -> str:
    import capplan

    a = profile.attrs
    lo, hi = a["window_s"]
    options = _k6_json(_k6_options(profile))
    return _K6_TEMPLATE.substitute(
        version=capplan.__version__,
        curve=a["curve"],
        lo=f"{lo:g}",
        hi=f"{hi:g}",
        compress=f"{a['compress']:g}",
        duration=f"{a['duration_s']:g}",
        rate_scale=f"{a['rate_scale']:g}",
        total=a["total_requests"],
        peak=f"{a['peak_rate_per_s']:.4g}",
        time_unit=_duration(_time_unit_s(a["peak_rate_per_s"])),
        response=f"{a['response_s']:g}",
        headroom=f"{a['headroom']:g}",
        pre=a["peak_users"],
        max=_max_vus(profile),
        timeout=f"{a['timeout_s']:g}",
        timeout_text=_duration(a["timeout_s"]),
        command=_k6_command(host),
        host=json.dumps(host or ""),
        script=K6_SCRIPT,
        options=options,
        path=json.dumps(path),
    )
