"""`pip install .` ships the package, the agents, DDLs, templates and both commands."""

from __future__ import annotations

import subprocess
import sys
import zipfile


def test_wheel_contents(repo, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                           "-w", str(tmp_path), str(repo)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    [wheel] = tmp_path.glob("pymco-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in ("pymco/_agents/rpcutil.py", "pymco/_agents/discovery.py", "pymco/_ddl/rpcutil.yaml",
                     "pymco/_ddl/data/fstat.yaml", "pymco/server/daemon.py", "pymco/cli/main.py", "pymco/py.typed",
                     "pymco/_agents/package.py", "pymco/_agents/service.py", "pymco/_agents/puppet.py",
                     "pymco/_ddl/puppet.yaml", "pymco/_ddl/data/package.yaml", "pymco/_templates/agent-doc.j2",
                     "pymco/_templates/agent.ddl.j2", "pymco/puppet/launch.py", "pymco/package/apt.py",
                     "pymco/service/sysv.py"):
        assert expected in names, expected
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "mco = pymco.cli.main:main" in text and "pymcod = pymco.server.daemon:main" in text
