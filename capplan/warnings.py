"""Warning classes of capplan, in one place so that users can filter them.

Every warning raised by a capplan fit is a :class:`CapplanWarning`. Each
carries the fit's diagnostics as a dict in its ``diagnostics`` attribute
(and in its message), and says what to try.

Examples
--------
>>> import warnings
>>> from capplan.warnings import ConvergenceWarning
>>> with warnings.catch_warnings():
...     warnings.simplefilter("ignore", ConvergenceWarning)  # silence one kind only
"""

from __future__ import annotations

__all__ = [
    "BoundaryWarning",
    "CapplanWarning",
    "ConvergenceWarning",
    "CovarianceWarning",
    "ExtrapolationWarning",
    "LackOfFitWarning",
    "ResolutionWarning",
    "SimulationWarning",
    "SlowSimulationWarning",
    "SmallSampleWarning",
]


class CapplanWarning(UserWarning):
    """Base class of capplan's warnings.

    Parameters
    ----------
    message : str
        What happened and what to try.
    **diagnostics
        Numbers behind the warning (kept in ``self.diagnostics`` and
        appended to the message).
    """

    def __init__(self, message: str, **diagnostics):
        self.diagnostics = dict(diagnostics)
        if diagnostics:
            details = ", ".join(f"{k}={_short(v)}" for k, v in diagnostics.items())
            message = f"{message} [{details}]"
        super().__init__(message)


class ConvergenceWarning(CapplanWarning):
    """The optimiser stopped without meeting its convergence test.

    The estimates may not be the maximum of the likelihood. Try passing a
    starting point (``start=``) near what the data suggest, or fitting a
    shorter window around the event.
    """


class CovarianceWarning(CapplanWarning):
    """The Hessian of the log-likelihood is not positive definite at the estimate.

    Standard errors and intervals are then NaN for the parameters concerned:
    some parameter is not identified by the data (for example a rise time far
    below the interval length, or a share at 0 or 1).
    """


class BoundaryWarning(CapplanWarning):
    """A parameter sits at the edge of its range (a share near 0 or 1, a time
    scale far below the data's interval, ...): its interval is doubtful."""


class ExtrapolationWarning(CapplanWarning):
    """A new event lies outside the history a forecast was fitted on.

    A signal beyond the past events' range, or a category level (a stage, a kind of
    event) none of them had: the regression extrapolates. Its interval is widened by a
    stated rule (see :func:`capplan.forecast.fit_peak_forecast`), and the
    ``outside_history`` column names what was outside; trust the point less.
    """


class LackOfFitWarning(CapplanWarning):
    """The model leaves much more variation than its likelihood allows
    (Pearson dispersion well above 1): standard errors were inflated by the
    dispersion, and the form may miss part of the data."""


def _short(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return repr(value)


class ResolutionWarning(CapplanWarning):
    """A per-second quantity was derived from coarser data.

    A count per interval of ``interval_s`` seconds with over-dispersion
    ``alpha`` gives ``alpha * interval_s`` per second only if the seconds are
    independent; a fitted ``alpha`` also carries the curve's misfit, which
    is shared by the seconds of an interval, so the per-second value (and a
    burst factor from it) is an upper bound. Per-second data, or an
    ``alpha_per_second`` known from elsewhere, settle it.
    """


class SimulationWarning(CapplanWarning):
    """Base class of the simulator's warnings."""


class SlowSimulationWarning(SimulationWarning):
    """numba is not installed: the simulation runs as plain Python, with the same
    results but about a hundred times slower. Install numba (``pip install numba``)."""

    def __init__(self, message: str | None = None):
        super().__init__(message or " ".join((self.__doc__ or "").split()))


class SmallSampleWarning(CapplanWarning):
    """Fewer than ten past events per feature of a regression.

    Coefficients and intervals from so few events per feature are unstable,
    and the intervals of new events tend to be too narrow. Pass fewer
    signals (``signals=[...]``), or ``lead_s=None`` to drop the pre-start
    traffic, or add past events.
    """
