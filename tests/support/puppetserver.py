"""A private Puppet Server (Debian's puppetserver) for the whole test run, and identities it signs.

Debian ships puppetserver with only a systemd unit, tied to /etc/puppet and
the system ssldir, so the server here runs the unit's java command itself,
as user `puppet` through `setpriv`, with its own confdir, ssldir, cadir and
codedir under a run-wide folder, listening on 127.0.0.1 on a free port with a
512m heap.  Starting it takes about a minute (four on a loaded machine), so it starts ONCE per test run even
under pytest-xdist (tests/support/runwide.py: the first worker starts it, a
watchdog ends it with the run's controller, the controller stops it).  To keep a
server across runs while developing, set both variables yourself, e.g.
PYMCO_TEST_RUN_DIR=/tmp/pymco-dev PYMCO_TEST_RUN_PID=$$ (your shell).

Identities (nodes and operators) get certificates the way an admin gives
them: `puppet ssl submit_request`, `puppetserver ca sign`,
`puppet ssl download_cert`, each with the identity's own puppet.conf
(`--http_keepalive_timeout=0` avoids 30 s stalls on kept-alive connections).
Debian compiles Puppet's default paths in (ssldir /var/lib/puppet/ssl,
publicdir /var/cache/puppet/public, ...), so every puppet.conf here sets them.

A test that needs its own modules, classification or Hiera data gets a
directory environment of its own (`PuppetServer.environment`) instead of
editing production, which the other tests' agents share: nodes that ask for
it (`environment = NAME` in their puppet.conf) compile from it, and only they
pluginsync its modules.  environment_timeout = 0 makes the server see it at once.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.support.ports import free_port
from tests.support.runwide import RUN_DIR_ENV, RUN_PID_ENV, log_tail, run, run_dir, shared, start_watched
from tests.support.runwide import stop_all, wait_up

__all__ = ["RUN_DIR_ENV", "RUN_PID_ENV", "run_dir", "stop_all", "shared_server", "PuppetServer", "Identity"]

SERVER_CERTNAME = "puppet.pymco.test"
JAR = Path("/usr/share/puppetserver/puppetserver.jar")
SYSTEM_CONF = Path("/etc/puppet/puppetserver")
HEAP = "512m"
START_TIMEOUT = 600.0  # measured 59 s at load 5 and 195-258 s at load 15-34 on 2 cores
# Applied to every agent run: a notify tells whose catalog this is, and the sleep
# keeps the run long enough for `mco puppet status` to see "applying a catalog".
SITE_PP = """\
node default {
  notify { "pymco catalog for ${trusted['certname']}": }
  exec { '/bin/sleep 3': path => ['/bin', '/usr/bin'] }
}
"""
FAST = ["--http_keepalive_timeout=0"]
STDLIB = Path("/usr/share/puppet/modules/stdlib")  # Debian's puppet-module-puppetlabs-stdlib


def puppet_paths(home: Path) -> list[str]:
    """puppet.conf lines keeping all of a Puppet's state under `home` (Debian hard-codes system paths)."""
    return [f"confdir = {home}", f"codedir = {home / 'code'}", f"vardir = {home / 'var'}",
            f"publicdir = {home / 'var/public'}", f"statedir = {home / 'var/state'}",
            f"ssldir = {home / 'ssl'}", f"logdir = {home / 'log'}", f"rundir = {home / 'run'}"]


@dataclass
class Identity:
    """A certname with its own puppet.conf and ssldir (Puppet's layout, which the x509 provider reads)."""

    certname: str
    home: Path

    @property
    def conf(self) -> Path:
        return self.home / "puppet.conf"

    @property
    def ssldir(self) -> Path:
        return self.home / "ssl"

    def puppet(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return run(["puppet", *args, f"--config={self.conf}", *FAST], timeout)


@dataclass
class PuppetServer:
    """A running server as the state file describes it (any worker can use it)."""

    home: Path
    port: int

    @property
    def conf(self) -> Path:
        return self.home / "puppet" / "puppet.conf"

    @property
    def cadir(self) -> Path:
        return self.home / "puppet" / "ca"

    @property
    def ca_pem(self) -> Path:
        return self.cadir / "ca_crt.pem"

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}"

    @property
    def environments(self) -> Path:
        return self.home / "puppet" / "code" / "environments"

    def environment(self, name: str, modules: dict[str, Path], manifest: str, data: dict[str, Any] | None = None,
                    plugins: dict[str, list[str]] | None = None) -> Path:
        """A directory environment `name` serving `modules` (name -> folder, linked), classifying
        with `manifest` (its site.pp) and with `data` as its Hiera level (data/common.yaml).

        `plugins` limits a module's lib/ to the files named (paths under lib/): agents pluginsync
        every lib/ file of every module on a first run (stdlib's ~200 files take 10-20 s here),
        while a module usually calls a few of them."""
        env = self.environments / name
        (env / "manifests").mkdir(parents=True)
        (env / "modules").mkdir()
        for module, folder in modules.items():
            dest = env / "modules" / module
            if module not in (plugins or {}):
                dest.symlink_to(folder)
                continue
            dest.mkdir()
            for entry in folder.iterdir():
                if entry.name != "lib":
                    (dest / entry.name).symlink_to(entry)
            for file in (plugins or {})[module]:
                (dest / "lib" / file).parent.mkdir(parents=True, exist_ok=True)
                (dest / "lib" / file).symlink_to(folder / "lib" / file)
        (env / "manifests" / "site.pp").write_text(manifest)
        if data is not None:
            (env / "data").mkdir()
            (env / "data" / "common.yaml").write_text(yaml.safe_dump(data))
            (env / "hiera.yaml").write_text(yaml.safe_dump({
                "version": 5, "defaults": {"datadir": "data", "data_hash": "yaml_data"},
                "hierarchy": [{"name": "common", "path": "common.yaml"}]}))
        return env

    def ca(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """`puppetserver ca ...` against this server's CA."""
        return run(["puppetserver", "ca", *args, "--config", str(self.conf)], timeout)

    def sign(self, certnames: list[str]) -> None:
        """`puppetserver ca sign`, one call per name, in parallel.

        One call for several names (`--certname a,b`) waits 30 s for the server's idle timeout
        on its kept-alive connection after the first; one name takes under a second.
        """
        with ThreadPoolExecutor(len(certnames)) as pool:
            list(pool.map(lambda name: self.ca("sign", "--certname", name), certnames))

    def identities(self, homes: dict[str, Path], dns_alt_names: str = "") -> dict[str, Identity]:
        """New identities (certname -> home) with signed certificates (with `dns_alt_names` if given).

        Requests are submitted, signed and certificates downloaded in parallel: each step is a
        Ruby start of several seconds on a loaded machine.
        """
        ids = {name: Identity(name, home) for name, home in homes.items()}
        for ident in ids.values():
            ident.home.mkdir(parents=True, exist_ok=True)
            ident.conf.write_text("\n".join(["[main]", f"certname = {ident.certname}", "server = localhost",
                                              f"serverport = {self.port}", *puppet_paths(ident.home),
                                              *([f"dns_alt_names = {dns_alt_names}"] if dns_alt_names else [])])
                                  + "\n")
        with ThreadPoolExecutor(len(ids)) as pool:
            list(pool.map(lambda ident: ident.puppet("ssl", "submit_request"), ids.values()))
            self.sign(list(ids))
            list(pool.map(lambda ident: ident.puppet("ssl", "download_cert"), ids.values()))
        return ids


# ---------------------------------------------------------------- starting and stopping

def _write_configs(home: Path, port: int, setup_ca: bool) -> None:
    puppet = home / "puppet"
    for sub in ("conf.d", "puppet/code/environments/production/manifests", "puppet/code/modules", "puppet/var",
                "puppet/run", "puppet/log", "log"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    (puppet / "code/environments/production/manifests/site.pp").write_text(SITE_PP)
    (puppet / "puppet.conf").write_text("\n".join([
        "[main]", f"certname = {SERVER_CERTNAME}", "server = localhost", f"serverport = {port}",
        *puppet_paths(puppet), "dns_alt_names = localhost,puppet",
        # only the server's own modules: Debian's default adds /usr/share/puppet/modules, whose ~90
        # plugin files every agent would sync on its first run
        f"basemodulepath = {puppet / 'code/modules'}", "[server]", f"cadir = {puppet / 'ca'}", "ca_ttl = 5y",
        "environment_timeout = 0", "storeconfigs = false", "reports = store", ""]))
    conf = home / "conf.d"
    for name in ("auth.conf", "web-routes.conf", "metrics.conf"):
        shutil.copy(SYSTEM_CONF / "conf.d" / name, conf / name)
    (conf / "global.conf").write_text(f"global: {{ logging-config: {home / 'logback.xml'} }}\n")
    (conf / "webserver.conf").write_text(
        f"webserver: {{ access-log-config: {SYSTEM_CONF / 'request-logging.xml'}\n"
        f"  client-auth: want\n  ssl-host: 127.0.0.1\n  ssl-port: {port} }}\n")
    (conf / "ca.conf").write_text("certificate-authority: { allow-subject-alt-names: true }\n")
    (conf / "puppetserver.conf").write_text(f"""\
jruby-puppet: {{
  ruby-load-path: [/usr/lib/puppetserver/ruby/vendor_ruby]
  gem-home: {puppet / 'var/jruby-gems'}
  gem-path: [{puppet / 'var/jruby-gems'}, /usr/lib/puppetserver/vendored-jruby-gems]
  server-conf-dir: {puppet}
  server-code-dir: {puppet / 'code'}
  server-var-dir: {puppet / 'var'}
  server-run-dir: {puppet / 'run'}
  server-log-dir: {puppet / 'log'}
  max-active-instances: 1
}}
http-client: {{}}
profiler: {{}}
product: {{ check-for-updates: false }}
""")
    (home / "logback.xml").write_text(f"""\
<configuration>
  <appender name="F1" class="ch.qos.logback.core.FileAppender">
    <file>{home / 'log/puppetserver.log'}</file>
    <encoder><pattern>%d %-5p [%c{{2}}] %m%n</pattern></encoder>
  </appender>
  <logger name="org.eclipse.jetty" level="INFO"/>
  <root level="info"><appender-ref ref="F1"/></root>
</configuration>
""")
    run(["chown", "-R", "puppet:puppet", str(home)])
    if setup_ca:
        # root + intermediate CA (Puppet 6+'s `puppetserver ca setup`) instead of a first start's single CA
        run(["setpriv", "--reuid=puppet", "--regid=puppet", "--init-groups", "puppetserver", "ca", "setup",
             "--config", str(puppet / "puppet.conf"), "--subject-alt-names", "localhost,puppet"])


def _start(home: Path, setup_ca: bool) -> dict[str, Any]:
    port = free_port()
    _write_configs(home, port, setup_ca)
    java = ["setpriv", "--reuid=puppet", "--regid=puppet", "--init-groups", "/usr/bin/java",
            "-Xms128m", f"-Xmx{HEAP}", "-Djruby.logger.class=com.puppetlabs.jruby_utils.jruby.Slf4jLogger",
            "-Djruby.lib=/usr/share/jruby/lib", "-XX:+CrashOnOutOfMemoryError", "-jar", str(JAR),
            "--config", str(home / "conf.d"), "--bootstrap-config", str(SYSTEM_CONF / "services.d"),
            "--restart-file", str(home / "puppet/run/restart")]
    proc = start_watched(java, home / "log/stdout.log")

    def running() -> bool:
        try:
            context = ssl.create_default_context(cafile=str(home / "puppet/ca/ca_crt.pem"))
            with urllib.request.urlopen(f"https://localhost:{port}/status/v1/simple", timeout=5,
                                        context=context) as response:
                return bool(response.read().strip() == b"running")
        except (OSError, ssl.SSLError):
            return False

    seconds = wait_up(proc, "puppetserver", running, START_TIMEOUT,
                      lambda: log_tail(home / "log/puppetserver.log", home / "log/stdout.log"))
    return {"home": str(home), "port": port, "pid": proc.pid, "start_seconds": seconds}


def shared_server(name: str = "puppetserver", setup_ca: bool = False) -> PuppetServer:
    """The run's server called `name`, started by whichever worker asks first."""
    state = shared(name, lambda home: _start(home, setup_ca))
    return PuppetServer(Path(state["home"]), state["port"])
