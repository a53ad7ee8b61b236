"""The deafness probe's bookkeeping (server/probe.py), over a loopback stand-in for the broker.

The real broker path (a queue deleted with rabbitmqctl, the daemon recovering)
is tested in tests/integration/test_rabbitmq_cluster.py.
"""

from __future__ import annotations

from pymco.config import Config
from pymco.server.probe import DeafnessProbe, probe_agent
from pymco.server.stats import RunnerStats


class Loopback:
    """Delivers what is published back to the probe, except on the paths marked lost."""

    multiplex = False
    self_probe = True

    def __init__(self) -> None:
        self.probe: DeafnessProbe | None = None
        self.lost: set[str] = set()
        self.sent: list[tuple[str, str, list[str] | None]] = []
        self.payloads: list[bytes] = []
        self.subscribed: list[tuple[str, str]] = []

    def subscribe_agent(self, agent: str, collective: str) -> None:
        self.subscribed.append((agent, collective))

    def reply_address(self, agent: str, collective: str) -> str:
        return f"/temp-queue/{agent}"

    def publish_request(self, payload, agent, collective, reply_to, ttl, nodes=None):
        path = "directed" if nodes else "broadcast"
        self.sent.append((path, agent, nodes))
        self.payloads.append(payload)
        if path not in self.lost:
            self.probe.heard(payload)



def make(multiplex: bool = False, **settings: str) -> tuple[DeafnessProbe, Loopback]:
    config = Config()
    for key, value in {"identity": "n1.example.com", "collectives": "c1", "main_collective": "c1",
                       "probe_timeout": "0.2", **settings}.items():
        config.set(key, value)
    connector = Loopback()
    connector.multiplex = multiplex
    probe = DeafnessProbe(config, connector, RunnerStats())
    connector.probe = probe
    return probe, connector


def test_a_round_trip_on_both_paths_is_not_deaf():
    probe, connector = make()
    probe.start()
    probe.stop()  # subscribed; the loop ends at once
    assert connector.subscribed == [("pymco_probe_n1.example.com", "c1")]
    assert probe.round() == []
    assert [(p, n) for p, _, n in connector.sent] == [("directed", ["n1.example.com"]), ("broadcast", None)]
    assert {agent for _, agent, _ in connector.sent} == {probe_agent("n1.example.com")}


def test_the_path_that_lost_its_probe_is_named():
    probe, connector = make()
    connector.lost = {"broadcast"}
    assert probe.round() == ["broadcast"]
    connector.lost = set()
    assert probe.round() == []  # a new round, a new serial: the old miss is forgotten


def test_another_process_or_a_late_probe_does_not_count():
    probe, connector = make()
    other, _ = make()
    connector.lost = {"directed", "broadcast"}
    assert probe.round() == ["directed", "broadcast"]
    late = connector.payloads[-1]  # the last round's broadcast probe, arriving after its timeout
    connector.lost = {"directed"}
    probe._serial += 1  # as round() does, so that what arrives now is for this round
    probe.heard(late)
    probe.heard(b"pymco-deafness-probe " + other._token + b" directed %d" % probe._serial)
    probe.heard(b"pymco-deafness-probe junk")
    assert probe._heard == set()


def test_multiplexed_connectors_get_only_the_directed_probe():
    probe, connector = make(multiplex=True)
    probe.start()
    probe.stop()  # subscribed; the loop ends at once
    assert connector.subscribed == [] and probe.round() == []
    assert [p for p, _, _ in connector.sent] == ["directed"]


def test_off_with_interval_0():
    probe, _ = make(probe_interval="0")
    assert not probe.enabled


def test_a_connector_without_self_probe_is_not_probed():
    probe, connector = make()
    assert probe.enabled
    connector.self_probe = False  # NATS
    assert not probe.enabled
    probe.start()
    assert connector.subscribed == []
