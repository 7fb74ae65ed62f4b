"""Coverage and error of out-of-sample forecasts, shared by the peak and nowcast backtests."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

_RTOL = 1e-9


def backtest_rows(actual, predicted, lower, upper) -> dict:
    """Columns of a backtest table from arrays in natural units."""
    actual, predicted = np.asarray(actual, dtype=float), np.asarray(predicted, dtype=float)
    lower, upper = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
    return {
        "actual": actual,
        "predicted": predicted,
        "lower": lower,
        "upper": upper,
        # Bounds raised to the peak so far equal it up to rounding: compare within 1e-9.
        "covered": (actual >= lower * (1 - _RTOL)) & (actual <= upper * (1 + _RTOL)),
        "log_ratio": np.log(actual / predicted),
        "relative_error": actual / predicted - 1,
    }


def summarise(table: pd.DataFrame, by: str, level: float) -> pd.DataFrame:
    """Coverage and errors of a backtest table grouped by the index level `by`."""
    rows = {}
    for key, part in table.groupby(level=by, sort=False):
        n = len(part)
        covered = int(part["covered"].sum())
        low, high = coverage_interval(covered, n)
        rows[key] = {
            "n_events": n,
            "level": level,
            "covered": covered,
            "coverage": covered / n,
            "coverage_low": low,
            "coverage_high": high,
            "below": float((part["actual"] < part["lower"] * (1 - _RTOL)).mean()),
            "above": float((part["actual"] > part["upper"] * (1 + _RTOL)).mean()),
            "median_abs_log_error": float(part["log_ratio"].abs().median()),
            "mean_log_ratio": float(part["log_ratio"].mean()),
            "median_abs_relative_error": float(part["relative_error"].abs().median()),
            "median_width_ratio": float((part["upper"] / part["lower"]).median()),
        }
    out = pd.DataFrame(rows).T.rename_axis(by).astype(float)
    return out.astype({"n_events": int, "covered": int})


def coverage_interval(covered: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Clopper-Pearson interval of a coverage ``covered / n``."""
    alpha = 1 - confidence
    lo = stats.beta.ppf(alpha / 2, covered, n - covered + 1) if covered > 0 else 0.0
    hi = stats.beta.ppf(1 - alpha / 2, covered + 1, n - covered) if covered < n else 1.0
    return float(lo), float(hi)
