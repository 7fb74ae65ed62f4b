"""sweep: grids, seeds, the in-process run against a two-worker local cluster."""

import time

import numpy as np
import pandas as pd
import pytest

pytest.importorskip(
    "distributed", reason="distributed is needed for capplan.scale (pip install distributed)"
)

from capplan.scale import sweep
from capplan.scale.sweep import scenario_rngs, simulate_row

GRID = {"servers": [9, 10], "arrival_rate": [8.0, 8.5]}
FIXED = {"service_time": 1.0, "duration": 200.0}


def noisy(a, b, seed):
    """A picklable function of keyword arguments: a row with a random draw."""
    return {"total": a + b, "draw": float(seed.uniform())}


def test_grid_is_crossed_in_order_and_seeds_are_spawned_per_scenario():
    table = sweep(
        noisy, {"a": [1, 2], "b": [10, 20, 30]}, seed=5, scheduler="inline", progress=False
    )
    assert table.index.name == "scenario" and len(table) == 6
    assert table["a"].tolist() == [1, 1, 1, 2, 2, 2]
    assert table["b"].tolist() == [10, 20, 30] * 2
    assert table["total"].tolist() == [11, 21, 31, 12, 22, 32]
    expected = [rng.uniform() for rng in scenario_rngs(5, 6)]
    assert table["draw"].tolist() == expected
    children = np.random.SeedSequence(5).spawn(6)
    assert table["draw"].iloc[4] == np.random.default_rng(children[4]).uniform()
    assert table.attrs["seed_entropy"] == 5


def test_scenario_list_and_default_simulation():
    scenarios = [{"servers": 10, "arrival_rate": 8.0}, {"servers": 12, "arrival_rate": 8.0}]
    table = sweep(scenarios, fixed=FIXED, seed=1, scheduler="inline", progress=False)
    assert table["servers"].tolist() == [10, 12]
    assert {"wait_prob", "mean_wait_s", "refuse_prob", "customers"} <= set(table.columns)
    assert table["wait_prob"].iloc[0] > table["wait_prob"].iloc[1]  # more servers, less waiting
    again = simulate_row(**FIXED, **scenarios[0], seed=scenario_rngs(1, 2)[0])
    assert table["wait_prob"].iloc[0] == again["wait_prob"]


@pytest.mark.slow
def test_local_cluster_with_two_workers_equals_the_in_process_run():
    inline = sweep(GRID, fixed=FIXED, seed=11, scheduler="inline", progress=False)
    cluster = sweep(GRID, fixed=FIXED, seed=11, n_workers=2, progress=False)
    assert cluster.attrs["scheduler"] == "LocalCluster(2 processes)"
    pd.testing.assert_frame_equal(cluster, inline)


def test_a_bad_scheduler_address_fails_quickly_naming_it():
    start = time.perf_counter()
    with pytest.raises(ConnectionError, match=r"tcp://127\.0\.0\.1:9.*within 2 s"):
        sweep(noisy, {"a": [1], "b": [2]}, scheduler="tcp://127.0.0.1:9", timeout=2, progress=False)
    assert time.perf_counter() - start < 8


def test_bad_grids_and_failing_scenarios_are_named():
    with pytest.raises(ValueError, match=r"grid\['a'\] must be a list"):
        sweep(noisy, {"a": 1, "b": [2]}, scheduler="inline")
    with pytest.raises(ValueError, match="both in fixed and in the grid"):
        sweep(noisy, {"a": [1], "b": [2]}, fixed={"a": 3}, scheduler="inline")
    with pytest.raises(ValueError, match="seed is set per scenario"):
        sweep(noisy, {"a": [1], "b": [2], "seed": [3]}, scheduler="inline")
    with pytest.raises(RuntimeError, match=r"scenario 1 \{'a': 1, 'b': 'x'\} failed: TypeError"):
        sweep(noisy, {"a": [1], "b": [2, "x"]}, scheduler="inline", progress=False)
