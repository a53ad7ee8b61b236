"""Issue 2: hostile or broken messages are logged, counted and dropped; the daemon keeps serving."""

from __future__ import annotations

import json
import time

import pytest

from pymco.config import Config
from pymco.connector.stomp_import import stomp
from pymco.protocol import marshal
from pymco.protocol.marshal import Symbol
from pymco.protocol.message import Request, rpc_body
from pymco.security.psk import PskSecurity
from tests.support.cluster import BROKER, PSK, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def node(cluster):
    node = cluster.add_node("robust01")
    cluster.wait()
    return node


@pytest.fixture(scope="module")
def raw(cluster):
    conn = stomp.Connection12([(BROKER["host"], BROKER["port"])], vhost=BROKER["vhost"], auto_decode=False)
    conn.connect(BROKER["user"], BROKER["password"], wait=True)
    yield conn
    conn.disconnect()


def stats(cluster):
    result = cluster.mco("rpc", "rpcutil", "daemon_stats", "-I", "robust01", "--json")
    assert result.rc == 0, result
    return json.loads(result.out)[0]["data"]


def encoded(psk, collective, **changes):
    config = Config(settings={"identity": "rawclient"}, pluginconf={"psk": psk})
    request = Request(agent="rpcutil", collective=collective, body=rpc_body("rpcutil", "ping", "uid=0", {}),
                      filter={"agent": ["rpcutil"]}, callerid="uid=0")
    for key, value in changes.items():
        setattr(request, key, value)
    return PskSecurity(config, client=True).encode_request(request)


def send(raw, cluster, payload):
    raw.send(f"/exchange/{cluster.collective}_directed/robust01", payload,
             headers={"reply-to": "/temp-queue/mcollective_reply_rpcutil", "expiration": "70000"})


def test_garbage_is_dropped_and_counted(cluster, node, raw):
    before = stats(cluster)
    send(raw, cluster, b"this is not marshal")
    send(raw, cluster, b"\x04\x08[\x06" * 200)  # deeply nested
    send(raw, cluster, marshal.dumps({Symbol("body"): b"\x04\x08T", Symbol("hash"): "x"}))
    wait_for(lambda: stats(cluster)["dropped"] + stats(cluster)["unvalidated"]
             >= before["dropped"] + before["unvalidated"] + 3)
    assert "Traceback" not in node.log()
    assert node.proc.poll() is None


def test_wrong_key_is_refused_and_counted(cluster, node, raw):
    before = stats(cluster)["unvalidated"]
    send(raw, cluster, encoded("not-the-key", cluster.collective))
    wait_for(lambda: stats(cluster)["unvalidated"] > before)
    assert "invalid signature" in node.log()


def test_expired_request_is_refused_and_counted(cluster, node, raw):
    before = stats(cluster)["ttlexpired"]
    send(raw, cluster, encoded(PSK, cluster.collective, msgtime=int(time.time()) - 600, ttl=60))
    wait_for(lambda: stats(cluster)["ttlexpired"] > before)
    assert "Rejecting message" in node.log()


def test_oversized_message_is_dropped(cluster, node, raw):
    before = stats(cluster)["dropped"]
    send(raw, cluster, b"x" * (2 * 1024 * 1024 + 10))
    wait_for(lambda: stats(cluster)["dropped"] > before)
    assert "larger than max_message_size" in node.log()


def test_raw_request_failing_the_ddl_gets_status_4(cluster, node):
    # bypass the client's validation by calling the library with a bad argument
    from pymco.client.rpc import CallOptions, RPCClient
    from pymco.client.session import Session
    from pymco.config import load_config
    from pymco.matcher.filter import Filter

    session = Session(load_config(str(cluster.client_config), mode="client"))
    try:
        flt = Filter()
        flt.add_identity("robust01")
        client = RPCClient(session, "rpcutil", None, CallOptions(filter=flt, timeout=5))
        replies = []
        client.call("get_fact", {"fact": "a;b`"}, on_result=replies.append)
    finally:
        session.close()
    [reply] = replies
    assert reply.statuscode == 4
    assert reply.statusmsg.startswith("Cannot validate input fact")


def test_daemon_still_serves(cluster, node):
    result = cluster.mco("rpc", "rpcutil", "ping", "-I", "robust01")
    assert result.rc == 0, result
