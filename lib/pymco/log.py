"""Logging set-up for daemon and client, with MCollective's settings.

`logger_type` console|file|syslog, `loglevel` debug..fatal, `logfile`,
`max_log_size`/`keeplogs` for rotation, `logfacility` for syslog.  The daemon
cycles the level on SIGUSR2 and reopens files on SIGHUP for logrotate.

Defaults that start: a daemon in the foreground with neither `logger_type`
nor `logfile` set logs to stderr; otherwise `logger_type = file` without a
`logfile` writes DEFAULT_LOGFILE (MCollective's own default, "file" with no
file, logs nothing at all).
"""

from __future__ import annotations

import logging
import os
import sys

from pymco.config import Config
from pymco.errors import ConfigError

__all__ = ["setup_logging", "cycle_level", "reopen_logs", "LEVELS", "DEFAULT_LOGFILE"]

DEFAULT_LOGFILE = "/var/log/pymco/pymcod.log"

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
          "error": logging.ERROR, "fatal": logging.CRITICAL}
_CYCLE = [logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL]
FORMAT = "%(levelname)s %(asctime)s %(process)d %(name)s: %(message)s"


def setup_logging(config: Config, default_type: str | None = None, level: str | None = None,
                  foreground: bool = False) -> logging.Logger:
    """Route the root logger as `config` says; `foreground`: a daemon attached to its terminal."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    kind = config.settings.get("logger_type") or default_type
    if kind is None:
        kind = "console" if foreground and not config.logfile else config.logger_type
    handler: logging.Handler
    if kind == "file":
        path = config.logfile or DEFAULT_LOGFILE
        try:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            if config.max_log_size > 0:
                from logging.handlers import RotatingFileHandler  # not at the top: it loads pickle

                handler = RotatingFileHandler(
                    path, maxBytes=config.max_log_size, backupCount=max(0, config.keeplogs))
            else:
                handler = logging.FileHandler(path)
        except OSError as exc:
            raise ConfigError(f"cannot open logfile {path}: {exc.strerror}") from None
    elif kind == "syslog":
        from logging.handlers import SysLogHandler

        facility = SysLogHandler.facility_names.get(config.logfacility, 1)
        try:
            handler = SysLogHandler(address="/dev/log", facility=facility)
        except OSError:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter(FORMAT))
            root.addHandler(handler)
            root.warning("syslog is not available (/dev/log); logging to stderr")
        else:
            handler.setFormatter(logging.Formatter("pymco[%(process)d]: %(levelname)s %(name)s: %(message)s"))
            root.addHandler(handler)
        root.setLevel(LEVELS[level or config.loglevel])
        _quiet_libraries()
        return root
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    root.addHandler(handler)
    root.setLevel(LEVELS[level or config.loglevel])
    _quiet_libraries()
    return root


def _quiet_libraries() -> None:
    # stomp.py logs every connection attempt and frame at INFO/DEBUG; we log our own.
    logging.getLogger("stomp.py").setLevel(max(logging.getLogger().level, logging.ERROR))


def cycle_level() -> str:
    root = logging.getLogger()
    try:
        index = _CYCLE.index(root.level)
    except ValueError:
        index = 1
    new = _CYCLE[(index + 1) % len(_CYCLE)]
    root.setLevel(new)
    name = logging.getLevelName(new)
    root.warning("log level is now %s", name)
    return name


def reopen_logs() -> None:
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.acquire()
            try:
                if handler.stream:
                    handler.stream.close()
                handler.stream = handler._open()
            finally:
                handler.release()
            logging.getLogger("pymco.log").info("reopened log file %s", handler.baseFilename)
