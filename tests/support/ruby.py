"""Debian's Ruby MCollective 2.12.5 beside pymco: mcollectived nodes and the Ruby mco.

Debian 12's stock `yaml` fact source cannot load under Ruby 3.1 (Psych 4), so
the Ruby nodes read their flat facts through a ten-line fact source written
here (`pymcotest_yaml`), which merges the same `plugin.yaml` files.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import yaml

from tests.support.cluster import PSK, Result, connector_lines, which_or_fail, write_config

RUBY_PLUGINS = "/usr/share/mcollective/plugins"

FACTS_PLUGIN = """\
require "yaml"

module MCollective
  module Facts
    # Written for pymco's tests: the stock yaml source breaks under Psych 4.
    class Pymcotest_yaml_facts < Base
      def load_facts_from_source
        facts = {}
        Config.instance.pluginconf["yaml"].split(File::PATH_SEPARATOR).each do |file|
          data = YAML.safe_load(File.read(file), permitted_classes: [Symbol], aliases: true)
          facts.merge!(data) if data.is_a?(Hash)
        end
        facts
      end
    end
  end
end
"""


def ruby_libdir(directory: Path) -> Path:
    lib = directory / "rubylib"
    facts = lib / "mcollective" / "facts"
    facts.mkdir(parents=True, exist_ok=True)
    (facts / "pymcotest_yaml_facts.rb").write_text(FACTS_PLUGIN)
    return lib


def ruby_client_config(path: Path, collectives: list[str], extra: dict[str, Any] | None = None) -> Path:
    settings: dict[str, Any] = {
        "main_collective": collectives[0],
        "collectives": ",".join(collectives),
        "libdir": RUBY_PLUGINS + ":" + str(ruby_libdir(path.parent)),
        "logger_type": "console",
        "loglevel": "error",
        "securityprovider": "psk",
        "plugin.psk": PSK,
        "connector_lines": connector_lines(),
        "direct_addressing": 1,
        "color": 0,
    }
    settings.update(extra or {})
    return write_config(path, settings)


def ruby_mco(*args: str, config: Path, timeout: float = 120, input: str | None = None) -> Result:
    cmd = [which_or_fail("mco"), *args, "--config", str(config)]
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, input=input,
                          stdin=None if input is not None else subprocess.DEVNULL,
                          env=dict(os.environ, HOME=str(config.parent)))
    return Result(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - start)


class RubyNode:
    def __init__(self, identity: str, directory: Path, collectives: list[str], facts: dict[str, Any] | None = None,
                 classes: list[str] | None = None, settings: dict[str, Any] | None = None) -> None:
        self.identity = identity
        self.directory = directory
        self.collectives = collectives
        self.facts = facts or {}
        self.classes = classes or []
        self.settings = settings or {}
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.directory / "mcollectived.log"

    def start(self) -> "RubyNode":
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "facts.yaml").write_text(yaml.safe_dump(self.facts))
        (self.directory / "classes.txt").write_text("".join(f"{c}\n" for c in self.classes))
        settings: dict[str, Any] = {
            "identity": self.identity,
            "main_collective": self.collectives[0],
            "collectives": ",".join(self.collectives),
            "libdir": RUBY_PLUGINS + ":" + str(ruby_libdir(self.directory)),
            "logfile": str(self.log_path),
            "loglevel": "debug",
            "daemonize": 0,
            "securityprovider": "psk",
            "plugin.psk": PSK,
            "connector_lines": connector_lines(),
            "factsource": "pymcotest_yaml",
            "plugin.yaml": str(self.directory / "facts.yaml"),
            "classesfile": str(self.directory / "classes.txt"),
            "registerinterval": 0,
            "direct_addressing": 1,
        }
        settings.update(self.settings)
        config = write_config(self.directory / "server.cfg", settings)
        with open(self.directory / "stderr.log", "ab") as err:
            self.proc = subprocess.Popen([which_or_fail("mcollectived"), "--config", str(config),
                                          "--pidfile", str(self.directory / "mcollectived.pid")],
                                         stdout=err, stderr=err, start_new_session=True)
        return self

    def wait_started(self, timeout: float = 30) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"mcollectived {self.identity} exited: {self.log()}")
            if self.log_path.exists() and "rpcutil" in self.log_path.read_text(errors="replace") \
                    and "Subscribing" in self.log_path.read_text(errors="replace"):
                return
            time.sleep(0.1)
        raise RuntimeError(f"mcollectived {self.identity} did not start in {timeout}s: {self.log()}")

    def log(self) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        err = self.directory / "stderr.log"
        return text + (err.read_text(errors="replace") if err.exists() else "")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)


@contextmanager
def ruby_fleet(directory: Path, collectives: list[str], nodes: dict[str, dict[str, Any]],
               client_settings: dict[str, Any] | None = None) -> Iterator[Path]:
    """Ruby mcollectived nodes (`identity: RubyNode keyword arguments`) answering; yields a Ruby client config."""
    started = [RubyNode(identity, directory / identity, collectives, **options).start()
               for identity, options in nodes.items()]
    try:
        for node in started:
            node.wait_started()
        yield ruby_client_config(directory / "client.cfg", collectives, client_settings)
    finally:
        for node in started:
            node.stop()
