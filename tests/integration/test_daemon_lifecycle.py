"""Issue 2: pymcod's lifecycle: daemonize and pidfile, signals, log targets."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import textwrap

import pytest

from tests.support.cluster import tool, wait_for

pytestmark = pytest.mark.integration


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_daemonize_pidfile_and_sigterm(cluster):
    node = cluster.add_node("lifecycle01", start=False)
    node.write()
    pidfile = node.directory / "pymcod.pid"
    proc = subprocess.run([tool("pymcod"), "--config", str(node.config_path), "--pidfile", str(pidfile),
                           "--daemonize"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    wait_for(pidfile.exists)
    pid = int(pidfile.read_text())
    try:
        node.wait_started()
        assert cluster.mco("rpc", "rpcutil", "ping", "-I", "lifecycle01").rc == 0
        # a second daemon with the same pidfile refuses to start
        again = subprocess.run([tool("pymcod"), "--config", str(node.config_path), "--pidfile", str(pidfile)],
                               capture_output=True, text=True, timeout=30)
        assert again.returncode == 1 and "is running" in again.stderr
    finally:
        os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not alive(pid))
    assert not pidfile.exists()
    assert "pymcod stopped" in node.log()


def test_stale_pidfile_is_replaced(cluster):
    node = cluster.add_node("lifecycle02", start=False)
    node.write()
    pidfile = node.directory / "stale.pid"
    pidfile.write_text("999999\n")
    proc = subprocess.Popen([tool("pymcod"), "--config", str(node.config_path), "--pidfile", str(pidfile)])
    try:
        node.proc = proc
        node.wait_started()
        assert int(pidfile.read_text()) == proc.pid
    finally:
        node.stop()


def test_sigusr1_reloads_agents_and_sigusr2_cycles_level(cluster):
    libdir = cluster.directory / "lib03"
    (libdir / "agents").mkdir(parents=True)
    (libdir / "ddl").mkdir()
    node = cluster.add_node("lifecycle03", libdir=str(libdir))
    node.wait_started()
    (libdir / "agents" / "hello.py").write_text(textwrap.dedent('''
        from pymco.agent import Agent, action

        class Hello(Agent):
            @action
            def greet(self, request, reply):
                reply["message"] = "hello " + request["name"]
        '''))
    (libdir / "ddl" / "hello.yaml").write_text(textwrap.dedent('''
        metadata: {name: hello, description: Greets, author: t, license: MIT, version: "1", url: "x", timeout: 5}
        actions:
          - action: greet
            description: Greet someone
            display: always
            input:
              name: {prompt: Name, description: who, type: string, validation: '^\\w+$', maxlength: 20, optional: false}
            output:
              message: {description: the greeting, display_as: Message}
        '''))
    lib_client = cluster.write_client("client-lib.cfg", libdir=str(libdir))
    before = cluster.mco("rpc", "hello", "greet", "name=ops", "-I", "lifecycle03", "-t", "2", config=lib_client)
    assert "No response from" in before.out
    node.signal(signal.SIGUSR1)
    wait_for(lambda: re.search(r"agents loaded: .*\bhello\b", node.log()))
    after = cluster.mco("rpc", "hello", "greet", "name=ops", "-I", "lifecycle03", "--json", config=lib_client)
    assert after.rc == 0, after
    assert json.loads(after.out)[0]["data"]["message"] == "hello ops"
    node.signal(signal.SIGUSR2)
    wait_for(lambda: "log level is now INFO" in node.log())


def test_console_logger(cluster):
    node = cluster.add_node("lifecycle04", logger_type="console", start=False)
    node.write()
    proc = subprocess.Popen([tool("pymcod"), "--config", str(node.config_path)], stderr=subprocess.PIPE,
                            text=True)
    try:
        wait_for(lambda: cluster.mco("rpc", "rpcutil", "ping", "-I", "lifecycle04", "-t", "1").rc == 0, 20)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
    assert "started as lifecycle04" in err and proc.returncode == 0
