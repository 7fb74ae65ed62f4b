"""The sample event history: forty events drawn from documented ranges.

Every event gets its own child seed, ``SeedSequence(seed).spawn``'s child
``i + 1`` (child 0 draws the plan: parameters, times and signals), so one
event can be regenerated alone::

    ev = sample_events(40, seed=DEFAULT_SEED)[7]
    simulate_event(ev.params, ev.scheduled_start, seed=ev.seed)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from capplan.synth.params import EventParams
from capplan.synth.simulate import expected_arrivals, simulate_event

DEFAULT_SEED = 20_250_611
BEFORE_S = 3600  # window before the scheduled start (s)
AFTER_S = 1800  # window after the end (s)

# How the audience signals drive the size (natural logs):
#   audience = AUDIENCE_SCALE * followers**FOLLOWER_EXPONENT * exp(N(0, AUDIENCE_NOISE))
#   registrations = REGISTRATION_SCALE * audience**0.95 * exp(N(0, REGISTRATION_NOISE))
#   notifications_sent = opt-in share U(0.2, 0.6) * followers + registrations
AUDIENCE_SCALE = 0.3
FOLLOWER_EXPONENT = 0.9
AUDIENCE_NOISE = 0.5
REGISTRATION_SCALE = 0.4
REGISTRATION_NOISE = 0.4
FOLLOWERS_LOG10 = (4.25, 8.25)  # log-uniform followers of the hosts
HEADLINE_AUDIENCE = 1.05e7  # gives a peak of about 9 million concurrent listeners
LARGEST_OTHER = 0.8  # no other event's audience exceeds this share of the headline's

RANGES = {  # documented ranges of the drawn parameters (units in the names)
    "followers": "log-uniform 10**4.25..10**8.25 (the headline host: set by its audience)",
    "audience": "0.3 * followers**0.9 * lognormal(0, 0.5), at most 0.8 x the headline's; "
    "headline 1.05e7",
    "duration_s": "45..150 min, whole minutes",
    "start_delay_s": "a fifth of the events: 3..45 min; the others 0..60 s",
    "background_concurrent_share": "log-uniform 0.02..0.2 of the audience",
    "lobby_share": "0.05..0.30",
    "lobby_scale_s": "180..900",
    "flood_rise_s": "log-uniform 5..60 (headline 8)",
    "flood_decay_s": "log-uniform 60..600, at least 3 x rise (headline 150)",
    "late_share": "0.05..0.20",
    "session_median_s": "log-uniform 600..2400 (10..40 min)",
    "session_sigma": "0.8..1.4",
    "exodus_s": "60..300",
    "overdispersion_alpha": "log-uniform 0.005..0.05",
    "lobby_patience_s": "600..2400",
    "join_capacity_per_s": "a quarter of the events: 0.3..0.8 x the expected peak first-try "
    "rate (log-uniform); the others unlimited",
    "retry_probability": "0.5..0.95",
    "retry_backoff_s": "2..15",
    "max_tries": "3..6",
}

_KINDS = (
    "Live Q&A",
    "Album listening party",
    "Town hall",
    "Product launch",
    "Watch-along",
    "Election night special",
    "Book club live",
    "Podcast live taping",
    "Fan meet-up",
    "Cup final pre-show",
)
_HOSTS = (
    "Aria Chen",
    "Bastien Morel",
    "Chidi Okafor",
    "Dana Kowalski",
    "Elif Yilmaz",
    "Farah Haddad",
    "Gustavo Reis",
    "Hana Sato",
    "Ivan Petrov",
    "Jade Laurent",
    "Kofi Mensah",
    "Lena Fischer",
    "Mateo Ruiz",
    "Nora Lindqvist",
    "Omar Farouk",
    "Priya Nair",
    "Quinn Harper",
    "Rosa Delgado",
    "Sven Berg",
    "Tala Aziz",
    "Umar Sheikh",
    "Vera Novak",
    "Wen Li",
    "Ximena Soto",
    "Yusuf Demir",
    "Zoe Carter",
    "Anouk de Vries",
    "Bruno Costa",
    "Chloe Martin",
    "Diego Alvarez",
    "Emma Rossi",
    "Finn O'Neill",
    "Greta Holm",
    "Hugo Blanc",
    "Isla Murray",
    "Jonas Weber",
    "Kira Ivanova",
    "Luca Bianchi",
    "Maya Cohen",
    "Niko Virtanen",
    "Olga Smirnova",
    "Pablo Navarro",
    "Rina Takahashi",
    "Sami Khalil",
    "Tomas Novotny",
)


@dataclass(frozen=True)
class SampledEvent:
    """One planned event of the sample: identity, signals, parameters and seed."""

    event_id: str
    name: str
    scheduled_start: pd.Timestamp
    followers: int
    registrations: int
    notifications_sent: int
    params: EventParams
    seed: np.random.SeedSequence

    @property
    def actual_start(self) -> pd.Timestamp:
        return self.scheduled_start + pd.Timedelta(seconds=self.params.start_delay_s)

    @property
    def end(self) -> pd.Timestamp:
        return self.actual_start + pd.Timedelta(seconds=self.params.duration_s)

    def simulate(self, **kwargs) -> pd.DataFrame:
        """`simulate_event` with this event's parameters, start and seed."""
        kwargs.setdefault("before_s", BEFORE_S)
        kwargs.setdefault("after_s", AFTER_S)
        return simulate_event(self.params, self.scheduled_start, seed=self.seed, **kwargs)


def event_seed(seed: int, index: int) -> np.random.SeedSequence:
    """Child seed of event `index` (from 0): ``SeedSequence(seed).spawn(...)[index + 1]``."""
    return np.random.SeedSequence(seed, spawn_key=(index + 1,))


def sample_events(n_events: int = 40, seed: int = DEFAULT_SEED) -> list[SampledEvent]:
    """Draw the plan of `n_events` events: parameters, times and audience signals.

    Parameters are drawn from :data:`RANGES`. One event (the headline) has
    an audience of ``HEADLINE_AUDIENCE``, starts on time with a sharp flood
    and an unlimited join path; of the others, ``round(n / 5)`` start 3..45
    minutes late and ``round(n / 4)`` have a limited join path, at least one
    event both, as in the reference incident. Scheduled
    starts are spread over 2025-2026 at any UTC hour, rounded to the minute;
    ``event_id`` ("ev-001", ...) follows them in time.

    Examples
    --------
    >>> events = sample_events(5, seed=3)
    >>> [e.event_id for e in events]
    ['ev-001', 'ev-002', 'ev-003', 'ev-004', 'ev-005']
    """
    if isinstance(n_events, bool) or not isinstance(n_events, (int, np.integer)) or n_events < 1:
        raise ValueError(f"n_events must be an integer >= 1, got {n_events!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0 (a reproducible sample), got {seed!r}")
    n = int(n_events)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0,)))

    def loguniform(lo, hi, size=n):
        return np.exp(rng.uniform(math.log(lo), math.log(hi), size))

    headline = int(rng.integers(n))
    others = np.delete(np.arange(n), headline)
    late = rng.choice(others, size=min(round(n / 5), len(others)), replace=False)
    limited = rng.choice(others, size=min(round(n / 4), len(others)), replace=False)
    if len(late) and not np.intersect1d(late, limited).size:
        limited[0] = late[0]  # the reference incident: late, and a join path that cannot cope

    followers = 10 ** rng.uniform(*FOLLOWERS_LOG10, n)
    noise = rng.normal(0.0, AUDIENCE_NOISE, n)
    audience = AUDIENCE_SCALE * followers**FOLLOWER_EXPONENT * np.exp(noise)
    audience = np.minimum(audience, LARGEST_OTHER * HEADLINE_AUDIENCE)
    audience[headline] = HEADLINE_AUDIENCE  # its followers follow from it, noise included
    followers[headline] = (HEADLINE_AUDIENCE / (AUDIENCE_SCALE * np.exp(noise[headline]))) ** (
        1 / FOLLOWER_EXPONENT
    )
    registrations = (
        REGISTRATION_SCALE * audience**0.95 * np.exp(rng.normal(0.0, REGISTRATION_NOISE, n))
    )
    notifications = rng.uniform(0.2, 0.6, n) * followers + registrations

    first, last = pd.Timestamp("2025-01-01", tz="UTC"), pd.Timestamp("2026-12-31", tz="UTC")
    minutes = np.sort(rng.integers(0, int((last - first).total_seconds() // 60), n))
    duration_s = 60.0 * rng.integers(45, 151, n)
    delay_s = rng.integers(0, 61, n).astype(float)
    delay_s[late] = rng.integers(180, 2701, len(late))
    session_median_s = loguniform(600, 2400)
    session_sigma = rng.uniform(0.8, 1.4, n)
    session_mean_s = session_median_s * np.exp(session_sigma**2 / 2)
    background = loguniform(0.02, 0.2) * audience / session_mean_s
    rise = loguniform(5, 60)
    decay = np.maximum(loguniform(60, 600), 3 * rise)
    draws = {
        "lobby_share": rng.uniform(0.05, 0.30, n),
        "lobby_scale_s": rng.uniform(180, 900, n),
        "late_share": rng.uniform(0.05, 0.20, n),
        "exodus_s": rng.uniform(60, 300, n),
        "overdispersion_alpha": loguniform(0.005, 0.05),
        "lobby_patience_s": rng.uniform(600, 2400, n),
        "retry_probability": rng.uniform(0.5, 0.95, n),
        "retry_backoff_s": rng.uniform(2, 15, n),
    }
    max_tries = rng.integers(3, 7, n)
    capacity_factor = loguniform(0.3, 0.8)
    hosts = rng.choice(len(_HOSTS), size=n, replace=n > len(_HOSTS))
    kinds = rng.integers(len(_KINDS), size=n)
    rise[headline], decay[headline], delay_s[headline] = 8.0, 150.0, 0.0

    events = []
    for i in range(n):
        params = EventParams(
            audience=float(audience[i]),
            duration_s=float(duration_s[i]),
            background_rate_per_s=float(background[i]),
            flood_rise_s=float(rise[i]),
            flood_decay_s=float(decay[i]),
            start_delay_s=float(delay_s[i]),
            session_median_s=float(session_median_s[i]),
            session_sigma=float(session_sigma[i]),
            max_tries=int(max_tries[i]),
            **{name: float(values[i]) for name, values in draws.items()},
        )
        if i in limited:
            peak = _expected_peak_rate(params)
            capacity = max(5.0, round(capacity_factor[i] * peak))
            params = replace(params, join_capacity_per_s=float(capacity))
        kind = "Live audio interview" if i == headline else _KINDS[kinds[i]]
        events.append(
            SampledEvent(
                event_id=f"ev-{i + 1:03d}",
                name=f"{kind}: {_HOSTS[hosts[i]]}",
                scheduled_start=first + pd.Timedelta(minutes=int(minutes[i])),
                followers=round(float(followers[i])),
                registrations=round(float(registrations[i])),
                notifications_sent=round(float(notifications[i])),
                params=params,
                seed=event_seed(seed, i),
            )
        )
    return events


def generate_history(
    n_events: int = 40, seed: int = DEFAULT_SEED
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Generate the sample history: (events, series) tables.

    ``events``: ``event_id``, ``name``, ``scheduled_start``,
    ``actual_start``, ``end`` (UTC) and the signals ``followers``,
    ``registrations``, ``notifications_sent`` (counts). ``series``:
    ``event_id`` and the columns of :func:`simulate_event`, 1-second rows
    from ``BEFORE_S`` before the scheduled start to ``AFTER_S`` after the end.

    Examples
    --------
    >>> events, series = generate_history(1, seed=5)
    >>> len(events), list(series.columns[:2])
    (1, ['event_id', 'timestamp'])
    """
    sampled = sample_events(n_events, seed)
    events = events_frame(sampled)
    series = [e.simulate().assign(event_id=e.event_id) for e in sampled]
    series = pd.concat(series, ignore_index=True)
    series = series[["event_id", *series.columns.drop("event_id")]]
    series["event_id"] = series["event_id"].astype("str")
    return events, series


def events_frame(sampled: list[SampledEvent], *, parameters: bool = False) -> pd.DataFrame:
    """The events table of `sampled`; with ``parameters=True`` also every
    generating parameter (for inspection only: they are not signals known
    before an event and must not go into a history's events table)."""
    rows = []
    for e in sampled:
        row = {
            "event_id": e.event_id,
            "name": e.name,
            "scheduled_start": e.scheduled_start,
            "actual_start": e.actual_start,
            "end": e.end,
            "followers": e.followers,
            "registrations": e.registrations,
            "notifications_sent": e.notifications_sent,
        }
        if parameters:
            row |= e.params.to_dict()
        rows.append(row)
    frame = pd.DataFrame(rows)
    for column in ("event_id", "name"):
        frame[column] = frame[column].astype("str")
    for column in ("scheduled_start", "actual_start", "end"):
        frame[column] = pd.to_datetime(frame[column], utc=True).dt.as_unit("us")
    for column in ("followers", "registrations", "notifications_sent"):
        frame[column] = frame[column].astype(np.int64)
    return frame


def write_sample(directory, n_events: int = 40, seed: int = DEFAULT_SEED) -> tuple[Path, Path]:
    """Generate the sample history and write ``events.parquet`` and
    ``series.parquet`` into `directory` (created if needed).

    Zstandard-compressed, no index, no pandas metadata: the same pyarrow
    version and seed give byte-identical files.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    events, series = generate_history(n_events, seed)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = directory / "events.parquet", directory / "series.parquet"
    for frame, path in zip((events, series), paths, strict=True):
        schema = pa.schema([(c, _arrow_type(frame[c])) for c in frame.columns])
        table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
        table = table.replace_schema_metadata(None)
        pq.write_table(table, path, compression="zstd")
    return paths


def _arrow_type(column: pd.Series):
    import pyarrow as pa

    if isinstance(column.dtype, pd.DatetimeTZDtype):
        return pa.timestamp("us", tz="UTC")
    if pd.api.types.is_integer_dtype(column.dtype):
        return pa.int64()
    return pa.string()


def _expected_peak_rate(params: EventParams) -> float:
    edges = np.arange(-BEFORE_S - 7200.0, params.start_delay_s + params.duration_s + 1.0)
    event, background = expected_arrivals(params, edges)
    return float((event + background).max())
