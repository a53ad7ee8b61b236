"""The validators of MCollective's package, service and puppet plugins."""

from __future__ import annotations

import re

import pytest

from pymco.errors import ValidatorError
from pymco.validators.builtin import validate
from pymco.validators.names import package_name, service_name
from pymco.validators.puppet import parse_server, puppet_resource, puppet_server_address, puppet_tags, \
    puppet_variable


@pytest.mark.parametrize("name", ["ssh", "getty@tty1", "systemd-fsck@dev-disk:1.service", "a_b.c"])
def test_service_names(name):
    service_name(name)
    validate(name, "service_name")


@pytest.mark.parametrize("name", ["a b", "x;y", "$(id)", ""])
def test_bad_service_names(name):
    with pytest.raises(ValidatorError, match="is not a valid service name"):
        validate(name, "service_name")


def test_package_names():
    package_name("libc6-dev_2.36")
    with pytest.raises(ValidatorError, match="^foo@1 is not a valid package name$"):
        package_name("foo@1")


@pytest.mark.parametrize("value,ok", [("production", True), ("a", True), ("1", False), ("dev_2", True),
                                      ("dev-2", False), ("", False), ("x;y", False)])
def test_puppet_variable(value, ok):
    if ok:
        puppet_variable(value)
    else:
        with pytest.raises(ValidatorError):
            puppet_variable(value)


def test_puppet_variable_messages():
    with pytest.raises(ValidatorError, match="^Invalid variable name 'dev-2' specified$"):
        puppet_variable("dev-2")
    with pytest.raises(ValidatorError, match="^value should not have ; in it$"):
        puppet_variable("a;b")
    with pytest.raises(ValidatorError, match="^value should be a string$"):
        puppet_variable(3)


@pytest.mark.parametrize("tags,ok", [("apache", True), ("apache,mysql::server", True), ("a,", True),
                                     ("a,,b", True), (",a", True), ("::a", False), ("a b", False),
                                     ("apache::", True)])
def test_puppet_tags_split_as_ruby_does(tags, ok):
    if ok:
        puppet_tags(tags)
    else:
        with pytest.raises(ValidatorError):
            puppet_tags(tags)


@pytest.mark.parametrize("server,parsed", [
    ("puppet", ("puppet", None)), ("puppet.example.com:8140", ("puppet.example.com", "8140")),
    ("10.0.0.1:8140", ("10.0.0.1", "8140")), ("fe80::1", ("fe80::1", None)),
    ("[fe80::1]:8140", ("fe80::1", "8140")), ("[fe80::1]", ("fe80::1", None)), ("[::1]:", ("::1", "")),
])
def test_parse_server(server, parsed):
    assert parse_server(server) == parsed


@pytest.mark.parametrize("server,message", [
    ("puppet.example.com:port", "The port 'port' is not a valid puppet master port"),
    ("[::1]:", "The port '' is not a valid puppet master port"),
    ("bad_host", "The hostname 'bad_host' is not a valid hostname"),
    ("-host", "The hostname '-host' is not a valid hostname"),
    ("a|b", "value should not have | in it"),
])
def test_bad_servers(server, message):
    with pytest.raises(ValidatorError, match=f"^{re.escape(message)}$"):
        puppet_server_address(server)


@pytest.mark.parametrize("server", ["puppet", "puppet.example.com:8140", "10.1.2.3", "[2001:db8::1]:8140", "::1"])
def test_good_servers(server):
    puppet_server_address(server)


def test_puppet_resource():
    puppet_resource("File[/etc/hosts]")
    with pytest.raises(ValidatorError, match="^'File' is not a valid resource name$"):
        puppet_resource("File")


@pytest.mark.parametrize("validator,good,bad", [
    ("service_name", ["getty@tty1", "ssh"], ["a b", "x\ny"]),
    ("package_name", ["libc6-dev"], ["a@b"]),
    ("puppet_variable", ["a", "production"], ["1", "a-b"]),
    ("puppet_tags", ["apache,mysql::server"], ["a;b", "a b"]),
    ("puppet_server_address", ["puppet:8140", "[::1]:8140", "10.0.0.1"], ["a b", "host:port"]),
    ("puppet_resource", ["File[/x]"], ["File"]),
])
def test_ruby_equivalents_agree_on_examples(validator, good, bad):
    """The regexes export-ddl writes for Ruby clients accept and refuse like the validators."""
    from pymco import plugins

    pattern = plugins.resolve("validator", validator).ruby_regex.replace(r"\A", "^").replace(r"\z", r"\Z")
    for value in good:
        assert re.search(pattern, value), value
    for value in bad:
        assert not re.search(pattern, value), value
