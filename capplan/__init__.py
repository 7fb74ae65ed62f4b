"""capplan: capacity planning for headline live events.

Fit traffic-spike and queueing models to past events and size the join
path and the stream servers of the next one. Times are seconds, rates are
per second, timestamps are UTC.
"""

from importlib.metadata import PackageNotFoundError, version

from capplan.data import History, load_history, sample_history, worldcup98_history

try:
    __version__ = version("capplan")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0+unknown"

__all__ = [
    "History",
    "__version__",
    "load_history",
    "sample_history",
    "worldcup98_history",
]
