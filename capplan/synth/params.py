"""The generating parameters of one synthetic event."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields


@dataclass(frozen=True)
class EventParams:
    """Generating parameters of ONE event. Times in seconds, rates per second.

    Time is measured from the scheduled start. Event-caused arrivals come in
    three parts whose expected counts add up to `audience`:

    - a **lobby** (`lobby_share`) before the scheduled start, at a rate
      growing like ``exp(t / lobby_scale_s)`` toward it. If the event is
      late, arrivals go on after the scheduled start at the rate reached
      then, decaying with the same time scale, taken from the flood share;
    - a **flood** at the actual start, when the "live now" notification fans
      out, with rate ``∝ exp(-u / flood_decay_s) - exp(-u / flood_rise_s)``
      ``u`` seconds after the actual start (its integral is the flood share);
    - a **trickle** of late joiners (`late_share`) at a constant rate over
      the event.

    Background joins (`background_rate_per_s`) arrive throughout, caused by
    no event. Arrivals are counted per second with gamma-Poisson
    over-dispersion: variance ``mu + alpha mu**2`` for a one-second mean ``mu``.

    Sessions are log-normal (`session_median_s`, `session_sigma`). An event
    listener who joins before the actual start waits and starts the session
    clock at the actual start; while the event is late, each waiting
    listener gives up after an exponential time (mean `lobby_patience_s`)
    counted from the scheduled start (or their join, if later). At the end
    (actual start + `duration_s`) the event listeners still connected leave
    after an exponential time with mean `exodus_s`. Background listeners'
    sessions start when they join and ignore the event.

    A limited join path (`join_capacity_per_s` not None) lets at most
    ``floor(join_capacity_per_s)`` attempts succeed per second; the others
    fail at once (no queue: see ``capplan.simulation`` for that). A failed
    client tries again with probability `retry_probability` after an
    exponential back-off whose mean is `retry_backoff_s` before the second
    try and doubles for each further try, up to `max_tries` tries in all.

    Parameters
    ----------
    audience : float
        Expected number of listeners who join because of the event (count,
        first tries), lobby + flood + trickle.
    background_rate_per_s : float
        Joins per second caused by no event (per second).
    lobby_share : float
        Share of `audience` arriving before the scheduled start (0..1).
    lobby_scale_s : float
        Time scale of the lobby ramp (s).
    flood_rise_s, flood_decay_s : float
        Rise and decay time scales of the flood (s); rise < decay.
    late_share : float
        Share of `audience` trickling in at a constant rate over the event
        (0..1); the flood gets ``1 - lobby_share - late_share``.
    duration_s : float
        Event length from the actual start to its end (s).
    start_delay_s : float
        Actual start minus scheduled start (s, >= 0).
    session_median_s : float
        Median session length (s).
    session_sigma : float
        Log-normal shape: standard deviation of log session length.
    exodus_s : float
        Mean time the listeners still connected at the end take to leave (s).
    overdispersion_alpha : float
        alpha of the per-second join counts (variance mu + alpha mu**2); 0 = Poisson.
    lobby_patience_s : float
        Mean time a lobby listener waits past the scheduled start of a late
        event before leaving (s).
    join_capacity_per_s : float or None
        Successful joins per second the join path admits; None = unlimited.
    retry_probability : float
        Probability that a failed join attempt is retried (0..1).
    retry_backoff_s : float
        Mean back-off before the second try (s); doubles for each further try.
    max_tries : int
        Tries per client at most, the first one included (>= 1).

    Examples
    --------
    >>> p = EventParams(audience=5_000, duration_s=3_600)
    >>> p.flood_share
    0.75
    """

    audience: float
    duration_s: float
    background_rate_per_s: float = 0.5
    lobby_share: float = 0.15
    lobby_scale_s: float = 600.0
    flood_rise_s: float = 20.0
    flood_decay_s: float = 180.0
    late_share: float = 0.10
    start_delay_s: float = 0.0
    session_median_s: float = 1_500.0
    session_sigma: float = 1.0
    exodus_s: float = 120.0
    overdispersion_alpha: float = 0.02
    lobby_patience_s: float = 1_800.0
    join_capacity_per_s: float | None = None
    retry_probability: float = 0.7
    retry_backoff_s: float = 5.0
    max_tries: int = 4

    def __post_init__(self):
        for name in (
            "audience",
            "background_rate_per_s",
            "start_delay_s",
            "session_sigma",
            "overdispersion_alpha",
        ):
            _check(self, name, lambda v: v >= 0, "a finite number >= 0")
        for name in (
            "lobby_scale_s",
            "flood_rise_s",
            "flood_decay_s",
            "duration_s",
            "session_median_s",
            "exodus_s",
            "lobby_patience_s",
            "retry_backoff_s",
        ):
            _check(self, name, lambda v: v > 0, "a finite number > 0")
        for name in ("lobby_share", "late_share", "retry_probability"):
            _check(self, name, lambda v: 0 <= v <= 1, "a number between 0 and 1")
        if self.lobby_share + self.late_share > 1:
            raise ValueError(
                f"lobby_share + late_share must be at most 1 (the flood gets the rest), "
                f"got {self.lobby_share} + {self.late_share}"
            )
        if not self.flood_rise_s < self.flood_decay_s:
            raise ValueError(
                f"flood_rise_s must be smaller than flood_decay_s, got "
                f"{self.flood_rise_s} and {self.flood_decay_s}; swap them"
            )
        if self.join_capacity_per_s is not None:
            _check(
                self,
                "join_capacity_per_s",
                lambda v: v >= 1,
                "None (unlimited) or a number >= 1 (joins per second)",
            )
        if (
            isinstance(self.max_tries, bool)
            or not isinstance(self.max_tries, int)
            or self.max_tries < 1
        ):
            raise ValueError(f"max_tries must be an integer >= 1, got {self.max_tries!r}")

    @property
    def flood_share(self) -> float:
        """Share of the audience in the flood (before any delay arrivals are taken from it)."""
        return 1.0 - self.lobby_share - self.late_share

    @property
    def session_mean_s(self) -> float:
        """Mean session length (s): ``median * exp(sigma**2 / 2)``."""
        return self.session_median_s * math.exp(self.session_sigma**2 / 2)

    def to_dict(self) -> dict:
        """The parameters as a plain dict (field name → value)."""
        return asdict(self)

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


def _check(params: EventParams, name: str, ok, expected: str) -> None:
    value = getattr(params, name)
    try:
        good = math.isfinite(value) and ok(value)
    except TypeError:
        good = False
    if not good:
        raise ValueError(f"EventParams.{name} must be {expected}, got {value!r}")
