"""Shared fixtures: a `cluster` per test module on the real broker.

Nothing is mocked here.  A missing broker, facter or Ruby MCollective makes
the fixtures fail (never skip): CI must prove the real parts work.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from tests.support.cluster import Cluster

# the run fails when a daemon or broker it started outlives it
pytest_plugins = ["tests.support.leaks"]


@pytest.fixture(scope="module")
def cluster_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    made: list[Cluster] = []

    def make(collectives: list[str] | None = None, name: str = "cluster") -> Cluster:
        cluster = Cluster(tmp_path_factory.mktemp(name), collectives)
        made.append(cluster)
        return cluster

    yield make
    for cluster in made:
        cluster.stop()


@pytest.fixture(scope="module")
def cluster(cluster_factory) -> Cluster:  # type: ignore[no-untyped-def]
    return cluster_factory()


@pytest.fixture
def repo() -> Path:
    return Path(__file__).resolve().parents[1]
