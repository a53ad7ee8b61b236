"""MCollective-format configuration (`server.cfg`, `client.cfg`).

The format and key names are MCollective's so that an operator's existing
files and habits carry over: `key = value` lines, `#` comments, `plugin.<name>.<key>`
settings, and an optional `plugin.d/<plugin>.cfg` folder beside the file.
A key MCollective does not know (and pymco does not add) is an error naming
the file and line, as a misspelt setting silently ignored is worse.
"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass, field
from typing import Any, Callable

from pymco.errors import ConfigError

__all__ = ["Config", "load_config", "str_to_bool", "default_client_config", "DEFAULT_SERVER_CONFIG",
           "is_secret_setting"]

DEFAULT_SERVER_CONFIG = "/etc/pymco/server.cfg"
CLIENT_CONFIG_CANDIDATES = ("~/.pymco", "/etc/pymco/client.cfg")

_TRUE = {"1", "yes", "true", "y", "t"}
_FALSE = {"0", "no", "false", "n", "f"}


def str_to_bool(value: Any) -> bool:
    """MCollective's Util.str_to_bool: anything but the known words is an error."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{value!r} is not a boolean (use 1/0, yes/no, true/false)")


def _int(value: str) -> int:
    return int(value.strip())


def _float(value: str) -> float:
    return float(value.strip())


def _comma_list(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _path_list(value: str) -> list[str]:
    return [v.strip() for v in value.split(os.pathsep) if v.strip()]


def _libdir_list(value: str) -> list[str]:
    """`~` expanded; a relative folder is refused as Ruby does (it would depend on the cwd of whoever runs mco)."""
    paths = [os.path.expanduser(path) for path in _path_list(value)]
    for path in paths:
        if not os.path.isabs(path):
            raise ValueError(f"libdir paths should be absolute paths but '{path}' is relative")
    return paths


def _loglevel(value: str) -> str:
    level = value.strip().lower()
    if level not in ("debug", "info", "warn", "error", "fatal"):
        raise ValueError("loglevel must be one of debug, info, warn, error, fatal")
    return level


def _logger_type(value: str) -> str:
    kind = value.strip().lower()
    if kind not in ("console", "file", "syslog"):
        raise ValueError("logger_type must be console, file or syslog")
    return kind


def _identity(value: str) -> str:
    value = value.strip()
    if not re.fullmatch(r"[\w.\-]+", value):
        raise ValueError(f"identity {value!r} may only contain letters, digits, '_', '.' and '-'")
    return value


def _str(value: str) -> str:
    return value.strip()


def _positive_float(value: str) -> float:
    number = float(value)
    if number <= 0:
        raise ValueError("must be greater than 0")
    return number


# key -> (parser, default).  A default of None means "unset".
_SCHEMA: dict[str, tuple[Callable[[str], Any], Any]] = {
    "identity": (_identity, None),
    "collectives": (_comma_list, None),
    "main_collective": (_str, None),
    "libdir": (_libdir_list, []),
    "logger_type": (_logger_type, "file"),
    "logfile": (_str, None),
    "loglevel": (_loglevel, "info"),
    "logfacility": (_str, "user"),
    "keeplogs": (_int, 5),
    "max_log_size": (_int, 2097152),
    "daemonize": (str_to_bool, False),
    "securityprovider": (_str, "psk"),
    "connector": (_str, "rabbitmq"),
    "factsource": (_str, "yaml"),
    "fact_cache_time": (_int, 300),
    "classesfile": (_str, "/var/cache/puppet/state/classes.txt"),
    "registration": (_str, "agentlist"),
    "registerinterval": (_int, 0),
    "registration_collective": (_str, None),
    "registration_splay": (str_to_bool, False),
    "rpcaudit": (str_to_bool, False),
    "rpcauditprovider": (_str, ""),
    "rpcauthorization": (str_to_bool, False),
    "rpcauthprovider": (_str, ""),
    "rpclimitmethod": (_str, "first"),
    "direct_addressing": (str_to_bool, True),
    "direct_addressing_threshold": (_int, 10),
    "ttl": (_int, 60),
    "default_discovery_method": (_str, "mc"),
    "default_discovery_options": (_str, None),  # repeatable, see _APPEND
    "discovery_timeout": (_int, None),
    "discovery_quiet_window": (_float, None),  # pymco: end mc discovery once replies stop
    "discovery_quiet_min": (_float, 0.1),  # pymco: the adaptive quiet window's floor
    "discovery_quiet_factor": (_float, 10.0),  # pymco: ... and its multiple of the mean reply gap
    "discovery_grace": (_float, 0.1),  # pymco: wait for unknown nodes once all known ones answered
    "discovery_cache_max_age": (_float, 86400.0),  # pymco: forget a node silent for this long (0: no cache)
    "publish_timeout": (_int, 2),
    "connection_timeout": (_int, None),
    "threaded": (str_to_bool, False),
    "soft_shutdown": (str_to_bool, False),
    "soft_shutdown_timeout": (_positive_float, None),
    "activate_agents": (str_to_bool, True),
    "default_batch_size": (_int, 0),
    "default_batch_sleep_time": (_float, 1.0),
    "color": (str_to_bool, True),
    "ssl_cipher": (_str, "aes-256-cbc"),
    "rpchelptemplate": (_str, None),
    "helptemplatedir": (_str, None),
    # pymco additions
    "max_message_size": (_int, 2 * 1024 * 1024),
    "max_workers": (_int, 16),
    "max_queued_requests": (_int, 1000),
    "probe_interval": (_float, 30.0),  # the daemon's deafness probe (server/probe.py); 0: off
    "probe_timeout": (_float, 10.0),
}
_APPEND = {"default_discovery_options"}
_DEPRECATED = {"topicprefix", "topicsep", "queueprefix"}


@dataclass
class Config:
    """Parsed settings; unset keys read as their MCollective defaults."""

    path: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    pluginconf: dict[str, str] = field(default_factory=dict)
    mode: str = "server"
    warnings: list[str] = field(default_factory=list)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            schema = _SCHEMA[name]
        except KeyError:
            raise AttributeError(name) from None
        settings = self.__dict__.get("settings", {})
        if name in settings:
            return settings[name]
        if name in _APPEND:
            return []
        return schema[1]

    # --- derived values MCollective computes -----------------------------

    @property
    def identity(self) -> str:  # type: ignore[override]
        value = self.settings.get("identity")
        if value:
            return value
        return default_identity()

    @property
    def collectives(self) -> list[str]:  # type: ignore[override]
        return self.settings.get("collectives") or ["mcollective"]

    @property
    def main_collective(self) -> str:  # type: ignore[override]
        return self.settings.get("main_collective") or self.collectives[0]

    @property
    def configdir(self) -> str:
        return os.path.dirname(os.path.abspath(self.path)) if self.path else os.getcwd()

    def plugin(self, key: str, default: Any = None) -> Any:
        """A `plugin.<key>` setting, e.g. plugin('rabbitmq.vhost')."""
        return self.pluginconf.get(key, default)

    def plugin_bool(self, key: str, default: bool) -> bool:
        value = self.pluginconf.get(key)
        if value is None:
            return default
        try:
            return str_to_bool(value)
        except ValueError as exc:
            raise ConfigError(f"plugin.{key}: {exc}") from None

    def plugin_number(self, key: str, default: float, kind: type = float) -> Any:
        value = self.pluginconf.get(key)
        if value is None:
            return default
        try:
            return kind(value)
        except ValueError:
            raise ConfigError(f"plugin.{key}: {value!r} is not a number") from None

    def plugin_section(self, prefix: str) -> dict[str, str]:
        """All `plugin.<prefix>.*` settings with the prefix removed."""
        head = prefix + "."
        return {k[len(head):]: v for k, v in self.pluginconf.items() if k.startswith(head)}

    def item(self, name: str) -> Any:
        """Any setting by name, as rpcutil get_config_item exposes it."""
        if name in _SCHEMA:
            return getattr(self, name)
        if name.startswith("plugin."):
            return self.pluginconf.get(name[len("plugin."):])
        if name == "configfile":
            return self.path
        raise KeyError(name)

    def set(self, key: str, value: str) -> None:
        """Apply one `key = value` setting (used by the parser and by tests)."""
        _apply(self, key, value, "<override>", 0)


def default_identity() -> str:
    name = socket.getfqdn() or socket.gethostname()
    if not re.fullmatch(r"[\w.\-]+", name):
        name = socket.gethostname()
    return name


def _apply(config: Config, key: str, value: str, path: str, lineno: int) -> None:
    where = f"{path}:{lineno}" if lineno else path
    if key.startswith("plugin."):
        name = key[len("plugin."):]
        if not name:
            raise ConfigError(f"{where}: empty plugin setting name")
        config.pluginconf[name] = value.strip()
        return
    if key in _DEPRECATED:
        config.warnings.append(f"{where}: '{key}' is deprecated and ignored")
        return
    if key not in _SCHEMA:
        raise ConfigError(f"{where}: unknown config parameter '{key}'")
    parser = _SCHEMA[key][0]
    try:
        parsed = parser(value)
    except ValueError as exc:
        raise ConfigError(f"{where}: could not parse value for '{key}': {exc}") from None
    if key in _APPEND:
        config.settings.setdefault(key, []).append(parsed)
    else:
        config.settings[key] = parsed


_LINE = re.compile(r"^([A-Za-z0-9_.\-]+)\s*=\s*(.*?)\s*$")


def _parse_lines(text: str, path: str, handle: Callable[[str, str, int], None]) -> None:
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if not match:
            raise ConfigError(f"{path}:{lineno}: malformed line (expected 'key = value'): {raw.strip()!r}")
        handle(match.group(1), match.group(2), lineno)


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None


_SECRET_SUFFIXES = ("password", "passphrase", "psk", "secret", "token")


def _is_secret(plugin_key: str) -> bool:
    """Whether a `plugin.<key>` setting holds a secret itself (not a path to one)."""
    last = plugin_key.rsplit(".", 1)[-1].lower()
    return last.endswith(_SECRET_SUFFIXES)


def is_secret_setting(name: str) -> bool:
    """Whether setting `name` (e.g. "plugin.psk") holds a secret that must not be shown or logged."""
    return name.startswith("plugin.") and _is_secret(name[len("plugin."):])


def _warn_if_exposed(config: Config, path: str, secret_keys: list[str]) -> None:
    """A config file holding secrets must not be readable by every user of the machine."""
    if not secret_keys:
        return
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return
    if mode & 0o004:
        config.warnings.append(
            f"{path} holds {', '.join('plugin.' + k for k in sorted(set(secret_keys)))} and is readable by every "
            f"user (mode {mode & 0o777:04o}); restrict it with chmod o-rwx {path}")


def load_config(path: str, mode: str = "server", overrides: dict[str, str] | None = None) -> Config:
    """Parse `path` plus its `plugin.d/*.cfg` files into a Config.

    Files holding secrets (plugin.psk, broker passwords) that every user can
    read add a warning to `config.warnings`, which the daemon logs.
    """
    config = Config(path=os.path.abspath(path), mode=mode)
    secrets: list[str] = []

    def handle(k: str, v: str, n: int) -> None:
        _apply(config, k, v, path, n)
        if k.startswith("plugin.") and v.strip() and _is_secret(k[len("plugin."):]):
            secrets.append(k[len("plugin."):])

    _parse_lines(_read(path), path, handle)
    _warn_if_exposed(config, path, secrets)
    plugin_dir = os.path.join(os.path.dirname(os.path.abspath(path)), "plugin.d")
    if os.path.isdir(plugin_dir):
        for name in sorted(os.listdir(plugin_dir)):
            match = re.fullmatch(r"(\w+)\.cfg", name)
            if not match:
                continue
            plugin = match.group(1)
            ppath = os.path.join(plugin_dir, name)
            plugin_secrets: list[str] = []

            def handle_plugin(k: str, v: str, n: int, p: str = plugin, found: list[str] = plugin_secrets) -> None:
                config.pluginconf[f"{p}.{k}"] = v.strip()
                if v.strip() and _is_secret(f"{p}.{k}"):
                    found.append(f"{p}.{k}")

            _parse_lines(_read(ppath), ppath, handle_plugin)
            _warn_if_exposed(config, ppath, plugin_secrets)
    for key, value in (overrides or {}).items():
        _apply(config, key, value, "<command line>", 0)
    main = config.settings.get("main_collective")
    if main and main not in config.collectives:
        raise ConfigError(f"{path}: main_collective '{main}' is not in collectives ({', '.join(config.collectives)})")
    return config


def default_client_config() -> str:
    """First readable of ~/.pymco and /etc/pymco/client.cfg (else the first)."""
    candidates = [os.path.expanduser(p) for p in CLIENT_CONFIG_CANDIDATES]
    for candidate in candidates:
        if os.access(candidate, os.R_OK):
            return candidate
    return candidates[-1]
