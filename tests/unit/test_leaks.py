"""The end-of-run leak check finds what a run started, and only that."""

from __future__ import annotations

import os
import subprocess
import uuid

from tests.support.cluster import wait_for
from tests.support.leaks import MARKER, marked_processes, survivors


def test_marked_watched_processes_are_found_and_others_are_not():
    mine, theirs = uuid.uuid4().hex, uuid.uuid4().hex
    spawn = [subprocess.Popen(["bash", "-c", f"exec -a {name} sleep 30"], env=dict(os.environ, **{MARKER: marker}))
             for name, marker in (("mco", mine), ("sleep", mine), ("pymcod", theirs))]
    try:
        found = wait_for(lambda: marked_processes(mine), timeout=10)  # once bash has exec'ed
        assert list(found) == [spawn[0].pid]  # not the unwatched name, not another run's daemon
        assert found[spawn[0].pid].startswith("mco")
        assert list(wait_for(lambda: marked_processes(theirs), timeout=10)) == [spawn[2].pid]
    finally:
        for proc in spawn:
            proc.kill()
            proc.wait()
    assert survivors(mine, grace=0) == {}
