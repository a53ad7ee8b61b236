"""Node lists piped to mco: text or `mco rpc --json` output, checked like MCollective."""

from __future__ import annotations

import io
import json

import pytest

from pymco.discovery import stdin
from pymco.discovery.stdin import parse_node_list, piped_input
from pymco.errors import DiscoveryError


def test_text_and_json_lists():
    assert parse_node_list("web1\n\n# comment\nweb2\nweb1\n") == ["web1", "web2"]
    rpc_json = json.dumps([{"sender": "db1", "data": {}}, {"sender": "db2"}, {"certname": "db3"},
                           {"sender": "db1"}])
    assert parse_node_list(rpc_json) == ["db1", "db2", "db3"]
    with pytest.raises(DiscoveryError, match="Identities can only match"):
        parse_node_list('["x"]', "text")   # text forced: the JSON is not parsed


@pytest.mark.parametrize("data,kind,message", [
    ("   \n", "auto", "only whitespace"),
    ("[1, 2]", "auto", "not an array of Hashes"),
    ('{"sender": "x"}', "json", "not an array"),
    ('[{"name": "x"}]', "auto", "does not have senders"),
    ("[{", "auto", "not valid JSON"),
    ("web 1\n", "text", "Identities can only match"),
    ("web1", "yaml", "only knows the types"),
])
def test_bad_lists(data, kind, message):
    with pytest.raises(DiscoveryError, match=message):
        parse_node_list(data, kind)


def test_terminal_is_not_read(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(stdin, "_cached", None)
    assert piped_input(Tty("web1\n")) == ""
    monkeypatch.setattr(stdin, "_cached", None)
    assert piped_input(io.StringIO("web1\n")) == "web1\n"
    assert piped_input(io.StringIO("ignored")) == "web1\n"   # read once
