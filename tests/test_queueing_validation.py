"""Bad input raises ValueError naming the argument and the value."""

import numpy as np
import pytest

from capplan.queueing import erlang_a, erlang_b, erlang_c, ggc_mean_wait, mmc, mmck


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: erlang_b(-1, 2.0), "servers"),
        (lambda: erlang_b(2.5, 2.0), "servers"),
        (lambda: erlang_b([3, 4.5], 2.0), "servers"),
        (lambda: erlang_b(np.nan, 2.0), "servers"),
        (lambda: erlang_b(True, 2.0), "servers"),
        (lambda: erlang_b(3, -0.1), "load"),
        (lambda: erlang_c(3, np.nan), "load"),
        (lambda: erlang_c(3, np.inf), "load"),
        (lambda: erlang_c(3, "many"), "load"),
        (lambda: mmc(3, -1.0, 1.0), "arrival_rate"),
        (lambda: mmc(3, 1.0, 0.0), "mean_service_time"),
        (lambda: mmck(0, 3, 1.0), "servers"),
        (lambda: mmck(3, 2, 1.0), "capacity"),
        (lambda: mmck([3, 4], [5, 3], 1.0), "capacity"),
        (lambda: mmck(3, 5, 1.0, mean_service_time=-2.0), "mean_service_time"),
        (lambda: erlang_a(0, 1.0, 1.0, 1.0), "servers"),
        (lambda: erlang_a(2, 1.0, 1.0, 0.0), "mean_patience"),
        (lambda: erlang_a(2, 1.0, 1.0, 1.0).wait_tail(-1.0), "t"),
        (lambda: ggc_mean_wait(2, 1.0, 1.0, service_scv=-1.0), "service_scv"),
    ],
)
def test_bad_input_names_the_argument(call, name):
    with pytest.raises(ValueError, match=rf"^{name}\b"):
        call()


def test_message_shows_value_and_index():
    with pytest.raises(ValueError, match=r"servers must be a whole number >= 0; got 4\.5 at"):
        erlang_b([3, 4.5], 2.0)
    with pytest.raises(ValueError, match=r"capacity=2 < servers=3"):
        mmck(3, 2, 1.0)
