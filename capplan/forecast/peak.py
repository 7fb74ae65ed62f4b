"""Peak forecast: the peak of the next event from what is known before it starts.

The model
---------
For each target load (peak joins per second, peak concurrent listeners, or
peak requests per second), across past events ``i``,

.. math::

    \\log \\text{peak}_i = b_0 + \\sum_j b_j \\log x_{ij} + e_i,
    \\qquad e_i \\sim N(0, \\sigma^2),

a log-log regression: each ``b_j`` is an elasticity (a 1% larger signal, a
``b_j``% larger peak) and the error is multiplicative. The features ``x``
are what is known at the cut-off (the earlier of the scheduled and the
actual start; see :mod:`capplan.forecast.features`):

- the event's numeric audience signals (``History.signals``), and
- the target's own traffic in the ``lead_s`` seconds before the cut-off:
  ``pre_start_joins_per_s`` (mean rate) for peak joins,
  ``pre_start_concurrent`` (the level at the cut-off) for peak concurrent,
  ``pre_start_requests_per_s`` for peak requests.

The rule for the features, fixed in advance and not tuned on any trace:
every numeric signal that is present for every event, strictly positive
(its log exists) and not constant enters, plus the pre-start traffic unless
``lead_s=None``. A signal that is zero or negative somewhere (a weekday
numbered from 0, a temperature) is left out and listed; pass ``signals=``
to choose. Ten events per feature is the rule of thumb for a stable
regression (40 events: at most 4 features); below it the fit warns
(:class:`~capplan.forecast.SmallSampleWarning`), and it refuses fewer than
``parameters + 3`` events (the leave-one-out fits need two residual
degrees of freedom).

A new event whose pre-start traffic is not known yet (a forecast made a
day ahead) is forecast by the same regression without that term, fitted on
the same events (``predict`` says which in its ``basis`` column).

Audience signals are usually collinear (followers, registrations and
notifications grow together): individual elasticities are then uncertain
and may even take the "wrong" sign, but predictions inside the range of the
past events are not hurt. ``summary()`` reports the variance inflation
factors, and ``predict`` flags a new event outside that range.

Beyond the logs, two kinds of term (:mod:`capplan.forecast._design`): event
attributes named in ``categories=`` (a stage, a kind of event, a host, the day of the
week), one term per level seen but the first; and a **drift**, days since the first
event, kept where its t-test at 5% says the history grows or shrinks through the
season (``drift="auto"``).

Intervals
---------
By default (``method="conformal"``) the interval of a new event's peak is the OLS
t prediction interval on the log scale at the level that the history's own
time-ordered errors call for: each past event is forecast from the events before it
only, the level of the t interval that would just have covered it is its score, and
the new interval's level is the weighted conformal quantile of those scores, the
recent ones weighing most (:mod:`capplan.forecast._conformal`). When the events are
exchangeable and Gaussian it is the OLS interval; when the season drifts away from its
start, the later errors exceed what the t interval says and the level rises, so the
interval widens where leave-one-out would not (1998 World Cup, fitted on the group
stage: the OLS interval covered 9 of 16 later matches). The point is ``exp`` of the
log-scale mean, the *median* peak. With too few events to calibrate (fewer than
``min_history`` + about ``1 / (1 - level)``), the fit warns and uses the OLS interval.

``method="ols"``: the OLS prediction interval, back-transformed: exact under the
model, with the t quantile and the leverage of the new event, so it widens
for an event unlike the past ones. ``method="jackknife+"`` keeps the OLS
point and takes the interval from the events' leave-one-out errors instead
(Barber et al. 2021; see :mod:`capplan.forecast._regression`): no Gaussian
assumption, at the price of tails that rest on the few largest errors.
``method="quantreg"`` fits the median and the interval's quantiles by
quantile regression: no distributional assumption either, but with 40
events a 90% interval's tails rest on two events each, and its
coverage is usually below nominal.

A new event outside the history (a signal beyond the past events' range, a category
level none had) gets an :class:`~capplan.warnings.ExtrapolationWarning`, its
``outside_history`` column names what, and its interval's log half-width is
multiplied by ``1 + d + u``: ``d`` the largest distance beyond the range of a signal,
in units of that range, ``u`` the number of unseen levels
(:func:`capplan.forecast._conformal.widening`).

Judge the intervals by :meth:`PeakForecast.backtest`: in time order by default, each
event forecast only from the events before it, beside naive baselines (the median of
the earlier peaks; the most recent earlier event's peak), with the share of real
peaks inside their intervals and the skill against the better baseline.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from capplan._text import table_text
from capplan.data.history import History
from capplan.forecast import _validate
from capplan.forecast._backtest import backtest_rows, summarise
from capplan.forecast._conformal import conformal_quantile, widening
from capplan.forecast._design import Design, fit_design, require_positive
from capplan.forecast._regression import METHODS, LogLinear, loo_points
from capplan.forecast.features import (
    LOADS,
    default_loads,
    event_table,
    peak_column,
    pre_start_column,
)
from capplan.warnings import ExtrapolationWarning, SmallSampleWarning

__all__ = ["PeakBacktest", "PeakForecast", "fit_peak_forecast"]

_EVENTS_PER_FEATURE = 10
_METHODS = ("conformal", *METHODS)
_SCHEMES = ("rolling", "loo")
_MOST_LEVEL = 1 - 1e-6  # a calibrated level this close to 1 is as wide as the t goes
_SPARE_EVENTS = 3  # events beyond the parameters: two residual degrees of freedom when one is out


class PeakForecast:
    """A fitted peak forecast: data, regressions, diagnostics. Read-only.

    Returned by :func:`fit_peak_forecast`.

    Attributes
    ----------
    history : History
        The past events it was fitted on.
    data : pandas.DataFrame
        One row per past event: signals, pre-start traffic and peaks
        (:func:`~capplan.forecast.features.event_table`).
    targets : tuple of str
        The loads forecast (``"joins"``, ``"concurrent"``, ``"requests"``).
    features_ : dict
        Peak column -> the features of its regression (their logs enter).
    excluded_ : dict
        Signal or pre-start feature -> why the feature rule left it out.
    method : str
        ``"ols"``, ``"jackknife+"`` or ``"quantreg"``.
    level : float
        Default level of intervals.
    lead_s : float or None
        Length of the pre-start window (s).
    models_ : dict
        Peak column -> the fitted log-scale regression.
    """

    def __init__(
        self, history, data, targets, features, excluded, fits, method, level, lead_s, drift
    ):
        self.history = history
        self.data = data
        self.targets = tuple(targets)
        self.features_ = dict(features)
        self.excluded_ = dict(excluded)
        self.designs_ = {c: design for c, (design, _) in fits.items()}
        self.models_ = {c: model for c, (_, model) in fits.items()}
        self.method = method
        self.level = level
        self.lead_s = lead_s
        self.drift = drift
        self.categories = tuple(next(iter(self.designs_.values())).categories)
        self._fallback: dict = {}
        self._rolling: dict = {}

    @property
    def time_order(self) -> pd.Index:
        """The past events' ids by scheduled start: the order of the rolling-origin backtest."""
        starts = pd.to_datetime(self.data["scheduled_start"], utc=True)
        return self.data.index[np.argsort(starts.to_numpy(), kind="stable")]

    @property
    def min_history(self) -> int:
        """Fewest earlier events a rolling-origin forecast is fitted on: two per parameter
        of the largest regression (the drift included), and at least parameters + 3. A fit
        on fewer overfits, and its errors would be taken for the season's (on the sample,
        from parameters + 3 on: a 90% interval 60-fold wide that covered every event)."""
        tested = self.drift is not False  # a rolling fit may take the drift in
        params = max(len(d.terms) + (tested and not d.drift) for d in self.designs_.values())
        return max(params + _SPARE_EVENTS, 2 * params)

    @property
    def peak_columns(self) -> list[str]:
        """Names of the forecast peaks (``peak_joins_per_s``...)."""
        return [peak_column(t) for t in self.targets]

    @property
    def n_events(self) -> int:
        return len(self.data)

    # -- forecasts ------------------------------------------------------------------------------

    def predict(self, events, level: float | None = None) -> pd.DataFrame:
        """Forecast the peaks of new events, with intervals.

        Parameters
        ----------
        events : pandas.DataFrame or History
            One row per new event (its index names the events), with
            columns:

            - the signals the forecast uses (``features_``), in the same
              units as in the history: required;
            - optionally, each target's pre-start traffic over the ``lead_s``
              seconds before the **scheduled** start:
              ``pre_start_joins_per_s`` (mean joins per second),
              ``pre_start_concurrent`` (listeners connected at the scheduled
              start), ``pre_start_requests_per_s`` (mean requests per
              second); :func:`~capplan.forecast.pre_start_traffic` computes
              them from a series. An event without it (column absent, or
              NaN: a forecast made before that hour) is forecast by the
              same regression without the pre-start term, fitted to the
              same events; the ``basis`` column says which was used.

            Other columns are ignored. A History gives its events' own
            features (useful to test on another history).
        level : float, optional
            Level of the intervals; the fit's by default.

        Returns
        -------
        pandas.DataFrame
            Indexed as `events`. For each target: the point forecast (the
            median peak; ``peak_joins_per_s`` per second,
            ``peak_concurrent`` listeners, ``peak_requests_per_s`` per
            second, at the history's interval) and its interval,
            ``<peak>_lower`` and ``<peak>_upper``. ``basis``: ``"signals +
            pre-start"`` or ``"signals"`` (naming the targets forecast from
            the signals alone when only some had their pre-start traffic).
            ``outside_history`` names the
            features of a new event outside the range of the past events
            (an extrapolation: trust it less), empty if none.

        Raises
        ------
        ValueError
            A signal is absent, or a value is missing, zero or negative
            (the model takes its log).

        Examples
        --------
        >>> import capplan
        >>> import pandas as pd
        >>> fit = fit_peak_forecast(capplan.sample_history())
        >>> new = pd.DataFrame(
        ...     {"followers": [2e7], "registrations": [3e5], "notifications_sent": [8e6],
        ...      "pre_start_joins_per_s": [150.0], "pre_start_concurrent": [4e5]},
        ...     index=["next"],
        ... )
        >>> out = fit.predict(new, level=0.9)
        >>> list(out.columns[:3])
        ['peak_joins_per_s', 'peak_joins_per_s_lower', 'peak_joins_per_s_upper']
        >>> day_ahead = new.drop(columns=["pre_start_joins_per_s", "pre_start_concurrent"])
        >>> fit.predict(day_ahead)["basis"].iloc[0]
        'signals'
        """
        level = self.level if level is None else _validate.level(level)
        table = self._feature_table(events)
        n = len(table)
        out = pd.DataFrame(index=table.index)
        outside: list[list[str]] = [[] for _ in range(n)]
        without_pre_start: list[list[str]] = [[] for _ in range(n)]
        for target in self.targets:
            column, pre_start = peak_column(target), pre_start_column(target)
            known = np.ones(n, dtype=bool)  # rows with the pre-start traffic the model uses
            if pre_start in self.features_[column]:
                if pre_start in table.columns:
                    known = pd.to_numeric(table[pre_start], errors="coerce").notna().to_numpy()
                else:
                    known[:] = False
            point, lower, upper = (np.full(n, np.nan) for _ in range(3))
            for rows, pre_start_known in ((known, True), (~known, False)):
                if not rows.any():
                    continue
                design, model = self._fit_of(column, pre_start_known)
                part = table[rows]
                X = design.matrix(part, "the events to forecast")
                names, factor = _outside(design, model, X, part)
                conformal = self.method == "conformal"
                scores = self._scores(column, pre_start_known) if conformal else None
                point[rows], lower[rows], upper[rows] = _interval(
                    model, X, level, self.method, scores, factor
                )
                for i, found in zip(np.flatnonzero(rows), names, strict=True):
                    outside[i] += [name for name in found if name not in outside[i]]
            for i in np.flatnonzero(~known):
                without_pre_start[i].append(column)
            out[column] = np.exp(point)
            out[f"{column}_lower"] = np.exp(lower)
            out[f"{column}_upper"] = np.exp(upper)
        out["basis"] = [self._basis(columns) for columns in without_pre_start]
        out["outside_history"] = [", ".join(names) for names in outside]
        out.attrs["level"] = level
        beyond = [(e, names) for e, names in zip(out.index, outside, strict=True) if names]
        if beyond:
            listed = "; ".join(f"{e}: {', '.join(names)}" for e, names in beyond[:5])
            warnings.warn(
                ExtrapolationWarning(
                    f"{len(beyond)} event(s) outside the history the forecast was fitted on "
                    f"({listed}): their intervals are widened (log half-width x (1 + distance "
                    "beyond the range in ranges + unseen levels)); trust the point less",
                    events=[e for e, _ in beyond],
                ),
                stacklevel=2,
            )
        return out

    def _basis(self, without_pre_start: list[str]) -> str:
        if self.lead_s is None or len(without_pre_start) == len(self.targets):
            return "signals"
        if not without_pre_start:
            return "signals + pre-start"
        return f"signals + pre-start, except {', '.join(without_pre_start)}: signals"

    def _fit_of(self, column: str, pre_start_known: bool = True) -> tuple[Design, LogLinear]:
        """The regression of `column`; without `pre_start_known`, refitted without its
        pre-start term on the same events (the same terms otherwise)."""
        if pre_start_known:
            return self.designs_[column], self.models_[column]
        if column not in self._fallback:
            design = self.designs_[column]
            logs = [f for f in design.logs if not f.startswith("pre_start_")]
            self._fallback[column] = fit_design(
                self.data,
                self.models_[column].y,
                logs,
                design.categories,
                design.drift,
                _fit_method(self.method),
            )
        return self._fallback[column]

    def _rolling_fits(self, column: str, pre_start_known: bool = True) -> dict:
        """Event id -> (design, model) fitted on the events before it (time order), for every
        event with at least ``min_history`` earlier ones; the drift re-tested each time."""
        key = (column, pre_start_known)
        if key not in self._rolling:
            design = self.designs_[column]
            logs = list(design.logs)
            if not pre_start_known:
                logs = [f for f in logs if not f.startswith("pre_start_")]
            order = self.time_order
            y = pd.Series(self.models_[column].y, index=self.data.index)
            fits = {}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # a small fit's exact residuals
                for i in range(self.min_history, len(order)):
                    earlier = self.data.loc[order[:i]]
                    fits[order[i]] = fit_design(
                        earlier,
                        y.loc[order[:i]].to_numpy(),
                        logs,
                        list(design.categories),
                        self.drift,
                        _fit_method(self.method),
                    )
            self._rolling[key] = fits
        return self._rolling[key]

    def _scores(self, column: str, pre_start_known: bool = True) -> pd.Series:
        """Rolling-origin conformal scores in time order: the level of the OLS t prediction
        interval that would just have covered each event (a scale-free score, comparable
        across fits on few and many events)."""
        y = pd.Series(self.models_[column].y, index=self.data.index)
        out = {}
        for event, (design, model) in self._rolling_fits(column, pre_start_known).items():
            x = design.matrix(self.data.loc[[event]], "history's events")
            mean, scale, df = model.predictive(x)
            out[event] = 2 * stats.t.cdf(abs(y[event] - mean[0]) / scale[0], df) - 1
        return pd.Series(out, dtype=float, name="score")

    def _rolling_points(self, column: str) -> np.ndarray:
        """Log point forecasts of the past events, each from the events before it (in the
        order of ``data``; NaN for the first ``min_history`` in time order)."""
        out = pd.Series(np.nan, index=self.data.index)
        for event, (design, model) in self._rolling_fits(column).items():
            out[event] = model.point(design.matrix(self.data.loc[[event]], "history's events"))[0]
        return out.to_numpy()

    def _feature_table(self, events) -> pd.DataFrame:
        if isinstance(events, History):
            return event_table(events, lead_s=self.lead_s)
        if isinstance(events, pd.Series):
            events = events.to_frame().T
        if not isinstance(events, pd.DataFrame):
            raise TypeError(
                "events must be a pandas DataFrame with one row per new event (its signals and "
                f"pre-start traffic) or a History, not {type(events).__name__}"
            )
        if len(events) == 0:
            raise ValueError("events has no rows: pass one row per new event")
        return events

    def backtest(self, level: float | None = None, scheme: str = "rolling") -> PeakBacktest:
        """Out-of-sample forecasts of the past events against their real peaks, beside naive
        baselines.

        Parameters
        ----------
        level : float, optional
            Level of the intervals; the fit's by default.
        scheme : {"rolling", "loo"}, default "rolling"
            ``"rolling"``: in time order, each event forecast only from the events
            before it (at least ``min_history``; the features' rule, the drift test and
            the conformal calibration all redone on them), as a planner had it. ``"loo"``:
            each event from all the others (the same terms), which treats the events as
            exchangeable and overstates the coverage when a season drifts.

        Returns
        -------
        PeakBacktest
            Its ``baselines`` hold the naive forecasts of the same events: ``history
            median`` (the median of the earlier peaks, interval from their quantiles) and
            ``most recent`` (the latest earlier event's peak, of the same category levels
            where the forecast has categories; interval from the conformal bound of the
            same rule's earlier errors).
        """
        level = self.level if level is None else _validate.level(level)
        scheme = _validate.choice(scheme, "scheme", _SCHEMES)
        parts, naive = [], []
        for column in self.peak_columns:
            if scheme == "rolling":
                events, rows = self._rolling_rows(column, level)
            else:
                events, rows = self.data.index, self._loo_rows(column, level)
            predicted, lower, upper = np.exp(np.asarray(rows, dtype=float).T)
            actual = self.data.loc[events, column]
            parts.append(_rows(column, events, actual, predicted, lower, upper))
            for name, (p, lo, hi) in _naive(self, column, events, level, scheme).items():
                naive.append(_rows(column, events, actual, p, lo, hi, name))
        label = (
            f"rolling origin, at least {self.min_history} earlier events"
            if scheme == "rolling"
            else "leave one event out"
        )
        return PeakBacktest(pd.concat(parts), level, self.method, label, pd.concat(naive))

    def calibration(self, levels=(0.5, 0.8, 0.9, 0.95), scheme: str = "rolling"):
        """Coverage of the backtest's intervals at several levels: is a 90% interval 90%?

        Returns
        -------
        pandas.DataFrame
            One row per target, forecaster (the model, the naive baselines) and level:
            ``level``, ``n_events``, ``coverage`` and its 95% interval ``coverage_low`` /
            ``coverage_high``, ``median_width_ratio``. ``chart()`` of it:
            :func:`capplan.charts.calibration_chart` (``attrs["scheme"]`` names the scheme).
        """
        parts = []
        for value in levels:
            summary = self.backtest(level=_validate.level(value), scheme=scheme).summary()
            parts.append(summary.set_index("level", append=True))
        columns = ["n_events", "coverage", "coverage_low", "coverage_high", "median_width_ratio"]
        out = pd.concat(parts)[columns].reset_index("level").sort_index(kind="stable")
        out.attrs["scheme"] = self.backtest(scheme=scheme).scheme
        return out

    def _rolling_rows(self, column: str, level: float):
        fits = self._rolling_fits(column)
        scores = self._scores(column) if self.method == "conformal" else None
        events, rows = [], []
        for k, (event, (design, model)) in enumerate(fits.items()):
            part = self.data.loc[[event]]
            X = design.matrix(part, "history's events")
            _, factor = _outside(design, model, X, part)
            earlier = None if scores is None else scores.iloc[:k]
            if earlier is not None and not np.isfinite(conformal_quantile(earlier, level)):
                continue  # too few earlier errors to calibrate on yet
            rows.append([v[0] for v in _interval(model, X, level, self.method, earlier, factor)])
            events.append(event)
        if not events:
            raise ValueError(
                f"{self.n_events} events are too few for a rolling-origin backtest of {column} "
                f"at {level:.0%}: the first {self.min_history} only fit, and the conformal "
                "interval needs enough earlier errors; use scheme='loo' or a lower level"
            )
        return pd.Index(events, name="event_id"), rows

    def _loo_rows(self, column: str, level: float):
        model = self.models_[column]
        # conformal needs a time order to calibrate on; jackknife+ is its exchangeable twin
        method = "jackknife+" if self.method == "conformal" else self.method
        n = model.n
        rows = np.empty((n, 3))
        for i in range(n):
            keep = np.arange(n) != i
            held = LogLinear.fit(model.X[keep], model.y[keep], model.terms, method)
            rows[i] = [v[0] for v in held.predict(model.X[i], level)]
        return rows

    def _loo_points(self, column: str, drop: int | None = None) -> np.ndarray:
        """Out-of-sample point forecasts (log scale) of every past event (see nowcast)."""
        model = self.models_[column]
        return loo_points(model.X, model.y, self.method, drop)

    # -- the face of a result -------------------------------------------------------------------

    def summary(self) -> pd.DataFrame:
        """Coefficients by target and term: ``estimate`` (an elasticity, or the intercept on
        the log scale), ``std_err``, ``lower``, ``upper`` (confidence interval at ``level``)."""
        parts = {c: self.models_[c].coefficients(self.level) for c in self.peak_columns}
        return pd.concat(parts, names=["target", "term"])

    def diagnostics(self) -> pd.DataFrame:
        """One row per target: events, parameters, R^2 and residual s.d. on the log scale, and
        the collinearity of the features (largest variance inflation factor; condition
        number of the standardised features)."""
        rows = {c: self.models_[c].diagnostics() for c in self.peak_columns}
        return pd.DataFrame(rows).T.rename_axis("target")

    def __str__(self) -> str:
        method = {
            "conformal": "OLS, t intervals at the level calibrated on time-ordered errors",
            "ols": "OLS, t prediction intervals",
            "jackknife+": "OLS, jackknife+ intervals",
            "quantreg": "quantile regression",
        }[self.method]
        lead = "no pre-start traffic" if self.lead_s is None else f"lead {self.lead_s:g} s"
        lines = [
            f"Peak forecast: log-log {method}, {self.n_events} past events, {lead}, "
            f"{self.level:.0%} intervals",
        ]
        for column in self.peak_columns:
            design = self.designs_[column]
            extra = [f"category {c} ({len(v)} level(s))" for c, v in design.categories.items()]
            if design.drift:
                tested = self.drift == "auto"
                extra.append("drift per day" + (" (significant at 5%)" if tested else ""))
            elif self.drift == "auto":
                extra.append("no drift (tested: not significant at 5%)")
            logs = ", ".join(design.logs) or "(none)"
            lines.append(f"  {column}: log of {logs}" + "".join(f"; {e}" for e in extra))
        if self.excluded_:
            left = "; ".join(f"{k} ({v})" for k, v in self.excluded_.items())
            lines.append(f"left out: {left}")
        diagnostics = self.diagnostics()
        if (diagnostics["max_vif"] > 10).any():
            lines.append(
                "features are collinear (variance inflation above 10): single elasticities are "
                "uncertain; forecasts inside the past events' range are not affected"
            )
        return (
            "\n".join(lines) + f"\n{table_text(diagnostics, 4)}\n\n{table_text(self.summary(), 4)}"
        )

    def __repr__(self) -> str:
        return (
            f"<PeakForecast {self.method}: {', '.join(self.peak_columns)} from "
            f"{self.n_events} events>"
        )

    def to_frame(self) -> pd.DataFrame:
        """The past events beside the fit: the features and peaks used, and for each target
        the in-sample fit ``fitted_<peak>`` (median, natural units) and
        ``log_residual_<peak>`` (log of actual over fitted)."""
        used = sorted({f for c in self.peak_columns for f in self.features_[c]})
        out = self.data[[*used, *self.peak_columns]].copy()
        for column in self.peak_columns:
            model = self.models_[column]
            fitted = model.point(model.X)
            out[f"fitted_{column}"] = np.exp(fitted)
            out[f"log_residual_{column}"] = model.y - fitted
        return out

    def chart(self):
        """Held-out forecasts against real peaks with intervals, log scales (an altair Chart):
        the leave-one-out backtest's chart."""
        return self.backtest().chart()


class PeakBacktest:
    """Out-of-sample forecasts of past events against their real peaks. Read-only.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per target and event (index ``target``, ``event_id``):
        ``actual``, ``predicted`` (median), ``lower``, ``upper``,
        ``covered`` (actual inside the interval), ``log_ratio``
        (``log(actual / predicted)``), ``relative_error``
        (``actual / predicted - 1``).
    level : float
        Level of the intervals.
    method : str
        Regression method.
    scheme : str
        How events were held out.
    baselines : pandas.DataFrame
        The naive forecasts of the same events, the same columns, indexed by ``target``,
        ``forecaster`` (``"history median"``, ``"most recent"``) and ``event_id``.
    """

    def __init__(self, table: pd.DataFrame, level: float, method: str, scheme: str, baselines=None):
        self.table = table
        self.level = level
        self.method = method
        self.scheme = scheme
        self.baselines = baselines

    def to_frame(self) -> pd.DataFrame:
        """The table, one row per target and event."""
        return self.table.copy()

    def summary(self) -> pd.DataFrame:
        """One row per target and forecaster (``"model"``, then the naive baselines):
        ``n_events``; ``coverage`` (share of real peaks inside their interval) with its 95%
        Clopper-Pearson interval ``coverage_low``/``coverage_high``; ``below``/``above``
        (shares under the lower, over the upper bound); ``median_abs_log_error``;
        ``mean_log_ratio`` (bias: > 0 means forecasts too low);
        ``median_abs_relative_error``; ``median_width_ratio`` (upper / lower); ``skill``
        (1 - the row's median |log error| over the better naive baseline's: > 0 beats
        both)."""
        model = self.table.copy()
        model.index = pd.MultiIndex.from_tuples(
            [(t, "model", e) for t, e in model.index], names=["target", "forecaster", "event_id"]
        )
        table = model if self.baselines is None else pd.concat([model, self.baselines])
        out = summarise(table, ["target", "forecaster"], self.level)
        best = out.drop(index="model", level="forecaster")["median_abs_log_error"]
        best = best.groupby(level="target").min() if len(best) else None
        if best is None:
            out["skill"] = np.nan
        else:
            naive = best.reindex(out.index.get_level_values("target")).to_numpy()
            out["skill"] = 1 - out["median_abs_log_error"].to_numpy() / naive
        return out

    def __str__(self) -> str:
        summary = self.summary()
        head = (
            f"Peak forecast backtest ({self.scheme}), {self.method}, {self.level:.0%} intervals\n"
        )
        for (target, forecaster), row in summary.iterrows():
            head += (
                f"  {target}, {forecaster}: {row['covered']:.0f}/{row['n_events']:.0f} real "
                f"peaks inside (coverage {row['coverage']:.0%}, 95% CI "
                f"{row['coverage_low']:.0%}-{row['coverage_high']:.0%}); median |log error| "
                f"{row['median_abs_log_error']:.3f}, skill {row['skill']:+.2f}\n"
            )
        return head + table_text(summary, 4)

    def __repr__(self) -> str:
        return f"<PeakBacktest {self.scheme}: {len(self.table)} forecasts>"

    def chart(self):
        """Forecast against actual with intervals, log scales, one panel per target."""
        from capplan import charts

        return charts.peak_backtest_chart(self)


def fit_peak_forecast(
    history: History,
    *,
    targets: str | Sequence[str] | None = None,
    signals: Sequence[str] | None = None,
    lead_s: float | None = 3600.0,
    categories: Sequence[str] = (),
    drift: bool | str = "auto",
    method: str = "conformal",
    level: float = 0.9,
) -> PeakForecast:
    """Fit log-log regressions of past events' peaks on what was known before them.

    Parameters
    ----------
    history : History
        Past events. Its numeric event attributes are the audience signals.
    targets : str or list of str, optional
        Loads whose peak to forecast, among ``"joins"`` (peak joins per
        second), ``"concurrent"`` (peak concurrent) and ``"requests"``
        (peak requests per second). By default: joins and concurrent where
        the history measured them, else requests.
    signals : list of str, optional
        Signals to use; by default those the rule admits (present for every
        event, strictly positive, not constant; see the module's notes).
        ``[]`` uses none.
    lead_s : float or None, default 3600
        Length (s) of the window before the scheduled start whose traffic
        is a feature; None forecasts from the signals alone (for a forecast
        made before that window, e.g. a day ahead).
    categories : list of str, default ()
        Event attributes taken as categories (``"stage"``, ``"weekday"``, a host): one
        term per level seen but the first in time order (the baseline). A new event's
        level the history never saw is an extrapolation: named, warned and widened.
    drift : {"auto", True, False}, default "auto"
        Days since the history's first scheduled start as a term (growth per day of the
        log peak): kept where its t-test rejects no drift at 5% (``"auto"``, redone at
        each origin of the rolling backtest), always, or never.
    method : {"conformal", "ols", "jackknife+", "quantreg"}, default "conformal"
        The OLS point with an interval calibrated on the time-ordered out-of-sample
        errors (weighted conformal, see :mod:`capplan.forecast._conformal`: honest when
        the season drifts, which the others assume away; it needs ``min_history`` plus
        about ``1 / (1 - level)`` events); OLS with its t prediction intervals; OLS
        with jackknife+ intervals (from the leave-one-out residuals, no Gaussian
        assumption); or quantile regression.
    level : float, default 0.9
        Default level of the intervals.

    Returns
    -------
    PeakForecast

    Raises
    ------
    ValueError
        An unknown or unmeasured target, a signal missing for some event
        or not positive, a peak of zero, no traffic in the pre-start window,
        events at different intervals, or fewer events than parameters + 3.

    Warns
    -----
    SmallSampleWarning
        Fewer than ten events per feature.

    Examples
    --------
    >>> import capplan
    >>> fit = fit_peak_forecast(capplan.worldcup98_history())
    >>> fit.peak_columns
    ['peak_requests_per_s']
    >>> new = fit.data.iloc[[0]]  # a slot like the first one
    >>> row = fit.predict(new, level=0.9).iloc[0]
    >>> bool(row["peak_requests_per_s_lower"] < row["peak_requests_per_s"])
    True
    """
    history = _validate.history(history)
    level = _validate.level(level)
    method = _validate.choice(method, "method", _METHODS)
    if drift not in ("auto", True, False):
        raise ValueError(f"drift must be 'auto', True or False, got {drift!r}")
    categories = _categories(history, categories)
    if lead_s is not None:
        lead_s = _validate.positive(lead_s, "lead_s", " seconds (or None)")
    data = event_table(history, lead_s=lead_s)
    if data["interval_s"].nunique() > 1:
        raise ValueError(
            f"history's events have different intervals ({sorted(data['interval_s'].unique())} "
            "s), so their peaks per interval are not comparable: resample it with "
            "history.resample(seconds)"
        )
    data["scheduled_start"] = history.events.loc[data.index, "scheduled_start"]
    for name in categories:
        data[name] = history.events.loc[data.index, name].astype(str)
    targets = _targets(history, data, targets)
    chosen, excluded = _signals(history, signals)
    chosen = [name for name in chosen if name not in categories]
    features, fits = {}, {}
    n = len(data)
    for target in targets:
        column = peak_column(target)
        names = list(chosen)
        if lead_s is not None:
            pre_start = pre_start_column(target)
            _require_pre_start(data, pre_start, lead_s)
            if data[pre_start].nunique() < 2:
                excluded[pre_start] = "constant across the events"
            else:
                names.append(pre_start)
        levels = sum(data[c].nunique() - 1 for c in categories)
        n_params = len(names) + 1 + levels + (drift is not False)
        if n < n_params + _SPARE_EVENTS:
            raise ValueError(
                f"history has {n} events, too few to forecast {column} from {n_params} "
                f"parameters (intercept + {', '.join(names) or 'no feature'}"
                f"{', category levels' if levels else ''}"
                f"{', drift' if drift is not False else ''}): at least "
                f"{n_params + _SPARE_EVENTS} are needed; pass fewer signals= (or lead_s=None)"
            )
        if names and n < _EVENTS_PER_FEATURE * len(names):
            warnings.warn(
                SmallSampleWarning(
                    f"{n} events for {len(names)} feature(s) in the forecast of {column}: below "
                    f"{_EVENTS_PER_FEATURE} events per feature, intervals may be too narrow; "
                    "pass fewer signals=",
                    n_events=n,
                    n_features=len(names),
                ),
                stacklevel=2,
            )
        y = _log_peaks(data, column)
        features[column] = tuple(names)
        fits[column] = fit_design(data, y, names, categories, drift, _fit_method(method))
    fc = PeakForecast(
        history, data, targets, features, excluded, fits, method, level, lead_s, drift
    )
    short = [c for c in fc.peak_columns if method == "conformal" and not _calibrated(fc, c)]
    if short:
        warnings.warn(
            SmallSampleWarning(
                f"{n} events are too few to calibrate a {level:.0%} conformal interval of "
                f"{', '.join(short)} on time-ordered errors ({fc.min_history} fit the first "
                f"forecast, and about {int(np.ceil(level / (1 - level)))} more are needed): "
                "the intervals are OLS t prediction intervals instead, which assume the "
                "events exchangeable",
                n_events=n,
                n_features=max(len(f) for f in features.values()),
            ),
            stacklevel=2,
        )
        fc.method = "ols"
    return fc


def _calibrated(fc: PeakForecast, column: str) -> bool:
    return bool(np.isfinite(conformal_quantile(fc._scores(column), fc.level)))


def _categories(history: History, categories) -> list[str]:
    names = list(_validate.names(categories, "categories")) if len(categories) else []
    for name in names:
        if name not in history.events.columns:
            raise ValueError(
                f"categories names {name!r}, which is not an attribute of the history's events "
                f"(they have {list(history.events.columns)})"
            )
        missing = history.events.index[history.events[name].isna()]
        if len(missing):
            raise ValueError(
                f"category {name!r} is missing for events {list(missing[:5])}: fill it in"
            )
    return names


def _targets(history: History, data: pd.DataFrame, targets) -> list[str]:
    measured = [load for load in LOADS if load in history.measured]
    complete = [load for load in measured if data[peak_column(load)].notna().all()]
    if targets is None:
        chosen = default_loads(complete)
        if not chosen:
            raise ValueError(
                f"history measured no load with a peak after the start in every event "
                f"(measured: {history.measured}); forecasts need joins, concurrent or requests"
            )
        return chosen
    chosen = list(_validate.names(targets, "targets"))
    for target in chosen:
        if target not in LOADS:
            raise ValueError(f"targets must be among {list(LOADS)}, got {target!r}")
        if target not in measured:
            raise ValueError(
                f"targets includes {target!r}, but the history measured only {history.measured}"
            )
        missing = data.index[data[peak_column(target)].isna()]
        if len(missing):
            raise ValueError(
                f"targets includes {target!r}, but events {list(missing[:5])} have no {target} "
                "after their start; load a history where every event measured it"
            )
    return chosen


def _signals(history: History, signals) -> tuple[list[str], dict]:
    available = history.signals
    if signals is not None:
        names = list(_validate.names(signals, "signals")) if len(signals) else []
        unknown = [s for s in names if s not in available.columns]
        if unknown:
            raise ValueError(
                f"signals {unknown} are not numeric signals of the history's events; "
                f"available: {list(available.columns)}"
            )
        for name in names:
            require_positive(available[name], name, "history's events")
            if available[name].nunique() < 2:
                raise ValueError(f"signal {name!r} is constant across the events: it says nothing")
        left_out = {s: "not chosen" for s in available.columns if s not in names}
        return names, left_out
    chosen, excluded = [], {}
    for name in available.columns:
        values = available[name]
        if values.isna().any():
            events = list(values.index[values.isna()][:5])
            raise ValueError(
                f"signal {name!r} is missing for events {events}: fill it in, or choose the "
                f"signals to use with signals=[...] (available: {list(available.columns)})"
            )
        if (values <= 0).any():
            excluded[name] = "zero or negative for some events: no logarithm"
        elif values.nunique() < 2:
            excluded[name] = "constant"
        else:
            chosen.append(name)
    return chosen, excluded


def _require_pre_start(data: pd.DataFrame, column: str, lead_s: float) -> None:
    missing = data.index[data[column].isna()]
    if len(missing):
        raise ValueError(
            f"events {list(missing[:5])} have no observed interval in the {lead_s:g} s before "
            "their scheduled start, so their pre-start traffic is unknown; pass a shorter "
            "lead_s, or lead_s=None to forecast from the signals alone"
        )


def _log_peaks(data: pd.DataFrame, column: str) -> np.ndarray:
    peaks = data[column]
    zero = data.index[peaks <= 0]
    if len(zero):
        raise ValueError(
            f"events {list(zero[:5])} have {column} = 0: no traffic after their start, so no "
            "peak to learn from; leave them out of the history"
        )
    return np.log(peaks.to_numpy(dtype=float))


def _fit_method(method: str) -> str:
    """The regression's own method: the conformal interval sits on the OLS point."""
    return "ols" if method == "conformal" else method


def _interval(model: LogLinear, X, level, method, scores, factor):
    """Point, lower and upper (log scale) of rows `X`, the half-widths times `factor`."""
    if method == "conformal":  # the OLS t interval at the level the past errors call for
        mean, scale, df = model.predictive(X)
        q = min(conformal_quantile(scores, level), _MOST_LEVEL)
        half = stats.t.ppf((1 + q) / 2, df) * scale
        point, lower, upper = mean, mean - half, mean + half
    else:
        point, lower, upper = model.predict(X, level)
    return point, point - (point - lower) * factor, point + (upper - point) * factor


def _outside(design: Design, model: LogLinear, X, table) -> tuple[list[list[str]], np.ndarray]:
    """Per row: the features outside the history's range, and the interval's widening."""
    names: list[list[str]] = [[] for _ in range(len(X))]
    distance = np.zeros(len(X))
    for j, name in enumerate(design.logs, start=1):
        low, high = model.X[:, j].min(), model.X[:, j].max()
        span = max(high - low, 1e-12)
        beyond = np.maximum(low - X[:, j], X[:, j] - high)
        for i in np.flatnonzero(beyond > 1e-12):
            names[i].append(name)
        distance = np.maximum(distance, np.maximum(beyond, 0.0) / span)
    unseen = design.unseen(table)
    for i, levels in enumerate(unseen):
        names[i] += levels
    return names, widening(distance, [len(u) for u in unseen])


def _rows(column, events, actual, predicted, lower, upper, forecaster=None):
    """Backtest rows of one target (and one baseline), indexed by target (forecaster), event."""
    keys, names = [[column]], ["target"]
    if forecaster is not None:
        keys, names = [[column], [forecaster]], ["target", "forecaster"]
    index = pd.MultiIndex.from_product([*keys, list(events)], names=[*names, "event_id"])
    return pd.DataFrame(
        backtest_rows(actual.to_numpy(dtype=float), predicted, lower, upper), index=index
    )


def _naive(fc: PeakForecast, column: str, events, level: float, scheme: str) -> dict:
    """Naive forecasts of `events` (log scale): the history's median, the most recent."""
    order = list(fc.time_order)
    y = np.log(fc.data[column])
    same = fc.data[list(fc.categories)].astype(str).agg("|".join, axis=1) if fc.categories else None
    lo_q, hi_q = (1 - level) / 2, (1 + level) / 2
    median, recent = [], []
    steps = _recent_errors(order, y, same)
    for event in events:
        i = order.index(event)
        earlier = order[:i] if scheme == "rolling" else [e for e in order if e != event]
        values = y.loc[earlier].to_numpy()
        median.append([np.median(values), np.quantile(values, lo_q), np.quantile(values, hi_q)])
        last = _most_recent(order[:i], same, event)
        if last is None:  # the first event: nothing earlier; the median stands in
            recent.append(median[-1])
            continue
        past = [steps[e] for e in order[:i] if e in steps]
        q = conformal_quantile(past, level)
        if not np.isfinite(q):
            q = float(np.max(np.abs(past))) if past else np.inf
        recent.append([y[last], y[last] - q, y[last] + q])
    out = {}
    for name, rows in (("history median", median), ("most recent", recent)):
        p, lo, hi = np.exp(np.asarray(rows, dtype=float).T)
        out[name] = (p, lo, hi)
    return out


def _most_recent(earlier, same, event):
    if not earlier:
        return None
    if same is not None:
        matching = [e for e in earlier if same[e] == same[event]]
        if matching:
            return matching[-1]
    return earlier[-1]


def _recent_errors(order, y, same) -> dict:
    """Event -> |log error| of the most-recent rule on it (from the events before it)."""
    out = {}
    for i, event in enumerate(order):
        last = _most_recent(order[:i], same, event)
        if last is not None:
            out[event] = abs(y[event] - y[last])
    return out
