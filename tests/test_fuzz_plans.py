"""load_plan against tampered copies of real saved plans (#20).

Three small plans (MOL with observed seconds, PSA on scenarios with a fixed queue and a
retry budget, ISA) are saved as JSON and as CSV directories once; each example copies
one, tampers with it (keys deleted or renamed, values replaced by other types, numbers
perturbed or pushed out of range, lists cut, extended, reordered or swapped, bytes cut
or injected, files removed, cells and columns of the CSV tables changed) and loads it.

What must hold: load_plan raises nothing but a ValueError, whose message names the
file and is one line, and warns nothing; a plan that loads is valid by plan_event's
rules (``plan_arguments`` accepts its inputs as they are), its counts are what its
margins make of its needs, its results are the original plan's, and plan_event makes
the same plan again from its inputs.

The quick profile (100 examples) runs with the suite; the long one (1,200 tampered
plans, about a minute) is marked slow. Examples are derandomized (the "repeatable"
profile of conftest.py); ``HYPOTHESIS_PROFILE=explore`` draws new ones.
"""

import copy
import csv
import io
import itertools
import json
import math
import shutil
import warnings
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from test_plan_files import BUILDERS

from capplan.planning import load_plan, save_plan
from capplan.planning.inputs import plan_arguments

# -- the originals --------------------------------------------------------------------------


@dataclass
class Original:
    plan: object
    json_bytes: bytes
    files: dict  # a CSV directory's files: name -> bytes


@pytest.fixture(scope="module")
def originals(tmp_path_factory):
    base = tmp_path_factory.mktemp("originals")
    out = {}
    for name, build in BUILDERS.items():
        plan = build()
        j = save_plan(plan, base / f"{name}.json")
        d = save_plan(plan, base / name, format="csv")
        out[name] = Original(plan, j.read_bytes(), {p.name: p.read_bytes() for p in d.iterdir()})
    return out


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("tampered")


_COUNT = itertools.count()

# -- what goes in: junk values, numbers pushed out of range ---------------------------------

SPECIAL_NUMBERS = [
    0,
    -1,
    1,
    2,
    60,
    2**53 + 1,
    2**63,
    10**400,
    -(10**400),
    0.0,
    -0.0,
    0.5,
    -0.5,
    1e-300,
    5e-324,
    1e300,
    1.7976931348623157e308,
    math.nan,
    math.inf,
    -math.inf,
]
SPECIAL_TEXT = ["", "60", "nan", "NaN", "Infinity", "true", "null", "0x10", "1e400"]
SPECIAL_TEXT += ["mol", "isa", "lognormal", "fixed", "serve", "point", "upper", " ", "é", "\x00"]

JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from(SPECIAL_NUMBERS),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from(SPECIAL_TEXT),
    st.lists(st.integers(-3, 3), max_size=3),
    st.dictionaries(st.sampled_from(["a", "t", "name", "type"]), st.integers(0, 3), max_size=2),
)
FACTORS = [-1.0, 0.0, 0.5, 2.0, 10.0, 1e6, 1e300, 1 + 1e-12, 1 + 1e-6, 1 - 1e-6]
CELLS = st.one_of(
    st.sampled_from([*SPECIAL_TEXT, "True", "False", "inf", "-inf", "-1", "0.5", "1" * 400]),
    st.text(alphabet="0123456789.-e+ ,\"'x", max_size=8),
)


def perturb(draw, x):
    """A number moved: scaled, shifted, negated, or made a string or a boolean."""
    how = draw(st.sampled_from(["scale", "shift", "string", "bool", "int"]))
    if how == "scale":
        y = x * draw(st.sampled_from(FACTORS))
    elif how == "shift":
        y = x + draw(st.sampled_from([1, -1, 0.5, 1e-9, 60, -60]))
    elif how == "string":
        return str(x)
    elif how == "bool":
        return bool(x)
    else:
        return int(x) if math.isfinite(x) else x
    return y


# -- tampering with a JSON document -----------------------------------------------------------


def containers(doc, path=()):
    """Every object and list of the document, with its key path (big lists' elements are
    numbers: not walked)."""
    yield path, doc
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if len(doc) <= 20 else ()
    for k, v in items:
        if isinstance(v, (dict, list)):
            yield from containers(v, (*path, k))


def lists(doc):
    return [(p, c) for p, c in containers(doc) if isinstance(c, list)]


def tamper_doc(draw, doc):
    """One change to the JSON document ``doc`` (in place, or a new document returned)."""
    places = list(containers(doc))
    _path, box = places[draw(st.integers(0, len(places) - 1))]
    kind = draw(
        st.sampled_from(
            [
                "delete",
                "replace",
                "perturb",
                "add",
                "rename",
                "wrap",
                "cut",
                "extend",
                "swap",
                "reverse",
                "swap_arrays",
                "replace_document",
            ]
        )
    )
    event(f"json: {kind}")
    if kind == "replace_document":
        return draw(JUNK)
    if isinstance(box, dict):
        if not box:
            box["x"] = draw(JUNK)
            return None
        key = draw(st.sampled_from(sorted(box)))
    else:
        if not box:
            box.append(draw(JUNK))
            return None
        key = draw(st.integers(0, len(box) - 1))
    value = box[key]
    if kind == "delete":
        del box[key]
    elif kind == "replace":
        box[key] = draw(JUNK)
    elif kind == "perturb":
        if isinstance(value, list) and value:  # a number of a list of numbers
            i = draw(st.integers(0, len(value) - 1))
            if isinstance(value[i], (int, float)) and not isinstance(value[i], bool):
                value[i] = perturb(draw, value[i])
            else:
                value[i] = draw(JUNK)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            box[key] = perturb(draw, value)
        else:
            box[key] = draw(JUNK)
    elif kind == "add":
        if isinstance(box, dict):
            box[draw(st.sampled_from(["extra", "t", "observed", "seed", "Format"]))] = draw(JUNK)
        else:
            box.insert(draw(st.integers(0, len(box))), draw(JUNK))
    elif kind == "rename" and isinstance(box, dict):
        box[key + draw(st.sampled_from(["_", "s", "X"]))] = box.pop(key)
    elif kind == "wrap":
        box[key] = draw(st.sampled_from([[value], {"value": value}]))
    elif isinstance(value, list) and value:
        n = len(value)
        if kind == "cut":
            del value[draw(st.integers(0, n - 1)) :]
        elif kind == "extend":
            value.extend(value[-draw(st.integers(1, min(n, 5))) :])
        elif kind == "swap":
            i, j = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
            value[i], value[j] = value[j], value[i]
        elif kind == "reverse":
            value.reverse()
        elif kind == "swap_arrays":
            same = [c for _, c in lists(doc) if len(c) == n and c is not value]
            if same:
                other = same[draw(st.integers(0, len(same) - 1))]
                value[:], other[:] = list(other), list(value)
    else:
        box[key] = draw(JUNK)
    return None


def tamper_bytes(draw, raw: bytes) -> bytes:
    """One change to the bytes of a file: cut, junk injected, a byte changed, a slice
    repeated or removed, emptied, a byte-order mark."""
    kind = draw(st.sampled_from(["cut", "inject", "flip", "repeat", "remove", "empty", "bom"]))
    event(f"bytes: {kind}")
    n = len(raw)
    i = draw(st.integers(0, max(n - 1, 0)))
    if kind == "cut":
        return raw[:i]
    if kind == "inject":
        return raw[:i] + draw(st.binary(min_size=1, max_size=8)) + raw[i:]
    if kind == "flip" and n:
        return raw[:i] + bytes([draw(st.integers(0, 255))]) + raw[i + 1 :]
    if kind == "repeat":
        return raw[:i] + raw[i : i + 40] + raw[i:]
    if kind == "remove":
        return raw[:i] + raw[i + draw(st.integers(1, 40)) :]
    if kind == "bom":
        return b"\xef\xbb\xbf" + raw
    return b""


def json_file(draw, raw: bytes) -> bytes:
    """A saved JSON document tampered with one to three times (as a document, then
    perhaps as bytes)."""
    doc = json.loads(raw)
    for _ in range(draw(st.integers(1, 3))):
        new = tamper_doc(draw, doc)
        if new is not None:
            doc = new
            break
        if not isinstance(doc, (dict, list)):
            break
    out = json.dumps(doc, allow_nan=True).encode()
    if draw(st.integers(0, 9)) == 0:
        out = tamper_bytes(draw, out)
    return out


# -- tampering with a CSV table -----------------------------------------------------------------


def csv_file(draw, raw: bytes) -> bytes:
    """A CSV table with a cell, a row, a column or the header changed (or its bytes)."""
    if draw(st.integers(0, 5)) == 0:
        return tamper_bytes(draw, raw)
    rows = list(csv.reader(io.StringIO(raw.decode())))
    header, body = rows[0], rows[1:]
    width = len(header)
    kind = draw(
        st.sampled_from(
            [
                "cell",
                "perturb",
                "drop_column",
                "rename",
                "add_column",
                "drop_row",
                "repeat_row",
                "swap_rows",
                "swap_columns",
                "cut_row",
            ]
        )
    )
    event(f"csv: {kind}")
    r = draw(st.integers(0, len(body) - 1)) if body else 0
    c = draw(st.integers(0, width - 1))
    if kind == "cell" and body:
        body[r][c] = draw(CELLS)
    elif kind == "perturb" and body:
        try:
            body[r][c] = repr(perturb(draw, float(body[r][c])))
        except ValueError:
            body[r][c] = draw(CELLS)
    elif kind == "drop_column":
        header, body = header[:c] + header[c + 1 :], [b[:c] + b[c + 1 :] for b in body]
    elif kind == "rename":
        header[c] = draw(st.sampled_from(["", "x", header[c].upper(), header[(c + 1) % width]]))
    elif kind == "add_column":
        header.append(draw(st.sampled_from(["extra", "point", "counts", "workers"])))
        body = [[*b, "1"] for b in body]
    elif kind == "drop_row" and body:
        del body[r]
    elif kind == "repeat_row" and body:
        body.insert(r, list(body[r]))
    elif kind == "swap_rows" and body:
        s = draw(st.integers(0, len(body) - 1))
        body[r], body[s] = body[s], body[r]
    elif kind == "swap_columns":
        d = draw(st.integers(0, width - 1))
        for b in body:
            b[c], b[d] = b[d], b[c]
    elif kind == "cut_row" and body:
        body[r] = body[r][: draw(st.integers(0, width - 1))]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, *body])
    return out.getvalue().encode()


# -- one tampered plan, loaded -------------------------------------------------------------------

OUTCOMES = Counter()


@st.composite
def tampered_plans(draw, originals):
    """``(path, original)``: a tampered copy written under a fresh path (a function: the
    files are written when the example runs)."""
    name = draw(st.sampled_from(sorted(originals)))
    orig = originals[name]
    if draw(st.booleans()):  # one JSON file
        return name, "json", {"plan.json": json_file(draw, orig.json_bytes)}
    files = dict(orig.files)
    target = draw(st.sampled_from(sorted(files)))
    kind = draw(st.sampled_from(["edit"] * 8 + ["delete", "directory"]))
    if kind == "delete":
        event("dir: file deleted")
        files[target] = None
    elif kind == "directory":
        event("dir: file replaced by a directory")
        files[target] = "directory"
    elif target == "inputs.json":
        files[target] = json_file(draw, files[target])
    else:
        files[target] = csv_file(draw, files[target])
    return name, "csv", files


def write(workdir, form, files):
    where = workdir / f"x{next(_COUNT)}"
    where.mkdir()
    if form == "json":
        path = where / "plan.json"
        path.write_bytes(files["plan.json"])
        return where, path
    path = where / "plan"
    path.mkdir()
    for n, content in files.items():
        if content is None:
            continue
        if content == "directory":
            (path / n).mkdir()
        else:
            (path / n).write_bytes(content)
    return where, path


def assert_valid(plan, original):
    """A plan that loaded: valid by plan_event's rules, the original's results, and what
    plan_event makes of its inputs."""
    args = plan_arguments(
        plan.forecast,
        plan.sessions,
        service=plan.service,
        streams_per_server=plan.streams_per_server,
        slo=plan.slo,
        client=plan.client,
        queue=plan.queue,
        margins=plan.margins,
        window=plan.window,
        interval_s=plan.interval_s,
        method=plan.method,
        lobby_start_s=plan.lobby_start_s,
    )
    assert args.window == plan.window and args.interval_s == plan.interval_s
    assert args.lobby_start_s == plan.lobby_start_s and args.sessions == plan.sessions
    assert args.forecast.t.size == plan.forecast.t.size
    f = plan.frame
    counts = ["workers_needed", "workers", "queue_limit", "stream_servers_needed", "stream_servers"]
    assert all(f[c].dtype == np.int64 for c in counts)
    assert np.isfinite(f.to_numpy(dtype=float)).all()
    assert (f[counts].to_numpy() >= -1).all() and (f["workers"] >= 0).all()
    m = plan.margins
    need = f["workers_needed"].to_numpy()
    assert (f["workers"] == np.ceil(need / (1 - m.zone_loss) - 1e-9) + m.spare_workers).all()
    s = f["stream_servers_needed"].to_numpy()
    spare = m.spare_stream_servers
    assert (f["stream_servers"] == np.ceil(s / (1 - m.zone_loss) - 1e-9) + spare).all()
    pd.testing.assert_frame_equal(
        f, original.frame, check_exact=False, rtol=1e-8, check_index_type=False
    )
    pd.testing.assert_frame_equal(
        plan.margins_table, original.margins_table, check_exact=False, rtol=1e-8
    )
    if plan.method != "isa":  # simulated: not made again here
        again = plan.replan()
        pd.testing.assert_frame_equal(
            f, again.frame, check_exact=False, rtol=1e-8, check_index_type=False
        )
        assert (plan.model, plan.notes) == (again.model, again.notes)


def check_one(workdir, originals, example):
    name, form, files = example
    where, path = write(workdir, form, files)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a warning is a raw library message
            try:
                plan = load_plan(path)
            except ValueError as exc:
                message = str(exc)
                assert str(path) in message, message
                assert "\n" not in message, message
                OUTCOMES["refused"] += 1
                event("refused")
                return
            OUTCOMES["loaded"] += 1
            event("loaded")
            assert_valid(plan, originals[name].plan)
    finally:
        shutil.rmtree(where, ignore_errors=True)


QUICK = settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def test_tampered_plans_are_refused_by_name_or_load_valid_quick(originals, workdir):
    @QUICK
    @given(data=st.data())
    def run(data):
        check_one(workdir, originals, data.draw(tampered_plans(originals)))

    before = Counter(OUTCOMES)
    run()
    done = OUTCOMES - before
    print(f"quick profile: {dict(done)}")
    assert sum(done.values()) == 100, done


@pytest.mark.slow
def test_tampered_plans_are_refused_by_name_or_load_valid_long(originals, workdir):
    before = Counter(OUTCOMES)

    @settings(QUICK, max_examples=int(__import__("os").environ.get("FUZZ_N", 1200)))
    @given(data=st.data())
    def run(data):
        check_one(workdir, originals, data.draw(tampered_plans(originals)))

    run()
    done = OUTCOMES - before
    print(f"long profile: {dict(done)}")
    assert sum(done.values()) >= 1000, done
    assert done["refused"] > done["loaded"] > 0, done


def test_untampered_copies_load_as_they_were(originals, workdir):
    for _name, orig in originals.items():
        for form, files in (("json", {"plan.json": orig.json_bytes}), ("csv", orig.files)):
            where, path = write(workdir, form, files)
            assert_valid(load_plan(path), orig.plan)
            shutil.rmtree(where)


def test_a_byte_order_mark_and_copied_documents_are_plans(originals, workdir):
    orig = originals["a"]
    _where, path = write(workdir, "json", {"plan.json": b"\xef\xbb\xbf" + orig.json_bytes})
    assert_valid(load_plan(path), orig.plan)
    doc = copy.deepcopy(json.loads(orig.json_bytes))
    path.write_text(json.dumps(doc, indent=2, sort_keys=True))
    assert_valid(load_plan(path), orig.plan)
