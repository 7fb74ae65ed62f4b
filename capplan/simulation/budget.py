"""A run's budget: the attempts and the memory a simulation needs, estimated before it
starts and watched while it runs, so that no input can take the machine's memory or
its afternoon.

Before: the expected first tries (the rates times the interval lengths, or the counts)
against ``max_attempts``; the workers' arrays and a fluid estimate of the longest line
(first tries against the workers' throughput, capped by the buffer) against
``max_memory_gb``. While running: the engine stops at the end of the interval in which
the attempts (retries included, which no estimate can bound under a retry storm) pass
``max_attempts``, and before its arrays would grow past ``max_memory_gb``.
"""

from __future__ import annotations

import numpy as np

from capplan.simulation import engine

GIB = 2**30
ATTEMPTS_PER_S = 1e7  # about what one core simulates (5-20 million), to say what it costs


def expected_first_tries(spec) -> float:
    """First tries the run brings on average, attack requests included."""
    offered = spec.first_tries.offered_rate(spec.lengths) + spec.attack_rate
    return float(np.sum(offered * spec.lengths))


def line_estimate(spec) -> float:
    """A fluid estimate of the most requests held at once: the longest line of first
    tries against the workers' throughput (capped by the buffer), plus the requests
    within one timeout of their arrival (their slots are kept until it is checked)."""
    offered = spec.first_tries.offered_rate(spec.lengths) + spec.attack_rate
    capacity = spec.servers / spec.service_time.mean
    level = np.cumsum((offered - capacity) * spec.lengths)
    line = float(np.max(level - np.minimum(np.minimum.accumulate(level), 0.0)))
    if spec.buffer is not None:
        line = min(line, float(np.max(spec.buffer)))
    if spec.timeout is not None:
        held = float(np.max(offered)) * spec.timeout.mean
        if spec.on_timeout == "drop":  # the line itself is at most one timeout long
            line = min(line, held)
        line += held
    return line


def memory_estimate(spec) -> float:
    """Bytes the run's arrays need at their largest (the line's ring buffer doubles)."""
    workers = engine.WORKER_BYTES * float(np.max(spec.servers))
    return workers + 2 * engine.SLOT_BYTES * line_estimate(spec)


def check_before(spec) -> None:
    """Refuse a run whose estimate is beyond its budget."""
    first = expected_first_tries(spec)
    if first > spec.max_attempts:
        raise ValueError(
            f"the run would simulate about {first:.3g} first tries (the rates times "
            f"the interval lengths, or the counts, over {spec.duration:g} s), more than "
            f"max_attempts={spec.max_attempts:.3g} (at about {ATTEMPTS_PER_S:.0e} attempts "
            f"a second that is {first / ATTEMPTS_PER_S / 60:.3g} minutes); shorten the run or "
            "lower the rate, or pass a larger max_attempts"
        )
    need = memory_estimate(spec)
    if need > spec.max_memory_gb * GIB:
        raise ValueError(
            f"the run would need about {need / GIB:.3g} GiB (servers up to "
            f"{int(np.max(spec.servers)):,}, a line of about {line_estimate(spec):.3g} "
            f"requests), more than max_memory_gb={spec.max_memory_gb:g}; give fewer servers, a "
            "buffer (most requests waiting), or pass a larger max_memory_gb"
        )


def stopped_error(spec, stopped: int, intervals_run: int, attempts: int) -> ValueError:
    """The error for a run the engine stopped early."""
    t = min(intervals_run * spec.interval, spec.duration)
    where = f"the run stopped at {t:g} s of {spec.duration:g} s"
    first = expected_first_tries(spec)
    if stopped == engine.STOP_ATTEMPTS:
        return ValueError(
            f"{where}: {attempts:,} attempts had arrived, more than max_attempts="
            f"{spec.max_attempts:.3g}, for about {first:.3g} first tries in the whole run: "
            "retries multiply the load under overload; bound them (max_retries, a "
            "RetryBudget), give more servers, or pass a larger max_attempts"
        )
    unbounded = "; with buffer=None the line grows without bound under overload" * (
        spec.buffer is None
    )
    return ValueError(
        f"{where}: the requests in the system would need more than max_memory_gb="
        f"{spec.max_memory_gb:g} GiB{unbounded}; give a buffer (most requests waiting), "
        "bound the retries, or pass a larger max_memory_gb"
    )
