"""Shared fixtures: a `cluster` per test module on the real broker.

Nothing is mocked here.  A missing broker, facter or Ruby MCollective makes
the fixtures fail (never skip): CI must prove the real parts work.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from tests.support import puppetserver
from tests.support.cluster import Cluster, Transport
from tests.support.private_nats import PrivateNats

#: The system's nats-server (a service on this machine kind, like RabbitMQ).
SYSTEM_NATS = "nats://127.0.0.1:4222"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test module listing `TRANSPORTS` runs once per broker kind named there."""
    names = getattr(metafunc.module, "TRANSPORTS", None)
    if names and "transport" in metafunc.fixturenames:
        metafunc.parametrize("transport", names, indirect=True, scope="module")

# the run fails when a daemon or broker it started outlives it
pytest_plugins = ["tests.support.leaks"]


_OWN_RUN_DIR = pytest.StashKey[Path]()


@pytest.fixture(scope="module")
def transport(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Transport]:
    """`rabbitmq` (default), `nats` (the system's server) or `nats-cluster` (3 private routed servers)."""
    name = getattr(request, "param", "rabbitmq")
    if name == "nats-cluster":
        private = PrivateNats(tmp_path_factory.mktemp("nats-cluster")).start()
        yield Transport("nats", private.urls)
        private.stop()
    elif name == "nats":
        yield Transport("nats", [SYSTEM_NATS])
    else:
        yield Transport()


@pytest.fixture(scope="module")
def cluster_factory(tmp_path_factory: pytest.TempPathFactory, transport: Transport) -> Iterator:
    made: list[Cluster] = []

    def make(collectives: list[str] | None = None, name: str = "cluster", on: Transport | None = None) -> Cluster:
        cluster = Cluster(tmp_path_factory.mktemp(name), collectives, on or transport)
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


def pytest_configure(config: pytest.Config) -> None:
    """In the controller: the run-wide folder where once-per-run servers keep their state (xdist workers
    inherit it through the environment).  A PYMCO_TEST_RUN_DIR set by the caller is used as it is and
    its servers are not stopped here (see tests/support/puppetserver.py: keeping a server across runs)."""
    if hasattr(config, "workerinput") or os.environ.get(puppetserver.RUN_DIR_ENV):
        return
    base = Path(tempfile.mkdtemp(prefix="pymco-run-"))
    base.chmod(0o755)  # the Puppet Server runs as user `puppet`
    os.environ[puppetserver.RUN_DIR_ENV] = str(base)
    os.environ[puppetserver.RUN_PID_ENV] = str(os.getpid())
    config.stash[_OWN_RUN_DIR] = base


def pytest_sessionfinish(session: pytest.Session) -> None:
    """In the controller, after every worker has finished (and before tests/support/leaks.py looks for
    survivors): stop the run's servers and remove their files."""
    base = session.config.stash.get(_OWN_RUN_DIR, None)
    if base is None:
        return
    os.environ.pop(puppetserver.RUN_DIR_ENV, None)
    puppetserver.stop_all(base)
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def puppet_server() -> puppetserver.PuppetServer:
    """The run's private Puppet Server (started by the first worker that needs it)."""
    return puppetserver.shared_server()
