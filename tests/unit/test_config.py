"""MCollective-format config parsing."""

from __future__ import annotations

import pytest

from pymco.config import load_config, str_to_bool
from pymco.errors import ConfigError


def write(tmp_path, text, name="server.cfg"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_keys_types_and_plugin_settings(tmp_path):
    path = write(tmp_path, """
# comment
identity = web1.example.com
collectives = mcollective, sub1
main_collective = sub1
libdir = /a:/b
daemonize = yes
ttl = 30
plugin.rabbitmq.pool.1.host = broker
plugin.psk = secret = with equals
""")
    config = load_config(str(path))
    assert config.identity == "web1.example.com"
    assert config.collectives == ["mcollective", "sub1"]
    assert config.main_collective == "sub1"
    assert config.libdir == ["/a", "/b"]
    assert config.daemonize is True
    assert config.ttl == 30
    assert config.plugin("rabbitmq.pool.1.host") == "broker"
    assert config.plugin("psk") == "secret = with equals"


def test_defaults(tmp_path):
    config = load_config(str(write(tmp_path, "")))
    assert config.collectives == ["mcollective"]
    assert config.main_collective == "mcollective"
    assert config.ttl == 60 and config.direct_addressing is True and config.securityprovider == "psk"
    assert config.identity  # the host's name


def test_unknown_key_names_file_and_line(tmp_path):
    path = write(tmp_path, "identity = a\n\nbogus_key = 1\n")
    with pytest.raises(ConfigError, match=r"server\.cfg:3: unknown config parameter 'bogus_key'"):
        load_config(str(path))


def test_malformed_line_names_file_and_line(tmp_path):
    path = write(tmp_path, "identity = a\nthis is not a setting\n")
    with pytest.raises(ConfigError, match=r"server\.cfg:2: malformed line"):
        load_config(str(path))


@pytest.mark.parametrize("line", ["ttl = soon", "daemonize = perhaps", "loglevel = loud", "identity = a b",
                                  "libdir = /opt/a:relative/b"])
def test_bad_values(tmp_path, line):
    with pytest.raises(ConfigError, match=r"server\.cfg:1: could not parse value"):
        load_config(str(write(tmp_path, line + "\n")))


def test_libdir_expands_the_home_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    config = load_config(str(write(tmp_path, "libdir = ~/mco:/opt/mco\n")))
    assert config.libdir == [str(tmp_path / "mco"), "/opt/mco"]


def test_plugin_d_folder(tmp_path):
    (tmp_path / "plugin.d").mkdir()
    (tmp_path / "plugin.d" / "rabbitmq.cfg").write_text("vhost = /x\n")
    config = load_config(str(write(tmp_path, "")))
    assert config.plugin("rabbitmq.vhost") == "/x"


def test_main_collective_must_be_a_collective(tmp_path):
    with pytest.raises(ConfigError, match="main_collective"):
        load_config(str(write(tmp_path, "collectives = a\nmain_collective = b\n")))


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(str(tmp_path / "nope.cfg"))


@pytest.mark.parametrize("text,value", [("1", True), ("YES", True), ("t", True), ("0", False), ("n", False)])
def test_str_to_bool(text, value):
    assert str_to_bool(text) is value


def test_str_to_bool_rejects_other_words():
    with pytest.raises(ValueError):
        str_to_bool("maybe")
