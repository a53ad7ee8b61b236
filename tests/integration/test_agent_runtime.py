"""Issue 4: the DDL engine and agent runtime on a real daemon.

* invalid input is refused by `mco` before anything is sent, and by pymcod
  (status 4, MCollective's messages) when a request built with pymco's
  library skips the client's checks;
* an action that outlives its DDL timeout is killed with every process it
  started and answered with status 5;
* agents written as external programs (MCollective's implemented_by
  protocol), both whole agents and single actions of a Python agent;
* an agent made by `mco plugin generate` loads and answers, and
  `mco plugin doc` renders it.
"""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path

import pytest

from pymco.client.rpc import CallOptions, RPCClient
from pymco.client.session import Session
from pymco.config import load_config
from pymco.matcher.filter import Filter

pytestmark = pytest.mark.integration

MARKER = f"{random.randint(100000, 999999)}"

SLOW_AGENT = f'''
from pymco.agent import Agent, action


class Slow(Agent):
    @action
    def nap(self, request, reply):
        self.run(["sh", "-c", "sleep 61.{MARKER} & sleep 62.{MARKER}; wait"])
        reply["done"] = True

    @action
    def delegate(self, request, reply):
        self.implemented_by("helper", request, reply)
'''

SLOW_DDL = """
metadata: {name: slow, description: Sleeps, author: tests, license: Apache-2.0, version: "1", url: "-",
           timeout: 1}
actions:
  - action: nap
    description: Sleep past the timeout
    output:
      done: {description: Done, display_as: Done}
  - action: delegate
    description: Answered by an external helper
    input:
      word: {prompt: Word, description: A word, type: string, validation: shellsafe, maxlength: 20,
             optional: false}
    output:
      word: {description: The word, display_as: Word}
"""

HELPER = """#!/bin/sh
printf '{"word": "%s"}' "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["data"]["word"])' "$1")" \\
  > "$MCOLLECTIVE_REPLY_FILE"
"""

ECHO_PROGRAM = """#!/usr/bin/python3
import json, os, sys
request = json.load(open(sys.argv[1]))
assert os.environ["MCOLLECTIVE_REQUEST_FILE"] == sys.argv[1]
reply = {}
if request["action"] == "echo":
    reply = {"message": request["data"]["message"], "caller": request["callerid"], "agent": request["agent"]}
    json.dump(reply, open(sys.argv[2], "w"))
else:
    json.dump({"message": "partial"}, open(os.environ["MCOLLECTIVE_REPLY_FILE"], "w"))
    sys.stderr.write("the thing broke\\n")
    sys.exit(4)
"""

ECHO_DDL = """
metadata: {name: echoer, description: Echoes, author: tests, license: Apache-2.0, version: "1", url: "-",
           timeout: 10, provider: external}
actions:
  - action: echo
    description: Echo a message
    display: always
    input:
      message: {prompt: Message, description: Text, type: string, validation: '^[a-z ]+$', maxlength: 50,
                optional: false}
    output:
      message: {description: The message, display_as: Message}
      caller: {description: Who asked, display_as: Caller}
      agent: {description: Agent, display_as: Agent}
  - action: break
    description: Fail
    output:
      message: {description: The message, display_as: Message}
"""


@pytest.fixture(scope="module")
def runtime(cluster, tmp_path_factory):
    libdir = tmp_path_factory.mktemp("libdir")
    (libdir / "agents" / "slow").mkdir(parents=True)
    (libdir / "agents" / "echoer").mkdir()
    (libdir / "ddl").mkdir()
    (libdir / "agents" / "slow.py").write_text(SLOW_AGENT)
    (libdir / "ddl" / "slow.yaml").write_text(SLOW_DDL)
    helper = libdir / "agents" / "slow" / "helper"
    helper.write_text(HELPER)
    helper.chmod(0o755)
    program = libdir / "agents" / "echoer" / "echoer"
    program.write_text(ECHO_PROGRAM)
    program.chmod(0o755)
    (libdir / "ddl" / "echoer.yaml").write_text(ECHO_DDL)
    generated = cluster.mco("plugin", "generate", "agent", "hello", "actions=greet,wave", "--output", str(libdir))
    assert generated.rc == 0, generated
    cluster.add_node("rt01", libdir=str(libdir))
    cluster.wait()
    config = cluster.write_client("client-libdir.cfg", libdir=str(libdir))
    return cluster, config, libdir


def raw_call(cluster, agent, action, arguments):
    """A request straight from pymco's library, without the client's DDL checks."""
    config = load_config(str(cluster.client_config), mode="client")
    session = Session(config)
    try:
        client = RPCClient(session, agent, None, CallOptions(filter=Filter(identity=["rt01"]), timeout=10))
        results = []
        client.call(action, arguments, on_result=results.append)
    finally:
        session.close()
    [result] = results
    return result


def requests_seen(cluster):
    result = cluster.mco("rpc", "rpcutil", "daemon_stats", "-I", "rt01", "--json")
    return json.loads(result.out)[0]["data"]["passed"]


@pytest.mark.parametrize("argv,message", [
    (["package", "install", "vim", "--version", "1.0;reboot"], "Cannot validate input version: value should not "
                                                               "have ; in it"),
    (["rpc", "package", "frobnicate"], "Attempted to call action frobnicate for package but it's not declared "
                                       "in the DDL"),
    (["rpc", "package", "install"], "Action install needs a package argument"),
])
def test_invalid_input_is_refused_before_sending(runtime, argv, message):
    cluster, config, libdir = runtime
    before = requests_seen(cluster)
    result = cluster.mco(*argv, "-I", "rt01")
    assert result.rc == 1
    assert result.err.strip().splitlines() == [
        f"The {argv[0]} application failed to run, use -v for full error backtrace details: {message}"]
    assert "Traceback" not in result.err and result.out == ""
    assert requests_seen(cluster) == before + 1  # only the daemon_stats call itself reached the node


@pytest.mark.parametrize("action,arguments,message", [
    ("install", {"package": "vim", "version": "1.0;reboot"}, "Cannot validate input version: value should not "
                                                             "have ; in it"),
    ("frobnicate", {}, "Attempted to call action frobnicate for package but it's not declared in the DDL"),
    ("install", {}, "Action install needs a package argument"),
    ("status", {"package": "x" * 91}, "Cannot validate input package: Input string is longer than 90 character(s)"),
])
def test_invalid_input_sent_raw_is_refused_by_the_daemon(runtime, action, arguments, message):
    cluster, config, libdir = runtime
    result = raw_call(cluster, "package", action, arguments)
    assert result.statuscode == 4
    assert result.statusmsg == message


def test_undeclared_inputs_pass_through(runtime):
    cluster, config, libdir = runtime
    result = raw_call(cluster, "package", "status", {"package": "pymco-no-such-package", "flavour": "extra"})
    assert result.statuscode == 0
    assert result.data["ensure"] == "purged"


def _processes_with(marker):
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
        except OSError:
            pass
    return found


def test_action_past_its_timeout_is_killed_with_its_processes(runtime):
    cluster, config, libdir = runtime
    result = cluster.mco("rpc", "slow", "nap", "-I", "rt01", "--json", config=config)
    assert result.rc == 2, result
    [reply] = json.loads(result.out)
    assert reply["statuscode"] == 5
    assert reply["statusmsg"] == "slow action timed out after 1 seconds and was killed"
    deadline = time.monotonic() + 10
    while _processes_with(MARKER):
        assert time.monotonic() < deadline, f"processes of the timed-out action survived: {_processes_with(MARKER)}"
        time.sleep(0.1)
    ping = cluster.mco("rpc", "rpcutil", "ping", "-I", "rt01", "--json")
    assert ping.rc == 0, ping  # and the daemon keeps serving


def test_external_agent_answers(runtime):
    cluster, config, libdir = runtime
    result = cluster.mco("rpc", "echoer", "echo", "message=hello there", "-I", "rt01", "--json", config=config)
    assert result.rc == 0, result
    [reply] = json.loads(result.out)
    assert reply["data"] == {"message": "hello there", "caller": reply["data"]["caller"], "agent": "echoer"}
    assert reply["data"]["caller"].startswith("uid=")


def test_external_agent_failure_carries_stderr_and_exit_code(runtime):
    cluster, config, libdir = runtime
    result = cluster.mco("rpc", "echoer", "break", "-I", "rt01", "--json", config=config)
    [reply] = json.loads(result.out)
    program = libdir / "agents" / "echoer" / "echoer"
    assert reply["statuscode"] == 4
    assert reply["statusmsg"] == f"Failed to run {program}: the thing broke"
    assert reply["data"]["message"] == "partial"


def test_external_agent_input_is_validated_by_its_ddl(runtime):
    cluster, config, libdir = runtime
    result = raw_call(cluster, "echoer", "echo", {"message": "Not Lower Case"})
    assert result.statuscode == 4
    assert result.statusmsg == "Cannot validate input message: value should match ^[a-z ]+$"


def test_python_action_implemented_by_a_program(runtime):
    cluster, config, libdir = runtime
    result = cluster.mco("rpc", "slow", "delegate", "word=pelican", "-I", "rt01", "--json", config=config)
    assert result.rc == 0, result
    assert json.loads(result.out)[0]["data"] == {"word": "pelican"}


def test_generated_agent_loads_and_answers(runtime):
    cluster, config, libdir = runtime
    assert (libdir / "agents" / "hello.py").exists() and (libdir / "ddl" / "hello.yaml").exists()
    result = cluster.mco("rpc", "hello", "wave", "-I", "rt01", "--json", config=config)
    assert result.rc == 0, result
    assert json.loads(result.out)[0]["data"] == {"message": "wave is not implemented yet"}
    again = cluster.mco("plugin", "generate", "agent", "hello", "--output", str(libdir))
    assert again.rc == 1 and "already exists" in again.err
    doc = cluster.mco("plugin", "doc", "hello", config=config)
    assert doc.rc == 0, doc
    assert "ACTIONS:\n========\n   greet, wave" in doc.out
    assert "   wave action:\n   ------------\n" in doc.out


def test_plugin_doc_lists_and_documents(runtime):
    cluster, config, libdir = runtime
    listing = cluster.mco("plugin", "doc", config=config)
    assert listing.rc == 0, listing
    assert "Agents:" in listing.out and "Validator Plugins:" in listing.out
    assert "  package                   Manage Operating System Packages" in listing.out
    assert "  echoer                    Echoes" in listing.out
    doc = cluster.mco("plugin", "doc", "agent/puppet")
    assert doc.rc == 0, doc
    assert "   runonce action:" in doc.out and "Validation: puppet_tags" in doc.out
    missing = cluster.mco("plugin", "doc", "nosuch")
    assert missing.rc == 1 and "Could not find a plugin named 'nosuch'" in missing.err
