"""The adaptive quiet window that ends mc discovery with --dq (a pure function of the reply times)."""

from __future__ import annotations

import pytest

from pymco.config import Config
from pymco.discovery.ending import QuietWindow, plan


def quiet_after(quiet: float | None, sent: float, first: float, last: float, count: int, **settings: str) -> float:
    """The window after the last of `count` evenly spaced replies, as `--dq quiet` with these settings."""
    config = Config(path=None, mode="client")
    for key, value in settings.items():
        config.set(key, value)
    ending = plan(config, 2.0, False, quiet).ending()
    assert isinstance(ending, QuietWindow)
    ending.start(sent)
    for i in range(count):
        ending.seen(f"n{i}", first + (last - first) * i / max(1, count - 1))
    end = ending.end_at()
    assert end is not None
    return end - last


def test_fast_burst_shrinks_to_the_floor():
    # 100 replies 1 ms apart, the first 20 ms after the request: 0.1 s floor
    assert quiet_after(0.5, 0.0, 0.020, 0.119, 100) == pytest.approx(0.1)


def test_slow_trickle_widens_up_to_the_cap():
    assert quiet_after(0.5, 0.0, 0.01, 0.04, 4) == pytest.approx(0.1)
    assert quiet_after(0.5, 0.0, 0.01, 0.31, 4) == pytest.approx(0.5)  # 10 x 0.1 s gap, capped
    assert quiet_after(2.0, 0.0, 0.01, 0.31, 4) == pytest.approx(1.0)


def test_far_away_nodes_get_at_least_the_first_round_trip():
    assert quiet_after(0.5, 0.0, 0.3, 0.3, 1) == pytest.approx(0.3)


def test_settings_and_an_explicit_smaller_window():
    tuned = {"discovery_quiet_min": "0.5", "discovery_quiet_factor": "2"}
    assert quiet_after(0.5, 0.0, 0.01, 0.02, 2, **tuned) == pytest.approx(0.5)  # the old fixed 0.5 s window
    assert quiet_after(0.05, 0.0, 0.01, 0.02, 2) == pytest.approx(0.05)  # --dq 0.05 wins


def test_the_config_window_applies_without_dq():
    assert quiet_after(None, 0.0, 0.01, 0.02, 2, discovery_quiet_window="0.3") == pytest.approx(0.1)
