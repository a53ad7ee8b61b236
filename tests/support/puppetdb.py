"""A private PuppetDB (Debian's puppetdb on Debian's PostgreSQL) for the whole test run.

Like the Puppet Server (tests/support/puppetserver.py), Debian's PuppetDB is
tied to /etc/puppetdb and a system service, so the unit's java command runs
here as user `puppetdb` through `setpriv`, with its own confdir, vardir and
logs under the run-wide folder, once per run for every xdist worker
(tests/support/runwide.py), with a 256m heap.  It stores into a database and
role made for this run on the machine's PostgreSQL (127.0.0.1:5432; made by
the `postgres` superuser over the local socket), pools cut to 4 + 2
connections; the watchdog drops both when PuppetDB stops, even when the run
was killed (and a later start drops those of a run killed outright).

PuppetDB serves only HTTPS (as in production: the terminus refuses http), on
127.0.0.1 and a free port, with a certificate for `puppetdb-<hex>.pymco.test`
(new for every start: the CA refuses a name it signed before) and
DNS:localhost from the run's Puppet Server CA, and it requires client
certificates.  Tests fill it the way Puppet Server's puppetdb terminus does,
with the server's own certificate: `replace_facts` v5, `replace_catalog` v9
and `deactivate_node` v3 POSTed to /pdb/cmd/v1, then wait until queries show
the result (commands are processed asynchronously); or through the terminus
itself, with a real `puppet apply` (`PuppetDB.apply`).  A node stored with a
producer timestamp older than its node-ttl (7 days) is expired on demand.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import shutil
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from tests.support.ports import free_port
from tests.support.puppetserver import SERVER_CERTNAME, Identity, PuppetServer
from tests.support.runwide import log_tail, run, shared, start_watched, wait_up

JAR = Path("/usr/share/puppetdb/puppetdb.jar")
SYSTEM_CONF = Path("/etc/puppetdb")
# Debian's default is 192m.  The live set after these tests is ~55 MB; a query naming 5000 certnames made a
# 256m PuppetDB die of "Java heap space" (kill -9 by OnOutOfMemoryError, then the watchdog drops the database).
HEAP = "256m"
START_TIMEOUT = 600.0
NODE_TTL_DAYS = 7
ORPHAN_MARK = "pymco test run "
# as the superuser over the local socket (peer auth on a stock install); PuppetDB itself uses TCP and a password
PSQL = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "psql", "-X", "-q", "-v",
        "ON_ERROR_STOP=1", "-p", "5432"]


def wire_time(when: datetime.datetime | None = None) -> str:
    """Puppet's wire format for producer timestamps (Puppet::Util::Puppetdb.to_wire_time)."""
    when = when or datetime.datetime.now(datetime.timezone.utc)
    return when.astimezone(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def class_title(name: str) -> str:
    """A class's resource title as Puppet stores it: `apache::mod::ssl` -> `Apache::Mod::Ssl`."""
    return "::".join(part.capitalize() for part in name.split("::"))


@dataclass
class PuppetDB:
    """A running PuppetDB as the state file describes it, with the client certificate tests use."""

    home: Path
    port: int
    cert: Path
    key: Path
    ca: Path
    start_seconds: float = 0.0
    pid: int = 0  # the watchdog's, which is also its process group's

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}"

    def _context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca))
        context.load_cert_chain(str(self.cert), str(self.key))
        return context

    def request(self, path: str, body: Any = None, timeout: float = 30) -> Any:
        """GET (or POST `body` as JSON) `path`; the decoded JSON answer."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, headers={
            "Accept": "application/json", "Content-Type": "application/json; charset=utf-8"})
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=self._context()) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"PuppetDB {path}: {exc.code} {exc.read().decode(errors='replace')}") from None

    def query(self, pql: str) -> list[dict[str, Any]]:
        return list(self.request("/pdb/query/v4", {"query": pql}))

    def command(self, command: str, version: int, certname: str, payload: dict[str, Any]) -> str:
        """Submit a command as Puppet's terminus does (Puppet::Util::Puppetdb::Command#submit); its uuid."""
        checksum = hashlib.sha1(json.dumps({"command": command, "version": version, "certname": certname,
                                            "payload": payload}, separators=(",", ":")).encode()).hexdigest()
        params = urllib.parse.urlencode({"checksum": checksum, "version": version, "certname": certname,
                                         "command": command, "producer-timestamp": payload["producer_timestamp"]})
        return str(self.request(f"/pdb/cmd/v1?{params}", payload)["uuid"])

    def replace_facts(self, certname: str, values: dict[str, Any], when: datetime.datetime | None = None) -> None:
        """The facts terminus's payload: the node's facts plus the server's `trusted` hash."""
        trusted = {"authenticated": "remote", "certname": certname, "domain": certname.partition(".")[2],
                   "hostname": certname.partition(".")[0], "extensions": {}}
        self.command("replace_facts", 5, certname, {
            "certname": certname, "values": {**values, "trusted": trusted}, "environment": "production",
            "producer_timestamp": wire_time(when), "producer": SERVER_CERTNAME})

    def replace_catalog(self, certname: str, classes: list[str], when: datetime.datetime | None = None,
                        parameters: dict[str, dict[str, Any]] | None = None) -> None:
        """A compiled catalog as the catalog terminus sends it (compare `apply`): Stage[main] containing
        Class[Settings], Class[main] and one Class resource per class (titles capitalised as Puppet does),
        with `parameters[class name]` as its parameters (a real catalog holds every parameter with a value,
        defaults included: `PuppetDB.apply` shows it)."""
        titles = ["Settings", "main", *(class_title(name) for name in classes)]
        given = {class_title(name): values for name, values in (parameters or {}).items()}

        def resource(kind: str, title: str) -> dict[str, Any]:
            tags = ["class"] if kind == "Class" else ["stage"]
            if title != "main":
                tags += [part.lower() for part in title.split("::")] + ([title.lower()] if "::" in title else [])
            return {"type": kind, "title": title, "tags": sorted(set(tags)), "exported": False,
                    "parameters": given.get(title, {}) if kind == "Class" else {},
                    **({"file": None, "line": None} if kind == "Class" else {})}

        transaction = str(uuid.uuid4())
        self.command("replace_catalog", 9, certname, {
            "certname": certname, "version": str(int(time.time())), "environment": "production",
            "transaction_uuid": transaction, "catalog_uuid": transaction, "code_id": None, "job_id": None,
            "producer_timestamp": wire_time(when), "producer": SERVER_CERTNAME,
            "resources": [resource("Stage", "main"), *(resource("Class", title) for title in titles)],
            "edges": [{"source": {"type": "Stage", "title": "main"}, "target": {"type": "Class", "title": title},
                       "relationship": "contains"} for title in titles]})

    def apply(self, ident: Identity, manifest: str) -> Path:
        """A real `puppet apply` of `manifest` as `ident`, storing its facts and catalog here through Puppet's
        puppetdb terminus (Debian's puppet-terminus-puppetdb); returns the classes file Puppet wrote."""
        with open(ident.conf, "a") as conf:
            conf.write("storeconfigs = true\nstoreconfigs_backend = puppetdb\nreport = false\n")
        (ident.home / "routes.yaml").write_text(
            "apply:\n  catalog: {terminus: compiler, cache: puppetdb}\n"
            "  facts: {terminus: facter, cache: puppetdb_apply}\n")
        (ident.home / "puppetdb.conf").write_text(f"[main]\nserver_urls = {self.url}\nsoft_write_failure = false\n")
        (ident.home / "site.pp").write_text(manifest)
        ident.puppet("apply", "--write-catalog-summary", str(ident.home / "site.pp"))
        for entity in ("factsets", "catalogs"):
            self.wait(f'{entity}[certname] {{ certname = "{ident.certname}" }}', bool)
        return ident.home / "var/state/classes.txt"

    def deactivate(self, certname: str) -> None:
        """What `puppet node deactivate` sends (the node terminus's destroy); returns once stored."""
        self.command("deactivate_node", 3, certname, {"certname": certname, "producer_timestamp": wire_time()})
        self._wait_inactive(certname)

    def expire_stale_nodes(self, certname: str) -> None:
        """Run the node-ttl expiry now instead of at the next garbage collection; returns once `certname`
        (stored with an old producer timestamp) has expired."""
        self.request("/pdb/admin/v1/cmd", {"command": "clean", "version": 1, "payload": ["expire_nodes"]})
        self._wait_inactive(certname)

    def _wait_inactive(self, certname: str) -> None:
        self.wait(f'nodes[certname] {{ certname = "{certname}" and node_state = "inactive" }}', bool)

    def wait(self, pql: str, done: Callable[[list[dict[str, Any]]], bool], timeout: float = 120) -> None:
        """Poll `pql` until `done(rows)`: commands are queued and stored a little later."""
        end = time.monotonic() + timeout
        rows: list[dict[str, Any]] = []
        while time.monotonic() < end:
            rows = self.query(pql)
            if done(rows):
                return
            time.sleep(0.2)
        raise AssertionError(f"PuppetDB: {pql} still gave {rows} after {timeout:g}s")

    def store_node(self, certname: str, facts: dict[str, Any], classes: list[str],
                   when: datetime.datetime | None = None, parameters: dict[str, dict[str, Any]] | None = None) -> None:
        """Facts and a catalog for `certname`, as one agent run leaves them; returns once stored."""
        when = when or datetime.datetime.now(datetime.timezone.utc)
        stamp = wire_time(when)
        self.replace_facts(certname, facts, when)
        self.replace_catalog(certname, classes, when, parameters)
        for entity in ("factsets", "catalogs"):  # the nodes entity shows receive times, not producers'
            self.wait(f'{entity}[producer_timestamp] {{ certname = "{certname}" }}',
                      lambda rows: bool(rows) and _same_instant(rows[0]["producer_timestamp"], stamp))


def _same_instant(stored: str | None, sent: str) -> bool:
    return stored is not None and (datetime.datetime.fromisoformat(stored.replace("Z", "+00:00"))
                                   == datetime.datetime.fromisoformat(sent.replace("Z", "+00:00")))


# ---------------------------------------------------------------- starting

def _psql(*sql: str, database: str = "postgres") -> None:
    cmd = [*PSQL, "-d", database]
    for statement in sql:
        cmd += ["-c", statement]
    run(cmd, timeout=60)


def _drop_orphans() -> None:
    """Drop the databases of earlier runs whose folder is gone (a run killed with its watchdog)."""
    rows = run([*PSQL, "-d", "postgres", "-At", "-F", "\t", "-c",
                "SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database "
                "WHERE datname LIKE 'pymco\\_pdb\\_%'"], timeout=60).stdout
    for line in rows.splitlines():
        name, _, comment = line.partition("\t")
        if comment.startswith(ORPHAN_MARK) and not Path(comment[len(ORPHAN_MARK):]).exists():
            run(_drop_command(name), timeout=60)


def _create_database(name: str, password: str, owner_of: Path) -> None:
    """A role and database for this run (pg_trgm needs a superuser, so it is made here)."""
    if shutil.which("psql") is None:
        raise RuntimeError("psql is missing: scripts/bootstrap installs PostgreSQL")
    _drop_orphans()
    _psql(f"CREATE ROLE {name} LOGIN PASSWORD '{password}'",
          f"CREATE DATABASE {name} OWNER {name} ENCODING 'UTF8' TEMPLATE template0",
          # lets a later run drop databases whose run (and watchdog) was killed outright
          f"COMMENT ON DATABASE {name} IS '{ORPHAN_MARK}{owner_of}'")
    _psql("CREATE EXTENSION pg_trgm", database=name)


def _drop_command(name: str) -> list[str]:
    return [*PSQL, "-d", "postgres", "-c", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)",
            "-c", f"DROP ROLE IF EXISTS {name}"]


def _write_configs(home: Path, port: int, database: str, password: str, server: PuppetServer) -> None:
    for sub in ("conf.d", "var", "log", "run", "ssl"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    certname = f"{home.name}-{uuid.uuid4().hex[:6]}.pymco.test"
    ident = server.identities({certname: home / "puppet"}, dns_alt_names="localhost")[certname]
    for name, source in (("cert.pem", ident.ssldir / f"certs/{certname}.pem"),
                         ("key.pem", ident.ssldir / f"private_keys/{certname}.pem"),
                         ("ca.pem", ident.ssldir / "certs/ca.pem")):
        shutil.copy(source, home / "ssl" / name)
    (home / "ssl/key.pem").chmod(0o600)
    conf = home / "conf.d"
    shutil.copy(SYSTEM_CONF / "conf.d/auth.conf", conf / "auth.conf")
    (conf / "config.ini").write_text(f"""\
[global]
vardir = {home / 'var'}
logging-config = {home / 'logback.xml'}

[command-processing]
threads = 1

[puppetdb]
disable-update-checking = true
""")
    pool = (f"subname = //127.0.0.1:5432/{database}\nusername = {database}\npassword = {password}\n")
    (conf / "database.ini").write_text(f"""\
[database]
{pool}maximum-pool-size = 4
node-ttl = {NODE_TTL_DAYS}d

[read-database]
{pool}maximum-pool-size = 2
""")
    # HTTPS only (no clear-text `port`), on loopback, client certificates required
    (conf / "jetty.ini").write_text(f"""\
[jetty]
ssl-host = 127.0.0.1
ssl-port = {port}
ssl-key = {home / 'ssl/key.pem'}
ssl-cert = {home / 'ssl/cert.pem'}
ssl-ca-cert = {home / 'ssl/ca.pem'}
client-auth = need
access-log-config = {home / 'request-logging.xml'}
""")
    (home / "request-logging.xml").write_text(f"""\
<configuration debug="false">
  <appender name="FILE" class="ch.qos.logback.core.FileAppender">
    <file>{home / 'log/access.log'}</file>
    <encoder><pattern>%h %u [%t] "%r" %s %b %D ms</pattern></encoder>
  </appender>
  <appender-ref ref="FILE" />
</configuration>
""")
    (home / "logback.xml").write_text(f"""\
<configuration>
  <appender name="F1" class="ch.qos.logback.core.FileAppender">
    <file>{home / 'log/puppetdb.log'}</file>
    <encoder><pattern>%d %-5p [%c{{2}}] %m%n</pattern></encoder>
  </appender>
  <logger name="org.eclipse.jetty" level="INFO"/>
  <root level="info"><appender-ref ref="F1"/></root>
</configuration>
""")
    run(["chown", "-R", "puppetdb:puppetdb", str(home / "conf.d"), str(home / "var"), str(home / "log"),
         str(home / "run"), str(home / "ssl")])


def _start(home: Path, server: PuppetServer) -> dict[str, Any]:
    database = f"pymco_pdb_{uuid.uuid4().hex[:10]}"
    password = uuid.uuid4().hex
    home.mkdir(parents=True, exist_ok=True)
    _create_database(database, password, home)
    port = free_port()
    try:
        _write_configs(home, port, database, password, server)
    except Exception:
        run(_drop_command(database))
        raise
    java = ["setpriv", "--reuid=puppetdb", "--regid=puppetdb", "--init-groups", "/usr/bin/java",
            "-Xms64m", f"-Xmx{HEAP}", f"-Xlog:gc:file={home / 'log/gc.log'}", "-Djava.security.egd=/dev/urandom",
            "-XX:OnOutOfMemoryError=kill -9 %p",
            "-cp", str(JAR), "clojure.main", "-m", "puppetlabs.puppetdb.core", "services",
            "--config", str(home / "conf.d"), "--bootstrap-config", str(SYSTEM_CONF / "bootstrap.cfg"),
            "--restart-file", str(home / "run/restart")]
    proc = start_watched(java, home / "log/stdout.log", cleanup=_drop_command(database))
    ssldir = server.home / "puppet/ssl"
    state = {"home": str(home), "port": port, "pid": proc.pid, "database": database,
             "cert": str(ssldir / f"certs/{SERVER_CERTNAME}.pem"),
             "key": str(ssldir / f"private_keys/{SERVER_CERTNAME}.pem"), "ca": str(server.ca_pem)}
    pdb = _from_state(state)

    def running() -> bool:
        try:
            status = pdb.request("/status/v1/services", timeout=5)
        except (OSError, RuntimeError, ValueError):
            return False
        return bool(status.get("puppetdb-status", {}).get("state") == "running")

    state["start_seconds"] = wait_up(proc, "puppetdb", running, START_TIMEOUT,
                                     lambda: log_tail(home / "log/puppetdb.log", home / "log/stdout.log"))
    return state


def _from_state(state: dict[str, Any]) -> PuppetDB:
    return PuppetDB(Path(state["home"]), state["port"], Path(state["cert"]), Path(state["key"]),
                    Path(state["ca"]), state.get("start_seconds", 0.0), state.get("pid", 0))


def shared_puppetdb(server: PuppetServer, name: str = "puppetdb") -> PuppetDB:
    """The run's PuppetDB, its certificate from `server`'s CA, started by whichever worker asks first."""
    return _from_state(shared(name, lambda home: _start(home, server)))
