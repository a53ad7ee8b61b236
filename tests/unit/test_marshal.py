"""The Marshal codec against captured MCollective payloads, rubymarshal and Ruby itself."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess

import pytest
import rubymarshal.reader
import rubymarshal.writer
from rubymarshal.classes import Symbol as RmSymbol

from pymco.errors import DecodeError
from pymco.protocol.marshal import RubyObject, Symbol, dumps, loads

# The 420-byte request of `mco rpc rpcutil get_fact fact=role -I node01` and node01's
# reply to it, captured from Ruby MCollective 2.12.5 (psk "anchor-psk-secret").
CAPTURED_REQUEST = bytes.fromhex(
    "04087b0f3a09626f6479227504087b093a0a6167656e7449220c7270637574696c063a0645543a0b616374696f6e4922"
    "0d6765745f66616374063b06463a0b63616c6c657249220a7569643d30063b06543a09646174617b073a096661637449"
    "2209726f6c65063b06543a1470726f636573735f726573756c7473543a0d73656e64657269642207766d3a0e72657175"
    "65737469644922256437333336656334383837633563396139656662383439653535613137623764063a0645463a0b66"
    "696c7465727b0a49220966616374063b08545b0049220d63665f636c617373063b08545b0049220a6167656e74063b08"
    "545b0649220c7270637574696c063b085449220d6964656e74697479063b08545b0049220d636f6d706f756e64063b08"
    "545b003a0f636f6c6c6563746976654922106d636f6c6c656374697665063b08543a0a6167656e7440103a0d63616c6c"
    "6572696449220a7569643d30063b08543a0874746c69413a0c6d736774696d656c2b071894056b3a0968617368492225"
    "3234333766343230663839326163636431646663396263303665636664663963063b0846")
CAPTURED_REPLY = bytes.fromhex(
    "04087b0b3a0d73656e646572696449220b6e6f64653031063a0645543a0e726571756573746964492225396531646234"
    "6566613961383430313063346464386463333533336534326438063b06543a1073656e6465726167656e7449220c7270"
    "637574696c063b06543a0c6d736774696d656c2b072094056b3a09626f6479225604087b083a0f737461747573636f64"
    "6569003a0e7374617475736d73674922074f4b063a0645543a09646174617b073a0966616374492209726f6c65063b07"
    "543a0a76616c7565492208776562063b07543a0968617368492225376236656237343837336263353865613132303434"
    "3563316165323633313133063b0646")


def test_captured_request_decodes():
    outer = loads(CAPTURED_REQUEST)
    assert outer["agent"] == "rpcutil"  # object link '@' resolved
    assert outer["msgtime"] == 1795527704  # bignum
    assert outer["filter"] == {"fact": [], "cf_class": [], "agent": ["rpcutil"], "identity": [], "compound": []}
    assert isinstance(outer["body"], bytes)
    body = loads(outer["body"])
    assert body == {"agent": "rpcutil", "action": "get_fact", "caller": "uid=0",
                    "data": {"fact": "role", "process_results": True}}
    assert all(type(k) is Symbol for k in body)


def test_captured_reply_decodes_and_its_hash_checks():
    outer = loads(CAPTURED_REPLY)
    assert loads(outer["body"]) == {"statuscode": 0, "statusmsg": "OK", "data": {"fact": "role", "value": "web"}}
    assert hashlib.md5(outer["body"] + b"anchor-psk-secret").hexdigest() == outer["hash"]


@pytest.mark.parametrize("value", [
    0, 1, -1, 122, 123, -123, -124, 255, 256, -256, 65535, 2 ** 30 - 1, 2 ** 30, -(2 ** 30), -(2 ** 30) - 1,
    2 ** 64, -(2 ** 70), 1.5, -0.25, 1e100, 3.0, "", "héllo", b"\x00\xffbin", None, True, False,
    [1, [2, [3]]], {"a": {"b": [1, None]}},
])
def test_values_round_trip(value):
    assert loads(dumps(value)) == value


def test_symbols_stay_symbols():
    data = loads(dumps({Symbol("a"): Symbol("b"), "c": "d"}))
    keys = list(data)
    assert type(keys[0]) is Symbol and type(keys[1]) is str
    assert type(data["a"]) is Symbol and data["a"] == "b"


def test_integers_match_ruby_bytes():
    # Ruby writes Fixnum only below 2**30 and Bignum above (rubymarshal does not)
    assert dumps([2 ** 30 - 1, 2 ** 30, 2 ** 31, -(2 ** 30), -(2 ** 30) - 1]).hex() == (
        "04085b0a6904ffffff3f6c2b07000000406c2b070000008069fc000000c06c2d0701000040")


def test_writer_matches_rubymarshal_byte_for_byte():
    ours = dumps({Symbol("agent"): "rpcutil", Symbol("n"): [1, 300, -2, 70000], Symbol("ok"): True})
    theirs = rubymarshal.writer.writes({RmSymbol("agent"): "rpcutil", RmSymbol("n"): [1, 300, -2, 70000],
                                        RmSymbol("ok"): True})
    assert ours == theirs


def test_rubymarshal_reads_what_we_write():
    value = {Symbol("statuscode"): 0, Symbol("data"): {Symbol("facts"): {"os": {"family": "Debian"}}}}
    decoded = rubymarshal.reader.loads(dumps(value))
    assert decoded[RmSymbol("statuscode")] == 0


def test_ruby_round_trip():
    ruby = shutil.which("ruby")
    assert ruby, "ruby is required (scripts/bootstrap installs it with mcollective)"
    value = {Symbol("a"): [1, -1, 2 ** 40, 1.5, "é", b"raw", None, True, Symbol("s")], "re": re.compile("^a.b", re.I)}
    proc = subprocess.run([ruby, "-e", "STDOUT.write Marshal.dump(Marshal.load(STDIN.read))"],
                          input=dumps(value), capture_output=True, check=True)
    back = loads(proc.stdout)
    assert back["a"] == value[Symbol("a")]
    assert back["re"].pattern == "^a.b" and back["re"].flags & re.IGNORECASE


def test_ruby_objects_are_kept_not_executed():
    # Marshal.dump(Struct.new(:x).new(1)) style object: 'o' with a class name
    data = b"\x04\x08o:\x0bObject\x06:\x07@xi\x06"
    obj = loads(data)
    assert isinstance(obj, RubyObject) and obj.class_name == "Object" and obj.attributes == {"@x": 1}


@pytest.mark.parametrize("data", [
    b"", b"\x04", b"\x04\x09T", b"\x04\x08", b"\x04\x08[\x7f", b"\x04\x08\"\x7fabc", b"\x04\x08@\x06",
    b"\x04\x08;\x00", b"\x04\x08{\x06", b"\x04\x08TT", b"\x04\x08Z", b"\x04\x08l+\x7f",
])
def test_malformed_input_is_a_decode_error(data):
    with pytest.raises(DecodeError):
        loads(data)


def test_depth_is_bounded():
    deep = b"\x04\x08" + b"[\x06" * 500 + b"0"
    with pytest.raises(DecodeError):
        loads(deep, max_depth=64)


def test_declared_sizes_are_checked_before_allocating():
    # an array claiming 2**30 elements in 10 bytes must fail fast, not allocate
    with pytest.raises(DecodeError):
        loads(b"\x04\x08[\x04\x00\x00\x00\x40")
