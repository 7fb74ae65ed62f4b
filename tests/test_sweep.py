"""sweep: grids, seeds, the in-process run against a two-worker local cluster; run_jobs."""

import time

import numpy as np
import pandas as pd
import pytest

pytest.importorskip(
    "distributed", reason="distributed is needed for capplan.scale (pip install distributed)"
)

from capplan.scale import sweep
from capplan.scale.sweep import run_jobs, scenario_rngs, simulate_row

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


# --- run_jobs: the machinery under sweep, plan validation, the what-ifs, tipping tables --------


def square(x):
    return x * x


def record_start(x, started):
    """Notes when it started (threads share ``started``), then returns ``x``."""
    started.append(x)
    time.sleep(0.01)
    return x


def fails_on_two(x):
    if x == 2:
        raise ValueError("two is bad")
    return x


@pytest.mark.parametrize("scheduler", ["inline", "threads"])
def test_run_jobs_returns_the_results_in_the_jobs_order(scheduler):
    jobs = [{"x": x} for x in range(7)]
    results, where = run_jobs(square, jobs, scheduler=scheduler, n_workers=2, progress=False)
    assert results == [x * x for x in range(7)]
    assert where == ("inline" if scheduler == "inline" else "threads(2)")
    assert run_jobs(square, [], scheduler=scheduler, progress=False)[0] == []


def test_run_jobs_starts_the_biggest_first_and_keeps_the_order_of_results():
    started: list[int] = []
    jobs = [{"x": x, "started": started} for x in range(5)]
    cost = [1.0, 5.0, 3.0, 5.0, 0.5]
    results, _ = run_jobs(
        record_start, jobs, scheduler="threads", n_workers=1, cost=cost, progress=False
    )
    assert started == [1, 3, 2, 0, 4]  # by cost, ties in the jobs' order
    assert results == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="one finite number per job"):
        run_jobs(square, [{"x": 1}], scheduler="threads", cost=[1.0, 2.0], progress=False)


@pytest.mark.parametrize("scheduler", ["inline", "threads"])
def test_run_jobs_names_the_job_that_failed(scheduler):
    jobs = [{"x": x} for x in range(4)]
    with pytest.raises(RuntimeError, match=r"job 2 failed: ValueError: two is bad") as info:
        run_jobs(fails_on_two, jobs, scheduler=scheduler, progress=False)
    assert isinstance(info.value.__cause__, ValueError)
    with pytest.raises(RuntimeError, match=r"^the run of x=2 failed"):
        run_jobs(
            fails_on_two,
            jobs,
            scheduler=scheduler,
            progress=False,
            name=lambda i: f"the run of x={i}",
        )


def test_run_jobs_refuses_an_unknown_scheduler_naming_the_choices():
    with pytest.raises(ValueError, match=r"scheduler must be None .*'threads', 'inline'.*got 42"):
        run_jobs(square, [{"x": 1}], scheduler=42, progress=False)
    with pytest.raises(ValueError, match="n_workers must be None or an integer"):
        run_jobs(square, [{"x": 1}], scheduler="threads", n_workers=0, progress=False)


def test_a_sweep_in_threads_equals_the_sweep_inline():
    inline = sweep(GRID, fixed=FIXED, seed=11, scheduler="inline", progress=False)
    threads = sweep(GRID, fixed=FIXED, seed=11, scheduler="threads", progress=False)
    assert threads.attrs["scheduler"] == "threads(2)"
    pd.testing.assert_frame_equal(threads, inline, check_exact=True)


def test_a_grid_of_more_scenarios_than_any_machine_holds_is_refused_before_it_is_built():
    grid = {f"k{i}": list(range(100)) for i in range(6)}  # 1e12 scenarios
    with pytest.raises(ValueError, match=r"1,000,000,000,000 scenarios \(100 k0 x"):
        sweep(lambda **kw: 0, grid=grid, scheduler="inline")
