"""The regression under the forecasts: log(peak) linear in the logs of what is known.

``y = X b + e`` on the log scale, ``X`` with a leading column of ones.

- ``"ols"``: ordinary least squares (statsmodels ``OLS``); the interval of a
  new value is the prediction interval ``obs_ci`` of
  ``get_prediction(...).summary_frame(alpha=1 - level)``, exact under
  Gaussian errors of constant variance on the log scale:
  ``x0'b +- t_{n-p}(1 - alpha/2) s sqrt(1 + x0'(X'X)^-1 x0)``. The point
  is ``x0'b``, which back on the natural scale is the median of a
  log-normal, not its mean.
- ``"jackknife+"``: the OLS point, and the jackknife+ interval of Barber,
  Candes, Ramdas and Tibshirani ("Predictive inference with the
  jackknife+", Annals of Statistics 49, 2021): with ``b_(-j)`` the fit
  without event ``j`` and ``R_j = |y_j - x_j'b_(-j)|`` its leave-one-out
  residual, the bounds are the ``floor(alpha (n + 1))``-th smallest of
  ``x0'b_(-j) - R_j`` and the ``ceil((1 - alpha)(n + 1))``-th smallest of
  ``x0'b_(-j) + R_j``. No distributional assumption: coverage is at least
  ``1 - 2 alpha`` for exchangeable events whatever the errors' law, and in
  practice near ``1 - alpha``; it needs ``n >= 1/alpha - 1`` events (9 for
  a 90% interval). Leave-one-out fits come in closed form from the hat
  matrix. The interval is as wide on both sides; a caller that knows a
  bound (a peak is at least its value so far) applies it afterwards.
- ``"quantreg"``: quantile regression (statsmodels ``QuantReg``) at the
  median for the point and at ``(1 - level)/2`` and ``(1 + level)/2`` for
  the interval; no distributional assumption, but from 40 events the tail
  quantiles rest on two or three events each. Crossing quantiles are
  sorted.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from statsmodels.regression.linear_model import OLS
from statsmodels.regression.quantile_regression import QuantReg
from statsmodels.tools.sm_exceptions import IterationLimitWarning, SingularMatrixWarning

from capplan.warnings import ConvergenceWarning, CovarianceWarning

METHODS = ("ols", "jackknife+", "quantreg")


@dataclass(frozen=True)
class LogLinear:
    """A log-linear regression fitted on the log scale.

    Attributes
    ----------
    method : str
        ``"ols"``, ``"jackknife+"`` or ``"quantreg"``.
    terms : tuple of str
        ``"const"`` then the features' names (their logs enter).
    X : numpy.ndarray
        Design (n, p) with the constant column.
    y : numpy.ndarray
        Log targets (n,).
    ols : statsmodels RegressionResults
        The OLS fit (kept for diagnostics under either method).
    """

    method: str
    terms: tuple[str, ...]
    X: np.ndarray
    y: np.ndarray
    ols: object = field(repr=False)
    _quantiles: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def fit(cls, X: np.ndarray, y: np.ndarray, terms, method: str = "ols") -> LogLinear:
        X = np.asarray(X, dtype=float)
        y = np.asarray(y, dtype=float)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ols = OLS(y, X).fit()
        if any(issubclass(w.category, SingularMatrixWarning) for w in caught):
            warnings.warn(
                CovarianceWarning(
                    f"the terms {list(terms[1:])} are collinear over these {len(y)} events: "
                    "their coefficients are not unique (forecasts inside the events' range "
                    "are); pass fewer signals= or categories="
                ),
                stacklevel=3,
            )
        return cls(method, tuple(terms), X, y, ols)

    @property
    def n(self) -> int:
        return len(self.y)

    @property
    def n_params(self) -> int:
        return self.X.shape[1]

    def _quantreg(self, q: float):
        if q not in self._quantiles:
            self._quantiles[q] = quantile_fit(self.y, self.X, q)
        return self._quantiles[q]

    def predict(self, X0: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Point, lower and upper bound of new log values at rows `X0`."""
        X0 = np.atleast_2d(np.asarray(X0, dtype=float))
        if self.method == "ols":
            frame = self.ols.get_prediction(X0).summary_frame(alpha=1 - level)
            return (
                frame["mean"].to_numpy(),
                frame["obs_ci_lower"].to_numpy(),
                frame["obs_ci_upper"].to_numpy(),
            )
        if self.method == "jackknife+":
            return self._jackknife_plus(X0, level)
        qs = ((1 - level) / 2, 0.5, (1 + level) / 2)
        values = np.column_stack([X0 @ self._quantreg(q).params for q in qs])
        values.sort(axis=1)
        return values[:, 1], values[:, 0], values[:, 2]

    def _jackknife_plus(self, X0: np.ndarray, level: float):
        alpha = 1 - level
        n = self.n
        k_low = int(np.floor(alpha * (n + 1)))
        k_high = int(np.ceil((1 - alpha) * (n + 1)))
        if k_low < 1 or k_high > n:
            raise ValueError(
                f"{n} past events are too few for a {level:.0%} jackknife+ interval: at least "
                f"{int(np.ceil(1 / alpha)) - 1} are needed; lower the level or use method='ols'"
            )
        XtX_inv = np.linalg.pinv(self.X.T @ self.X)
        hat = np.einsum("ij,jk,ik->i", self.X, XtX_inv, self.X)
        resid = np.asarray(self.ols.resid)
        loo_resid = resid / (1 - np.minimum(hat, 1 - 1e-12))
        # b_(-j) = b - (X'X)^-1 x_j e_j / (1 - h_j)
        loo_params = (
            np.asarray(self.ols.params)[None, :] - (XtX_inv @ self.X.T).T * loo_resid[:, None]
        )
        mu = X0 @ loo_params.T  # (m, n): each new row by each leave-one-out fit
        spread = np.abs(loo_resid)[None, :]
        lower = np.sort(mu - spread, axis=1)[:, k_low - 1]
        upper = np.sort(mu + spread, axis=1)[:, k_high - 1]
        return X0 @ np.asarray(self.ols.params), lower, upper

    def predictive(self, X0: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """OLS predictive distribution of new log values at rows `X0`: ``mean + scale * T``
        with ``T`` Student's t of ``df`` degrees of freedom; returns (mean, scale, df)."""
        X0 = np.atleast_2d(np.asarray(X0, dtype=float))
        frame = self.ols.get_prediction(X0).summary_frame()
        scale = np.sqrt(frame["mean_se"].to_numpy() ** 2 + self.ols.scale)
        return frame["mean"].to_numpy(), scale, float(self.ols.df_resid)

    def point(self, X0: np.ndarray) -> np.ndarray:
        """Point prediction (OLS mean or median regression) of new log values."""
        X0 = np.atleast_2d(np.asarray(X0, dtype=float))
        params = self.ols.params if self.method != "quantreg" else self._quantreg(0.5).params
        return X0 @ params

    def coefficients(self, level: float) -> pd.DataFrame:
        """Coefficients with standard errors and confidence intervals at `level`."""
        result = self.ols if self.method != "quantreg" else self._quantreg(0.5)
        ci = np.asarray(result.conf_int(alpha=1 - level))
        return pd.DataFrame(
            {
                "estimate": np.asarray(result.params),
                "std_err": np.asarray(result.bse),
                "lower": ci[:, 0],
                "upper": ci[:, 1],
            },
            index=pd.Index(self.terms, name="term"),
        )

    def diagnostics(self) -> dict:
        """Fit statistics on the log scale and the collinearity of the features."""
        vif = variance_inflation(self.X)
        return {
            "n_events": self.n,
            "n_params": self.n_params,
            "r_squared": float(self.ols.rsquared) if self.n_params > 1 else float("nan"),
            "residual_sd_log": float(np.sqrt(self.ols.scale)),
            "max_vif": float(np.max(vif)) if len(vif) else float("nan"),
            "condition_number": condition_number(self.X),
        }


def variance_inflation(X: np.ndarray) -> np.ndarray:
    """Variance inflation factor of each non-constant column of `X` (first column constant):
    ``1 / (1 - R_j^2)``, ``R_j^2`` of column j regressed on the others."""
    X = np.asarray(X, dtype=float)
    out = []
    for j in range(1, X.shape[1]):
        others = np.delete(X, j, axis=1)
        coef, *_ = np.linalg.lstsq(others, X[:, j], rcond=None)
        resid = X[:, j] - others @ coef
        total = np.sum((X[:, j] - X[:, j].mean()) ** 2)
        r2 = 1 - np.sum(resid**2) / total if total > 0 else 1.0
        out.append(1 / max(1 - r2, 1e-12))
    return np.array(out)


def condition_number(X: np.ndarray) -> float:
    """Condition number of the standardised features (1 = orthogonal; above 30 = collinear)."""
    Z = np.asarray(X, dtype=float)[:, 1:]
    if Z.shape[1] == 0:
        return 1.0
    sd = Z.std(axis=0)
    Z = (Z - Z.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    s = np.linalg.svd(Z, compute_uv=False)
    return float(s[0] / s[-1]) if s[-1] > 0 else float("inf")


def point_fit(X: np.ndarray, y: np.ndarray, method: str) -> np.ndarray:
    """Coefficients of the point model alone (fast: numpy least squares for OLS)."""
    if method != "quantreg":
        coef, *_ = np.linalg.lstsq(X, y, rcond=None)
        return coef
    return np.asarray(quantile_fit(y, X, 0.5).params)


def quantile_fit(y: np.ndarray, X: np.ndarray, q: float):
    """statsmodels' QuantReg at quantile `q`; its iteration limit said as capplan's warning."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = QuantReg(y, X).fit(q=q, max_iter=5000)
    for w in caught:
        if issubclass(w.category, IterationLimitWarning):
            warnings.warn(
                ConvergenceWarning(
                    f"quantile regression at q={q:g} stopped at its iteration limit: with "
                    f"{len(y)} events its tail quantiles rest on one or two of them; prefer "
                    "method='conformal' or 'jackknife+'",
                    q=q,
                ),
                stacklevel=4,
            )
        elif not issubclass(w.category, RuntimeWarning):  # a division in a degenerate fit
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return result


def loo_points(X: np.ndarray, y: np.ndarray, method: str, drop: int | None = None) -> np.ndarray:
    """Leave-one-out point predictions of every row, each from a fit without it.

    With `drop`, row `drop` is left out of every fit as well (and its own entry is NaN):
    the out-of-sample predictions of the other rows as they would be made were `drop` not
    in the history yet.
    """
    n = len(y)
    out = np.full(n, np.nan)
    for i in range(n):
        if i == drop:
            continue
        keep = np.ones(n, dtype=bool)
        keep[i] = False
        if drop is not None:
            keep[drop] = False
        out[i] = X[i] @ point_fit(X[keep], y[keep], method)
    return out
