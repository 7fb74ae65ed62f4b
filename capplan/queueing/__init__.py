"""Queueing formulas and staffing: pure, vectorised functions of numbers and arrays.

Times are in seconds, rates per second, loads in Erlangs (arrival rate times mean
service time). Every function broadcasts over all its arguments and is evaluated in
log space, exact to about 1e-14 relative up to ten million servers. The arithmetic is
compiled (numba, loaded on the first call): a call on plain numbers takes a few
microseconds, an array runs the same code element by element.

- :func:`erlang_b`, :func:`erlang_c`: loss and delay probabilities.
- :func:`mmc`: M/M/c waits, queue length, tail and service level.
- :func:`mmck`: M/M/c/K with a finite waiting room (any load).
- :func:`erlang_a`: M/M/c+M with exponential patience (abandonment).
- :func:`ggc_mean_wait`: Allen-Cunneen approximation for G/G/c.
- :func:`servers_for`: least server count meeting a target, for one load or arrays.
"""

# The special functions in array form, and the Temme table the kernels use (the tests
# check them by module name).
from . import _incgamma, _poisson, _temme_coeffs  # noqa: F401
from .approx import ggc_mean_wait
from .erlang import MMc, erlang_b, erlang_c, mmc
from .erlang_a import ErlangA, erlang_a
from .metastability import Metastability, metastability
from .mmck import MMcK, mmck
from .staffing import Staffing, servers_for

__all__ = [
    "ErlangA",
    "MMc",
    "MMcK",
    "Metastability",
    "Staffing",
    "erlang_a",
    "erlang_b",
    "erlang_c",
    "ggc_mean_wait",
    "metastability",
    "mmc",
    "mmck",
    "servers_for",
]
