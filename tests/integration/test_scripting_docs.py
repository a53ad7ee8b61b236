"""Issue 16: every `python` and `sh` example of docs/scripting.md, run against real pymcod nodes.

The examples run in the page's order in one home directory (later ones use
what earlier ones generated), with the client configuration in `~/.pymco`
and `mco` on the PATH; each must exit 0 and print the `text` block shown
after it.  The `ruby` example runs in tests/interop/test_ruby_simplerpc.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cluster import BIN, REPO
from tests.support.docs import examples, normalise

pytestmark = pytest.mark.integration

DOC = REPO / "docs" / "scripting.md"
EXAMPLES = [e for e in examples(DOC) if e.language in ("python", "sh")]


@pytest.fixture(scope="module")
def home(cluster, tmp_path_factory) -> Path:
    cluster.add_node("web1", facts={"role": "web"}, classes=["webserver"])
    cluster.add_node("web2", facts={"role": "web"}, classes=["webserver"])
    cluster.add_node("db1", facts={"role": "db"}, classes=["database"])
    cluster.wait()
    home = tmp_path_factory.mktemp("home")
    (home / "lib").mkdir()
    (home / ".pymco").write_text(cluster.client_config.read_text() + f"libdir = {home / 'lib'}\n")
    return home


def test_the_page_has_examples_with_outputs():
    assert len(EXAMPLES) >= 15
    assert sum(e.expected is not None for e in EXAMPLES) >= 14


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.id for e in EXAMPLES])
def test_example(home, example):
    env = dict(os.environ, HOME=str(home), PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop("MCOLLECTIVE_EXTRA_OPTS", None)
    if example.language == "python":
        script = home / f"example_{example.line}.py"
        script.write_text(example.code)
        command = [sys.executable, str(script)]
    else:
        command = ["bash", "-e", "-o", "pipefail", "-c", example.code]
    proc = subprocess.run(command, cwd=home, env=env, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)
    report = f"{DOC.name}:{example.line} exited {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
    assert proc.returncode == 0, report
    if example.expected is not None:
        assert normalise(proc.stdout, home) == normalise(example.expected), report
