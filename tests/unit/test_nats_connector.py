"""Issue 17, pure logic: the nats connector's settings and subject layout.

No broker here; the real paths (failover, permissions, TLS) are in
tests/integration against nats-server.
"""

from __future__ import annotations

import os

import pytest

from pymco.config import Config
from pymco.connector.nats import NatsConnector
from pymco.errors import ConfigError


def make(identity: str = "web1.example.com", **plugin: str) -> NatsConnector:
    config = Config(path=None, mode="server")
    config.pluginconf.update({"nats.servers": "nats://127.0.0.1:4222"})
    config.pluginconf.update({key.replace("__", "."): value for key, value in plugin.items()})
    return NatsConnector(config, identity, daemon=True)


def test_servers_default_scheme_and_port():
    connector = make(nats__servers="b1, nats://b2:4333 ,tls://b3")
    assert connector.servers == ["nats://b1:4222", "nats://b2:4333", "tls://b3:4222"]


@pytest.mark.parametrize("servers, message", [
    ("", "plugin.nats.servers is not set"),
    ("stomp://b1:61613", "is not a nats://host:port"),
    ("nats://b1:port", "bad port"),
])
def test_bad_servers_are_config_errors(servers, message):
    with pytest.raises(ConfigError, match=message):
        make(nats__servers=servers)


def test_identity_must_fit_a_subject():
    with pytest.raises(ConfigError, match="cannot be part of a NATS subject"):
        make("web 1")


def test_missing_tls_file_names_the_setting():
    with pytest.raises(ConfigError, match="plugin.nats.ssl.cert: /nonexistent.pem does not exist"):
        make(nats__servers="tls://b1:4222", nats__ssl__cert="/nonexistent.pem")


def test_reply_subjects_are_per_client_process_and_request():
    connector = make("client.example.com")
    first = connector.reply_target("rpcutil", "mcollective")
    second = connector.reply_target("rpcutil", "mcollective")
    base = f"mcollective.reply.client_example_com_{os.getpid()}"
    assert (first, second) == (f"{base}.1", f"{base}.2")
    assert list(connector._subs) == [f"{base}.*"]  # one wildcard subscription per collective, kept


def test_daemon_subjects_follow_choria():
    connector = make("web1.example.com")
    connector.subscribe_agent("rpcutil", "eu")
    connector.subscribe_directed("eu")
    assert list(connector._subs) == ["eu.broadcast.agent.rpcutil", "eu.node.web1.example.com"]
    connector.unsubscribe_agent("rpcutil", "eu")
    assert list(connector._subs) == ["eu.node.web1.example.com"]
