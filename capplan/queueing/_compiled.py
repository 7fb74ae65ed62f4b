"""The compiled kernels (:mod:`._kernels`), loaded on the first call that computes.

``import capplan.queueing`` imports neither numba nor the kernels; the first formula
call does, and then numba loads the machine code it cached on disk (tens of
milliseconds), or compiles it the first time after an install or an edit (seconds).
"""

from __future__ import annotations

import numpy as np

kernels = None  # the module once loaded; callers write ``_compiled.kernels or load()``


def load():
    """Import :mod:`._kernels` (and numba) and keep it in :data:`kernels`."""
    global kernels
    from . import _kernels

    kernels = _kernels
    return kernels


def run_many(name: str, *arrays, outputs: int = 0) -> np.ndarray:
    """Apply the array kernel ``name`` element by element over the broadcast arrays.

    The arrays (already validated, int64 or float64) are broadcast to one shape and
    copied flat and contiguous, so each kernel is compiled for one layout. Returns an
    array of that shape, or of shape ``(outputs, *shape)`` for kernels with several
    results.
    """
    shape = np.broadcast_shapes(*(np.shape(a) for a in arrays))
    flat = [np.array(np.broadcast_to(a, shape), order="C").reshape(-1) for a in arrays]
    size = flat[0].size if flat else 1
    out = np.empty((outputs, size) if outputs else size)
    getattr(kernels or load(), name)(*flat, out)
    return out.reshape((outputs, *shape) if outputs else shape)
