"""Bad input on the command line: one line `capplan CMD: error: ...`, exit code 2, and no
file left behind that looks finished.

Every case runs `capplan.cli.main` in this process; each is refused before any work (the
argument types, the checks of paths and tables), so the whole file takes seconds.
"""

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import capplan
from capplan import cli
from capplan.converters import worldcup98

AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0  # root reads and writes anything


def refusal(capsys, argv) -> str:
    """The one line of a refusal of `argv` (exit code 2, nothing on stdout)."""
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert code == 2, (argv, out, err)
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"capplan {argv[0]}: error: "), lines[0]
    return lines[0]


@pytest.fixture
def files(tmp_path, toy, write_csv):
    """Paths of every kind a fuzz would give: good tables, a folder named like a table,
    files that are not what their suffix says, a file where a folder should be."""
    events, series = write_csv(*toy)
    paths = {"events": events, "series": series, "tmp": tmp_path}
    (tmp_path / "folder.csv").mkdir()
    (tmp_path / "folder.parquet").mkdir()
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "binary.csv").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "binary.parquet").write_bytes(b"PAR1" + bytes(range(200)))
    (tmp_path / "binary.csv.gz").write_bytes(b"not gzip at all")
    (tmp_path / "table.txt").write_text("a,b\n1,2\n")
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "empty.json").write_text("{}")
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "broken.json").write_text("{not json")
    return {name: str(path) for name, path in paths.items()}


def fill(argv, files):
    return [a.format(**files) if isinstance(a, str) else a for a in argv]


SIMULATE = ["simulate", "--arrival-rate", "10", "--service-time", "0.1", "--servers", "5"]


@pytest.mark.parametrize(
    "argv, message",
    [
        # the reproducers
        (["describe", "--events", "{tmp}/folder.csv", "--series", "{series}"], "is a directory"),
        (["describe", "--interval", "0"], "--interval must be > 0; got '0'"),
        (["describe", "--interval", "nan"], "--interval must be a finite number; got 'nan'"),
        # every number of describe, then of every other command: 0, < 0, nan, inf, huge, text
        (["describe", "--interval", "-60"], "--interval must be > 0"),
        (["describe", "--interval", "inf"], "--interval must be a finite number"),
        (["describe", "--interval", "1e300"], "--interval must be at most"),
        (["describe", "--interval", "a minute"], "--interval must be a number; got 'a minute'"),
        (["describe", "--interval", ""], "--interval must be a number"),
        (["describe", "--naive-timezone", "Mars/Olympus"], "unknown time zone 'Mars/Olympus'"),
        (["describe", "--history", "nope"], "--history: invalid choice"),
        (["describe", "--events", "{events}"], "--events and --series go together"),
        (["describe", "--events", "{tmp}/missing.csv", "--series", "{series}"], "no such file"),
        (["describe", "--events", "{tmp}", "--series", "{series}"], "give a .csv"),
        (["describe", "--events", "{tmp}/table.txt", "--series", "{series}"], "got .txt"),
        (["describe", "--events", "{events}", "--series", "{tmp}/folder.parquet"], "directory"),
        (["describe", "--events", "{tmp}/empty.csv", "--series", "{series}"], "empty.csv"),
        (["describe", "--events", "{tmp}/binary.csv", "--series", "{series}"], "binary.csv"),
        (["describe", "--events", "{tmp}/binary.parquet", "--series", "{series}"], "binary"),
        (["describe", "--events", "{tmp}/binary.csv.gz", "--series", "{series}"], "binary"),
        (["describe", "--bogus"], "unrecognized arguments: --bogus"),
        (["fit", "--event", "ev-a", "-o", "{tmp}/fit.txt"], "--output: {tmp}/fit.txt: give a .csv"),
        (["fit", "--event", "ev-a", "-o", "{tmp}/folder.csv"], "is a directory"),
        (["fit", "--event", "ev-a", "-o", "{tmp}/a-file/fit.csv"], "a-file is not a directory"),
        (["fit", "--event", "ev-a", "--form", "spiky"], "--form: invalid choice"),
        (["fit"], "the following arguments are required: --event"),
        ([*SIMULATE[:-1], "0"], "--servers must be >= 1"),
        ([*SIMULATE[:-1], "-5"], "--servers must be >= 1"),
        ([*SIMULATE[:-1], "5.5"], "--servers must be a whole number; got '5.5'"),
        ([*SIMULATE[:-1], "1e20"], "--servers must be at most 10,000,000"),
        ([*SIMULATE[:-1], "nan"], "--servers must be a finite number"),
        ([*SIMULATE[:2], "nan", *SIMULATE[3:]], "--arrival-rate must be a finite number"),
        ([*SIMULATE[:2], "-1", *SIMULATE[3:]], "--arrival-rate must be >= 0"),
        ([*SIMULATE[:2], "1e12", *SIMULATE[3:]], "--arrival-rate must be at most"),
        ([*SIMULATE[:2], "1e8", *SIMULATE[3:]], "first tries; one run simulates at most"),
        ([*SIMULATE[:4], "0", *SIMULATE[5:]], "--service-time must be > 0"),
        ([*SIMULATE[:4], "inf", *SIMULATE[5:]], "--service-time must be a finite number"),
        ([*SIMULATE, "--duration", "0"], "--duration must be > 0"),
        ([*SIMULATE, "--duration", "1e300"], "--duration must be at most"),
        ([*SIMULATE, "--buffer", "-1"], "--buffer must be >= 0"),
        ([*SIMULATE, "--buffer", "99999999999999999999"], "--buffer must be at most"),
        ([*SIMULATE, "--timeout", "0"], "--timeout must be > 0"),
        ([*SIMULATE, "--timeout", "nan"], "--timeout must be a finite number"),
        ([*SIMULATE, "--seed", "-1"], "--seed must be >= 0"),
        ([*SIMULATE, "--seed", "1.5"], "--seed must be a whole number"),
        ([*SIMULATE, "--retry", "forever"], "--retry: invalid choice"),
        ([*SIMULATE, "-o", "{tmp}/run.txt"], "give a .csv"),
        ([*SIMULATE, "-o", "{tmp}/folder.csv"], "is a directory"),
        (["plan", "--level", "0"], "--level must be > 0.5"),
        (["plan", "--level", "0.5"], "--level must be > 0.5"),
        (["plan", "--level", "1"], "--level must be < 1"),
        (["plan", "--level", "nan"], "--level must be a finite number"),
        (["plan", "--wait-s", "-1"], "--wait-s must be >= 0"),
        (["plan", "--wait-fraction", "1"], "--wait-fraction must be < 1"),
        (["plan", "--max-refused", "0"], "--max-refused must be > 0"),
        (["plan", "--max-refused", "2"], "--max-refused must be at most 1"),
        (["plan", "--join-work-s", "0"], "--join-work-s must be >= 1e-06"),
        (["plan", "--join-work-s", "1e-300"], "--join-work-s must be >= 1e-06"),
        (["plan", "--join-work-scv", "-1"], "--join-work-scv must be >= 0"),
        (["plan", "--streams-per-server", "1e-300"], "--streams-per-server must be >= 1"),
        (["plan", "--timeout-s", "0"], "--timeout-s must be > 0"),
        (["plan", "--timeout-s", "0.01"], "is not longer than --join-work-s"),
        (["plan", "--attack-rps", "-1"], "--attack-rps must be >= 0"),
        (["plan", "--attack-rps", "inf"], "--attack-rps must be a finite number"),
        (["plan", "--zone-loss", "1"], "--zone-loss must be < 1"),
        (["plan", "--spare", "-1"], "--spare must be >= 0"),
        (["plan", "--spare", "2.5"], "--spare must be a whole number"),
        (["plan", "--seed", "-1"], "--seed must be >= 0"),
        (["plan", "--method", "guess"], "--method: invalid choice"),
        (["plan", "--signal", "followers", "many"], "--signal followers: the value must be a"),
        (["plan", "--signal", "followers", "nan"], "must be a finite number"),
        (["plan", "--signal", "followers", "1e400"], "must be a finite number"),
        (["plan", "--signal", "followers", "1", "--signal", "followers", "2"], "given twice"),
        (["plan", "--signal", "followers"], "--signal: expected 2 arguments"),
        (["plan", "--signals", "{tmp}/folder.csv"], "--signals: {tmp}/folder.csv: is a directory"),
        (["plan", "--signals", "{tmp}/missing.csv"], "no such file"),
        (["plan", "--signals", "{tmp}/table.txt"], "got .txt"),
        (["plan", "--signals", "{tmp}/empty.csv"], "empty.csv: not a readable CSV table"),
        (["plan", "--signals", "{tmp}/binary.csv"], "binary.csv: not a readable CSV table"),
        (["plan", "--signals", "{tmp}/binary.parquet"], "not a readable Parquet table"),
        (["plan", "--fleets", "{tmp}/folder.csv"], "is a directory"),
        (["plan", "--fleets", "{tmp}/empty.csv"], "not a readable CSV table"),
        (["plan", "--scheduled-start", "soon"], "--scheduled-start"),
        (["plan", "-o", "{tmp}/a-file/plan"], "a-file is not a directory"),
        (["plan", "-o", "{tmp}/a-file"], "is a file; give a directory"),
        (["plan", "-o", "{tmp}/folder.parquet/x/.."], "give a name"),
        (["assess", "--level", "0.5", "--tested-concurrency", "1"], "--level must be > 0.5"),
        (["assess", "--workers", "-1"], "--workers must be >= 0"),
        (["assess", "--stream-servers", "1.5"], "--stream-servers must be a whole number"),
        (["assess", "--tested-concurrency", "0"], "--tested-concurrency must be > 0"),
        (["assess", "--tested-concurrency", "nan"], "must be a finite number"),
        (["assess", "--streams-per-server", "0"], "--streams-per-server must be >= 1"),
        (["assess", "--attack-rps", "-5"], "--attack-rps must be >= 0"),
        (["assess", "--seed", "-1"], "--seed must be >= 0"),
        (["assess", "--tested-concurrency", "1e6", "-o", "{tmp}/a.txt"], "give a .csv"),
        (["assess", "--plan", "{tmp}/missing.json", "--workers", "5"], "no saved plan at"),
        (["assess", "--plan", "{tmp}/empty.json"], "empty.json is not a capplan plan"),
        (["assess", "--plan", "{tmp}/list.json"], "list.json is not a capplan plan"),
        (["assess", "--plan", "{tmp}/broken.json"], "broken.json"),
        (["assess", "--plan", "{tmp}/table.txt"], "give a saved plan"),
        (["assess", "--plan", "{tmp}"], "is not a saved plan"),
        (["loadtest", "{tmp}/missing.json", "-o", "{tmp}/lt"], "no saved plan at"),
        (["loadtest", "{tmp}/empty.json", "-o", "{tmp}/lt"], "is not a capplan plan"),
        (["loadtest", "{tmp}/empty.json", "-o", "{tmp}/a-file"], "is a file; give a directory"),
        (["loadtest", "{tmp}/empty.json"], "the following arguments are required: -o"),
        (["loadtest", "{tmp}/empty.json", "-o", "x", "--compress", "a lot"], "--compress"),
        (["loadtest", "{tmp}/empty.json", "-o", "x", "--window", "0"], "expected 2 arguments"),
        (["report", "-o", "{tmp}/report.txt"], "give a .html or .htm file name"),
        (["report", "-o", "{tmp}/a-file/r.html"], "a-file is not a directory"),
        (["report", "{tmp}/missing.ipynb"], "not found"),
        (["report", "{tmp}/table.txt"], "must be an .ipynb file"),
        (["report", "--with-code", "--no-input"], "not allowed with argument"),
        (["notebooks", "{tmp}/a-file"], "is a file; give a folder to copy into"),
        (["notebooks", ""], "no folder given (an empty argument)"),
        (["loadtest", " ", "-o", "{tmp}/lt"], "no saved plan given"),
        (["convert", "worldcup98", "", "{tmp}/out"], "no path given"),
        (["convert", "worldcup98", "{tmp}", ""], "not a path: ''"),
        ([*SIMULATE, "-o", ""], "not a path"),
        (["plan", "--signals", ""], "--signals: no file given (an empty argument)"),
        (["notebooks", "{tmp}/a-file/mine"], "a-file is a file, not a folder to copy into"),
        (["convert", "worldcup98", "{tmp}/missing", "{tmp}/out"], "source: {tmp}/missing: no"),
        (["convert", "worldcup98", "{tmp}/a-file", "{tmp}/out"], "not a directory"),
        (["convert", "worldcup98", "{tmp}", "{tmp}/a-file"], "is a file; give a directory"),
        (["convert", "worldcup98", "{tmp}", "{tmp}/out"], "lacks requests_per_minute.csv"),
        (["convert", "netflix", "{tmp}", "{tmp}/out"], "trace: invalid choice"),
    ],
)
def test_a_refusal_is_one_line_and_exit_code_2(capsys, files, argv, message):
    line = refusal(capsys, fill(argv, files))
    assert message.format(**files) in line, line
    assert not (Path(files["tmp"]) / "out").exists() and not (Path(files["tmp"]) / "lt").exists()


def test_no_command_is_the_help_and_a_refusal(capsys):
    assert cli.main([]) == 2
    out, err = capsys.readouterr()
    assert "COMMAND" in out and err == "capplan: error: give a command (see capplan --help)\n"


def test_a_fit_that_cannot_be_made_names_the_event_and_the_column(capsys, files):
    line = refusal(
        capsys,
        ["fit", "--events", files["events"], "--series", files["series"], "--event", "ev-c",
         "--column", "requests"],
    )  # fmt: skip
    assert "event 'ev-c', --column requests: " in line and "at least" in line


def test_a_refusal_of_the_command_line_names_its_help(capsys):
    line = refusal(capsys, ["simulate", "--servers", "0"])
    assert line.endswith("(see capplan simulate --help)")
    assert cli.main(["no-such-command"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("capplan: error: COMMAND: invalid choice: 'no-such-command'")


def test_help_and_version_return_0_in_process(capsys):
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("capplan ")
    assert cli.main(["describe", "--help"]) == 0
    assert "--interval" in capsys.readouterr().out


def test_good_numbers_in_other_spellings_are_read(capsys):
    parse = cli._parser().parse_args
    args = parse([*SIMULATE[:-1], "1e3", "--seed", "7.0", "--buffer", "0"])
    assert (args.servers, args.seed, args.buffer) == (1000, 7, 0)
    assert parse(["describe", "--interval", "60"]).interval == 60.0
    assert parse(["plan", "--max-refused", "1", "--wait-s", "0"]).max_refused == 1.0


@pytest.mark.parametrize(
    "fleet, message",
    [
        ("join,workers,16,1e300,0.68", "lead_time_s must be from 0 to 604800"),
        ("join,workers,1e-300,330,0.68", "units_per_instance must be from 1"),
        ("join,workers,16,330,-1", "price_per_hour must be from 0"),
        ("join,workers,16,330,cheap", "price_per_hour"),
    ],
)
def test_plan_fleets_with_numbers_out_of_bounds_are_refused(capsys, tmp_path, fleet, message):
    path = tmp_path / "fleets.csv"
    path.write_text(
        f"name,resource,units_per_instance,lead_time_s,price_per_hour\n{fleet}\n"
        "streams,stream_servers,1,330,1.53\n"
    )
    line = refusal(capsys, ["plan", "--fleets", path, "-q"])
    assert "fleets.csv, row 1: " in line and message in line, line


# -- errors of the file system: one line; bugs still a traceback ------------------------------


@pytest.mark.parametrize(
    "error, message",
    [
        (PermissionError(13, "Permission denied", "/data/events.csv"), "Permission denied"),
        (IsADirectoryError(21, "Is a directory", "/data/x.csv"), "/data/x.csv: Is a directory"),
        (NotADirectoryError(20, "Not a directory", "/data/f/x.csv"), "Not a directory"),
        (OSError(28, "No space left on device"), "error: No space left on device"),
        (OSError(21, "Is a directory", "/d/.k6.js.partial", None, "/d/k6.js"), "/d/k6.js: Is a"),
        (FileNotFoundError("events file not found: x.csv"), "events file not found: x.csv"),
        (KeyError("no column 'joins'"), "no column 'joins'"),
        (ValueError("first line\n  second line"), "first line; second line"),
    ],
)
def test_an_os_error_or_bad_input_is_one_line(capsys, monkeypatch, error, message):
    def fail(args):
        raise error

    monkeypatch.setattr(cli, "_describe", fail)
    line = refusal(capsys, ["describe"])
    assert line.endswith(message) or message in line, line


@pytest.mark.parametrize("bug", [TypeError("a bug"), AttributeError("a bug"), ZeroDivisionError])
def test_a_bug_inside_the_library_is_still_a_traceback(monkeypatch, bug):
    def fail(args):
        raise bug

    monkeypatch.setattr(cli, "_describe", fail)
    with pytest.raises(type(bug) if isinstance(bug, Exception) else bug):
        cli.main(["describe"])


def test_an_interrupt_is_one_line_and_exit_code_130(capsys, monkeypatch):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_describe", interrupted)
    assert cli.main(["describe"]) == 130
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("capplan describe: interrupted")


def test_a_closed_pipe_is_not_an_error(monkeypatch):
    def closed(args):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(cli, "_describe", closed)
    monkeypatch.setattr("sys.stdout", open(os.devnull, "w"))  # main replaces it
    assert cli.main(["describe"]) == 0


@pytest.mark.skipif(AS_ROOT, reason="root reads and writes every file")
def test_unreadable_and_unwritable_paths_are_refused(capsys, files, tmp_path):
    locked = tmp_path / "locked.csv"
    locked.write_text("a\n1\n")
    locked.chmod(0)
    shut = tmp_path / "shut"
    shut.mkdir()
    shut.chmod(0o500)
    try:
        line = refusal(capsys, ["describe", "--events", locked, "--series", files["series"]])
        assert "cannot be read" in line
        line = refusal(capsys, [*SIMULATE, "-o", shut / "run.csv"])
        assert "cannot write in" in line
    finally:
        locked.chmod(0o600)
        shut.chmod(0o700)


# -- a failure part-way leaves nothing that looks finished ------------------------------------


def small_plan():
    from capplan.planning import SLO, JoinForecast, JoinService, plan_event

    t = np.arange(-600, 1200)
    rates = pd.Series(np.where(t < 0, 50.0, 50.0 + 400 * np.exp(-np.maximum(t, 0) / 300)), t)
    return plan_event(
        JoinForecast.from_rates(rates, factor=1.2),
        ("exponential", {"mean_s": 600.0}),
        service=JoinService(0.05),
        streams_per_server=5000,
        window=(-600, 1200),
        slo=SLO(wait_s=1.0, fraction=0.99),
    )


@pytest.fixture(scope="module")
def plan_and_ladder():
    plan = small_plan()
    fleets = cli._fleets(None)
    ladder = capplan.provision(plan, fleets, scheduled_start=pd.Timestamp("2026-06-01", tz="UTC"))
    return plan, ladder


def listing(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_a_plan_is_written_whole_and_reads_back(tmp_path, plan_and_ladder):
    plan, ladder = plan_and_ladder
    out = tmp_path / "plans" / "next"
    written = cli._write_plan(out, plan, ladder)
    assert written[:3] == [out.with_name("next.json"), out, out / "ladder.csv"]
    assert all(p.exists() for p in written)
    assert not [p for p in tmp_path.rglob(".*")]  # no temporary left
    pd.testing.assert_frame_equal(
        capplan.load_plan(out).to_frame(), capplan.load_plan(written[0]).to_frame()
    )
    actions = json.loads(out.with_name("next.aws-scheduled-actions.json").read_text())
    assert actions["ScheduledUpdateGroupActions"]


@pytest.mark.parametrize("late", ["to_json", "aws", "tables"])
def test_a_plan_that_fails_part_way_leaves_the_earlier_one(
    tmp_path, monkeypatch, plan_and_ladder, late
):
    plan, ladder = plan_and_ladder
    out = tmp_path / "next"
    cli._write_plan(out, plan, ladder)
    before = listing(tmp_path)

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    if late == "to_json":
        monkeypatch.setattr(type(ladder), "to_json", fail)
    elif late == "aws":
        monkeypatch.setattr(cli, "_dump_json", fail)
    else:
        monkeypatch.setattr(cli.os, "replace", fail)
    with pytest.raises(OSError, match="No space"):
        cli._write_plan(out, plan, ladder)
    assert listing(tmp_path) == before  # the earlier plan whole, no temporary left

    with pytest.raises(OSError, match="No space"):
        cli._write_plan(tmp_path / "fresh", plan, ladder)
    assert listing(tmp_path) == before  # no file of the fresh plan (at most its empty folder)


def test_a_csv_that_fails_part_way_leaves_the_earlier_one(tmp_path, monkeypatch):
    path = tmp_path / "run.csv"
    cli._write_csv(path, pd.DataFrame({"a": [1, 2]}))
    before = path.read_bytes()

    def half(self, target, **kwargs):
        Path(target).write_text("a\n1\n")  # half the table, then the disk fills
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", half)
    with pytest.raises(OSError):
        cli._write_csv(path, pd.DataFrame({"a": [3, 4]}))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.csv"]


def test_a_load_test_that_fails_part_way_leaves_the_earlier_one(tmp_path, monkeypatch):
    from capplan import loadtest

    plan = small_plan()
    out = tmp_path / "lt"
    loadtest.write_loadtest(plan, out, compress=10)
    before = listing(out)
    monkeypatch.setattr(loadtest, "_k6_script", lambda *a: 1 / 0)  # the second script fails
    with pytest.raises(ZeroDivisionError):
        loadtest.write_loadtest(plan, out, compress=20)
    assert listing(out) == before
    with pytest.raises(ZeroDivisionError):
        loadtest.write_loadtest(plan, tmp_path / "fresh", compress=20)
    assert not (tmp_path / "fresh").exists()


@pytest.mark.parametrize(
    "host",
    ["https://x\nimport os", "https://x/'", 'https://x"', "https://a b", "https://", "ftp://x"],
)
def test_a_host_that_could_break_out_of_the_scripts_is_refused(tmp_path, host):
    from capplan import loadtest

    with pytest.raises(ValueError, match="host must be a URL"):
        loadtest.write_loadtest(small_plan(), tmp_path / "lt", host=host)
    assert not (tmp_path / "lt").exists()


def test_a_load_test_of_too_many_stages_is_refused_before_any_work(tmp_path):
    from capplan import loadtest

    with pytest.raises(ValueError, match="at most 1,000,000"):
        loadtest.write_loadtest(small_plan(), tmp_path / "lt", compress=1e-6)


def test_notebooks_that_fail_part_way_are_not_copied(tmp_path, monkeypatch, capsys):
    from capplan import report

    copied, copy = [], shutil.copyfile

    def copy_then_fail(source, target):
        if len(copied) == 2:
            raise OSError(28, "No space left on device")
        copied.append(target)
        copy(source, target)

    monkeypatch.setattr(report.shutil, "copyfile", copy_then_fail)
    line = refusal(capsys, ["notebooks", tmp_path / "mine"])
    assert "No space left on device" in line
    assert not any((tmp_path / "mine").iterdir())


def test_a_report_output_is_checked_before_the_notebook_runs(tmp_path):
    from capplan import report

    (tmp_path / "r.html").mkdir()
    with pytest.raises(ValueError, match="is a folder"):
        report.build_report(None, tmp_path / "r.html")


def test_the_reproducer_convert_without_the_notice_writes_nothing(tmp_path, capsys):
    source, destination = tmp_path / "wc", tmp_path / "out"
    source.mkdir()
    minutes = pd.date_range("1998-06-09", periods=3000, freq="min")
    (source / "requests_per_minute.csv").write_text(
        "minute_utc,requests\n" + "".join(f"{t:%Y-%m-%d %H:%M},1\n" for t in minutes)
    )
    (source / "matches.csv").write_text(
        "kickoff_utc,stage,home,away,venue\n1998-06-10 15:30,g,A,B,X\n"
    )
    (source / worldcup98.NOTICE).write_text("notice")
    (source / "requests_per_minute.csv").write_text("minute_utc,requests\n1998-06-10 15:00,x\n")
    line = refusal(capsys, ["convert", "worldcup98", source, destination])
    assert "requests_per_minute.csv: column 'requests', row(s) [1]: not a whole number" in line
    assert not destination.exists()


def test_a_folder_where_a_file_goes_is_found_before_anything_is_renamed(tmp_path, plan_and_ladder):
    """Renamed one by one, the first files would be in place when a folder stopped a later
    one: a folder in the way is refused before any is written."""
    from capplan import loadtest

    plan, ladder = plan_and_ladder
    out = tmp_path / "next"
    cli._write_plan(out, plan, ladder)
    before = listing(tmp_path)
    (out / "plan.csv").unlink()
    (out / "plan.csv").mkdir()
    before.pop("next/plan.csv")
    with pytest.raises(ValueError, match="a folder where the plan writes a file"):
        cli._write_plan(out, plan, ladder)
    assert listing(tmp_path) == before

    (tmp_path / "lt" / "k6.js").mkdir(parents=True)
    with pytest.raises(ValueError, match=r"k6\.js is a folder; nothing written"):
        loadtest.write_loadtest(plan, tmp_path / "lt")
    assert not any(p.is_file() for p in (tmp_path / "lt").iterdir())

    source = tmp_path / "raw"
    source.mkdir()
    (source / "requests_per_minute.csv").write_text(
        "minute_utc,requests\n"
        + "".join(
            f"{t:%Y-%m-%d %H:%M},1\n" for t in pd.date_range("1998-06-09", periods=3000, freq="min")
        )
    )
    (source / "matches.csv").write_text(
        "kickoff_utc,stage,home,away,venue\n1998-06-10 15:30,g,A,B,X\n"
    )
    (source / worldcup98.NOTICE).write_text("notice")
    (tmp_path / "wc" / "series.parquet").mkdir(parents=True)
    with pytest.raises(IsADirectoryError, match=r"series\.parquet is a folder"):
        worldcup98.write(source, tmp_path / "wc")
    assert [p.name for p in (tmp_path / "wc").iterdir()] == ["series.parquet"]


def test_a_refusal_after_the_progress_bar_started_is_a_line_of_its_own(capsys):
    """The bar is cleared first: on a terminal the refusal is the one line left."""
    assert cli.main(["plan", "--signal", "unknown_signal", "100"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    shown = err.rstrip("\n").split("\r")[-1]  # what a terminal shows once the bar is cleared
    assert shown.startswith("capplan plan: error: the events to forecast lack"), err
    assert "planning" not in shown
