"""The ``capplan`` command line."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import warnings
from numbers import Real
from pathlib import Path

import pandas as pd

import capplan
from capplan._commandline import OneLineParser, one_line
from capplan._files import staged
from capplan._progress import progress_bar
from capplan.converters import CONVERTERS
from capplan.planning import METHODS

SHIPPED = {
    "sample": capplan.sample_history,
    "worldcup98": capplan.worldcup98_history,
    "higgs2012": capplan.higgs2012_history,
    "azure_llm2023": capplan.azure_llm2023_history,
}

# The headline event of notebook 03 (a test keeps them equal to its parameters).
HEADLINE_SIGNALS = {
    "followers": 300_000_000,
    "registrations": 2_000_000,
    "notifications_sent": 135_000_000,
}
HEADLINE_SCHEDULED_START = "2025-06-14T19:00:00+00:00"
# Instance kinds of notebook 03 (assumptions: 16 join workers per instance, about 4 min
# from a baked image plus 90 s of application boot, at most 200 added a minute).
HEADLINE_FLEETS = (
    {
        "name": "join",
        "resource": "workers",
        "units_per_instance": 16,
        "lead_time_s": 330,
        "price_per_hour": 0.68,
        "max_added_per_min": 200,
        "min_hold_s": 600,
    },
    {
        "name": "streams",
        "resource": "stream_servers",
        "units_per_instance": 1,
        "lead_time_s": 330,
        "price_per_hour": 1.53,
        "max_added_per_min": 200,
        "min_hold_s": 600,
    },
)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["aggregate"]:  # its own parser, options and help included
        from capplan.scale.logs import main_aggregate

        return main_aggregate(argv[1:])
    parser = _parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:  # the command's refusal, not capplan's: `capplan describe --bogus`
            command = parser.commands.get(getattr(args, "command", None), parser)
            command.error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as done:  # --help, --version, or a refusal already printed
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 2)
    if not hasattr(args, "run"):  # no command: what there is, and a refusal like any other
        parser.print_help()
        print("capplan: error: give a command (see capplan --help)", file=sys.stderr)
        return 2

    def show_warning(message, category, *_args, **_kwargs):
        # A doubt about a fit is worth a line, not a source listing; a line of its own
        # while a progress bar is drawn (tqdm clears the bar, writes, and draws it again).
        from tqdm import tqdm

        line = f"capplan {args.command}: warning: {category.__name__}: {one_line(message)}"
        tqdm.write(line, file=sys.stderr)

    def refuse(message) -> int:
        print(f"capplan {args.command}: error: {one_line(message)}", file=sys.stderr)
        return 2

    try:
        with warnings.catch_warnings():
            warnings.showwarning = show_warning
            return args.run(args)
    except (ValueError, KeyError, FileNotFoundError) as error:
        # Bad input is the user's to fix: one clear line, no traceback.
        return refuse(error.args[0] if isinstance(error, KeyError) and error.args else error)
    except BrokenPipeError:  # `capplan describe | head`: the reader has gone, not an error
        sys.stdout = open(os.devnull, "w")  # Python flushes it at exit, into nothing
        return 0
    except OSError as error:
        # A path the user gave that cannot be read or written (a folder for a file, no
        # permission, a full disk): theirs to fix too; what is written stays as it was.
        name = error.filename if error.filename2 is None else error.filename2  # a rename's
        if error.strerror:
            return refuse(error.strerror if name is None else f"{name}: {error.strerror}")
        return refuse(error)
    except KeyboardInterrupt:
        print(f"capplan {args.command}: interrupted; nothing half-written left", file=sys.stderr)
        return 130


# -- argument types: each refuses what the command could not use, before any work -----------

# Seconds that become time stamps must stay far from pandas' 292 years of nanoseconds.
MAX_SECONDS = 1e9
MAX_RATE = 1e9  # per second: ten thousand times the headline's joins
MAX_COUNT = 10**9
MAX_SERVERS = 10_000_000  # the queueing formulas' proven range
MAX_FIRST_TRIES = 10**8  # one simulation's expected first tries (about a minute)


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number; got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number; got {text!r}")
    return value


def _real(name: str, low: float, high: float, *, above: bool = False, below: bool = False):
    """A type: a finite number in [low, high] (open at low if `above`, at high if `below`)."""

    def convert(text: str) -> float:
        value = _number(text)
        if value < low or (above and value == low):
            raise argparse.ArgumentTypeError(
                f"must be {'>' if above else '>='} {low:g}; got {text!r}"
            )
        if value > high or (below and value == high):
            raise argparse.ArgumentTypeError(
                f"must be {'<' if below else 'at most'} {high:g}; got {text!r}"
            )
        return value

    convert.__name__ = name
    return convert


def _whole(name: str, low: int, high: int):
    """A type: a whole number in [low, high] (``1e3`` and ``5.0`` read as whole numbers)."""

    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            number = _number(text)
            if not number.is_integer():
                raise argparse.ArgumentTypeError(f"must be a whole number; got {text!r}") from None
            value = int(number)
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low:,}; got {text!r}")
        if value > high:
            raise argparse.ArgumentTypeError(f"must be at most {high:,}; got {text!r}")
        return value

    convert.__name__ = name
    return convert


positive_seconds = _real("positive_seconds", 0.0, MAX_SECONDS, above=True)
non_negative_seconds = _real("non_negative_seconds", 0.0, MAX_SECONDS)
non_negative_rate = _real("non_negative_rate", 0.0, MAX_RATE)
probability = _real("probability", 0.0, 1.0, above=True, below=True)  # (0, 1)
share = _real("share", 0.0, 1.0, below=True)  # [0, 1)
# A forecast's level is its upper quantile: above the median, or the upper is not above.
level = _real("level", 0.5, 1.0, above=True, below=True)
refused_share = _real("refused_share", 0.0, 1.0, above=True)  # (0, 1]
scv = _real("scv", 0.0, 1e4)
work_seconds = _real("work_seconds", 1e-6, 3600.0)  # a microsecond to an hour a join
streams_per_server = _real("streams_per_server", 1.0, 1e9)
positive_amount = _real("positive_amount", 0.0, 1e15, above=True)
servers = _whole("servers", 1, MAX_SERVERS)
workers = _whole("workers", 0, MAX_SERVERS)
count = _whole("count", 0, MAX_COUNT)
seed = _whole("seed", 0, 2**128 - 1)


def _either(suffixes: tuple[str, ...]) -> str:
    return (
        " or ".join(suffixes)
        if len(suffixes) < 3
        else f"{', '.join(suffixes[:-1])} or {suffixes[-1]}"
    )


def _suffix(path: Path) -> str:
    return "".join(path.suffixes[-2:]).lower()


def _input_file(name: str, suffixes: tuple[str, ...]):
    """A type: a readable file whose name ends in one of `suffixes`."""

    def convert(text: str) -> str:
        path = Path(text)
        if not text.strip():
            raise argparse.ArgumentTypeError("no file given (an empty argument)")
        if not _suffix(path).endswith(suffixes):
            raise argparse.ArgumentTypeError(
                f"{text}: give a {_either(suffixes)} file; got {path.suffix or 'no suffix'}"
            )
        _readable(path, text)
        return text

    convert.__name__ = name
    return convert


def _readable(path: Path, text: str) -> None:
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{text}: no such file")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: is a directory; give a file")
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{text}: not a regular file")
    if not os.access(path, os.R_OK):
        raise argparse.ArgumentTypeError(f"{text}: cannot be read (permission denied)")


def _existing_directory(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("no path given (an empty argument)")
    path = Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{text}: no such directory")
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: not a directory")
    if not os.access(path, os.R_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"{text}: cannot be read (permission denied)")
    return text


def _writable(path: Path, text: str, *, directory: bool = False) -> None:
    """Refuse a path that cannot be written: a folder for a file (or the reverse), a file
    among its parents, a parent that cannot be written in."""
    if not text.strip() or "\0" in text:
        raise argparse.ArgumentTypeError(f"not a path: {text!r}")
    if path.is_dir() and not directory:
        raise argparse.ArgumentTypeError(f"{text}: is a directory; give a file")
    if path.exists() and not path.is_dir() and directory:
        raise argparse.ArgumentTypeError(f"{text}: is a file; give a directory")
    parent = path.absolute().parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"{text}: cannot write in {parent} (permission denied)")


def _output_file(name: str, suffixes: tuple[str, ...]):
    """A type: a file to write, whose name ends in one of `suffixes`."""

    def convert(text: str) -> str:
        path = Path(text)
        if not text.strip() or "\0" in text:
            raise argparse.ArgumentTypeError(f"not a path: {text!r}")
        if not _suffix(path).endswith(suffixes):
            raise argparse.ArgumentTypeError(
                f"{text}: give a {_either(suffixes)} file name; got {path.suffix or 'no suffix'}"
            )
        _writable(path, text)
        return text

    convert.__name__ = name
    return convert


def _output_directory(text: str) -> str:
    _writable(Path(text), text, directory=True)
    return text


def _plan_output(text: str) -> str:
    """OUT of `capplan plan`: OUT/ (a directory) and OUT.json, OUT.ladder.json, ..."""
    path = Path(text)
    if path.name in ("", ".", ".."):
        raise argparse.ArgumentTypeError(f"{text}: give a name, e.g. reports/plan")
    _writable(path, text, directory=True)
    for end in PLAN_FILES:
        _writable(path.with_name(path.name + end), text + end)
    return text


def _zone(text: str) -> str:
    try:
        pd.Timestamp("2000-01-01").tz_localize(text)
    except Exception:  # pytz's, zoneinfo's, dateutil's errors: all mean no such zone
        raise argparse.ArgumentTypeError(
            f"unknown time zone {text!r}; e.g. UTC, Europe/Paris, America/New_York"
        ) from None
    return text


TABLE_SUFFIXES = (".csv", ".parquet", ".pq")
HISTORY_SUFFIXES = (".csv", ".csv.gz", ".parquet", ".pq")
CSV_SUFFIXES = (".csv", ".csv.gz")
history_table = _input_file("history_table", HISTORY_SUFFIXES)
table_file = _input_file("table_file", TABLE_SUFFIXES)
csv_output = _output_file("csv_output", CSV_SUFFIXES)
html_output = _output_file("html_output", (".html", ".htm"))
PLAN_FILES = (".json", ".ladder.json", ".aws-scheduled-actions.json")


def _parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="capplan", description=capplan.__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"capplan {capplan.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    parser.commands = commands.choices  # each command's own parser, by name

    describe = commands.add_parser(
        "describe",
        help="summarise an event history (default: the shipped sample)",
        description="Print one row per event: peaks, their times and totals.",
    )
    _add_history_arguments(describe)
    describe.add_argument(
        "--interval",
        type=positive_seconds,
        metavar="SECONDS",
        help="resample to this interval first, e.g. 60",
    )
    describe.set_defaults(run=_describe)

    fit = commands.add_parser(
        "fit",
        help="fit the join curve of one past event",
        description="Fit the join curve (negative-binomial MLE) of one event's counts and "
        "print its parameters, standard errors and peak.",
    )
    _add_history_arguments(fit)
    fit.add_argument("--event", required=True, metavar="EVENT_ID", help="the event to fit")
    fit.add_argument(
        "--column",
        default="joins",
        help="measured count column (default joins; requests for a web trace)",
    )
    fit.add_argument(
        "--form",
        choices=["lobby", "plateau"],
        default="lobby",
        help="lobby ramp + flood (default), or plateau + late surge (match traffic)",
    )
    fit.add_argument(
        "-o", "--output", type=csv_output, help="write data, fit and bands per interval (.csv)"
    )
    fit.set_defaults(run=_fit)

    simulate = commands.add_parser(
        "simulate",
        help="simulate the join path at a constant load",
        description="Simulate an FCFS multi-server queue with timeouts and retries and print "
        "its service level; -o writes the per-interval table.",
    )
    simulate.add_argument("--arrival-rate", type=non_negative_rate, required=True, metavar="PER_S")
    simulate.add_argument("--service-time", type=positive_seconds, required=True, metavar="SECONDS")
    simulate.add_argument("--servers", type=servers, required=True)
    simulate.add_argument("--duration", type=positive_seconds, default=600.0, metavar="SECONDS")
    simulate.add_argument("--buffer", type=count, help="waiting room (default: unlimited)")
    simulate.add_argument(
        "--timeout", type=positive_seconds, metavar="SECONDS", help="client timeout"
    )
    simulate.add_argument(
        "--retry",
        choices=["none", "immediate", "backoff"],
        default="none",
        help="what clients do after a refusal or a timeout",
    )
    simulate.add_argument("--seed", type=seed, default=1)
    simulate.add_argument(
        "-o", "--output", type=csv_output, help="write the per-interval table (.csv)"
    )
    simulate.set_defaults(run=_simulate)

    plan = commands.add_parser(
        "plan",
        help="plan an upcoming event: workers and stream servers per minute",
        description="Forecast an upcoming event from its audience signals and the history "
        "(its shape from the most similar past event), size the join path and the stream "
        "servers per minute with every margin on its own line, and write the plan as JSON "
        "(OUT.json) and CSV tables (OUT/). Defaults: the headline event of notebook 03.",
    )
    _add_history_arguments(plan)
    signals = plan.add_mutually_exclusive_group()
    signals.add_argument(
        "--signals",
        type=table_file,
        metavar="FILE",
        help="the event's audience signals: a one-row table (.csv or .parquet)",
    )
    signals.add_argument(
        "--signal",
        nargs=2,
        action="append",
        metavar=("NAME", "VALUE"),
        help="one audience signal, e.g. --signal followers 3e8 (repeat for each)",
    )
    plan.add_argument("--level", type=level, default=0.9, help="forecast level (default 0.9)")
    slo = plan.add_argument_group("service level")
    slo.add_argument(
        "--wait-s", type=non_negative_seconds, default=2.0, help="joins wait under this (s)"
    )
    slo.add_argument(
        "--wait-fraction", type=probability, default=0.99, help="...this share of them"
    )
    slo.add_argument(
        "--max-refused", type=refused_share, default=0.001, help="share refused at most"
    )
    service = plan.add_argument_group("the service")
    service.add_argument("--join-work-s", type=work_seconds, default=0.05, help="work per join (s)")
    service.add_argument("--join-work-scv", type=scv, default=2.0, help="its SCV")
    service.add_argument("--streams-per-server", type=streams_per_server, default=20_000)
    service.add_argument(
        "--timeout-s", type=positive_seconds, default=10.0, help="client timeout (s)"
    )
    margins = plan.add_argument_group("margins")
    margins.add_argument(
        "--attack-rps", type=non_negative_rate, default=5_000.0, help="attack (1/s)"
    )
    margins.add_argument(
        "--zone-loss", type=share, default=1 / 3, help="capacity share lost at once"
    )
    margins.add_argument("--spare", type=workers, default=2, help="N+k spare workers and servers")
    plan.add_argument("--method", choices=METHODS, default="mol")
    plan.add_argument(
        "--validate",
        action="store_true",
        help="check the plan by simulating it: the forecast's curves and the analogue's "
        "real seconds scaled to the forecast (slower)",
    )
    plan.add_argument("--seed", type=seed, default=1, help="randomness of the validation")
    ladder = plan.add_argument_group("provisioning")
    ladder.add_argument(
        "--scheduled-start",
        default=HEADLINE_SCHEDULED_START,
        metavar="TIME",
        help="the event's scheduled start, ISO 8601 with a zone (default: the headline's, "
        f"{HEADLINE_SCHEDULED_START})",
    )
    ladder.add_argument(
        "--fleets",
        type=table_file,
        metavar="FILE",
        help="instance kinds, one row each (.csv or .parquet) with the columns of "
        "capplan.Fleet: name, resource (workers or stream_servers), units_per_instance, "
        "lead_time_s, price_per_hour, and optionally max_added_per_min, min_hold_s, "
        "min_instances, currency (default: notebook 03's join and stream fleets)",
    )
    plan.add_argument(
        "-o",
        "--output",
        default="reports/plan",
        type=_plan_output,
        metavar="OUT",
        help="write OUT.json, the CSV tables in OUT/ and the pre-warm ladder "
        "(OUT/ladder.csv, OUT.ladder.json, OUT.aws-scheduled-actions.json; default "
        "reports/plan)",
    )
    _add_quiet_argument(plan)
    plan.set_defaults(run=_plan)

    assess = commands.add_parser(
        "assess",
        help="the risk of the capacity already there: P(breach) per resource",
        description="Assess the capacity already there against an event's forecast: per "
        "resource (join-path workers, stream servers, a tested concurrency), the probability "
        "that the event exceeds it, the expected excess given a breach, the first minute of "
        "breach on the point and upper scenarios, and what breaks first. The forecast comes "
        "from a saved plan (--plan; its own workers and stream servers unless given) or, "
        "without one, from the history and signals as in `capplan plan` (default: the "
        "headline event of notebook 03, the join path's service as `capplan plan`'s).",
    )
    assess.add_argument(
        "--plan",
        metavar="FILE",
        help="a saved plan (.json, or a directory of CSV tables)",
    )
    _add_history_arguments(assess)
    assess.add_argument(
        "--signal",
        nargs=2,
        action="append",
        metavar=("NAME", "VALUE"),
        help="one audience signal, without --plan (default: the headline event)",
    )
    assess.add_argument("--level", type=level, default=0.9, help="forecast level (no --plan)")
    capacity = assess.add_argument_group("the capacity already there")
    capacity.add_argument(
        "--tested-concurrency", type=positive_amount, metavar="STREAMS", help="e.g. 8e6"
    )
    capacity.add_argument("--workers", type=workers, help="join-path workers (every minute)")
    capacity.add_argument("--stream-servers", type=workers, help="stream servers (every minute)")
    capacity.add_argument(
        "--streams-per-server", type=streams_per_server, help="default: the plan's, else 20,000"
    )
    capacity.add_argument(
        "--attack-rps",
        type=non_negative_rate,
        default=0.0,
        help="requests/s added to the join path",
    )
    assess.add_argument(
        "--simulate",
        action="store_true",
        help="count refused and delayed joins by simulation, not the fluid approximation",
    )
    assess.add_argument("--seed", type=seed, default=1, help="randomness of --simulate")
    assess.add_argument("-o", "--output", type=csv_output, help="write the per-minute table (.csv)")
    assess.set_defaults(run=_assess)

    loadtest = commands.add_parser(
        "loadtest",
        help="write a Locust and a k6 load test of a saved plan's join flood",
        description="Write a Locust locustfile (a LoadTestShape with open-model arrivals) and "
        "a k6 script (ramping-arrival-rate) that send a saved plan's forecast joins per "
        "second, optionally compressed in time and scaled in rate, with the users from "
        "Little's law on the SLO's wait, and their settings.json, profile.csv and README.txt.",
    )
    loadtest.add_argument("plan", help="a saved plan (.json, or a directory of CSV tables)")
    loadtest.add_argument(
        "-o",
        "--output",
        required=True,
        type=_output_directory,
        metavar="DIR",
        help="the directory to write into",
    )
    loadtest.add_argument(
        "--curve", choices=["point", "upper"], default="point", help="forecast curve (point)"
    )
    loadtest.add_argument(
        "--compress", type=float, default=1.0, help="play the window X times faster (1)"
    )
    loadtest.add_argument(
        "--rate-scale", type=float, default=1.0, help="multiply every rate by Y (1)"
    )
    loadtest.add_argument(
        "--window",
        nargs=2,
        type=float,
        metavar=("START_S", "END_S"),
        help="event seconds to play (default: the plan's window)",
    )
    loadtest.add_argument(
        "--headroom", type=float, default=1.5, help="users per busy user (Little's law; 1.5)"
    )
    loadtest.add_argument("--host", metavar="URL", help="the target's base URL, e.g. https://...")
    loadtest.add_argument("--path", default="/join", help="the request's path (/join)")
    loadtest.set_defaults(run=_loadtest)

    report = commands.add_parser(
        "report",
        help="run a notebook and export one self-contained HTML report",
        description="Run a notebook with its parameters (papermill) and write one HTML file "
        "whose charts draw with no network, headed by the data, the parameters, the capplan "
        "version and the date of the run. Default: the headline-event plan into reports/, "
        "without its code (the version to share); --with-code writes the full analysis.",
    )
    report.add_argument(
        "notebook",
        nargs="?",
        help="notebook path, or the name of one of capplan's (see `capplan notebooks`)",
    )
    report.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="a notebook parameter (a Python literal, or text)",
    )
    report.add_argument("-o", "--output", type=html_output, help="the HTML file to write")
    code = report.add_mutually_exclusive_group()
    code.add_argument(
        "--with-code", action="store_true", help="show the code cells: the full analysis"
    )
    # What --no-input asked for is now the default; kept so that scripts still run.
    code.add_argument("--no-input", action="store_true", help=argparse.SUPPRESS)
    _add_quiet_argument(report)
    report.set_defaults(run=_report)

    notebooks = commands.add_parser(
        "notebooks",
        help="copy capplan's notebooks into a folder to edit",
        description="Copy capplan's notebooks (the headline-event plan, the what-ifs, ...) "
        "into DIR, made if missing, for a planner to edit and run: "
        "`capplan report DIR/03_plan_headline_event.ipynb`. Existing notebooks are left "
        "alone unless --force.",
    )
    notebooks.add_argument("directory", metavar="DIR", help="the folder to copy them into")
    notebooks.add_argument(
        "--force", action="store_true", help="overwrite notebooks of the same name in DIR"
    )
    notebooks.set_defaults(run=_notebooks)

    commands.add_parser(
        "aggregate",
        help="count raw request or join logs per interval (DuckDB)",
        add_help=False,
        description="Count log lines per interval; see `capplan aggregate --help`.",
    )

    convert = commands.add_parser(
        "convert",
        help="convert a real public trace into the history format",
        description="Write events.parquet and series.parquet converted from a real trace.",
    )
    convert.add_argument("trace", choices=sorted(CONVERTERS))
    convert.add_argument("source", type=_existing_directory, help="folder of the original trace")
    convert.add_argument(
        "destination", type=_output_directory, help="folder to write the tables into"
    )
    convert.set_defaults(run=_convert)
    return parser


def _add_history_arguments(parser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--history",
        choices=sorted(SHIPPED),
        default="sample",
        help="a shipped history (default: sample)",
    )
    source.add_argument(
        "--events", type=history_table, help="events table, .csv or .parquet (with --series)"
    )
    parser.add_argument(
        "--series", type=history_table, help="series table, .csv or .parquet (with --events)"
    )
    parser.add_argument(
        "--repair",
        action="store_true",
        help="repair what can be repaired (duplicates, gaps) and list it",
    )
    parser.add_argument(
        "--naive-timezone",
        type=_zone,
        metavar="ZONE",
        help="zone of timestamps written without an offset, e.g. UTC",
    )


def _add_quiet_argument(parser) -> None:
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def _history(args) -> capplan.History:
    if args.events or args.series:
        if not (args.events and args.series):
            raise ValueError("--events and --series go together")
        return capplan.load_history(
            args.events, args.series, repair=args.repair, naive_timezone=args.naive_timezone
        )
    return SHIPPED[args.history]()


def _describe(args) -> int:
    history = _history(args)
    if args.interval is not None:
        history = history.resample(args.interval)
    print(history)
    with pd.option_context(
        "display.width",
        200,
        "display.max_columns",
        30,
        "display.max_rows",
        500,
        "display.float_format",
        "{:,.1f}".format,
    ):
        # Columns of what this history did not measure are all NaN: leave them out.
        print(history.summary().drop(columns="name").dropna(axis=1, how="all"))
    if len(history.repairs):
        print("\nRepairs:")
        print(history.repairs.drop(columns="rows").to_string(index=False))
    return 0


def _fit(args) -> int:
    from capplan.models import LobbyFlood, PlateauSurge

    history = _history(args)
    frame = history.event(args.event)
    if args.column not in frame:
        raise ValueError(f"--column {args.column!r} was not measured; measured: {history.measured}")
    form = PlateauSurge() if args.form == "plateau" else LobbyFlood()
    try:
        curve = capplan.fit_join_curve(frame[args.column], form=form)
    except ValueError as error:  # which counts could not be fitted: the model names "joins"
        raise ValueError(f"event {args.event!r}, --column {args.column}: {error}") from error
    print(curve)
    print(curve.peak())
    if args.output:
        _write_csv(args.output, curve.to_frame())
        print(f"wrote {args.output}")
    return 0


def _simulate(args) -> int:
    first_tries = args.arrival_rate * args.duration
    if first_tries > MAX_FIRST_TRIES:
        raise ValueError(
            f"--arrival-rate {args.arrival_rate:g} for --duration {args.duration:g} s is "
            f"{first_tries:.3g} first tries; one run simulates at most {MAX_FIRST_TRIES:.0e}: "
            "shorten --duration (a steady state shows in minutes)"
        )
    retry = {
        "none": capplan.NoRetry(),
        "immediate": capplan.ImmediateRetry(),
        "backoff": capplan.ExponentialBackoff(),
    }[args.retry]
    run = capplan.simulate(
        arrival_rate=args.arrival_rate,
        service_time=args.service_time,
        servers=args.servers,
        duration=args.duration,
        buffer=args.buffer,
        timeout=args.timeout,
        retry=retry,
        seed=args.seed,
    )
    print(run)
    if args.output:
        _write_csv(args.output, run.to_frame())
        print(f"wrote {args.output}")
    return 0


def _plan(args) -> int:
    from capplan.planning.provision import utc_timestamp

    if args.signals:
        signals = _read_table(args.signals)
        if len(signals) != 1:
            raise ValueError(f"{args.signals}: give one event (one row); it has {len(signals)}")
        signals = signals.set_index(signals["name"]) if "name" in signals else signals
    elif args.signal:
        signals = _signals(args.signal)
    else:
        signals = pd.DataFrame(HEADLINE_SIGNALS, index=["headline event"])
    fleets = _fleets(args.fleets)  # bad fleets or times fail before the work, not after
    start = utc_timestamp(args.scheduled_start, "--scheduled-start")
    if args.timeout_s <= args.join_work_s:
        raise ValueError(
            f"--timeout-s {args.timeout_s:g} is not longer than --join-work-s "
            f"{args.join_work_s:g}: clients would give up before a worker could answer"
        )
    service = capplan.JoinService(args.join_work_s, scv=args.join_work_scv)
    slo = capplan.SLO(wait_s=args.wait_s, fraction=args.wait_fraction, max_refused=args.max_refused)
    client = capplan.ClientPolicy(timeout_s=args.timeout_s)
    margins = capplan.Margins(
        attack_rps=args.attack_rps,
        zone_loss=args.zone_loss,
        spare_workers=args.spare,
        spare_stream_servers=args.spare,
    )
    history = _history(args)
    steps = progress_bar(3 + args.validate, "planning", "step", not args.quiet)
    try:
        steps.set_postfix_str("forecast")
        event = capplan.forecast_event(history, signals, level=args.level)
        steps.update()
        steps.set_postfix_str("plan")
        plan = capplan.plan_event(
            event.joins,
            event.sessions,
            service=service,
            streams_per_server=args.streams_per_server,
            slo=slo,
            client=client,
            margins=margins,
            method=args.method,
        )
        steps.update()
        validation = None
        if args.validate:
            steps.set_postfix_str("simulate")
            validation = plan.validate(seed=args.seed)
            steps.update()
        ladder = capplan.provision(plan, fleets, scheduled_start=start)
        risk = capplan.assess(plan, capplan.Capacity.of_plan(plan))
        steps.set_postfix_str("write")
        written = _write_plan(Path(args.output), plan, ladder)
        steps.update()
    except BaseException:
        steps.leave = False  # the bar cleared: a refusal is a line of its own
        steps.close()
        raise
    steps.close()
    print(capplan.briefing(plan, forecast=event, ladder=ladder, risk=risk))
    print()
    print(event)
    print()
    print(plan)
    print()
    print(ladder)
    if validation is not None:
        print()
        print(validation)
        print("\nShare of intervals meeting the SLO, by scenario:")
        for name, row in validation.summary().iterrows():
            print(f"  {name} ({row['source']}): {row['share_meeting_slo']:.1%}")
    print("\nwrote " + ", ".join(map(str, written)))
    return 0


def _assess(args) -> int:
    from capplan.planning.assess import Capacity, assess

    given = {
        "workers": args.workers,
        "stream_servers": args.stream_servers,
        "streams_per_server": args.streams_per_server,
        "tested_concurrency": args.tested_concurrency,
    }
    given = {k: v for k, v in given.items() if v is not None}
    if args.plan:
        if args.signal:
            raise ValueError("--signal applies without --plan (a plan has its forecast)")
        source = _load_plan(args.plan)
        capacity = Capacity.of_plan(source, **given)
        options = {}
    else:
        if not given or set(given) == {"streams_per_server"}:
            raise ValueError(
                "without --plan, give the capacity: --tested-concurrency, --workers or "
                "--stream-servers"
            )
        if "stream_servers" in given:
            given.setdefault("streams_per_server", 20_000.0)
        capacity = Capacity(**given)
        signals = (
            _signals(args.signal)
            if args.signal
            else pd.DataFrame(HEADLINE_SIGNALS, index=["headline event"])
        )
        source = capplan.forecast_event(_history(args), signals, level=args.level)
        options = {
            "service": capplan.JoinService(0.05, scv=2.0),
            "client": capplan.ClientPolicy(timeout_s=10.0),
        }
    result = assess(
        source,
        capacity,
        attack_rps=args.attack_rps,
        method="simulate" if args.simulate else "fluid",
        seed=args.seed,
        **options,
    )
    print(result)
    if args.output:
        _write_csv(args.output, result.to_frame(), index=False)
        print(f"wrote {args.output}")
    return 0


def _loadtest(args) -> int:
    from capplan.loadtest import write_loadtest

    plan = _load_plan(args.plan)
    written = write_loadtest(
        plan,
        args.output,
        host=args.host,
        path=args.path,
        curve=args.curve,
        compress=args.compress,
        rate_scale=args.rate_scale,
        window_s=args.window,
        headroom=args.headroom,
    )
    print("wrote " + ", ".join(map(str, written)))
    return 0


# What a fleet's numbers can be on the command line: an instance holds at least one worker
# or stream server, and capacity takes minutes to hours to arrive, not years.
FLEET_BOUNDS = {
    "units_per_instance": (1, 1e6),
    "lead_time_s": (0, 7 * 86_400),
    "price_per_hour": (0, 1e6),
    "max_added_per_min": (1, MAX_COUNT),
    "min_hold_s": (0, 7 * 86_400),
    "min_instances": (0, MAX_COUNT),
}
MAX_SIGNAL = 1e15


def _signals(pairs) -> dict:
    """--signal NAME VALUE pairs: each a finite number (an audience count, a share...)."""
    signals = {}
    for name, text in pairs:
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"--signal {name}: the value must be a number; got {text!r}") from None
        if not math.isfinite(value) or abs(value) > MAX_SIGNAL:
            raise ValueError(
                f"--signal {name}: the value must be a finite number of at most "
                f"{MAX_SIGNAL:.0e}; got {text!r}"
            )
        if name in signals:
            raise ValueError(f"--signal {name} is given twice")
        signals[name] = value
    return signals


def _fleets(path: str | None) -> list:
    """The instance kinds: a table of capplan.Fleet's fields, or notebook 03's."""
    if path is None:
        return [capplan.Fleet(**row) for row in HEADLINE_FLEETS]
    table = _read_table(path)
    if table.empty:
        raise ValueError(f"{path}: no fleets (give one row per instance kind)")
    fleets = []
    for i, row in enumerate(table.to_dict("records")):
        given = {k: v for k, v in row.items() if not (isinstance(v, float) and math.isnan(v))}
        for name, (low, high) in FLEET_BOUNDS.items():
            value = given.get(name)
            if isinstance(value, Real) and not isinstance(value, bool) and not low <= value <= high:
                raise ValueError(
                    f"{path}, row {i + 1}: {name} must be from {low:g} to {high:g}; got {value!r}"
                )
        try:
            for name in ("max_added_per_min", "min_instances"):
                value = given.get(name)
                if isinstance(value, float) and value.is_integer():
                    given[name] = int(value)
            fleets.append(capplan.Fleet(**given))
        except TypeError as error:
            raise ValueError(f"{path}, row {i + 1}: {error}; columns are Fleet's fields") from error
        except ValueError as error:
            raise ValueError(f"{path}, row {i + 1}: {error}") from error
    return fleets


def _write_plan(out: Path, plan, ladder) -> list[Path]:
    """OUT.json, the CSV tables in OUT/ with the ladder, OUT.ladder.json and the AWS
    scheduled actions, renamed into place together once all of them are written."""
    paths = [out.with_name(out.name + end) for end in PLAN_FILES]
    actions = {
        "ScheduledUpdateGroupActions": ladder.aws_scheduled_actions(
            {f.name: f"{f.name}-asg" for f in ladder.fleets}
        )
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.partial-") as folder:
        tables = Path(folder) / "tables"
        plan.save(tables, format="csv")
        ladder.to_csv(tables / "ladder.csv")
        names = sorted(p.name for p in tables.iterdir() if p.is_file())
        folders = [str(p) for p in (*paths, *(out / n for n in names)) if p.is_dir()]
        if folders:  # found now, not when the first files were already renamed into place
            raise ValueError(f"{', '.join(folders)}: a folder where the plan writes a file")
        with staged(*paths, *(out / name for name in names)) as temporaries:
            plan.save(temporaries[0], format="json")
            ladder.to_json(temporaries[1])
            _dump_json(temporaries[2], actions)
            out.mkdir(exist_ok=True)
            for name, temporary in zip(names, temporaries[len(paths) :], strict=True):
                os.replace(tables / name, temporary)
    if "observed.csv" not in names:
        (out / "observed.csv").unlink(missing_ok=True)  # an earlier plan's, not this one's
    return [paths[0], out, out / "ladder.csv", *paths[1:]]


def _write_csv(path, frame: pd.DataFrame, **options) -> Path:
    """`frame` as CSV at `path`, renamed into place only once it is whole."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with staged(path) as (temporary,):
        frame.to_csv(temporary, **options)
    return path


def _dump_json(path: Path, value) -> None:
    path.write_text(json.dumps(value, indent=2) + "\n")


def _load_plan(path: str):
    """A saved plan, or a ValueError naming the file (a plan that is not one: another
    JSON document, a table with other columns)."""
    if not str(path).strip():
        raise ValueError("no saved plan given (an empty argument)")
    where = Path(path)
    if not where.exists():
        raise FileNotFoundError(f"no saved plan at {path}")
    if not where.is_dir() and where.suffix.lower() != ".json":
        raise ValueError(f"{path}: give a saved plan, a .json file or a directory of CSV tables")
    try:
        return capplan.load_plan(path)
    except OSError:
        raise
    except KeyError as error:  # a JSON document without a plan's parts
        raise ValueError(f"{path} is not a capplan plan (it has no {error})") from None
    except (ValueError, IndexError, AttributeError, TypeError) as error:
        # What a file that is not a plan's makes the reader fail with.
        if str(path) in str(error):
            raise ValueError(one_line(error)) from None
        raise ValueError(f"{path} is not a capplan plan ({one_line(error)})") from None


def _read_table(path: str) -> pd.DataFrame:
    """A CSV or Parquet table, by its suffix."""
    suffix = Path(path).suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise ValueError(f"{path}: give a .csv or .parquet table")
    try:
        if suffix == ".csv":
            return pd.read_csv(path)
        return pd.read_parquet(path)
    except OSError:
        raise
    except Exception as error:  # pandas' and pyarrow's parsers: the file is not a table
        kind = "CSV" if suffix == ".csv" else "Parquet"
        raise ValueError(f"{path}: not a readable {kind} table ({one_line(error)})") from None


def _report(args) -> int:
    from capplan.report import IRI_GRAMMARS, build_report, parse_value

    sys.modules.setdefault(IRI_GRAMMARS, None)  # this process is the report's alone

    parameters = {name: parse_value(value) for name, value in args.parameter}
    path = build_report(
        args.notebook,
        args.output,
        parameters,
        with_code=args.with_code,
        progress=not args.quiet,
    )
    print(f"wrote {path}")
    return 0


def _notebooks(args) -> int:
    from capplan.report import DEFAULT_NOTEBOOK, copy_notebooks

    if not args.directory.strip():  # an unset variable, not the current folder
        print("capplan notebooks: error: no folder given (an empty argument)", file=sys.stderr)
        return 2
    try:
        paths = copy_notebooks(args.directory, force=args.force)
    except (FileExistsError, NotADirectoryError) as error:
        message = str(error).replace("force=True", "--force")
        print(f"capplan notebooks: error: {message}", file=sys.stderr)
        return 2
    except OSError as error:  # a folder that cannot be made or written
        print(f"capplan notebooks: error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {len(paths)} notebooks to {args.directory}: " + ", ".join(p.name for p in paths))
    if any(p.name == DEFAULT_NOTEBOOK for p in paths):
        print(f"run one with: capplan report {Path(args.directory) / DEFAULT_NOTEBOOK}")
    return 0


def _convert(args) -> int:
    paths = CONVERTERS[args.trace].write(args.source, args.destination)
    print("wrote " + ", ".join(map(str, paths)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
