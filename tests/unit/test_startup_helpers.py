"""Helpers that keep start-up and footprint small: the YAML cache, the light argparse, TLS on demand."""

from __future__ import annotations

import argparse

import pytest

from pymco import yamlcache
from pymco.argparsing import ArgumentParser


@pytest.fixture
def cache(tmp_path, monkeypatch):
    directory = tmp_path / "cache"
    monkeypatch.setenv("PYMCO_CACHE_DIR", str(directory))
    return directory


def test_parsed_yaml_is_reused_until_the_file_changes(tmp_path, cache, monkeypatch):
    path = tmp_path / "facts.yaml"
    path.write_text("role: web\nnested: {a: [1, 2.5, true, null]}\n")
    first = yamlcache.load_yaml_file(str(path))
    assert first == {"role": "web", "nested": {"a": [1, 2.5, True, None]}}
    assert len(list(cache.iterdir())) == 1
    monkeypatch.setattr(yamlcache, "_parse", lambda raw, loader: pytest.fail("parsed again"))
    assert yamlcache.load_yaml_file(str(path)) == first
    monkeypatch.undo()
    monkeypatch.setenv("PYMCO_CACHE_DIR", str(cache))
    path.write_text("role: db, and longer\n")
    assert yamlcache.load_yaml_file(str(path)) == {"role": "db, and longer"}


def test_values_json_cannot_hold_are_parsed_every_time(tmp_path, cache):
    path = tmp_path / "odd.yaml"
    path.write_text("1: one\nwhen: 2024-01-02\n")
    value = yamlcache.load_yaml_file(str(path))
    assert value[1] == "one" and str(value["when"]) == "2024-01-02"
    assert not cache.exists() or not list(cache.iterdir())


def test_invalid_yaml_and_no_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PYMCO_CACHE_DIR", "")
    assert yamlcache.cache_dir() is None
    path = tmp_path / "bad.yaml"
    path.write_text("a: [1, 2\n")
    with pytest.raises(yamlcache.YAMLError):
        yamlcache.load_yaml_file(str(path))


def test_remembered_value_is_read_back_without_parsing(tmp_path, cache, monkeypatch):
    path = tmp_path / "facts.yaml"
    path.write_text("role: web\n")
    yamlcache.remember(str(path), {"role": "web"})
    entry = next(cache.iterdir())
    assert oct(entry.stat().st_mode & 0o777) == "0o600"
    monkeypatch.setattr(yamlcache, "_parse", lambda raw, loader: pytest.fail("parsed"))
    assert yamlcache.load_yaml_file(str(path)) == {"role": "web"}


def test_light_parser_formats_help_as_argparse_does(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")

    def build(cls):
        parser = cls(prog="x", description="demo")
        parser.add_argument("--alpha", help="the first option " * 5)
        parser.add_argument("name", nargs="?", help="a name")
        return parser

    assert build(ArgumentParser).format_help() == build(argparse.ArgumentParser).format_help()
    assert build(ArgumentParser).format_usage() == build(argparse.ArgumentParser).format_usage()


def test_tls_puts_the_real_ssl_module_back():
    import ssl

    from pymco.connector.stomp_import import enable_tls, stomp

    enable_tls()
    assert stomp.transport.ssl is ssl and stomp.transport.SSLError is ssl.SSLError


def test_stomp_header_parsing_matches_stomp_py():
    import random
    import re

    from pymco.connector.stomp_import import parse_headers, stomp

    utils = stomp.utils

    def reference(lines: list[str]) -> dict[str, str]:  # stomp.py 8/9's parse_headers
        headers: dict[str, str] = {}
        for line in lines:
            match = utils.HEADER_LINE_RE.match(line)
            if match:
                key = re.sub(r"\\.", utils._unescape_header, match.group("key"))
                if key not in headers:
                    headers[key] = re.sub(r"\\.", utils._unescape_header, match.group("value"))
        return headers

    rng = random.Random(8)
    samples = [["destination:/queue/x", "a\\cb:c\\nd", "dup:1", "dup:2", "noval:", "bad", ":empty", "x:y:z"]]
    samples += [["".join(rng.choice("ab:\\cn\r ") for _ in range(rng.randint(0, 8))) for _ in range(5)]
                for _ in range(3000)]
    for lines in samples:
        assert parse_headers(lines) == reference(lines), lines
    assert utils.parse_headers is parse_headers
