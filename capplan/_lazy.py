"""Public names imported on first use (PEP 562), for the packages that gather many.

``import capplan`` then costs a tenth of a second instead of seconds: scipy.stats,
statsmodels and numba load when a name that needs them is first used, and a command
that needs only part of capplan loads only that part.
"""

from __future__ import annotations

import importlib
import sys


def attach(package: str, exports: dict[str, list[str]]):
    """``(__getattr__, __dir__, __all__)`` for ``package``, whose public names are
    ``exports``' values, each defined in the module that is its key."""
    module_of = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str):
        module = module_of.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)  # the next lookup is a plain attribute
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *module_of})

    return __getattr__, __dir__, sorted(module_of)
