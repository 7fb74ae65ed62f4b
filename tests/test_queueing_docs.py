"""The runnable Examples in the queueing docstrings, and the M/D/1 check of Allen-Cunneen."""

import doctest
import importlib

import pytest

from capplan.queueing import ggc_mean_wait, mmc

MODULES = ["erlang", "mmck", "erlang_a", "approx", "staffing"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"capplan.queueing.{name}")
    failed, tried = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert tried > 0 and failed == 0


def test_allen_cunneen_is_exact_for_mg1():
    # Pollaczek-Khinchine: Wq = rho tau (1 + cs2) / (2 (1 - rho)) for M/G/1.
    lam, tau, cs2 = 0.7, 1.3, 0.4
    rho = lam * tau
    pk = rho * tau * (1 + cs2) / (2 * (1 - rho))
    assert ggc_mean_wait(1, lam, tau, service_scv=cs2) == pytest.approx(pk, rel=1e-14)
    assert ggc_mean_wait(5, 4.0, 1.0) == pytest.approx(mmc(5, 4.0, 1.0).mean_wait, rel=1e-15)
