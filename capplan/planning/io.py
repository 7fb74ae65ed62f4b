"""Save and load plans as JSON (one file) or CSV (a directory of tables). No pickle.

JSON: ``{"format": "capplan.EventPlan", "version": 1, "slo": {...}, ..., "frame":
{column: [...]}, "margins_table": {column: [...]}, "forecast": {"t": [...], curve:
[...]}}``. CSV: a directory with ``plan.csv`` (per interval), ``margins.csv``,
``forecast.csv`` (per second: the scenarios) and ``inputs.json`` (the inputs, which
are not a table).

The forecast's observed seconds (``JoinForecast.observed``, which a plan replays when
validated) are kept too: ``"observed": {"name": ..., "t": [...], "counts": [...]}`` in
JSON (null counts: missing seconds), ``observed.csv`` in a directory (read only when
``inputs.json`` names it, ``"observed_name"``). A plan saved without them (or by an
earlier capplan) loads with ``observed`` None: it validates on the model's scenarios
only, unless given ``validate(replay=series)``.

Writing is atomic: every file of a plan is written under a temporary name and renamed
into place only when all were written (:func:`capplan._files.staged`), so a failure
leaves the plan that was there before, not half of a new one.

Reading checks a plan as :func:`~capplan.planning.plan_event` checks its arguments, by
the same rules (:func:`capplan.planning.inputs.plan_arguments` and the inputs'
constructors), and its stored results against its inputs where that is cheap: the
intervals against the window, the forecast's rates per interval, the design rate, the
workers from the workers needed with the failure headroom, the queue limits, the stream
servers from the concurrency. Every refusal is a ValueError that names the file, the
field (its JSON key path, or a CSV file's column and row), the value and what was
expected, with the original exception chained. A key or a column a plan does not have
is refused too (by name): a plan file holds what :func:`save_plan` wrote, and nothing
is ignored silently. Other files in a plan's directory are not read.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np
import pandas as pd

from capplan._files import staged
from capplan.errors import MissingFileError
from capplan.planning import steps
from capplan.planning.forecast import JoinForecast
from capplan.planning.inputs import (
    MAX_SERVERS,
    MAX_STREAMS,
    SLO,
    ArgumentError,
    ClientPolicy,
    JoinService,
    Margins,
    QueuePolicy,
    _show,
    check_capacity,
    check_sessions,
    plan_arguments,
    retry_from_dict,
    retry_to_dict,
    with_headroom,
)
from capplan.planning.plan import EventPlan, _margins_table

__all__ = ["load_plan", "save_plan"]

FORMAT, VERSION = "capplan.EventPlan", 1

#: The per-interval columns of a plan (``start_s`` the index) and those that are counts.
FRAME_COLUMNS = (
    "start_s",
    "end_s",
    "join_rate_per_s",
    "join_rate_upper_per_s",
    "forecast_factor",
    "burst_factor",
    "retry_amplification",
    "attack_rps",
    "design_rate_per_s",
    "offered_load",
    "workers_needed",
    "workers",
    "queue_limit",
    "concurrent",
    "concurrent_upper",
    "stream_servers_needed",
    "stream_servers",
)
COUNT_COLUMNS = (
    "workers_needed",
    "workers",
    "queue_limit",
    "stream_servers_needed",
    "stream_servers",
)
MARGIN_COLUMNS = ("margin", "applies_to", "factor", "count", "added_at_peak", "covers")
#: The margins table's rows, in order (``_margins_table`` of :mod:`.plan`).
MARGIN_ROWS = (
    ("forecast quantile", "join path"),
    ("burst factor", "join path"),
    ("retry amplification", "join path"),
    ("attack headroom", "join path"),
    ("zone loss", "join path"),
    ("failure headroom (N+k)", "join path"),
    ("forecast quantile", "stream servers"),
    ("zone loss", "stream servers"),
    ("failure headroom (N+k)", "stream servers"),
)
ISA_COLUMNS = (
    "iteration",
    "max_change",
    "mean_abs_change",
    "worst_wait_prob",
    "attempts_per_first_try",
)
_INPUT_KEYS = (
    "format",
    "version",
    "slo",
    "service",
    "client",
    "queue",
    "margins",
    "sessions",
    "window",
    "interval_s",
    "method",
    "model",
    "streams_per_server",
    "lobby_start_s",
    "notes",
    "forecast_meta",
    "margins_attrs",
    "isa_history",
)
_JSON_KEYS = ("frame", "margins_table", "forecast")
_META_KEYS = ("level", "alpha_per_second", "kind", "description")
_META_LATER = ("cluster_per_second", "concurrency_factor")  # plans saved before them: none
_FILES = ("plan.csv", "margins.csv", "forecast.csv", "inputs.json")
_RTOL = 1e-9  # stored results against their inputs: what a round trip through text keeps
_TODO = (
    "the file is not the plan save_plan wrote (damaged or edited): restore it, or make the "
    "plan again with plan_event and save it"
)


# -- saving --------------------------------------------------------------------------------------


def _inputs(plan) -> dict:
    client = {
        "timeout_s": plan.client.timeout_s,
        "on_timeout": plan.client.on_timeout,
        "retry": retry_to_dict(plan.client.retry),
    }
    fc = plan.forecast
    hist = plan.isa_history
    return {
        "format": FORMAT,
        "version": VERSION,
        "slo": asdict(plan.slo),
        "service": asdict(plan.service),
        "client": client,
        "queue": asdict(plan.queue),
        "margins": asdict(plan.margins),
        "sessions": {"name": plan.sessions[0], "params": plan.sessions[1]},
        "window": list(plan.window),
        "interval_s": plan.interval_s,
        "method": plan.method,
        "model": plan.model,
        "streams_per_server": plan.streams_per_server,
        "lobby_start_s": plan.lobby_start_s,
        "notes": plan.notes,
        "forecast_meta": {
            "level": fc.level,
            "alpha_per_second": fc.alpha_per_second,
            "cluster_per_second": fc.cluster_per_second,
            "concurrency_factor": fc.concurrency_factor,
            "kind": fc.kind,
            "description": fc.description,
        },
        "margins_attrs": {k: v for k, v in plan.margins_table.attrs.items()},
        "isa_history": None
        if hist is None
        else {c: _clean(v) for c, v in hist.reset_index().to_dict(orient="list").items()},
    }


def _clean(values):
    return [None if isinstance(v, float) and not np.isfinite(v) else v for v in values]


def save_plan(plan, path, format: str | None = None) -> Path:
    """Write ``plan`` to ``path``: ``format="json"`` (default for a ``.json`` path) or
    ``"csv"`` (a directory). Returns the path written.

    Every file is written under a temporary name and renamed into place when all were
    written: a failure leaves what was at ``path`` before.
    """
    if not isinstance(plan, EventPlan):
        raise ValueError(f"save_plan: plan must be an EventPlan; got {type(plan).__name__}")
    path = Path(path)
    if format is None:
        format = "json" if path.suffix.lower() == ".json" else "csv"
    if format not in ("json", "csv"):
        raise ValueError(f"format must be 'json' or 'csv'; got {format!r}")
    inputs = _inputs(plan)
    if format == "json":
        if path.is_dir():
            raise ValueError(f"{path} is a directory: give a file name for a JSON plan")
        doc = dict(inputs)
        frame = plan.frame.reset_index()
        doc["frame"] = {c: _clean(frame[c].tolist()) for c in frame.columns}
        m = plan.margins_table
        doc["margins_table"] = {c: _clean(m[c].tolist()) for c in m.columns}
        doc["forecast"] = {
            "t": plan.forecast.t.tolist(),
            **{k: v.tolist() for k, v in plan.forecast.scenarios.items()},
        }
        obs = plan.forecast.observed
        if obs is not None:
            doc["observed"] = {
                "name": None if obs.name is None else str(obs.name),
                "t": np.asarray(obs.index, dtype=float).tolist(),
                "counts": _clean(obs.to_numpy(dtype=float).tolist()),
            }
        text = json.dumps(doc, allow_nan=False)
        with staged(path) as (temporary,):
            temporary.write_text(text)
        return path
    if path.exists() and not path.is_dir():
        raise ValueError(f"{path} is a file: give a directory for a CSV plan (or a .json name)")
    path.mkdir(parents=True, exist_ok=True)
    obs = plan.forecast.observed
    names = list(_FILES) + (["observed.csv"] if obs is not None else [])
    if obs is not None:
        inputs["observed_name"] = None if obs.name is None else str(obs.name)
    text = json.dumps(inputs, indent=1, allow_nan=False)
    with staged(*(path / n for n in names)) as temporaries:
        tmp = dict(zip(names, temporaries, strict=True))
        plan.frame.to_csv(tmp["plan.csv"])
        plan.margins_table.to_csv(tmp["margins.csv"], index=False)
        plan.forecast.to_frame().to_csv(tmp["forecast.csv"])
        if obs is not None:
            obs.rename("counts").rename_axis("seconds").to_csv(tmp["observed.csv"])
        tmp["inputs.json"].write_text(text)
    if obs is None:  # an earlier plan's, not this one's (never read without observed_name)
        (path / "observed.csv").unlink(missing_ok=True)
    return path


# -- reading: the file, the field, the value, what was expected ------------------------------


class _Source:
    """Where values come from, for refusals: a file, and how its fields are named."""

    def __init__(self, file: Path, table: bool = False):
        self.file = file
        self.table = table  # a CSV table: columns and rows, not key paths

    def at(self, key: str, i: int | None = None) -> str:
        if not self.table:
            return key if i is None else f"{key}[{i}]"
        return f"column {key!r}" + ("" if i is None else f", row {i + 1} (line {i + 2})")

    def fail(self, where: str, problem: str, cause: BaseException | None = None):
        problem = " ".join(problem.split())  # one line, whatever a library's message was
        problem = problem.removeprefix(f"{where}: ")  # a rule's message that names it too
        where = f" {where}:" if where else ""  # none: the whole file
        raise ValueError(f"{self.file}:{where} {problem}; {_TODO}") from cause

    def expect(self, where: str, value, expected: str, cause: BaseException | None = None):
        self.fail(where, f"got {_show(value)}, expected {expected}", cause)


def _keys(src: _Source, where: str, d, required, optional=()) -> dict:
    """``d`` an object with the ``required`` keys, perhaps the ``optional`` ones, no other."""
    if not isinstance(d, dict):
        src.expect(where or "the document", d, "an object (a JSON {...})")
    missing = [k for k in required if k not in d]
    if missing:
        src.fail(_join(where, missing[0]), "missing")
    extra = [k for k in d if k not in required and k not in optional]
    if extra:
        src.fail(
            _join(where, extra[0]),
            f"unknown key{'s' if len(extra) > 1 else ''} {extra} (a version {VERSION} plan "
            "has no such field: remove it)",
        )
    return d


def _join(where: str, key) -> str:
    return str(key) if not where else f"{where}.{key}"


def _text(src: _Source, where: str, value, *, none: bool = False) -> str | None:
    if value is None and none:
        return None
    if not isinstance(value, str):
        src.expect(where, value, "text" + (" or null" if none else ""))
    return value


def _numbers(src: _Source, key: str, values, *, null: bool = False) -> np.ndarray:
    """A JSON list of numbers (not booleans; ``null``: NaN if ``null``) as a float array."""
    if not isinstance(values, list):
        src.expect(src.at(key), values, "a list of numbers")
    kinds = set(map(type, values))
    allowed = {int, float} | ({type(None)} if null else set())
    if not kinds <= allowed:
        i = next(i for i, v in enumerate(values) if type(v) not in allowed)
        src.expect(src.at(key, i), values[i], "a number" + (" or null" if null else ""))
    if type(None) in kinds:
        values = [math.nan if v is None else v for v in values]
    try:
        return np.array(values, dtype=float)
    except OverflowError as exc:  # an int beyond the float range
        i = next(i for i, v in enumerate(values) if isinstance(v, int) and abs(v) > 1e308)
        src.expect(src.at(key, i), values[i], "a number within the float range", exc)


def _check(src, key, arr, ok, expected: str) -> None:
    """Refuse the first value of ``arr`` where ``ok`` is False."""
    if not np.all(ok):
        i = int(np.flatnonzero(~np.asarray(ok))[0])
        value = arr[i]
        src.expect(src.at(key, i), value.item() if hasattr(value, "item") else value, expected)


def _finite(src, key, arr, *, minimum=None, whole=False, nan=False, maximum=None) -> np.ndarray:
    """Values finite (or NaN if ``nan``), at least ``minimum``, whole numbers if ``whole``."""
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(arr)
        what = "a finite number"
        if minimum is not None:
            ok &= arr >= minimum
            what += f" >= {minimum:g}"
        if maximum is not None:
            ok &= arr <= maximum
            what += f" and <= {maximum:g}" if minimum is not None else f" <= {maximum:g}"
        if whole:
            ok &= arr == np.round(arr)
            what = what.replace("a finite number", "a whole number")
        if nan:
            ok |= np.isnan(arr)
            what += " (or missing)"
    _check(src, key, arr, ok, what)
    return arr


def _same(src, key, arr, expected, why: str, *, exact: bool = False) -> None:
    """Stored ``arr`` equal to ``expected`` (recomputed from the inputs)."""
    arr, expected = np.asarray(arr, dtype=float), np.asarray(expected, dtype=float)
    if exact:
        ok = arr == expected
    else:
        ok = np.isclose(arr, expected, rtol=_RTOL, atol=1e-300)
    if not np.all(ok):
        i = int(np.flatnonzero(~ok)[0])
        src.expect(src.at(key, i), arr[i].item(), f"{expected[i].item()!r} ({why})")


def _make(src: _Source, where: str, cls, d: dict):
    """``cls(**d)`` with every field of ``cls`` given; its refusal named at ``where``."""
    _keys(src, where, d, [f.name for f in fields(cls)])
    try:
        return cls(**d)
    except (ValueError, TypeError, OverflowError) as exc:
        src.fail(_field_of(where, cls, exc), str(exc), exc)


def _field_of(where: str, cls, exc) -> str:
    """``where.field`` for the first field of ``cls`` that the message names, else ``where``."""
    text = str(exc)
    for f in fields(cls):
        if f"{f.name} " in text or f"{f.name}=" in text or text.startswith(f.name):
            return _join(where, f.name)
    return where


# -- reading the two forms -----------------------------------------------------------------


def _json_constant(name: str) -> float:
    return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[name]


def _no_repeats(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            raise ValueError(f"the key {k!r} appears twice in one object")
        d[k] = v
    return d


#: Largest file of a saved plan (a week of one-second forecasts is some 50 MB): anything
#: larger is not a plan, and reading it would only take the memory.
MAX_PLAN_FILE_BYTES = 2**28


def _check_size(src: _Source) -> None:
    try:
        size = src.file.stat().st_size
    except OSError as exc:
        src.fail("", f"cannot be read ({exc.strerror or exc})", exc)
    if size > MAX_PLAN_FILE_BYTES:
        src.fail("", f"is {size:,} bytes, more than any saved plan ({MAX_PLAN_FILE_BYTES:,})")


def _read_json(src: _Source):
    """The JSON document of a file: UTF-8, not empty, valid JSON, no key twice."""
    _check_size(src)
    try:
        raw = src.file.read_bytes()
    except OSError as exc:
        src.fail("", f"cannot be read ({exc.strerror or exc})", exc)
    if not raw.strip():
        src.fail("", "is empty (a saved plan is a JSON document)")
    try:
        text = raw.decode("utf-8-sig")  # a byte-order mark (some editors write one) is fine
    except UnicodeDecodeError as exc:
        src.fail("", f"is not UTF-8 text (byte {exc.start}): not a saved plan", exc)
    try:
        return json.loads(text, object_pairs_hook=_no_repeats, parse_constant=_json_constant)
    except json.JSONDecodeError as exc:
        src.fail(
            "",
            f"is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); a truncated "
            "or edited file",
            exc,
        )
    except (ValueError, RecursionError) as exc:  # a key twice; nesting too deep
        src.fail("", f"is not a plan's JSON ({exc})", exc)


def _read_csv(file: Path, columns, *, text=(), more=False) -> tuple[_Source, dict]:
    """A CSV table with exactly ``columns`` (and others, all numbers, if ``more``):
    ``{column: array}`` (numbers as float, NaN for an empty cell; the ``text`` columns as
    strings), refusing what is not."""
    src = _Source(file, table=True)
    if not file.is_file():
        src.fail("", "is missing (or not a file): every CSV plan has it")
    _check_size(src)
    try:
        frame = pd.read_csv(file, dtype={c: str for c in text}, keep_default_na=True)
    except UnicodeDecodeError as exc:
        src.fail("", f"is not UTF-8 text (byte {exc.start})", exc)
    except Exception as exc:  # pandas' parser, an empty file, a broken quote: not a table
        src.fail("", f"is not a CSV table ({type(exc).__name__}: {exc})", exc)
    names = [str(c) for c in frame.columns]
    missing = [c for c in columns if c not in names]
    if missing:
        src.fail(src.at(missing[0]), f"missing (the header has {names})")
    extra = [c for c in names if c not in columns]
    if extra and not more:
        src.fail(src.at(extra[0]), "an unknown column (remove it)")
    out = {}
    for c in (*columns, *(extra if more else ())):
        col = frame[c]
        if c in text:
            v = col.to_numpy(dtype=object)
            _check(src, c, v, [isinstance(x, str) for x in v], "text")
            out[c] = v
            continue
        if pd.api.types.is_bool_dtype(col.dtype) or not pd.api.types.is_numeric_dtype(col.dtype):
            num = pd.to_numeric(col, errors="coerce")
            bad = (num.isna() & col.notna()) | col.map(lambda x: isinstance(x, bool))
            if bad.any():
                i = int(np.flatnonzero(bad.to_numpy())[0])
                src.expect(src.at(c, i), col.iloc[i], "a number")
            col = num
        out[c] = col.to_numpy(dtype=float)
    return src, out


def _observed_series(src: _Source, name, t: np.ndarray, counts: np.ndarray, key_t, key_counts):
    """The observed seconds as a Series, checked by the rules of a replay
    (:meth:`EventPlan.validate`): whole seconds, increasing, whole counts >= 0 or NaN."""
    from capplan.planning.validate import _window_counts

    if t.size != counts.size:
        src.fail(src.at(key_counts), f"{counts.size} counts for {t.size} seconds")
    if not t.size:
        src.fail(src.at(key_t), "no second: a plan keeps some observed seconds or none at all")
    _finite(src, key_t, t, whole=True, minimum=-1e15, maximum=1e15)  # seconds, as int64
    series = pd.Series(counts, index=pd.Index(t.astype(np.int64), name="seconds"), name=name)
    try:
        _window_counts("observed", series, np.arange(t[0], t[0] + t.size))
    except ValueError as exc:
        src.fail(f"{src.at(key_t)} / {src.at(key_counts)}", str(exc), exc)
    return series


def _from_json(path: Path):
    src = _Source(path)
    doc = _read_json(src)
    _format(src, doc)
    _keys(src, "", doc, (*_INPUT_KEYS, *_JSON_KEYS), ("observed",))
    frame = _keys(src, "frame", doc["frame"], FRAME_COLUMNS)
    frame = {c: _numbers(src, f"frame.{c}", frame[c]) for c in FRAME_COLUMNS}
    frame_src = _Prefixed(src, "frame.")
    table = _keys(src, "margins_table", doc["margins_table"], MARGIN_COLUMNS)
    margins = {}
    for c in MARGIN_COLUMNS:
        v = table[c]
        if c in ("margin", "applies_to", "covers"):
            if not isinstance(v, list):
                src.expect(f"margins_table.{c}", v, "a list of text")
            for i, x in enumerate(v):
                _text(src, f"margins_table.{c}[{i}]", x)
            margins[c] = np.array(v, dtype=object)
        else:
            margins[c] = _numbers(src, f"margins_table.{c}", v, null=c != "added_at_peak")
    margins_src = _Prefixed(src, "margins_table.")
    fd = doc["forecast"]
    if not isinstance(fd, dict) or "t" not in fd:
        src.expect("forecast", fd, "an object with t and one list of rates per curve")
    curves = {str(k): _numbers(src, f"forecast.{k}", v) for k, v in fd.items() if k != "t"}
    t = _numbers(src, "forecast.t", fd["t"])
    observed = None
    o = doc.get("observed")
    if o is not None:
        _keys(src, "observed", o, ("name", "t", "counts"))
        name = _text(src, "observed.name", o["name"], none=True)
        ot = _numbers(src, "observed.t", o["t"])
        counts = _numbers(src, "observed.counts", o["counts"], null=True)
        observed = _observed_series(src, name, ot, counts, "observed.t", "observed.counts")
    fc_src = _Prefixed(src, "forecast.")
    fc_src.time_key = "t"
    return _build(src, doc, frame_src, frame, margins_src, margins, fc_src, t, curves, observed)


class _Prefixed(_Source):
    """Fields of one part of a JSON plan (``frame.``, ``forecast.``)."""

    def __init__(self, src: _Source, prefix: str):
        super().__init__(src.file)
        self.prefix = prefix

    def at(self, key: str, i: int | None = None) -> str:
        return super().at(self.prefix + key, i)


def _from_dir(path: Path):
    for name in _FILES:
        if not (path / name).exists():
            raise ValueError(
                f"{path} is not a saved plan: {name} is missing (a CSV plan is a directory of "
                f"{', '.join(_FILES)} and perhaps observed.csv, as save_plan writes it)"
            )
    src = _Source(path / "inputs.json")
    doc = _read_json(src)
    _format(src, doc)
    _keys(src, "", doc, _INPUT_KEYS, ("observed_name",))
    frame_src, frame = _read_csv(path / "plan.csv", FRAME_COLUMNS)
    margins_src, margins = _read_csv(
        path / "margins.csv", MARGIN_COLUMNS, text=("margin", "applies_to", "covers")
    )
    fc_src, table = _read_csv(path / "forecast.csv", ("seconds",), more=True)
    fc_src.time_key = "seconds"
    t = table.pop("seconds")
    curves = table
    observed = None
    if "observed_name" in doc:
        name = _text(src, "observed_name", doc["observed_name"], none=True)
        osrc, o = _read_csv(path / "observed.csv", ("seconds", "counts"))
        observed = _observed_series(osrc, name, o["seconds"], o["counts"], "seconds", "counts")
    return _build(src, doc, frame_src, frame, margins_src, margins, fc_src, t, curves, observed)


def _format(src: _Source, doc) -> None:
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        got = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise ValueError(
            f"{src.file} is not a capplan plan (format {_show(got)}; a plan says "
            f"{FORMAT!r}): give a file that save_plan wrote"
        )
    v = doc.get("version")
    if type(v) is not int or v != VERSION:
        raise ValueError(
            f"{src.file}: version: plan format version {_show(v)}; this capplan reads version "
            f"{VERSION}: load it with the capplan that wrote it"
        )


# -- one check for both forms -------------------------------------------------------------------

#: plan_event's arguments and the fields that hold them.
_WHERE = {
    "forecast": "forecast_meta",
    "sessions": "sessions",
    "service": "service",
    "slo": "slo",
    "client": "client",
    "queue": "queue",
    "margins": "margins",
    "window": "window",
    "interval_s": "interval_s",
    "method": "method",
    "streams_per_server": "streams_per_server",
    "lobby_start_s": "lobby_start_s",
}


#: check_forecast's refusals of the forecast's seconds (not of its forecast_meta).
_ON_TIMES = re.compile(r"forecast: (t |its seconds)|the forecast covers")


def _build(src, doc, frame_src, frame, margins_src, margins, fc_src, t, curves, observed):
    slo = _make(src, "slo", SLO, doc["slo"])
    service = _make(src, "service", JoinService, doc["service"])
    c = _keys(src, "client", doc["client"], ("timeout_s", "on_timeout", "retry"))
    try:
        retry = retry_from_dict(c["retry"])
    except (ValueError, TypeError, OverflowError) as exc:
        src.fail("client.retry", str(exc), exc)
    try:
        client = ClientPolicy(timeout_s=c["timeout_s"], retry=retry, on_timeout=c["on_timeout"])
    except (ValueError, TypeError, OverflowError) as exc:
        src.fail(_field_of("client", ClientPolicy, exc), str(exc), exc)
    queue = _make(src, "queue", QueuePolicy, doc["queue"])
    margins_in = _make(src, "margins", Margins, doc["margins"])
    s = _keys(src, "sessions", doc["sessions"], ("name", "params"))
    try:
        sessions = check_sessions((s["name"], s["params"]))
    except ValueError as exc:
        src.fail("sessions", str(exc), exc)
    model = _text(src, "model", doc["model"])
    notes = doc["notes"]
    if not isinstance(notes, list):
        src.expect("notes", notes, "a list of text")
    for i, n in enumerate(notes):
        _text(src, f"notes[{i}]", n)

    meta = _keys(src, "forecast_meta", doc["forecast_meta"], _META_KEYS, _META_LATER)
    for k in ("point", "upper"):
        if k not in curves:
            fc_src.fail(fc_src.at(k), "missing: a forecast has a point and an upper curve")
    fc = _forecast(src, fc_src, meta, t, curves, observed)

    try:
        args = plan_arguments(
            fc,
            sessions,
            service=service,
            streams_per_server=doc["streams_per_server"],
            slo=slo,
            client=client,
            queue=queue,
            margins=margins_in,
            window=doc["window"],
            interval_s=doc["interval_s"],
            method=doc["method"],
            lobby_start_s=doc["lobby_start_s"],
        )
    except ArgumentError as exc:
        text = str(exc)
        if exc.argument == "forecast" and _ON_TIMES.match(text):  # the forecast's seconds
            fc_src.fail(fc_src.at(fc_src.time_key), text, exc)
        src.fail(_WHERE.get(exc.argument, exc.argument), text, exc)
    if args.forecast.t.size != t.size:
        fc_src.fail(
            fc_src.at(fc_src.time_key),
            f"{t.size} seconds for a window of {args.forecast.t.size}: a plan's forecast is "
            "cut to its window",
        )
    if args.lobby_start_s != doc["lobby_start_s"]:
        src.expect(
            "lobby_start_s",
            doc["lobby_start_s"],
            "null or a time a second inside the window (plan_event keeps no lobby outside it)",
        )
    try:
        plan_frame, want_model, want_notes = _frame(frame_src, frame, args)
    except ArgumentError as exc:  # a rule of the inputs, met in recomputing the results
        src.fail(_WHERE.get(exc.argument, exc.argument), str(exc), exc)
    if want_notes is not None and notes != want_notes:
        src.expect("notes", notes, f"{want_notes!r} (what plan_event notes for this plan)")
    history = _isa_history(src, doc["isa_history"], args.method)
    table = _margins(margins_src, margins, plan_frame, args, history is not None)
    attrs = _keys(
        src, "margins_attrs", doc["margins_attrs"], ("peak_interval_s", "base_workers_at_peak")
    )
    for k, v in table.attrs.items():
        if type(attrs[k]) not in (int, float) or attrs[k] != v:
            src.expect(f"margins_attrs.{k}", attrs[k], f"{v!r} (the margins table's)")
    if history is not None:
        want_model = f"simulation (ISA, {len(history)} iterations) on {want_model}"
    if model != want_model:
        src.expect("model", model, f"{want_model!r} (the queueing model of this plan)")
    return EventPlan(
        frame=plan_frame,
        margins_table=table,
        forecast=args.forecast,
        sessions=args.sessions,
        service=service,
        slo=slo,
        client=client,
        queue=queue,
        margins=margins_in,
        window=args.window,
        interval_s=args.interval_s,
        method=args.method,
        model=model,
        streams_per_server=args.streams_per_server,
        lobby_start_s=args.lobby_start_s,
        notes=notes,
        isa_history=history,
    )


def _forecast(src, fc_src, meta, t, curves, observed) -> JoinForecast:
    """The JoinForecast, built (and checked) by its constructor; a refusal names the curve."""
    level = _number(src, "forecast_meta.level", meta["level"])
    alpha = _number(src, "forecast_meta.alpha_per_second", meta["alpha_per_second"])
    cluster = _number(src, "forecast_meta.cluster_per_second", meta.get("cluster_per_second", 0))
    k = meta.get("concurrency_factor")
    k = None if k is None else _number(src, "forecast_meta.concurrency_factor", k)
    kind = _text(src, "forecast_meta.kind", meta["kind"])
    description = _text(src, "forecast_meta.description", meta["description"])
    for name, arr in (("t", t), *curves.items()):
        _finite(fc_src, name, arr)
        if arr.size != t.size:
            fc_src.fail(fc_src.at(name), f"{arr.size} values for {t.size} seconds of t")
    try:
        return JoinForecast(
            t,
            curves["point"],
            curves["upper"],
            level,
            alpha,
            kind,
            curves,
            description,
            observed,
            cluster,
            k,
        )
    except (ValueError, TypeError) as exc:
        for name, arr in curves.items():  # which curve: the least rate
            if arr.size and arr.min() < 0:
                i = int(np.argmin(arr))
                fc_src.fail(fc_src.at(name, i), f"{arr[i].item()!r}: {exc}", exc)
        named = [k for k in ("level", "concurrency_factor") if f"{k} " in str(exc)]
        src.fail(_join("forecast_meta", named[0]) if named else "forecast_meta", str(exc), exc)


def _number(src, where: str, value) -> float:
    """A JSON number (not a boolean) as a float; its range is the rules' to say."""
    return float(_numbers(src, where, [value])[0]) if type(value) is not float else value


def _frame(src: _Source, f: dict, args) -> pd.DataFrame:
    """The per-interval plan, checked against its inputs where that is cheap."""
    n = args.forecast.t.size // args.interval_s
    for c in FRAME_COLUMNS:
        if f[c].size != n:
            src.fail(src.at(c), f"{f[c].size} values for the window's {n} intervals")
        _finite(src, c, f[c])
    iv = args.interval_s
    starts = args.window[0] + iv * np.arange(n)
    _same(src, "start_s", f["start_s"], starts, "window start + interval_s x k")
    _same(src, "end_s", f["end_s"], starts + iv, "start_s + interval_s")
    fc = args.forecast
    point = fc.point.reshape(n, iv).mean(axis=1)
    upper = fc.upper.reshape(n, iv).mean(axis=1)
    _same(src, "join_rate_per_s", f["join_rate_per_s"], point, "the forecast's point, per interval")
    _same(src, "join_rate_upper_per_s", f["join_rate_upper_per_s"], upper, "its upper curve")
    with np.errstate(invalid="ignore", divide="ignore"):
        factor = np.where(point > 0, upper / point, 1.0)
    _same(src, "forecast_factor", f["forecast_factor"], factor, "upper / point")
    m = args.margins
    _finite(src, "burst_factor", f["burst_factor"], minimum=0)
    # The burst factor at the first, the last and the busiest interval (each interval's is
    # its own: all of them would cost as much as the rest of the reading; a tampered one
    # elsewhere disagrees with the design rate).
    rows = np.unique([0, n - 1, int(np.argmax(upper))])
    seconds = (rows[:, None] * iv + np.arange(iv)[None, :]).ravel()
    burst = fc.burst_factor(iv, m.burst_quantile, curve=fc.upper[seconds])
    b = f["burst_factor"][rows]
    ok = np.isclose(b, burst, rtol=1e-8, atol=1e-300)
    if not np.all(ok):
        i = int(rows[np.flatnonzero(~ok)[0]])
        want = burst[np.flatnonzero(~ok)[0]]
        src.expect(src.at("burst_factor", i), b[~ok][0].item(), f"{want!r} (the forecast's)")
    amp = f["retry_amplification"]
    assumed = args.client.retry_amplification(m.retry_failure_prob)  # the design rate's
    if args.method == "isa":  # measured by simulation: one value for the plan
        _finite(src, "retry_amplification", amp, minimum=0)
        _same(src, "retry_amplification", amp, np.full(n, amp[0]), "one measured value")
    else:
        _same(src, "retry_amplification", amp, np.full(n, assumed), "the client's retry policy's")
    _same(src, "attack_rps", f["attack_rps"], np.full(n, m.attack_rps), "margins.attack_rps")
    design = assumed * f["burst_factor"] * upper + m.attack_rps
    _same(src, "design_rate_per_s", f["design_rate_per_s"], design, "the margins' product")
    _finite(src, "offered_load", f["offered_load"], minimum=0)
    check = _checked(src)
    load = steps.offered_load(f["design_rate_per_s"], args.service, iv, args.method)
    _same(src, "offered_load", f["offered_load"], load, f"the design rate's by {args.method!r}")
    needed = _finite(src, "workers_needed", f["workers_needed"], minimum=0, whole=True)
    with check("workers_needed"):
        check_capacity("workers", "workers", needed, "not a plan of plan_event")
        try:
            stationary, model = steps.staffing(load, args.slo, args.service)
        except ValueError as exc:  # more than 1e9 workers
            raise ArgumentError("workers", str(exc)) from exc
    needed = needed.astype(np.int64)
    notes = None
    if args.method != "isa":  # ISA's need was simulated: not recomputed here
        want, notes = steps.queue_limited(
            stationary,
            load,
            slo=args.slo,
            service=args.service,
            client=args.client,
            queue=args.queue,
        )
        _same(src, "workers_needed", needed, want, "the SLO's at the offered load", exact=True)
    _finite(src, "workers", f["workers"], minimum=0, whole=True, maximum=MAX_SERVERS)
    with check("workers"):
        workers = with_headroom("margins", "workers", needed, m.zone_loss, m.spare_workers)
    _same(src, "workers", f["workers"], workers, "the need with the failure headroom", exact=True)
    _finite(src, "queue_limit", f["queue_limit"], minimum=-1, whole=True)
    with check("queue_limit"):
        limits = args.queue.limits(workers, args.service.mean_s, args.client.timeout_s)
    _same(src, "queue_limit", f["queue_limit"], limits, "the queue policy's", exact=True)
    conc, conc_up = f["concurrent"], f["concurrent_upper"]
    _finite(src, "concurrent", conc, minimum=0, maximum=MAX_STREAMS)
    _finite(src, "concurrent_upper", conc_up, minimum=0, maximum=MAX_STREAMS)
    point_c, upper_c = steps.concurrency_of(fc, args.sessions, iv, args.lobby_start_s)
    _same(src, "concurrent", conc, point_c, "the sessions' concurrency of the forecast")
    _same(src, "concurrent_upper", conc_up, upper_c, "the concurrency of its upper curve")
    sps = args.streams_per_server
    with check("concurrent_upper"):
        check_capacity("streams", "stream servers", conc_up / sps, "not a plan of plan_event")
    with check("stream_servers"):
        spare = m.spare_stream_servers
        with_headroom("margins", "stream servers", np.ceil(conc_up / sps), m.zone_loss, spare)
    need, servers = steps.stream_servers(conc_up, sps, m)
    _same(src, "stream_servers_needed", f["stream_servers_needed"], need, "ceil(upper / sps)")
    _same(src, "stream_servers", f["stream_servers"], servers, "with the failure headroom")
    cols = {c: f[c].astype(np.int64) if c in COUNT_COLUMNS else f[c] for c in FRAME_COLUMNS[1:]}
    return pd.DataFrame(cols, index=pd.Index(f["start_s"], name="start_s")), model, notes


def _checked(src: _Source):
    """A context naming the column of an ArgumentError raised by a rule in it."""
    from contextlib import contextmanager

    @contextmanager
    def check(column: str):
        try:
            yield
        except ArgumentError as exc:
            src.fail(src.at(column), str(exc), exc)

    return check


def _margins(src: _Source, t: dict, frame: pd.DataFrame, args, isa: bool) -> pd.DataFrame:
    """The margins table, as plan_event makes it from the plan (``plan._margins_table``):
    the stored one must be the same, row by row."""
    n = len(MARGIN_ROWS)
    for c in MARGIN_COLUMNS:
        if len(t[c]) != n:
            src.fail(src.at(c), f"{len(t[c])} rows; the margins table has {n}")
    f = t["factor"]  # NaN where a margin has none; inf for an attack on no joins
    _check(src, "factor", f, np.isnan(f) | (f >= 0), "a number >= 0 (or missing)")
    added = t["added_at_peak"]
    _finite(src, "added_at_peak", added, whole=True, minimum=-MAX_SERVERS, maximum=MAX_SERVERS)
    amp = float(frame["retry_amplification"].iloc[0])
    want = _margins_table(
        frame,
        args.forecast,
        args.service,
        args.slo,
        args.method,
        args.margins,
        amp,
        args.streams_per_server,
        args.interval_s,
        isa,
    )
    for c in ("margin", "applies_to", "covers"):
        w = want[c].to_numpy(dtype=object)
        _check(src, c, t[c], t[c] == w, "the text plan_event writes: " + repr(list(w)))
    for c in ("factor", "count"):
        w = want[c].to_numpy(dtype=float)
        ok = np.isclose(t[c], w, rtol=_RTOL, atol=1e-300) | (t[c] == w)
        ok |= np.isnan(t[c]) & np.isnan(w) | (np.isnan(t[c]) & np.isinf(w))  # JSON: inf null
        _check(src, c, t[c], ok, f"the plan's {c}s: {list(w)}")
    w = want["added_at_peak"].to_numpy()
    _check(src, "added_at_peak", added, added == w, f"what each margin adds: {list(w)}")
    cols = {k: t[k] for k in MARGIN_COLUMNS}
    cols["added_at_peak"] = added.astype(np.int64)
    cols["factor"] = np.where(np.isnan(t["factor"]) & np.isinf(want["factor"]), np.inf, f)
    table = pd.DataFrame(cols)
    table.attrs.update(want.attrs)
    return table


def _isa_history(src: _Source, hist, method: str):
    """ISA's iterations (a plan of method "isa" has them, no other)."""
    if method != "isa":
        if hist is not None:
            src.expect("isa_history", hist, f"null: a plan of method {method!r} has none")
        return None
    if hist is None:
        src.fail("isa_history", "missing: a plan of method 'isa' keeps its iterations")
    _keys(src, "isa_history", hist, ISA_COLUMNS)
    cols = {c: _numbers(src, f"isa_history.{c}", hist[c], null=True) for c in ISA_COLUMNS}
    n = cols["iteration"].size
    for c, v in cols.items():
        if v.size != n:
            src.fail(f"isa_history.{c}", f"{v.size} values for {n} iterations")
    if n < 1:
        src.fail("isa_history.iteration", "no iteration")
    k = _Prefixed(src, "isa_history.")
    _same(k, "iteration", cols["iteration"], np.arange(1, n + 1), "1, 2, ...", exact=True)
    _finite(k, "max_change", cols["max_change"], minimum=0, whole=True)
    _finite(k, "mean_abs_change", cols["mean_abs_change"], minimum=0)
    _finite(k, "worst_wait_prob", cols["worst_wait_prob"], minimum=0, maximum=1, nan=True)
    _finite(k, "attempts_per_first_try", cols["attempts_per_first_try"], minimum=0)
    frame = pd.DataFrame(cols).astype({"iteration": np.int64, "max_change": np.int64})
    return frame.set_index("iteration")


def load_plan(path):
    """Read a plan written by :func:`save_plan` (a ``.json`` file or a CSV directory).

    The plan is checked as :func:`~capplan.planning.plan_event` checks its arguments
    (the same rules), and its stored results against its inputs where that is cheap;
    see :mod:`capplan.planning.io`. The forecast's observed seconds come back if the
    plan was saved with them; a plan saved without them loads with
    ``forecast.observed`` None, and its :meth:`~EventPlan.validate` then replays
    nothing by default.

    Raises
    ------
    ValueError
        Anything that is not a plan as :func:`save_plan` wrote it: the message names
        the file, the field (a JSON key path, or a CSV file's column and row), the value
        and what was expected, with the original exception chained. No plan at
        ``path`` is a FileNotFoundError that is also a ValueError.
    """
    if not isinstance(path, (str, Path)) and not hasattr(path, "__fspath__"):
        raise ValueError(f"load_plan: path must be a file or directory name; got {_show(path)}")
    path = Path(path)
    if path.is_dir():
        return _from_dir(path)
    if path.is_file():
        return _from_json(path)
    raise MissingFileError(
        f"no saved plan at {path}: give a .json file or a directory that save_plan wrote"
    )
