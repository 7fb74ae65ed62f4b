"""The traffic models on real per-second traces nobody on the project wrote, and on
generated data from the multi-flood form.

Figures before this module's changes (issue 14), which these tests would have failed:
the default join curve's 1-minute peak at 0.36-0.83 of the observed one on real floods,
the like-for-like burst factor 12-78 against a measured 5-15.
"""

import warnings

import numpy as np
import pandas as pd
import pytest

import capplan
from capplan.models import Floods, LobbyFlood, fit_join_curve
from capplan.warnings import LackOfFitWarning


@pytest.fixture(scope="module")
def higgs():
    return capplan.higgs2012_history().event("higgs-20120704-0700")["requests"]


@pytest.fixture(scope="module")
def higgs_fit(higgs):
    # Four hours of seconds from an hour before the seminar: the flood and both crests.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit_join_curve(higgs.loc[-3600:10799])


def observed_peak_1min(series):
    minutes = series.groupby(np.floor(series.index.to_numpy(dtype=float) / 60)).mean()
    return float(minutes.max()), float(minutes.idxmax() * 60)


def test_default_fit_follows_the_real_flood_to_its_1_minute_peak(higgs, higgs_fit):
    d = higgs_fit.diagnostics
    peak, when = observed_peak_1min(higgs.loc[-3600:10799])
    assert d["peak_1min_observed_per_s"] == pytest.approx(peak)  # from the data, not the fit
    assert d["peak_1min_observed_time_s"] == when
    assert 0.85 <= d["peak_1min_ratio"] <= 1.15, d
    assert abs(d["peak_1min_fitted_time_s"] - when) <= 600  # within ten minutes
    assert higgs_fit.form.k >= 2  # the announcement came in more than one crest


def test_one_flood_misses_the_real_crest_and_says_so(higgs):
    with pytest.warns(LackOfFitWarning, match=r"fitted peak of the 1-minute mean.*observed"):
        fit = fit_join_curve(higgs, form=LobbyFlood())
    assert abs(fit.diagnostics["peak_1min_ratio"] - 1) > 0.15


@pytest.mark.parametrize(
    ("history", "event_id", "min_rate", "hours"),
    [
        ("higgs2012", "higgs-20120704-0700", 1.0, None),
        # an hour before to three after the seminar: quiet minutes of clustered requests
        # (up to 12 in a second at 1-2/s) weigh more; one alpha for all rates gave 0.75
        ("higgs2012", "higgs-20120704-0700", 1.0, (-1, 3)),
        ("higgs2012", "higgs-20120702-1400", 0.2, None),
        ("azure_llm2023", "azure-llm2023-conv", 1.0, None),
        ("sample", "ev-014", 1.0, None),
        ("sample", "ev-005", 1.0, None),
        ("sample", "ev-033", 1.0, None),  # 4 busy minutes: was 1.5 (pooled quantile)
        ("azure_llm2023", "azure-llm2023-code", 1.0, None),  # on/off arrivals: was 0.53
    ],
)
def test_burst_model_like_for_like_within_20_percent(history, event_id, min_rate, hours):
    series = getattr(capplan, f"{history}_history")().event(event_id)
    counts = series["joins"] if "joins" in series else series["requests"]
    if hours is not None:
        counts = counts.loc[hours[0] * 3600 : hours[1] * 3600 - 1]
    summary = capplan.burst_factor(counts, min_rate_per_s=min_rate).summary()
    model, measured = summary.loc[0.99, "model_same_windows"], summary.loc[0.99, "empirical"]
    # The measured factor, independently: worst second over its minute's mean, 99% quantile.
    t = counts.index.to_numpy(dtype=float)
    frame = pd.DataFrame({"block": np.floor(t / 60), "y": counts.to_numpy(dtype=float)})
    g = frame.groupby("block")["y"]
    whole = (g.count() == 60) & (g.mean() >= min_rate)
    assert measured == pytest.approx(np.quantile((g.max() / g.mean())[whole], 0.99))
    assert model == pytest.approx(measured, rel=0.2)


TRUE_TWO = {
    "background_per_s": 5.0,
    "audience": 3e5,
    "lead_share": 0.1,
    "ramp_s": 600.0,
    "surge_time_s": 0.0,
    "rise_s": 60.0,
    "decay_s": 600.0,
    "share_2": 0.4,
    "surge_time_2_s": 3000.0,
    "rise_2_s": 120.0,
    "decay_2_s": 900.0,
}


def two_floods(seed, alpha=0.02):
    """Per-10-s NB2 counts of a lobby and two floods (the second an hour later)."""
    form = Floods(k=2, drift=False)
    t = np.arange(-1800.0, 9000.0, 10.0)
    edges = np.append(t, t[-1] + 10)
    shape = {k: v for k, v in TRUE_TWO.items() if k not in ("background_per_s", "audience")}
    mu = TRUE_TWO["background_per_s"] * 10 + TRUE_TWO["audience"] * np.diff(form.cdf(edges, shape))
    rng = np.random.default_rng(seed)
    counts = rng.poisson(mu * rng.gamma(1 / alpha, alpha, size=mu.size))
    return pd.Series(counts, index=pd.Index(t, name="seconds"))


@pytest.mark.slow
def test_two_flood_form_recovers_its_parameters_at_about_their_level():
    inside = {name: [] for name in TRUE_TWO}
    for seed in range(12):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = fit_join_curve(two_floods(seed), form=Floods(k=2, drift=False)).summary()
        for name, value in TRUE_TWO.items():
            inside[name].append(table.loc[name, "lower"] <= value <= table.loc[name, "upper"])
    coverage = {name: float(np.mean(hits)) for name, hits in inside.items()}
    # 95% intervals over 12 fits: at least 9 of 12 for every parameter.
    assert min(coverage.values()) >= 0.75, coverage


def test_default_form_finds_the_second_flood_of_generated_data():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = fit_join_curve(two_floods(0))
    assert fit.form.k >= 2
    assert abs(fit.diagnostics["peak_1min_ratio"] - 1) < 0.05
    onsets = [v for k, v in fit.params_.items() if k.startswith("surge_time")]
    assert min(abs(np.array(onsets) - TRUE_TWO["surge_time_2_s"])) < 300


def test_floods_declaration_errors():
    with pytest.raises(ValueError, match="k must be a whole number"):
        Floods(k=0)
    with pytest.raises(ValueError, match="drift must be"):
        Floods(drift="yes")


@pytest.mark.slow
def test_every_sample_event_peak_and_burst():
    # Found (40 events): 1-minute peak ratio 0.95-1.12; burst 99% model / measured
    # 0.91-1.16. Before the per-set quantile, six were beyond 20% (up to 1.51), five of
    # them with 4-13 busy minutes (a 99% quantile of so few is about their maximum).
    history = capplan.sample_history()
    rows = []
    for event_id in history.event_ids:
        joins = history.event(event_id)["joins"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = fit_join_curve(joins)
        burst = capplan.burst_factor(joins, fit=fit).summary().loc[0.99]
        rows.append(
            {
                "peak": fit.diagnostics["peak_1min_ratio"],
                "burst": burst["model_same_windows"] / burst["empirical"],
                "minutes": burst["n_windows"],
            }
        )
    table = pd.DataFrame(rows, index=history.event_ids)
    assert table["peak"].between(0.85, 1.15).all(), table["peak"]
    assert table["burst"].between(0.8, 1.2).all(), table["burst"]


@pytest.mark.slow
def test_no_interval_spans_orders_of_magnitude_unmarked(higgs_fit):
    # Higgs' four hours: eight parameters with no Wald interval (a 100-fold span or a
    # singular Hessian); each gets a profile interval around its estimate, and one the
    # data do not close on a side is marked open. Closed ones say what the data say (the
    # background, tied to the drift: 0.009-0.99/s), never the Wald 1e-129 to 1e116 of old.
    table = higgs_fit.summary().drop(index=["alpha", "peak_rate_per_s", "peak_time_s"])
    assert table[["lower", "upper"]].notna().all().all(), table
    assert (table["lower"] <= table["estimate"]).all()
    assert (table["estimate"] <= table["upper"]).all()
    profiled = table[table["interval"] != "Wald"]
    assert len(profiled) >= 1 and set(profiled["interval"]) <= {"profile", "profile, open"}
    closed = profiled[(profiled["interval"] == "profile") & (profiled["lower"] > 0)]
    assert (closed["upper"] / closed["lower"] < 1000).all(), closed
