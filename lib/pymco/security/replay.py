"""Request ids a daemon has served, so that a captured request cannot be sent again.

Each id is kept until its request has expired anyway (msgtime + ttl): after
that the TTL check refuses it.  In memory alone the record dies with the
daemon, and a request captured just before a restart could be replayed just
after it; with `plugin.x509.replay_cache = PATH` every id is also appended to
a journal that the next start reads back.  The journal is one JSON array
`[expires, requestid]` per line (any request id is safe in it), written
without fsync: it has to outlive the daemon, not the machine (a reboot takes
longer than a TTL).  It is rewritten with the live ids only once it holds
more than twice as many lines, so it stays small.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from typing import IO

from pymco.errors import ConfigError
from pymco.security import keys

log = logging.getLogger(__name__)

__all__ = ["ReplayCache"]

_MIN_REWRITE = 1000  # journal lines below which it is never rewritten


class ReplayCache:
    """Request ids seen, each until its expiry; optionally journalled to `path`.

    Only requests whose signature verified are recorded, so a forger cannot
    fill it; `limit` bounds it against a flood from a legitimate key.
    """

    def __init__(self, limit: int = 200_000, path: str | None = None) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, float] = {}
        self._limit = limit
        self._next_prune = 0.0
        self._path = path
        self._journal: IO[str] | None = None
        self._journal_lines = 0
        if path:
            self._seen = self._read_journal(path, time.time())
            self._rewrite_journal()

    def check_and_add(self, requestid: str, expires: float, now: float) -> bool:
        """True if requestid is new (and now recorded), False if it is a replay."""
        with self._lock:
            if now >= self._next_prune or len(self._seen) >= self._limit:
                self._seen = {k: v for k, v in self._seen.items() if v > now}
                self._next_prune = now + 10
            until = self._seen.get(requestid)
            if until is not None and until > now:
                return False
            if len(self._seen) >= self._limit:
                raise keys.refused(f"replay cache is full ({self._limit} live request ids); refusing "
                                   f"{requestid} until some expire", "replay")
            self._seen[requestid] = expires
            if self._journal is not None:
                self._append(requestid, expires)
            return True

    # ------------------------------------------------------------ journal
    @staticmethod
    def _read_journal(path: str, now: float) -> dict[str, float]:
        seen: dict[str, float] = {}
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    try:
                        expires, requestid = json.loads(line)
                    except (ValueError, TypeError):
                        continue  # a line cut short by a crash, or not ours: nothing to honour
                    if isinstance(requestid, str) and isinstance(expires, (int, float)) and expires > now:
                        seen[requestid] = float(expires)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise ConfigError(f"plugin.x509.replay_cache {path}: {exc.strerror}") from None
        return seen

    def _rewrite_journal(self) -> None:
        """Replace the journal with the live ids (write, rename), then append to it."""
        assert self._path is not None
        if self._journal is not None:
            self._journal.close()
        tmp = f"{self._path}.{os.getpid()}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.writelines(_line(rid, exp) for rid, exp in self._seen.items())
            os.replace(tmp, self._path)
            self._journal = open(self._path, "a", encoding="utf-8")  # noqa: SIM115 - kept open for appends
        except OSError as exc:
            raise ConfigError(f"plugin.x509.replay_cache {self._path}: {exc.strerror}") from None
        self._journal_lines = len(self._seen)

    def _append(self, requestid: str, expires: float) -> None:
        assert self._journal is not None
        try:
            self._journal.write(_line(requestid, expires))
            self._journal.flush()
            self._journal_lines += 1
            if self._journal_lines > max(_MIN_REWRITE, 2 * len(self._seen)):
                self._rewrite_journal()
        except (OSError, ConfigError) as exc:
            # Serving goes on with the ids in memory; only a restart could forget them.
            log.error("replay cache journal %s: %s; request ids are kept in memory only until restart",
                      self._path, exc)
            self._journal = None


def _line(requestid: str, expires: float) -> str:
    return json.dumps([math.ceil(expires), requestid]) + "\n"
