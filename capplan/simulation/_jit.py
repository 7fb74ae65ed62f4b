"""numba's ``njit`` when numba is installed; otherwise the same functions run as
plain Python (identical results, about a hundred times slower) and
:func:`simulate` warns once with :class:`SlowSimulationWarning`."""

from __future__ import annotations

try:
    from numba import njit as _numba_njit

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - exercised only without numba
    _numba_njit = None
    HAVE_NUMBA = False


def njit(function):
    """Compile ``function`` with ``numba.njit(cache=True, nogil=True)`` if numba is there.

    Without the GIL, simulations in threads run on all cores (plan validation does so).
    """
    if _numba_njit is None:  # pragma: no cover
        return function
    return _numba_njit(cache=True, nogil=True)(function)
