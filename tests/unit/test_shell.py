"""run_command with output captured in files: a daemon left holding stdout does not make us wait."""

from __future__ import annotations

import os
import signal

from pymco.shell import run_command


def test_output_files_do_not_wait_for_a_background_child():
    result = run_command(["sh", "-c", "sleep 30 & echo $!; echo started >&2"], output_files=True)
    pid = int(result.stdout.strip())
    try:
        os.kill(pid, 0)  # still running: run_command returned without waiting for it
        assert result.ok and result.stderr == "started\n"
    finally:
        os.kill(pid, signal.SIGKILL)
