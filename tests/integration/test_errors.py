"""Issue 2: configuration and broker errors are one clear line and exit 1, never a traceback."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.support.cluster import tool

pytestmark = pytest.mark.integration


def variant(cluster, name, **replace):
    text = cluster.client_config.read_text()
    for old, new in replace.items():
        text = re.sub(old, new, text, flags=re.M)
    path = cluster.directory / name
    path.write_text(text)
    return path


def one_line_failure(result, *expected):
    assert result.rc == 1, result
    assert "Traceback" not in result.err, result
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1, result
    for text in expected:
        assert text in lines[0], result


def test_bad_credentials(cluster):
    config = variant(cluster, "badpass.cfg", **{r"password = .*$": "password = wrong"})
    one_line_failure(cluster.mco("rpc", "rpcutil", "ping", config=config), "refused", "Access refused",
                     "pool.N.user and .password")


def test_bad_vhost(cluster):
    config = variant(cluster, "badvhost.cfg", **{r"vhost = .*$": "vhost = /no-such-vhost"})
    one_line_failure(cluster.mco("ping", config=config), "/no-such-vhost")


def test_unreachable_broker(cluster):
    config = variant(cluster, "badport.cfg", **{r"port = .*$": "port = 1"})
    result = cluster.mco("ping", config=config)
    one_line_failure(result, "cannot reach the broker at 127.0.0.1:1")
    assert result.elapsed < 30


def test_missing_exchange(cluster):
    config = variant(cluster, "nocoll.cfg", **{r"^collectives = .*$": "collectives = nosuchcollective",
                                               r"^main_collective = .*$": "main_collective = nosuchcollective"})
    one_line_failure(cluster.mco("rpc", "rpcutil", "ping", config=config),
                     "no exchange 'nosuchcollective_broadcast'", "broker-setup --collectives")


def test_unknown_config_key(cluster):
    config = variant(cluster, "typo.cfg", **{r"^identity = (.*)$": r"identity = \1\nidentiy = oops"})
    one_line_failure(cluster.mco("ping", config=config), "typo.cfg:2: unknown config parameter 'identiy'")


def test_unknown_application(cluster):
    result = cluster.mco("nosuchapp")
    assert result.rc == 1 and "Unknown command 'nosuchapp'" in result.err


def test_bad_option(cluster):
    result = cluster.mco("rpc", "rpcutil", "ping", "--no-such-option")
    assert result.rc == 1 and "unrecognized arguments" in result.err and "Traceback" not in result.err


def test_pymcod_bad_config(tmp_path):
    config = tmp_path / "server.cfg"
    config.write_text("identity = a\nloglevel = chatty\n")
    proc = subprocess.run([tool("pymcod"), "--config", str(config)], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1
    assert "server.cfg:2: could not parse value for 'loglevel'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_pymcod_missing_config(tmp_path):
    proc = subprocess.run([tool("pymcod"), "--config", str(tmp_path / "nope.cfg")], capture_output=True,
                          text=True, timeout=30)
    assert proc.returncode == 1 and "does not exist" in proc.stderr
