"""What enters a peak regression, and how a table of events becomes its design matrix.

Three kinds of term, on the log scale of the peak:

- **logs** of numeric signals and of the pre-start traffic (an elasticity each);
- **categories**: an event attribute such as the stage or the kind of event, one 0/1
  column per level seen in the history but the first (the baseline, the first level in
  time order); a level the history never saw gets the baseline's zeros and is named as
  an extrapolation;
- **drift**: days since the history's first scheduled start, linear (a growth rate per
  day of the log peak), for audiences that grow through a season. It enters only where
  the history shows it: its OLS t-test at 5% (``drift="auto"``), or always (``True``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from capplan.forecast._regression import LogLinear

DRIFT = "drift_per_day"
_DRIFT_P = 0.05  # the drift term's significance level under drift="auto"
_DAY_S = 86_400.0


@dataclass(frozen=True)
class Design:
    """The terms of one regression and the history's ranges, to build and check rows.

    Attributes
    ----------
    logs : tuple of str
        Numeric columns that enter as logs.
    categories : dict of str to tuple
        Attribute -> its levels seen, the first the baseline.
    drift : bool
        Whether days since ``origin`` enter.
    origin : pandas.Timestamp or None
        The history's first scheduled start (UTC).
    """

    logs: tuple[str, ...]
    categories: dict
    drift: bool
    origin: pd.Timestamp | None

    @property
    def terms(self) -> tuple[str, ...]:
        dummies = [f"{c}={level}" for c, levels in self.categories.items() for level in levels[1:]]
        return ("const", *self.logs, *dummies, *([DRIFT] if self.drift else []))

    def matrix(self, table: pd.DataFrame, where: str) -> np.ndarray:
        """The design matrix (constant first) of `table`'s rows."""
        need = [*self.logs, *self.categories, *(["scheduled_start"] if self.drift else [])]
        missing = [n for n in need if n not in table.columns]
        if missing:
            hint = (
                "; pre-start traffic comes from capplan.forecast.pre_start_traffic"
                if any(n.startswith("pre_start_") for n in missing)
                else ""
            )
            raise ValueError(
                f"{where} lack the column(s) {missing} that the forecast uses (its terms: "
                f"{list(self.terms[1:])}){hint}"
            )
        columns = [np.ones(len(table))]
        for name in self.logs:
            values = pd.to_numeric(table[name], errors="coerce")
            require_positive(values, name, where)
            columns.append(np.log(values.to_numpy(dtype=float)))
        for name, levels in self.categories.items():
            values = table[name].astype(str).to_numpy()
            columns += [(values == level).astype(float) for level in levels[1:]]
        if self.drift:
            columns.append(days_since(table["scheduled_start"], self.origin, where))
        return np.column_stack(columns)

    def unseen(self, table: pd.DataFrame) -> list[list[str]]:
        """Per row, ``attribute=level`` for each category level the history never saw."""
        out: list[list[str]] = [[] for _ in range(len(table))]
        for name, levels in self.categories.items():
            for i, value in enumerate(table[name].astype(str).to_numpy()):
                if value not in levels:
                    out[i].append(f"{name}={value}")
        return out


def fit_design(
    data: pd.DataFrame,
    y: np.ndarray,
    logs,
    categories,
    drift,
    method: str,
    where: str = "history's events",
) -> tuple[Design, LogLinear]:
    """The regression of `y` on `data`'s terms, the drift kept only where it is significant
    (``drift="auto"``) or asked for (True)."""
    # A term constant over these events cannot be estimated from them (the early origins
    # of a rolling backtest: a season's first events all had one match per slot).
    logs = [name for name in logs if pd.to_numeric(data[name], errors="coerce").nunique() > 1]
    levels = {}
    for name in categories:
        seen = data[name].astype(str)
        order = seen.iloc[np.argsort(_start_order(data), kind="stable")] if len(seen) else seen
        levels[name] = tuple(dict.fromkeys(order))  # first level in time order: the baseline
    origin = pd.Timestamp(data["scheduled_start"].min()) if "scheduled_start" in data else None
    plain = Design(tuple(logs), levels, False, origin)
    if drift is False or origin is None:
        return plain, LogLinear.fit(plain.matrix(data, where), y, plain.terms, method)
    drifting = Design(tuple(logs), levels, True, origin)
    X = drifting.matrix(data, where)
    model = LogLinear.fit(X, y, drifting.terms, method)
    if drift is True:
        return drifting, model
    p_value = float(np.asarray(model.ols.pvalues)[-1]) if model.ols.df_resid > 0 else np.nan
    if np.isfinite(p_value) and p_value < _DRIFT_P:
        return drifting, model
    return plain, LogLinear.fit(plain.matrix(data, where), y, plain.terms, method)


def days_since(starts: pd.Series, origin: pd.Timestamp, where: str) -> np.ndarray:
    """Days from `origin` to each of `starts` (timezone-aware UTC timestamps)."""
    try:
        stamps = pd.to_datetime(starts, utc=True)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"{where}: scheduled_start must be timestamps (the drift term needs the date), {error}"
        ) from None
    if stamps.isna().any():
        rows = list(starts.index[stamps.isna()][:5])
        raise ValueError(f"{where}: scheduled_start is missing for {rows} (the drift needs it)")
    return ((stamps - origin).dt.total_seconds() / _DAY_S).to_numpy(dtype=float)


def require_positive(values: pd.Series, name: str, where: str) -> None:
    x = values.to_numpy(dtype=float, na_value=np.nan)  # numpy: called for every rolling fit
    bad = ~(x > 0) | ~np.isfinite(x)
    if bad.any():
        rows = list(values.index[bad][:5])
        shown = values[bad][:5].tolist()
        raise ValueError(
            f"{where}: {name!r} must be a number > 0 (the model takes its log), but events "
            f"{rows} have {shown}"
        )


def _start_order(data: pd.DataFrame) -> np.ndarray:
    if "scheduled_start" not in data:
        return np.arange(len(data))
    return pd.to_datetime(data["scheduled_start"], utc=True).to_numpy()
