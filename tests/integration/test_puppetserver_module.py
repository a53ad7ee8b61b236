"""Issue 14 step 7: the pymco Puppet module through a real Puppet Server.

The run's private server (tests/support/puppetserver.py) serves this
checkout's puppet_module as module `pymco`, with Debian's stdlib, from a
directory environment of this test's own: its site.pp classifies one node by
certname (`include pymco`) and its Hiera level says what CI must change to
share the machine (temporary paths, a unique service name and collective,
pymco installed with pip from the wheelhouse `scripts/build` makes).  A real
`puppet agent -t` as root, with the node's own puppet.conf and a certificate
from the server's CA, applies it: the module's fact finds that certificate,
so pymcod uses x509 with the node's Puppet ssldir and the CA the agent used,
and Puppet starts it through the module's init script (no systemd here).  An
operator enrolled with `mco enroll` against the same CA then reaches the node,
whose identity is its certname; a revoked operator is refused once the node
has fetched the CA's new CRL.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest
import yaml

from tests.support import debpkg
from tests.support.cluster import Cluster, unique_name, wait_for
from tests.support.puppet_apply import FACTER_NOISE, MODULE, pymcod_pid
from tests.support.puppetserver import STDLIB, Identity, PuppetServer

pytestmark = pytest.mark.integration

# Puppet's system paths: every Puppet here has its own, and this test must never write there.
SYSTEM_PUPPET = (Path("/etc/puppet"), Path("/var/lib/puppet"), Path("/var/cache/puppet"))
# The stdlib functions the module calls (and those they call) and the service_provider fact it reads:
# only these are served, so a first run pluginsyncs about a dozen files, not stdlib's 200.  A call to
# any other fails the compile ("Unknown function"): add it here.
STDLIB_PLUGINS = [f"puppet/parser/functions/{name}.rb" for name in (
    "assert_private", "pick", "pick_default", "shell_join", "dirname", "ensure_packages", "ensure_resource",
    "ensure_resources", "defined_with_params")] + [
    "puppet/functions/ensure_packages.rb", "puppet/functions/to_json_pretty.rb", "puppet/functions/shell_escape.rb",
    "puppet/functions/stdlib/xml_encode.rb", "facter/service_provider.rb"]
AGENT_TIMEOUT = 600  # a first run on a loaded 2-core machine: the server's first compile, pip, Facter twice


@dataclass
class AgentRun:
    rc: int
    out: str
    seconds: float
    times: dict[str, float] = field(default_factory=dict)  # last_run_summary.yaml's phases

    @property
    def errors(self) -> list[str]:
        return [line for line in self.out.splitlines() if "Error" in line and not FACTER_NOISE.search(line)]

    def __str__(self) -> str:
        return f"rc={self.rc} after {self.seconds:.1f}s\n{self.out}"


@dataclass
class ServedNode:
    """One node classified on the server, its pymco paths, and the operators who reach it."""

    server: PuppetServer
    node: Identity
    root: Path
    service: str
    environment: Path
    operator_names: dict[str, str]
    operators: dict[str, Path]
    started: float
    runs: list[AgentRun]

    @property
    def server_cfg(self) -> Path:
        return self.root / "etc" / "server.cfg"

    @property
    def pidfile(self) -> Path:
        return self.root / "run" / "pymcod.pid"

    @property
    def init_script(self) -> Path:
        return Path("/etc/init.d") / self.service

    def agent(self) -> AgentRun:
        """`puppet agent -t` as root against the server, as an admin runs it on the node."""
        env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
        cmd = ["puppet", "agent", "-t", f"--config={self.node.conf}", "--server=localhost",
               f"--serverport={self.server.port}", "--color=false"]
        start = time.monotonic()
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=AGENT_TIMEOUT, stdin=subprocess.DEVNULL,
                              env=dict(env, LC_ALL="C.UTF-8"))
        run = AgentRun(proc.returncode, proc.stdout + proc.stderr, time.monotonic() - start)
        summary = self.node.home / "var" / "public" / "last_run_summary.yaml"
        if summary.exists():
            run.times = yaml.safe_load(summary.read_text()).get("time", {})
        self.runs.append(run)
        return run

    def our_processes(self) -> list[str]:
        """Command lines of the processes that mention this node's folder (its pymcod, its agent)."""
        found = []
        for proc in Path("/proc").iterdir():
            try:
                cmdline = (proc / "cmdline").read_bytes() if proc.name.isdigit() else b""
            except OSError:
                continue
            if str(self.root).encode() in cmdline:
                found.append(cmdline.replace(b"\0", b" ").decode(errors="replace"))
        return found

    def daemon_pid(self) -> int | None:
        return pymcod_pid(self.pidfile, self.server_cfg)

    def settings(self) -> dict[str, str]:
        return dict(line.split(" = ", 1) for line in self.server_cfg.read_text().splitlines() if " = " in line)


def hiera_data(cluster: Cluster, root: Path, node: Identity, service: str, built: debpkg.Built) -> dict:
    """What CI sets so the node shares the machine: everything under `root`, the cluster's broker and collective."""
    return {
        "pymco::collectives": [cluster.collective],
        "pymco::brokers": ["127.0.0.1"],
        "pymco::broker_user": "mcollective",
        "pymco::broker_password": "marionette",
        "pymco::rabbitmq_vhost": "/mcollective",
        "pymco::install_method": "pip",
        "pymco::venv": str(root / "venv"),
        "pymco::package_source": str(built.wheel),
        "pymco::pip_options": ["--no-index", "--find-links", str(built.wheelhouse)],
        "pymco::confdir": str(root / "etc"),
        "pymco::libdir": str(root / "lib"),
        "pymco::server::service_name": service,
        "pymco::server::pidfile": str(root / "run" / "pymcod.pid"),
        "pymco::server::logfile": str(root / "log" / "pymcod.log"),
        "pymco::server::state_dir": str(root / "state"),
        # pymcod fetches the CA's CRL every 2 s (300 by default) so the revocation test is quick
        "pymco::server::settings": {"plugin.x509.crl_refresh_interval": 2},
        "pymco::server::plugin_settings": {"puppet": {
            "command": f"puppet agent --config {node.conf}", "splay": False}},
        "pymco::facts::scheduler": "none",
        "pymco::facts::classesfile": str(node.home / "var" / "state" / "classes.txt"),
    }


def system_puppet_files() -> dict[str, float]:
    return {str(path): path.lstat().st_mtime for top in SYSTEM_PUPPET if top.exists()
            for path in [top, *top.rglob("*")]}


def stop(served: ServedNode) -> None:
    """Stop the daemon and remove what the module put outside the test's folder."""
    if served.init_script.exists():
        subprocess.run([str(served.init_script), "stop"], capture_output=True, timeout=60)
    pid = served.daemon_pid()
    if pid:
        os.kill(pid, 15)
        end = time.monotonic() + 20
        while Path(f"/proc/{pid}").exists() and time.monotonic() < end:
            time.sleep(0.2)
    subprocess.run(["update-rc.d", "-f", served.service, "remove"], capture_output=True, timeout=60)
    served.init_script.unlink(missing_ok=True)
    shutil.rmtree(served.environment, ignore_errors=True)


@pytest.fixture(scope="module")
def served(cluster: Cluster, puppet_server: PuppetServer,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedNode]:
    assert os.geteuid() == 0, "the agent applies system resources (an init script) and must run as root"
    clock = time.monotonic()
    built = debpkg.build_once(tmp_path_factory)
    print(f"build: {time.monotonic() - clock:.1f}s")
    clock = time.monotonic()
    before = system_puppet_files()
    tag = unique_name("psm")
    root = tmp_path_factory.mktemp("puppetserver-module")
    certname = f"node.{tag}.test"
    operators = {"alice": f"alice-{tag}.mcollective", "bob": f"bob-{tag}.mcollective"}
    [node] = puppet_server.identities({certname: root / "puppet"}).values()
    print(f"node certificate: {time.monotonic() - clock:.1f}s")
    env_name = f"pymco_{tag}"
    with open(node.conf, "a") as conf:
        conf.write(f"environment = {env_name}\n")
    service = f"pymcod-{tag}"
    environment = puppet_server.environment(
        env_name, {"pymco": MODULE, "stdlib": STDLIB}, f"node '{certname}' {{\n  include pymco\n}}\n",
        hiera_data(cluster, root, node, service, built), plugins={"stdlib": STDLIB_PLUGINS})
    served = ServedNode(puppet_server, node, root, service, environment, operators, {}, time.time(), [])
    try:
        with ThreadPoolExecutor(1) as pool:  # operators enroll while the node's agent runs
            clock = time.monotonic()
            enrolled = pool.submit(enroll, cluster, puppet_server, root, operators)
            served.agent()
            served.operators = enrolled.result()
            print(f"agent run and enrolment: {time.monotonic() - clock:.1f}s")
        yield served
    finally:
        stop(served)
    assert not served.our_processes(), served.our_processes()
    changed = {path for path, mtime in system_puppet_files().items() if before.get(path) != mtime}
    assert not changed, f"written under Puppet's system paths: {sorted(changed)}"


def enroll(cluster: Cluster, server: PuppetServer, root: Path, operators: dict[str, str]) -> dict[str, Path]:
    """Operators get certificates with `mco enroll` (request, CA signs, fetch), as the README says."""
    configs = {key: cluster.write_client(f"{key}.cfg", identity=certname, securityprovider="x509", **{
        "plugin.x509.ssldir": str(root / key / "ssl"), "plugin.x509.ca_server": f"localhost:{server.port}"})
        for key, certname in operators.items()}
    for key, config in configs.items():
        result = cluster.mco("enroll", "--wait", "0", "--keylength", "2048", config=config)
        assert result.rc == 1 and "is not signed yet" in result.err, result
    server.sign(list(operators.values()))
    for key, config in configs.items():
        result = cluster.mco("enroll", "--wait", "30", config=config)
        assert result.rc == 0 and f"Enrolled {operators[key]}" in result.out, result
    return configs


def test_first_agent_run_applies_the_module_from_the_server(served: ServedNode) -> None:
    [first] = served.runs
    assert first.rc == 2, str(first)  # 2: changes and no failures
    assert not first.errors, str(first)
    assert f"Service[{served.service}]/ensure: ensure changed 'stopped' to 'running'" in first.out, first
    # the catalog came from the server, compiled for this certname in this test's environment
    report_dir = served.server.home / "puppet" / "var" / "reports" / served.node.certname
    assert list(report_dir.glob("*.yaml")), f"no report from {served.node.certname} on the server"
    assert f"environment = {served.environment.name}" in served.node.conf.read_text()
    phases = ", ".join(f"{key} {value:.1f}s" for key, value in sorted(first.times.items())
                       if value >= 0.5 and key != "last_run")
    print(f"first puppet agent -t: {first.seconds:.1f}s ({phases})")


def test_module_configures_x509_from_the_agents_certificate(served: ServedNode) -> None:
    settings = served.settings()
    node = served.node
    assert settings["securityprovider"] == "x509"
    assert settings["identity"] == node.certname
    assert settings["plugin.x509.ssldir"] == str(node.ssldir)
    assert settings["plugin.x509.certname"] == node.certname
    # pymcod refreshes the CRL from the CA the agent used
    assert settings["plugin.x509.ca_server"] == f"localhost:{served.server.port}"
    assert settings["collectives"] == settings["main_collective"]
    assert served.server_cfg.stat().st_mode & 0o777 == 0o600


def test_enrolled_operator_pings_the_node(served: ServedNode, cluster: Cluster) -> None:
    assert wait_for(served.daemon_pid, timeout=20, interval=0.2), f"no pymcod behind {served.pidfile}"
    certname = served.node.certname

    def pinged() -> object:
        result = cluster.mco("ping", config=served.operators["alice"])
        return result if certname in result.out else None

    result = wait_for(pinged, timeout=30, interval=1)
    assert result, cluster.mco("ping", config=served.operators["alice"])
    assert "1 replies" in result.out, result


def test_rpc_inventory_and_puppet_status(served: ServedNode, cluster: Cluster) -> None:
    certname = served.node.certname
    result = cluster.mco("rpc", "rpcutil", "inventory", "-I", certname, "--json", config=served.operators["alice"])
    assert result.rc == 0, result
    [reply] = json.loads(result.out)
    assert reply["sender"] == certname
    assert "puppet" in reply["data"]["agents"] and "rpcutil" in reply["data"]["agents"]
    assert reply["data"]["collectives"] == [cluster.collective]
    # the facts file the module seeded from Facter, the classes of the catalog the server compiled
    assert reply["data"]["facts"]["os"]["family"] == "Debian"
    assert {"pymco", "pymco::server", "pymco::install"} <= set(reply["data"]["classes"]), reply["data"]["classes"]
    result = cluster.mco("rpc", "puppet", "status", "-I", certname, "--json", config=served.operators["alice"])
    assert result.rc == 0, result
    [reply] = json.loads(result.out)
    status = reply["data"]
    # the node's own agent run, read from the node's Puppet state (the --config of plugin.puppet.command)
    assert status["lastrun"] >= int(served.started) and not status["applying"], status
    assert status["enabled"], status


def test_second_agent_run_changes_nothing(served: ServedNode) -> None:
    pid = served.daemon_pid()
    again = served.agent()
    assert again.rc == 0, str(again)
    assert not again.errors, str(again)
    assert served.daemon_pid() == pid, "an agent run that changed nothing restarted the daemon"
    print(f"second puppet agent -t: {again.seconds:.1f}s")


def test_revoked_operator_is_refused_once_the_node_refreshes_its_crl(served: ServedNode, cluster: Cluster) -> None:
    certname = served.node.certname
    bob = served.operators["bob"]
    assert certname in cluster.mco("ping", config=bob).out
    served.server.ca("revoke", "--certname", served.operator_names["bob"])
    assert wait_for(lambda: certname not in cluster.mco("ping", config=bob).out, timeout=60, interval=0.5)
    assert certname in cluster.mco("ping", config=served.operators["alice"]).out
    log = (served.root / "log" / "pymcod.log").read_text()
    assert f"refreshed {served.node.ssldir / 'crl.pem'} from {served.server.url}" in log, log[-2000:]
    assert f"certificate '{served.operator_names['bob']}'" in log, log[-2000:]
