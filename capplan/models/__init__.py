"""Event traffic models: join curves, burst factors, session lengths, concurrency.

Each ``fit_*`` or model function returns a read-only result with ``summary()``
(printed by ``str``), ``to_frame()``, ``predict(...)`` and ``chart()``. The
shared maximum-likelihood base is :mod:`capplan.models._fitting`; warnings are
in :mod:`capplan.warnings`, charts in :mod:`capplan.charts`.
"""

from capplan.models.burst import BurstFactor, burst_factor
from capplan.models.concurrency import (
    ConcurrencyPeak,
    ConcurrencyResult,
    concurrency,
    expected_concurrency,
)
from capplan.models.distributions import (
    DISTRIBUTIONS,
    Exponential,
    Gamma,
    LogNormal,
    SessionDistribution,
    Weibull,
)
from capplan.models.join_curve import (
    Floods,
    JoinCurveFit,
    JoinCurveForm,
    LobbyFlood,
    Peak,
    PlateauSurge,
    fit_join_curve,
)
from capplan.models.sessions import SessionsFit, fit_sessions

__all__ = [
    "DISTRIBUTIONS",
    "BurstFactor",
    "ConcurrencyPeak",
    "ConcurrencyResult",
    "Exponential",
    "Floods",
    "Gamma",
    "JoinCurveFit",
    "JoinCurveForm",
    "LobbyFlood",
    "LogNormal",
    "Peak",
    "PlateauSurge",
    "SessionDistribution",
    "SessionsFit",
    "Weibull",
    "burst_factor",
    "concurrency",
    "expected_concurrency",
    "fit_join_curve",
    "fit_sessions",
]
