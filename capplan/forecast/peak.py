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

Intervals
---------
By default (``method="ols"``) the interval of a new event's peak is the OLS
prediction interval on the log scale, back-transformed: exact under the
model, with the t quantile and the leverage of the new event, so it widens
for an event unlike the past ones. The point forecast is ``exp`` of the
log-scale mean, the *median* peak. ``method="jackknife+"`` keeps the OLS
point and takes the interval from the events' leave-one-out errors instead
(Barber et al. 2021; see :mod:`capplan.forecast._regression`): no Gaussian
assumption, at the price of tails that rest on the few largest errors.
``method="quantreg"`` fits the median and the interval's quantiles by
quantile regression: no distributional assumption either, but with 40
events a 90% interval's tails rest on two events each, and its
leave-one-out coverage is usually below nominal.

Judge the intervals by :meth:`PeakForecast.backtest`: each event forecast by
the model fitted to the others, with the share of real peaks inside their
intervals.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from capplan._text import table_text
from capplan.data.history import History
from capplan.forecast import _validate
from capplan.forecast._backtest import backtest_rows, summarise
from capplan.forecast._regression import METHODS, LogLinear, loo_points
from capplan.forecast.features import (
    LOADS,
    default_loads,
    event_table,
    peak_column,
    pre_start_column,
)
from capplan.warnings import SmallSampleWarning

__all__ = ["PeakBacktest", "PeakForecast", "fit_peak_forecast"]

_EVENTS_PER_FEATURE = 10
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

    def __init__(self, history, data, targets, features, excluded, models, method, level, lead_s):
        self.history = history
        self.data = data
        self.targets = tuple(targets)
        self.features_ = dict(features)
        self.excluded_ = dict(excluded)
        self.models_ = dict(models)
        self.method = method
        self.level = level
        self.lead_s = lead_s
        self._fallback: dict = {}

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
            for rows, model in (
                (known, self.models_[column]),
                (~known, self._signals_only(column) if not known.all() else None),
            ):
                if not rows.any():
                    continue
                names = model.terms[1:]
                X = _design(table[rows], names, "the events to forecast")
                point[rows], lower[rows], upper[rows] = model.predict(X, level)
                for j, name in enumerate(names, start=1):
                    low, high = model.X[:, j].min(), model.X[:, j].max()
                    beyond = (X[:, j] < low - 1e-12) | (X[:, j] > high + 1e-12)
                    for i in np.flatnonzero(rows)[beyond]:
                        if name not in outside[i]:
                            outside[i].append(name)
            for i in np.flatnonzero(~known):
                without_pre_start[i].append(column)
            out[column] = np.exp(point)
            out[f"{column}_lower"] = np.exp(lower)
            out[f"{column}_upper"] = np.exp(upper)
        out["basis"] = [self._basis(columns) for columns in without_pre_start]
        out["outside_history"] = [", ".join(names) for names in outside]
        out.attrs["level"] = level
        return out

    def _basis(self, without_pre_start: list[str]) -> str:
        if self.lead_s is None or len(without_pre_start) == len(self.targets):
            return "signals"
        if not without_pre_start:
            return "signals + pre-start"
        return f"signals + pre-start, except {', '.join(without_pre_start)}: signals"

    def _signals_only(self, column: str) -> LogLinear:
        """The regression of `column` without its pre-start term, on the same events."""
        if column not in self._fallback:
            names = [f for f in self.features_[column] if not f.startswith("pre_start_")]
            X = _design(self.data, names, "history's events")
            y = self.models_[column].y
            self._fallback[column] = LogLinear.fit(X, y, ("const", *names), self.method)
        return self._fallback[column]

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

    def backtest(self, level: float | None = None) -> PeakBacktest:
        """Leave-one-event-out backtest: each past event forecast by the model fitted to the
        others (same features and method), against its real peak.

        Parameters
        ----------
        level : float, optional
            Level of the intervals; the fit's by default.

        Returns
        -------
        PeakBacktest
        """
        level = self.level if level is None else _validate.level(level)
        parts = []
        for column in self.peak_columns:
            model = self.models_[column]
            n = model.n
            rows = np.empty((n, 3))
            for i in range(n):
                keep = np.arange(n) != i
                held = LogLinear.fit(model.X[keep], model.y[keep], model.terms, self.method)
                rows[i] = [v[0] for v in held.predict(model.X[i], level)]
            predicted, lower, upper = np.exp(rows.T)
            parts.append(
                pd.DataFrame(
                    backtest_rows(self.data[column], predicted, lower, upper),
                    index=pd.MultiIndex.from_product(
                        [[column], self.data.index], names=["target", "event_id"]
                    ),
                )
            )
        return PeakBacktest(pd.concat(parts), level, self.method, "leave one event out")

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
            lines.append(f"  {column}: log of {', '.join(self.features_[column]) or '(none)'}")
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
    """

    def __init__(self, table: pd.DataFrame, level: float, method: str, scheme: str):
        self.table = table
        self.level = level
        self.method = method
        self.scheme = scheme

    def to_frame(self) -> pd.DataFrame:
        """The table, one row per target and event."""
        return self.table.copy()

    def summary(self) -> pd.DataFrame:
        """One row per target: ``n_events``; ``coverage`` (share of real peaks inside their
        interval) with its 95% Clopper-Pearson interval ``coverage_low``/``coverage_high``;
        ``below``/``above`` (shares under the lower, over the upper bound);
        ``median_abs_log_error``; ``mean_log_ratio`` (bias: > 0 means forecasts too low);
        ``median_abs_relative_error``; ``median_width_ratio`` (upper / lower)."""
        return summarise(self.table, "target", self.level)

    def __str__(self) -> str:
        summary = self.summary()
        head = (
            f"Peak forecast backtest ({self.scheme}), {self.method}, {self.level:.0%} intervals\n"
        )
        for target, row in summary.iterrows():
            head += (
                f"  {target}: {row['covered']:.0f}/{row['n_events']:.0f} real peaks inside "
                f"(coverage {row['coverage']:.0%}, 95% CI {row['coverage_low']:.0%}-"
                f"{row['coverage_high']:.0%}); median |log error| "
                f"{row['median_abs_log_error']:.3f}\n"
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
    method: str = "ols",
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
    method : {"ols", "jackknife+", "quantreg"}, default "ols"
        OLS with its t prediction intervals; OLS with jackknife+ intervals
        (from the leave-one-out residuals, no Gaussian assumption); or
        quantile regression.
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
    method = _validate.choice(method, "method", METHODS)
    if lead_s is not None:
        lead_s = _validate.positive(lead_s, "lead_s", " seconds (or None)")
    data = event_table(history, lead_s=lead_s)
    if data["interval_s"].nunique() > 1:
        raise ValueError(
            f"history's events have different intervals ({sorted(data['interval_s'].unique())} "
            "s), so their peaks per interval are not comparable: resample it with "
            "history.resample(seconds)"
        )
    targets = _targets(history, data, targets)
    chosen, excluded = _signals(history, signals)
    features, models = {}, {}
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
        n_params = len(names) + 1
        if n < n_params + _SPARE_EVENTS:
            raise ValueError(
                f"history has {n} events, too few to forecast {column} from {n_params} "
                f"parameters (intercept + {', '.join(names) or 'no feature'}): at least "
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
        X = _design(data, names, "history's events")
        y = _log_peaks(data, column)
        features[column] = tuple(names)
        models[column] = LogLinear.fit(X, y, ("const", *names), method)
    return PeakForecast(history, data, targets, features, excluded, models, method, level, lead_s)


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
            _require_positive(available[name], name, "history's events")
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


def _require_positive(values: pd.Series, name: str, where: str) -> None:
    bad = values.isna() | ~(values > 0) | ~np.isfinite(values.astype(float))
    if bad.any():
        rows = list(values.index[bad][:5])
        shown = values[bad][:5].tolist()
        raise ValueError(
            f"{where}: {name!r} must be a number > 0 (the model takes its log), but events "
            f"{rows} have {shown}"
        )


def _require_pre_start(data: pd.DataFrame, column: str, lead_s: float) -> None:
    missing = data.index[data[column].isna()]
    if len(missing):
        raise ValueError(
            f"events {list(missing[:5])} have no observed interval in the {lead_s:g} s before "
            "their scheduled start, so their pre-start traffic is unknown; pass a shorter "
            "lead_s, or lead_s=None to forecast from the signals alone"
        )


def _design(table: pd.DataFrame, names: Sequence[str], where: str) -> np.ndarray:
    """The log-scale design matrix (constant first) of `names` in `table`."""
    missing = [n for n in names if n not in table.columns]
    if missing:
        hint = (
            "; pre-start traffic comes from capplan.forecast.pre_start_traffic"
            if any(n.startswith("pre_start_") for n in missing)
            else ""
        )
        raise ValueError(
            f"{where} lack the column(s) {missing} that the forecast uses (its features: "
            f"{list(names)}){hint}"
        )
    columns = []
    for name in names:
        values = pd.to_numeric(table[name], errors="coerce")
        _require_positive(values, name, where)
        columns.append(np.log(values.to_numpy(dtype=float)))
    return np.column_stack([np.ones(len(table)), *columns])


def _log_peaks(data: pd.DataFrame, column: str) -> np.ndarray:
    peaks = data[column]
    zero = data.index[peaks <= 0]
    if len(zero):
        raise ValueError(
            f"events {list(zero[:5])} have {column} = 0: no traffic after their start, so no "
            "peak to learn from; leave them out of the history"
        )
    return np.log(peaks.to_numpy(dtype=float))
