"""`pymcod registration-receiver`: keep the fleet's inventory in SQLite from registration messages.

It listens where daemons register (the `registration` agent in each of its
collectives), checks each message with the security provider like a daemon
would (signature, TTL), and upserts one row per node: agents, facts, classes
and collectives (the last three only from `meta` registrations), and when it
was first and last seen.  `mco --dm inventory` reads the same file, so
discovery needs no broadcast.  Anything malformed is logged and dropped; the
receiver keeps going and reconnects after broker outages like a daemon.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sqlite3
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

from pymco import plugins
from pymco.config import DEFAULT_SERVER_CONFIG, Config, load_config
from pymco.connector.base import Incoming
from pymco.errors import ConfigError, MessageError, PymcoError
from pymco.log import reopen_logs, setup_logging
from pymco.protocol.message import text

log = logging.getLogger(__name__)

__all__ = ["Inventory", "NodeRecord", "Receiver", "default_database", "parse_registration", "main"]

DEFAULT_DATABASE = "/var/lib/pymco/inventory.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS nodes (
    identity    TEXT PRIMARY KEY,
    agents      TEXT NOT NULL,
    facts       TEXT,
    classes     TEXT,
    collectives TEXT,
    first_seen  REAL NOT NULL,
    last_seen   REAL NOT NULL
)
"""


def default_database(config: Config) -> str:
    """`plugin.inventory.database`, shared by the receiver and `--dm inventory`."""
    return config.plugin("inventory.database") or DEFAULT_DATABASE


@dataclass
class NodeRecord:
    """One node as the inventory knows it; facts/classes are None when never reported."""

    identity: str
    agents_list: list[str]
    facts: dict[str, Any] | None
    classes_list: list[str] | None
    collectives: list[str]  # empty: not reported (agentlist registration)
    first_seen: float
    last_seen: float

    # ---- the matcher's NodeView
    def agents(self) -> list[str]:
        return self.agents_list

    def classes(self) -> list[str]:
        return self.classes_list or []

    def fact(self, name: str) -> Any:
        from pymco.facts.base import MISSING, lookup

        return lookup(self.facts, name) if self.facts is not None else MISSING

    def data(self, plugin: str, query: str | None) -> dict[str, Any] | None:
        return None


class Inventory:
    """The SQLite file: one writer (the receiver), any number of readers (mco)."""

    def __init__(self, path: str, readonly: bool = False) -> None:
        self.path = path
        try:
            if readonly:
                if not os.path.exists(path):
                    raise ConfigError(f"the inventory {path} does not exist: is pymcod registration-receiver "
                                      f"running, and plugin.inventory.database (or --do FILE) right?")
                self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10,
                                           check_same_thread=False)
            else:
                os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
                self._db = sqlite3.connect(path, timeout=10, check_same_thread=False)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute(_SCHEMA)
                self._db.commit()
        except sqlite3.Error as exc:
            raise ConfigError(f"cannot open the inventory {path}: {exc}") from None
        self._lock = threading.Lock()

    def record(self, identity: str, agents: list[str], facts: dict[str, Any] | None,
               classes: list[str] | None, collectives: list[str], seen: float | None = None) -> None:
        now = time.time() if seen is None else seen
        with self._lock:
            self._db.execute(
                "INSERT INTO nodes (identity, agents, facts, classes, collectives, first_seen, last_seen) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(identity) DO UPDATE SET agents = excluded.agents, "
                "facts = COALESCE(excluded.facts, nodes.facts), classes = COALESCE(excluded.classes, nodes.classes), "
                "collectives = excluded.collectives, last_seen = excluded.last_seen",
                (identity, json.dumps(agents), None if facts is None else json.dumps(facts, default=str),
                 None if classes is None else json.dumps(classes), json.dumps(collectives), now, now))
            self._db.commit()

    def nodes(self, max_age: float | None = None) -> list[NodeRecord]:
        """Every node, or those seen within `max_age` seconds, by identity."""
        query = "SELECT identity, agents, facts, classes, collectives, first_seen, last_seen FROM nodes"
        args: tuple[Any, ...] = ()
        if max_age:
            query += " WHERE last_seen >= ?"
            args = (time.time() - max_age,)
        try:
            with self._lock:
                rows = self._db.execute(query + " ORDER BY identity", args).fetchall()
        except sqlite3.Error as exc:
            raise ConfigError(f"cannot read the inventory {self.path}: {exc}") from None
        return [NodeRecord(row[0], json.loads(row[1]), json.loads(row[2]) if row[2] else None,
                           json.loads(row[3]) if row[3] else None, json.loads(row[4] or "[]"), row[5], row[6])
                for row in rows]

    def close(self) -> None:
        self._db.close()


def _strings(value: Any) -> list[str] | None:
    if not isinstance(value, list):
        return None
    return [text(v) for v in value if isinstance(v, (str, bytes))]


def _plain(value: Any) -> Any:
    """Marshal data (Symbols, bytes) as JSON-able values."""
    if isinstance(value, dict):
        return {text(k) if isinstance(k, (str, bytes)) else str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


class Receiver:
    def __init__(self, config: Config, database: str) -> None:
        self.config = config
        self.inventory = Inventory(database)
        self.security = plugins.resolve("security", config.securityprovider)(config, client=False)
        self.connector = plugins.resolve("connector", config.connector)(config, config.identity, daemon=True)
        self.connector.on_message(self.on_message)
        self.collectives = list(config.collectives)
        self.recorded = 0
        self.dropped = 0

    def start(self) -> None:
        self.connector.keep_connected()
        for collective in self.collectives:
            self.connector.subscribe_agent("registration", collective)
        log.info("registration receiver %s listening in %s, inventory %s", self.config.identity,
                 ", ".join(self.collectives), self.inventory.path)

    def stop(self) -> None:
        self.connector.disconnect()
        self.inventory.close()

    def on_message(self, incoming: Incoming) -> None:
        sender = incoming.headers.get("mc_sender", "?")
        try:
            request = self.security.decode_request(incoming.payload, incoming.headers)
            if request.expired:
                raise MessageError(f"registration from {request.senderid} is older than its TTL")
            if request.agent != "registration":
                raise MessageError(f"message for agent {request.agent}, not registration")
            self.store(request.senderid, request.collective, request.body)
        except (MessageError, PymcoError) as exc:
            self.dropped += 1
            log.warning("dropping a registration message from %s: %s", sender, exc)
        except sqlite3.Error as exc:
            self.dropped += 1
            log.error("cannot write the registration from %s to %s: %s", sender, self.inventory.path, exc)
        except Exception as exc:  # noqa: BLE001 - hostile input must never stop the receiver
            self.dropped += 1
            log.error("dropping an undecodable registration message from %s: %s: %s", sender,
                      type(exc).__name__, exc)

    def store(self, identity: str, collective: str, body: Any) -> None:
        """Record one registration body sent by `identity` to `collective`."""
        if not identity:
            raise MessageError("registration without a sender identity")
        agents, facts, classes, collectives = parse_registration(identity, body)
        self.inventory.record(identity, agents, facts, classes, collectives)
        self.recorded += 1
        log.debug("registered %s from %s: %d agents%s", identity, collective, len(agents),
                  ", facts" if facts is not None else "")


def parse_registration(identity: str, body: Any) -> tuple[list[str], dict[str, Any] | None, list[str] | None,
                                                           list[str]]:
    """(agents, facts, classes, collectives) of an agentlist or meta body; MessageError otherwise.

    Facts and classes are None, and collectives empty, when the body does not
    carry them (agentlist), so an update never erases what a meta body said.
    """
    facts: dict[str, Any] | None = None
    classes: list[str] | None = None
    collectives: list[str] = []
    agents = _strings(body)
    if agents is None and isinstance(body, dict):
        fields = {text(k): v for k, v in body.items() if isinstance(k, (str, bytes))}
        agents = _strings(fields.get("agentlist"))
        raw_facts = fields.get("facts")
        facts = _plain(raw_facts) if isinstance(raw_facts, dict) else None
        classes = _strings(fields.get("classes"))
        collectives = _strings(fields.get("collectives")) or []
    if agents is None:
        raise MessageError(f"registration body from {identity} is neither an agent list nor a meta hash")
    return agents, facts, classes, collectives


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pymcod registration-receiver",
                                     description="Keep the fleet inventory (SQLite) from registration messages.")
    parser.add_argument("-c", "--config", default=DEFAULT_SERVER_CONFIG, help="server-style config file")
    parser.add_argument("--database", help="SQLite file (default: plugin.inventory.database or "
                                           f"{DEFAULT_DATABASE})")
    parser.add_argument("--list", action="store_true", help="print the inventory as JSON lines and exit")
    return parser


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    try:
        config = load_config(args.config, mode="server")
        database = args.database or default_database(config)
        if args.list:
            inventory = Inventory(database, readonly=True)
            for node in inventory.nodes():
                sys.stdout.write(json.dumps({"identity": node.identity, "agents": node.agents_list,
                                             "facts": node.facts, "classes": node.classes_list,
                                             "collectives": node.collectives, "last_seen": node.last_seen}) + "\n")
            return 0
        setup_logging(config, foreground=True)
        log.info("configuration: %s", config.path)
        receiver = Receiver(config, database)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        signal.signal(signal.SIGHUP, lambda *_: reopen_logs())
        receiver.start()
        while not stop.wait(0.5):
            pass
        receiver.stop()
        log.info("registration receiver stopped (%d recorded, %d dropped)", receiver.recorded, receiver.dropped)
    except PymcoError as exc:
        sys.stderr.write(f"pymcod registration-receiver: {exc}\n")
        return 1
    return 0
