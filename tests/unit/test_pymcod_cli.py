"""`pymcod` from a user's side: --help lists the subcommands, --version, which config it uses, errors once,
and logging defaults that start (stderr in the foreground, /var/log/pymco/pymcod.log otherwise)."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from pymco import __version__
from pymco.config import Config
from pymco.log import DEFAULT_LOGFILE, setup_logging

REPO = Path(__file__).resolve().parents[2]


def pymcod(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "import sys; from pymco.server.daemon import main; sys.exit(main())",
                           *args], capture_output=True, text=True, timeout=60)


def test_help_lists_the_subcommands_and_the_default_config():
    out = pymcod("--help").stdout
    assert "pymcod facts refresh" in out and "pymcod registration-receiver" in out
    assert "/etc/pymco/server.cfg" in out


def test_version():
    assert pymcod("--version").stdout.strip() == f"pymcod {__version__}"


def test_a_missing_config_is_one_line_naming_the_file(tmp_path):
    proc = pymcod("-c", str(tmp_path / "nope.cfg"))
    assert proc.returncode == 1
    assert proc.stderr == f"pymcod: config file {tmp_path / 'nope.cfg'} does not exist\n"


def test_a_bad_config_after_logging_started_is_printed_once(tmp_path):
    cfg = tmp_path / "server.cfg"
    cfg.write_text("logger_type = console\nsecurityprovider = nosuchprovider\nconnector = rabbitmq\n")
    proc = pymcod("-c", str(cfg))
    assert proc.returncode == 1
    assert proc.stderr.count("nosuchprovider") == 2  # the log line and the final message, not a third copy
    assert f"configuration: {cfg}" in proc.stderr


@pytest.fixture
def root_logger():
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    yield root
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


def test_foreground_without_log_settings_logs_to_stderr(root_logger):
    setup_logging(Config(path="/x/server.cfg"), foreground=True)
    [handler] = root_logger.handlers
    assert type(handler) is logging.StreamHandler and handler.stream is sys.stderr


def test_detached_or_file_without_logfile_writes_the_default_file(root_logger, monkeypatch, tmp_path):
    monkeypatch.setattr("pymco.log.DEFAULT_LOGFILE", str(tmp_path / "pymco" / "pymcod.log"))
    for config, foreground in ((Config(path="/x"), False), (Config(path="/x", settings={"logger_type": "file"}), True)):
        setup_logging(config, foreground=foreground)
        [handler] = root_logger.handlers
        assert handler.baseFilename == str(tmp_path / "pymco" / "pymcod.log")
    assert DEFAULT_LOGFILE == "/var/log/pymco/pymcod.log"


def test_foreground_with_a_logfile_writes_it(root_logger, tmp_path):
    setup_logging(Config(path="/x", settings={"logfile": str(tmp_path / "my.log")}), foreground=True)
    [handler] = root_logger.handlers
    assert handler.baseFilename == str(tmp_path / "my.log")


def test_broker_setup_needs_a_password_and_takes_a_listen_address():
    script = str(REPO / "scripts" / "broker-setup")
    refused = subprocess.run(["bash", script, "--collectives", "x"], capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and "--password PASSWORD" in refused.stderr
    shown = subprocess.run(["bash", script, "--print-config", "--listen", "0.0.0.0"], capture_output=True, text=True,
                           timeout=60)
    assert shown.returncode == 0 and "stomp.listeners.tcp.1 = 0.0.0.0:61613" in shown.stdout
