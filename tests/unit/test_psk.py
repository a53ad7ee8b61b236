"""The psk provider: MCollective's envelope and MD5 hash."""

from __future__ import annotations

import pytest

from pymco.config import Config
from pymco.errors import DecodeError, SecurityValidationFailed
from pymco.protocol import marshal
from pymco.protocol.marshal import Symbol
from pymco.protocol.message import Reply, Request, rpc_body
from pymco.security.psk import PskSecurity
from tests.unit.test_marshal import CAPTURED_REPLY, CAPTURED_REQUEST


def provider(psk="anchor-psk-secret", identity="client1"):
    config = Config(settings={"identity": identity}, pluginconf={"psk": psk})
    return PskSecurity(config, client=True)


def test_decodes_captured_ruby_request_and_reply():
    psk = provider()
    request = psk.decode_request(CAPTURED_REQUEST)
    assert (request.agent, request.callerid, request.ttl) == ("rpcutil", "uid=0", 60)
    assert request.body["action"] == "get_fact"
    reply = psk.decode_reply(CAPTURED_REPLY)
    assert reply.senderid == "node01" and reply.body["data"]["value"] == "web"


def test_wrong_key_is_refused():
    with pytest.raises(SecurityValidationFailed):
        provider("other").decode_request(CAPTURED_REQUEST)


def test_round_trip_and_envelope_keys():
    psk = provider()
    request = Request(agent="rpcutil", collective="mcollective",
                      body=rpc_body("rpcutil", "ping", "uid=0", {}), filter={"agent": ["rpcutil"]})
    payload = psk.encode_request(request)
    outer = marshal.loads(payload)
    assert list(outer) == ["body", "senderid", "requestid", "filter", "collective", "agent", "callerid", "ttl",
                           "msgtime", "hash"]
    assert all(type(k) is Symbol for k in outer)
    back = psk.decode_request(payload)
    assert back.requestid == request.requestid and back.senderid == "client1"
    reply = psk.encode_reply(Reply("node1", request.requestid, "rpcutil", {"statuscode": 0}), back)
    assert psk.decode_reply(reply).body == {"statuscode": 0}


def test_tampered_body_is_refused():
    psk = provider()
    outer = marshal.loads(CAPTURED_REQUEST)
    outer[Symbol("body")] = outer["body"].replace(b"get_fact", b"get_data")
    with pytest.raises(SecurityValidationFailed):
        psk.decode_request(marshal.dumps(outer))


@pytest.mark.parametrize("payload", [b"junk", marshal.dumps([1, 2]), marshal.dumps({Symbol("body"): 5})])
def test_garbage_is_a_decode_error(payload):
    with pytest.raises((DecodeError, SecurityValidationFailed)):
        provider().decode_request(payload)


def test_invalid_callerid_is_refused():
    psk = provider()
    request = Request(agent="rpcutil", collective="mcollective", body="ping", callerid="uid=0; rm -rf /")
    with pytest.raises(SecurityValidationFailed, match="invalid callerid"):
        psk.decode_request(psk.encode_request(request))
