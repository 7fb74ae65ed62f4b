"""``sweep``: many simulations (or plan checks) over a grid of scenarios, on Dask.

Each scenario is one call of a function of keyword arguments; scenarios run
in parallel on Dask distributed workers (a local cluster by default, or an
existing cluster's scheduler), in threads of this process, or one after the
other in it. Every scenario draws its own random stream from one seed, so
where it ran never changes its numbers.

:func:`run_jobs` is the machinery underneath: a list of independent calls run on
the scheduler chosen, the results in the list's order, with a progress bar.
Plan validation, the what-ifs and the tipping tables run their simulations
through it too.
"""

from __future__ import annotations

import gc
import inspect
import itertools
import math
import numbers
import os
import uuid
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from capplan._progress import progress_bar

__all__ = ["run_jobs", "scenario_rngs", "simulate_row", "sweep"]

INLINE = "inline"
THREADS = "threads"


def simulate_row(**kwargs) -> dict:
    """Run :func:`capplan.simulate` and return its summary as one flat row.

    The default function of :func:`sweep`: the keys are the metrics of
    :meth:`SimulationResult.summary` (``wait_prob``, ``mean_wait_s``,
    ``wait_p99_s``, ``refuse_prob``, ... ; times in s), a small picklable
    dict instead of the whole per-interval result.
    """
    from capplan.simulation import simulate

    return _as_row(simulate(**kwargs))


def scenario_rngs(seed, n: int) -> list[np.random.Generator]:
    """The random generator of each of ``n`` scenarios, in grid order.

    ``numpy.random.SeedSequence(seed).spawn(n)``: independent streams, the
    same for the same seed wherever the scenarios run. Scenario ``i`` alone
    is re-run with ``function(**params, seed=scenario_rngs(seed, n)[i])``.
    """
    sequence = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return [np.random.default_rng(child) for child in sequence.spawn(n)]


def sweep(
    function_or_scenarios,
    grid=None,
    *,
    fixed: Mapping | None = None,
    seed=None,
    scheduler=None,
    n_workers: int = 2,
    processes: bool = True,
    progress: bool = True,
    timeout: float = 5.0,
) -> pd.DataFrame:
    """Run a function over every scenario of a grid, in parallel on Dask.

    Parameters
    ----------
    function_or_scenarios : callable, dict or list of dicts
        The function to run, called as ``function(**fixed, **scenario,
        seed=rng)``; it must be picklable (defined at the top level of an
        importable module) and return a small result: a dict, a pandas
        Series, a one-row DataFrame, a number, or an object with a
        ``summary()`` table of ``value`` per metric (such as
        :class:`capplan.SimulationResult`). Without a function (the grid or
        the scenarios given first), :func:`simulate_row` runs
        :func:`capplan.simulate`.
    grid : dict of lists, or list of dicts
        A dict of lists is crossed into every combination (the cartesian
        product, in the order of ``itertools.product``: the last key varies
        fastest); a list of dicts is taken as the scenarios themselves.
    fixed : dict, optional
        Keyword arguments given to every scenario (not columns of the result).
    seed : int, numpy.random.SeedSequence or None
        Root of the scenarios' random streams: scenario ``i`` gets
        ``numpy.random.default_rng(SeedSequence(seed).spawn(n)[i])`` (see
        :func:`scenario_rngs`), passed as ``seed=`` when the function takes a
        ``seed`` argument. None draws fresh entropy, kept in
        ``result.attrs["seed_entropy"]`` to repeat the sweep.
    scheduler : None, "threads", "inline", str or distributed.Client
        Where to run (see :func:`run_jobs`): None starts a ``LocalCluster`` of
        ``n_workers`` worker processes of one thread each, and closes it afterwards;
        ``"threads"`` runs the scenarios in ``n_workers`` threads of this process (no
        Dask: nothing to start or pickle; a speed-up only where the function releases
        the GIL, as the simulator does); ``"inline"`` runs every scenario here, one
        after the other; an address such as ``"tcp://10.0.0.5:8786"`` uses the running
        scheduler of a cluster (``dask scheduler`` and ``dask worker`` on the machines);
        a ``distributed.Client`` is used as it is and left open.
    n_workers : int, default 2
        Worker processes of the local cluster (with ``scheduler=None``), or threads
        (with ``"threads"``).
    processes : bool, default True
        With ``scheduler=None``: False runs the local workers as threads of this
        process instead of processes.
    progress : bool, default True
        Show a progress bar (tqdm, on stderr) as scenarios finish.
    timeout : float, default 5.0
        Seconds to wait for a scheduler given by address before failing.

    Returns
    -------
    pandas.DataFrame
        One row per scenario in grid order, indexed by ``scenario`` (0, 1,
        ...): the scenario's parameters (non-scalar values such as arrays are
        kept as objects), then the result's columns. ``attrs`` holds
        ``"seed_entropy"`` and ``"scheduler"``.

    Raises
    ------
    ValueError
        The grid is empty or malformed, or a parameter is both fixed and swept.
    ConnectionError
        No scheduler answered at the address within ``timeout`` seconds.
    RuntimeError
        A scenario failed: the message names it and its parameters; the
        original error is chained.

    Examples
    --------
    >>> table = sweep(
    ...     {"servers": [9, 10], "arrival_rate": [8.0]},
    ...     fixed={"service_time": 1.0, "duration": 200.0},
    ...     seed=1, scheduler="inline", progress=False,
    ... )
    >>> table[["servers", "arrival_rate"]].to_dict("list")
    {'servers': [9, 10], 'arrival_rate': [8.0, 8.0]}
    >>> bool((table["wait_prob"] >= 0).all())
    True
    """
    if callable(function_or_scenarios):
        function = function_or_scenarios
        if grid is None:
            raise ValueError("grid is required with a function: a dict of lists or list of dicts")
    else:
        if grid is not None:
            raise ValueError(
                "give sweep(function, grid) or sweep(grid); got a non-callable "
                f"{type(function_or_scenarios).__name__} and a grid"
            )
        function, grid = simulate_row, function_or_scenarios
    scenarios = _scenarios(grid)
    fixed = dict(fixed or {})
    clash = sorted({k for s in scenarios for k in s} & set(fixed))
    if clash:
        raise ValueError(f"parameter(s) {clash} are both in fixed and in the grid; keep one")
    takes_seed = _takes_seed(function)
    if "seed" in fixed or any("seed" in s for s in scenarios):
        raise ValueError(
            "seed is set per scenario by sweep (from its seed argument); remove it from the "
            "grid and from fixed"
        )
    if isinstance(n_workers, bool) or not isinstance(n_workers, numbers.Integral) or n_workers < 1:
        raise ValueError(f"n_workers must be an integer >= 1; got {n_workers!r}")

    root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    rngs = scenario_rngs(root, len(scenarios)) if takes_seed else [None] * len(scenarios)
    calls = [({**fixed, **s}, rng) for s, rng in zip(scenarios, rngs, strict=True)]

    rows, where = run_jobs(
        _sweep_one,
        [{"function": function, "kwargs": kwargs, "rng": rng} for kwargs, rng in calls],
        scheduler=scheduler,
        n_workers=n_workers,
        processes=processes,
        progress=progress,
        timeout=timeout,
        desc="scenarios",
        unit="run",
        name=lambda i: f"scenario {i} {scenarios[i]}",
    )

    params = pd.DataFrame.from_records(
        [{k: (v if _is_scalar(v) else _Boxed(v)) for k, v in s.items()} for s in scenarios]
    )
    params = params.apply(lambda col: col.map(lambda v: v.value if isinstance(v, _Boxed) else v))
    results = pd.DataFrame.from_records(rows)
    overlap = sorted(set(params.columns) & set(results.columns))
    if overlap:
        results = results.rename(columns={c: f"result_{c}" for c in overlap})
    table = pd.concat([params, results], axis=1)
    table.index = pd.RangeIndex(len(table), name="scenario")
    table.attrs.update(seed_entropy=root.entropy, scheduler=where)
    return table


# --- running ------------------------------------------------------------------------


def run_jobs(
    function: Callable,
    jobs: Sequence[Mapping],
    *,
    scheduler=None,
    n_workers: int | None = None,
    processes: bool = True,
    progress: bool = True,
    timeout: float = 5.0,
    cost: Sequence[float] | None = None,
    desc: str = "jobs",
    unit: str = "job",
    name: Callable[[int], str] | None = None,
) -> tuple[list, str]:
    """Run independent jobs ``function(**job)`` on a scheduler; results in the jobs' order.

    The one way capplan spreads simulations over cores and machines: :func:`sweep`,
    :meth:`EventPlan.validate <capplan.planning.plan.EventPlan.validate>`, the what-ifs
    of :mod:`capplan.planning.whatif` and the tipping tables of
    :mod:`capplan.planning.tipping` all run their work through it. A job's randomness
    must come with its keyword arguments (a seed or a Generator), never from where it
    runs, so that the results are the same on every scheduler.

    Parameters
    ----------
    function : callable
        Called as ``function(**job)``. For Dask it must be picklable (defined at the top
        level of an importable module), and so must the jobs' values and the results.
    jobs : list of dict
        Keyword arguments of each call.
    scheduler : None, "threads", "inline", str or distributed.Client
        Where to run: None starts a Dask ``LocalCluster`` of ``n_workers`` worker
        processes of one thread each (``processes=False``: threads of this process) and
        closes it afterwards; ``"threads"`` a pool of ``n_workers`` threads of this
        process, no Dask (nothing to start or pickle: for functions that release the
        GIL, as the simulator does); ``"inline"`` one job after the other here; an
        address such as ``"tcp://10.0.0.5:8786"`` the running scheduler of a cluster;
        a ``distributed.Client`` is used as it is and left open.
    n_workers : int or None
        Threads, or local worker processes; None: one per core, at most one per job.
    processes : bool, default True
        With ``scheduler=None``: worker processes (True) or threads (False).
    progress : bool, default True
        A progress bar (tqdm) of ``desc``, one ``unit`` per finished job.
    timeout : float, default 5.0
        Seconds to wait for a scheduler given by address before failing.
    cost : list of float, optional
        An estimate of each job's run time, any unit: the jobs start biggest first (the
        longest-processing-time rule, so that a few workers finish together instead of
        one of them starting the biggest job last). Without it they start in order.
        The results are in the jobs' order either way.
    desc, unit : str
        The progress bar's label and step.
    name : callable, optional
        ``name(i)`` says which job failed in the error (default ``"job i"``).

    Returns
    -------
    (list, str)
        The results in the jobs' order, and where they ran (``"inline"``,
        ``"threads(2)"``, ``"LocalCluster(2 processes)"``, the scheduler's address).

    Raises
    ------
    ValueError
        An unknown scheduler or a bad ``n_workers``, ``timeout`` or ``cost``.
    ConnectionError
        No scheduler answered at the address within ``timeout`` seconds.
    RuntimeError
        A job failed: the message names it (``name``); the original error is chained.
        The jobs not yet started are cancelled.
    """
    jobs = [dict(job) for job in jobs]
    if n_workers is not None and (
        isinstance(n_workers, bool) or not isinstance(n_workers, numbers.Integral) or n_workers < 1
    ):
        raise ValueError(f"n_workers must be None or an integer >= 1; got {n_workers!r}")
    if not (isinstance(timeout, numbers.Real) and timeout > 0):
        raise ValueError(f"timeout must be a positive number of seconds; got {timeout!r}")
    order = list(range(len(jobs)))
    if cost is not None:
        cost = [float(c) for c in cost]
        if len(cost) != len(jobs) or not all(math.isfinite(c) for c in cost):
            raise ValueError(
                f"cost must give one finite number per job ({len(jobs)}); got {len(cost)}"
            )
        order.sort(key=lambda i: -cost[i])  # stable: ties keep the jobs' order
    name = name or (lambda i: f"job {i}")
    workers = n_workers or max(1, min(len(jobs), os.cpu_count() or 1))
    if not jobs:
        return [], INLINE
    bar = progress_bar(len(jobs), desc, unit, progress)
    try:
        if isinstance(scheduler, str) and scheduler == INLINE:
            return _run_inline(function, jobs, bar, name), INLINE
        if isinstance(scheduler, str) and scheduler == THREADS:
            return _run_threads(function, jobs, order, workers, bar, name), f"threads({workers})"
        return _run_dask(function, jobs, order, scheduler, workers, processes, timeout, bar, name)
    finally:
        bar.close()


def _call(function: Callable, job: dict):
    """One job, where it runs (its keywords apart from the scheduler's own)."""
    return function(**job)


def _failed(name: str, error: Exception) -> RuntimeError:
    return RuntimeError(f"{name} failed: {type(error).__name__}: {error}")


def _run_inline(function, jobs, bar, name) -> list:
    results = []
    for i, job in enumerate(jobs):
        try:
            results.append(_call(function, job))
        except Exception as error:
            raise _failed(name(i), error) from error
        bar.update()
    return results


def _run_threads(function, jobs, order, workers, bar, name) -> list:
    from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

    results: list = [None] * len(jobs)
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        index = {pool.submit(_call, function, jobs[i]): i for i in order}
        pending = set(index)
        while pending:
            done, pending = wait(pending, return_when=FIRST_EXCEPTION)
            for future in sorted(done, key=index.__getitem__):
                i = index[future]
                error = future.exception()
                if error is not None:
                    raise _failed(name(i), error) from error
                results[i] = future.result()
                bar.update()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return results


def _run_dask(function, jobs, order, scheduler, n_workers, processes, timeout, bar, name):
    import logging

    from distributed import Client, LocalCluster, as_completed

    cluster = None
    own_client = True
    if scheduler is None:
        cluster = LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=processes,
            dashboard_address=None,
            worker_dashboard_address=None,
            silence_logs=logging.WARNING,
        )
        client = Client(cluster)
        where = f"LocalCluster({n_workers} {'processes' if processes else 'threads'})"
    elif isinstance(scheduler, str):
        problem = None
        try:
            client = Client(scheduler, timeout=f"{timeout}s")
        except ValueError as error:  # not an address at all (a typo of a name?)
            problem = ValueError(
                f"scheduler {scheduler!r} is neither {THREADS!r}, {INLINE!r} nor the address "
                f"of a Dask scheduler such as 'tcp://host:8786' ({error})"
            )
        except (OSError, TimeoutError) as error:
            problem = ConnectionError(
                f"no Dask scheduler answered at {scheduler!r} within {timeout:g} s ({error}); "
                "start one with `dask scheduler` (and workers with `dask worker "
                f"{scheduler}`), check the address and port, or pass scheduler=None for "
                "a local cluster"
            )
        if problem is not None:
            # Raised outside the except clause, so that it holds no traceback of the
            # half-made Client, which is closed now, by its __del__: left for a later
            # garbage collection, that close can deadlock a later cluster's start.
            gc.collect()
            raise problem
        where = scheduler
    elif isinstance(scheduler, Client):
        client, own_client = scheduler, False
        where = str(scheduler.scheduler.address)
    else:
        raise ValueError(
            f"scheduler must be None (local cluster), {THREADS!r}, {INLINE!r}, an address "
            f"such as 'tcp://host:8786' or a distributed.Client; got {scheduler!r}"
        )
    run = uuid.uuid4().hex  # task keys unique on a shared cluster
    try:
        # Submitted biggest first, and prioritised so: the scheduler starts them in turn.
        futures = {
            i: client.submit(
                _call,
                function,
                jobs[i],
                pure=False,
                key=f"job-{i}-{run}",
                priority=len(order) - rank,
            )
            for rank, i in enumerate(order)
        }
        index = {f.key: i for i, f in futures.items()}
        results: list = [None] * len(jobs)
        for future in as_completed(list(futures.values())):
            i = index[future.key]
            try:
                results[i] = future.result()
            except Exception as error:
                client.cancel(list(futures.values()))
                raise _failed(name(i), error) from error
            bar.update()
    finally:
        if own_client:
            client.close()
        if cluster is not None:
            cluster.close()
    return results, where


def _sweep_one(function: Callable, kwargs: dict, rng) -> dict:
    """One scenario on a worker: call, and shrink the result to a flat row."""
    if rng is not None:
        kwargs = {**kwargs, "seed": rng}
    return _as_row(function(**kwargs))


# --- scenarios and results -------------------------------------------------------------


# Most scenarios of one sweep: each is a row of the result and a job (about a kilobyte),
# and a grid of a few long lists multiplies past any machine's memory.
MAX_SCENARIOS = 1_000_000


def _scenarios(grid) -> list[dict]:
    if isinstance(grid, Mapping):
        if not grid:
            raise ValueError("grid is empty: give a dict of lists of values to sweep")
        keys = list(grid)
        values = []
        for key in keys:
            value = grid[key]
            if isinstance(value, str | bytes) or not isinstance(value, Sequence | np.ndarray):
                raise ValueError(
                    f"grid[{key!r}] must be a list of values to sweep; got {value!r} "
                    f"(wrap a single value in a list, or pass it in fixed=)"
                )
            if len(value) == 0:
                raise ValueError(f"grid[{key!r}] is an empty list: nothing to sweep")
            values.append(list(value))
        n = math.prod(len(v) for v in values)
        if n > MAX_SCENARIOS:
            sizes = " x ".join(f"{len(v)} {k}" for k, v in zip(keys, values, strict=True))
            raise ValueError(
                f"the grid makes {n:,} scenarios ({sizes}), more than {MAX_SCENARIOS:,}: sweep "
                "fewer values at a time"
            )
        return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*values)]
    if isinstance(grid, Sequence) and not isinstance(grid, str | bytes):
        if not grid:
            raise ValueError("the list of scenarios is empty")
        for i, scenario in enumerate(grid):
            if not isinstance(scenario, Mapping):
                raise ValueError(
                    f"scenario {i} must be a dict of keyword arguments; got {scenario!r}"
                )
        return [dict(s) for s in grid]
    raise ValueError(f"grid must be a dict of lists or a list of dicts; got {type(grid).__name__}")


def _takes_seed(function) -> bool:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature: do not guess
        return False
    return any(p.name == "seed" or p.kind is p.VAR_KEYWORD for p in parameters)


def _as_row(result) -> dict:
    """A flat dict from a function's result (see :func:`sweep`)."""
    if isinstance(result, Mapping):
        return dict(result)
    if isinstance(result, pd.Series):
        return result.to_dict()
    if isinstance(result, pd.DataFrame):
        if len(result) != 1:
            raise ValueError(
                f"the function returned a DataFrame of {len(result)} rows; return one row "
                "(or a dict) per scenario"
            )
        return result.iloc[0].to_dict()
    summary = getattr(result, "summary", None)
    if callable(summary):
        table = summary()
        if isinstance(table, pd.DataFrame) and "value" in table.columns:
            return {str(k): v for k, v in table["value"].items()}
    if _is_scalar(result):
        return {"result": result}
    raise ValueError(
        f"the function returned a {type(result).__name__}; return a dict, a Series, a one-row "
        "DataFrame, a number, or an object with summary()"
    )


def _is_scalar(value) -> bool:
    return (
        value is None
        or isinstance(value, numbers.Number | str | bool | np.generic)
        or (isinstance(value, float) and math.isnan(value))
    )


class _Boxed:
    """Keeps an array-like parameter whole when building the parameter table."""

    def __init__(self, value):
        self.value = value
