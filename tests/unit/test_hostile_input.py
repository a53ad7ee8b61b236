"""Issue 6, hostile input: decoder limits, no unsafe loaders in the tree, exposed secrets warned about.

The randomised side (hypothesis feeding every decoder and parser) is in
tests/unit/test_fuzz.py; here are the specific attacks and the static checks.
"""

from __future__ import annotations

import os
import re
import time
import tracemalloc
from pathlib import Path

import pytest

from pymco.config import load_config
from pymco.errors import DecodeError
from pymco.protocol import marshal

REPO = Path(__file__).resolve().parents[2]
_long = marshal._long  # the codec's own integer writer, to build hand-made payloads


def link_bomb(levels: int) -> bytes:
    """Each array holds two links to the previous one: 2**levels values from a few hundred bytes."""
    body = b"\x04\x08[" + _long(levels) + b"[" + _long(2) + b"00"
    for k in range(1, levels):
        body += b"[" + _long(2) + b"@" + _long(k) + b"@" + _long(k)
    return body


def test_object_link_bomb_is_refused_fast_and_small():
    payload = link_bomb(64)
    assert len(payload) < 1000
    tracemalloc.start()
    start = time.monotonic()
    with pytest.raises(DecodeError, match="expand"):
        marshal.loads(payload)
    elapsed = time.monotonic() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert elapsed < 1.0 and peak < 1_000_000


def test_modest_sharing_still_decodes():
    value = marshal.loads(link_bomb(10))  # 2**10 values: fine
    assert len(value) == 10 and value[9][0] is value[9][1]


@pytest.mark.parametrize("payload", [
    b"\x04\x08[\x06@\x00",  # an array holding itself
    b"\x04\x08{\x06i\x06@\x00",  # a hash holding itself
    b"\x04\x08o:\x08Foo\x06:\x06a@\x00",  # an object whose ivar is itself
])
def test_cycles_are_refused(payload):
    with pytest.raises(DecodeError, match="cycle"):
        marshal.loads(payload)


def test_nesting_limit():
    deep = b"\x04\x08" + b"[\x06" * 200 + b"0"
    with pytest.raises(DecodeError, match="nesting"):
        marshal.loads(deep)
    assert marshal.loads(b"\x04\x08" + b"[\x06" * 10 + b"0") == [[[[[[[[[[None]]]]]]]]]]


def test_declared_sizes_beyond_the_data_allocate_nothing():
    tracemalloc.start()
    for payload in (b'\x04\x08"\x04\xff\xff\xff\x7f', b"\x04\x08[\x04\xff\xff\xff\x7f", b"\x04\x08l+\x04\xff\xff\xff\x7f"):
        with pytest.raises(DecodeError):
            marshal.loads(payload)
    assert tracemalloc.get_traced_memory()[1] < 100_000
    tracemalloc.stop()


# ---------------------------------------------------------------- no unsafe loaders

_UNSAFE = [
    (re.compile(r"yaml\.(unsafe_load|full_load|load_all)\s*\("), "unsafe YAML loader"),
    (re.compile(r"Loader\s*=\s*yaml\.(Loader|UnsafeLoader|FullLoader|CLoader|CUnsafeLoader|CFullLoader)\b"),
     "unsafe YAML Loader"),
    (re.compile(r"yaml\.load\((?![^)]*Loader=)"), "yaml.load without an explicit safe Loader"),
    (re.compile(r"\b(pickle|shelve|dill)\.|^\s*import marshal\b|^\s*from marshal import"),
     "pickle/shelve/Python marshal"),
    (re.compile(r"(?<![\w.])(eval|exec)\s*\("), "eval/exec"),
    (re.compile(r"shell\s*=\s*True"), "a shell command line"),
    (re.compile(r"\bos\.(system|popen)\s*\("), "os.system/os.popen"),
]


def _sources():
    for top in ("lib", "agents", "benchmarks"):
        for path in (REPO / top).rglob("*.py"):
            yield path


def test_no_unsafe_loaders_or_shells_in_the_tree():
    found = []
    for path in _sources():
        for lineno, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            code = line.split("#", 1)[0]
            for pattern, what in _UNSAFE:
                if pattern.search(code):
                    found.append(f"{path.relative_to(REPO)}:{lineno}: {what}: {line.strip()}")
    assert not found, "\n".join(found)


def test_the_unsafe_pattern_check_can_fail(tmp_path):
    bad = ["yaml.load(text)", "x = yaml.unsafe_load(s)", "subprocess.run(cmd, shell=True)", "eval(code)",
           "import pickle; pickle.loads(b)", "os.system('ls')", "yaml.load(t, Loader=yaml.Loader)",
           "import marshal"]
    for line in bad:
        assert any(p.search(line) for p, _ in _UNSAFE), line
    for line in ("yaml.load(raw, Loader=_Loader)", "from pymco.protocol import marshal", "marshal.loads(body)"):
        assert not any(p.search(line) for p, _ in _UNSAFE), line


# ---------------------------------------------------------------- secrets in config files

def _config(tmp_path, text, mode, plugin_d=None):
    path = tmp_path / "server.cfg"
    path.write_text(text)
    path.chmod(mode)
    if plugin_d:
        (tmp_path / "plugin.d").mkdir()
        for name, (body, pmode) in plugin_d.items():
            (tmp_path / "plugin.d" / name).write_text(body)
            (tmp_path / "plugin.d" / name).chmod(pmode)
    return load_config(str(path))


def test_world_readable_config_with_secrets_warns(tmp_path):
    config = _config(tmp_path, "plugin.psk = s3cret\nplugin.rabbitmq.pool.1.password = pw\nidentity = n1\n", 0o644)
    [warning] = config.warnings
    assert "plugin.psk" in warning and "plugin.rabbitmq.pool.1.password" in warning and "0644" in warning
    assert "s3cret" not in warning and "pw\n" not in warning


@pytest.mark.parametrize("mode", [0o600, 0o640])
def test_private_config_does_not_warn(tmp_path, mode):
    assert _config(tmp_path, "plugin.psk = s3cret\n", mode).warnings == []


def test_config_without_secrets_does_not_warn(tmp_path):
    assert _config(tmp_path, "identity = n1\nplugin.rabbitmq.pool.1.ssl.key = /etc/key.pem\n", 0o644).warnings == []


def test_plugin_d_files_are_checked_too(tmp_path):
    config = _config(tmp_path, "identity = n1\n", 0o644, {"rabbitmq.cfg": ("pool.1.password = pw\n", 0o644),
                                                          "psk.cfg": ("callertype = uid\n", 0o644)})
    [warning] = config.warnings
    assert "rabbitmq.cfg" in warning and "plugin.rabbitmq.pool.1.password" in warning
    os.chmod(tmp_path / "plugin.d" / "rabbitmq.cfg", 0o600)
    assert load_config(str(tmp_path / "server.cfg")).warnings == []


# ---------------------------------------------------------------- JSON

def test_json_limits():
    from pymco.protocol.bounded import json_loads

    assert json_loads('{"a": [1, {"b": null}]}') == {"a": [1, {"b": None}]}
    assert json_loads("[" * 64 + "]" * 64) is not None
    for text, why in (("[" * 65 + "]" * 65, "deeper"), ("[" * 100000 + "]" * 100000, "deeper"),
                      ('"' + "x" * 3000 + '"', "larger"), (b"\xff\xfe{", "invalid"), ("{", "invalid")):
        with pytest.raises(DecodeError, match=why):
            json_loads(text, max_bytes=2500 if why == "larger" else 10 ** 7)


@pytest.mark.parametrize("content", [b"\xff\xfe not utf-8", b"[" * 5000 + b"]" * 5000, b"{" * 3, b"x" * 10])
def test_external_reply_files_are_bounded(tmp_path, content, caplog):
    from pymco.external import _load_reply

    path = tmp_path / "reply.json"
    path.write_bytes(content)
    assert _load_reply(str(path)) == {}
    assert "ignoring the reply file" in caplog.text


def test_external_reply_file_too_large(tmp_path, monkeypatch, caplog):
    import pymco.external as external

    monkeypatch.setattr(external, "DEFAULT_MAX_BYTES", 100)
    path = tmp_path / "reply.json"
    path.write_text('{"a": "' + "x" * 200 + '"}')
    assert external._load_reply(str(path)) == {}
    assert "larger than the 100 byte limit" in caplog.text
    path.write_text('{"a": "small"}')
    assert external._load_reply(str(path)) == {"a": "small"}


@pytest.mark.parametrize("callerid,ok", [("uid=0", True), ("cert=web1.example.com", True), ("uid=0\n", False),
                                         ("uid=0\nuid=1", False), ("uid 0", False), ("=x", False)])
def test_callerid_shape(callerid, ok):
    from pymco.security.base import valid_callerid

    assert valid_callerid(callerid) is ok
