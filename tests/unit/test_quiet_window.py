"""The adaptive quiet window that ends mc discovery (a pure function of the reply times)."""

from __future__ import annotations

import pytest

from pymco.client.session import Session
from pymco.config import Config


def session(**settings: str) -> Session:
    config = Config(path=None, mode="client")
    for key, value in settings.items():
        config.set(key, value)
    return Session(config)


def test_fast_burst_shrinks_to_the_floor():
    # 100 replies 1 ms apart, the first 20 ms after the request: 0.1 s floor
    assert session().quiet_after(0.5, 0.0, 0.020, 0.119, 100) == pytest.approx(0.1)


def test_slow_trickle_widens_up_to_the_cap():
    assert session().quiet_after(0.5, 0.0, 0.01, 0.04, 4) == pytest.approx(0.1)
    assert session().quiet_after(0.5, 0.0, 0.01, 0.31, 4) == pytest.approx(0.5)  # 10 x 0.1 s gap, capped
    assert session().quiet_after(2.0, 0.0, 0.01, 0.31, 4) == pytest.approx(1.0)


def test_far_away_nodes_get_at_least_the_first_round_trip():
    assert session().quiet_after(0.5, 0.0, 0.3, 0.3, 1) == pytest.approx(0.3)


def test_settings_and_an_explicit_smaller_window():
    tuned = session(discovery_quiet_min="0.5", discovery_quiet_factor="2")
    assert tuned.quiet_after(0.5, 0.0, 0.01, 0.02, 2) == pytest.approx(0.5)  # the old fixed 0.5 s window
    assert session().quiet_after(0.05, 0.0, 0.01, 0.02, 2) == pytest.approx(0.05)  # --dq 0.05 wins
