"""Synthetic event histories: the generator of the shipped sample.

One event is described by :class:`EventParams` (seconds, per-second rates,
counts) and simulated second by second by :func:`simulate_event`: a lobby
ramp before the scheduled start, a flood of joins at the actual start, a
trickle of late joiners and background joins, over-dispersed per-second
counts, log-normal sessions, an exodus at the end, and optionally a
limited join path with client retries. :func:`generate_history` draws forty
such events with audience signals (followers, registrations, notifications)
that drive their size, and :func:`write_sample` writes them as the
``data/sample`` Parquet files::

    python -m capplan.synth data/sample

All randomness comes from ``numpy.random.default_rng`` on a seed; event
``i`` of a sample uses the child seed ``SeedSequence(seed).spawn``'s child
``i + 1``, so it can be regenerated alone (:attr:`SampledEvent.seed`).
"""

from capplan.synth.params import EventParams
from capplan.synth.sample import (
    AFTER_S,
    BEFORE_S,
    DEFAULT_SEED,
    RANGES,
    SampledEvent,
    event_seed,
    events_frame,
    generate_history,
    sample_events,
    write_sample,
)
from capplan.synth.simulate import expected_arrivals, simulate_event

__all__ = [
    "AFTER_S",
    "BEFORE_S",
    "DEFAULT_SEED",
    "RANGES",
    "EventParams",
    "SampledEvent",
    "event_seed",
    "events_frame",
    "expected_arrivals",
    "generate_history",
    "sample_events",
    "simulate_event",
    "write_sample",
]
