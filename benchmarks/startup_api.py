"""What the scripting API (issue 16) costs `mco` at start-up: nothing, if these figures agree.

For a few `mco` commands it prints the median wall time over --reps runs and
the modules imported, in this checkout and (with --base REV, default main)
in that revision's `lib/`; which of `pymco.api`, `pymco.cli.codegen`,
`pymco.cli.custom` and `pymco.cli.pipeline` were imported, and what they
cost by `python -X importtime` (microseconds; steadier than wall times on
a loaded machine).  `mco rpc rpcutil ping` runs against a
client config whose broker refuses at once (nothing listens on port 1), so
every module a real call imports up to connecting is counted, without a
broker.  It also prints what a script pays for `import pymco.api`.

    .venv/bin/python benchmarks/startup_api.py --reps 20
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WATCH = ("pymco.api", "pymco.cli.codegen", "pymco.cli.custom", "pymco.cli.pipeline")
PROBE = """
import sys
sys.argv = ["mco"] + sys.argv[1:]
from pymco.cli.main import main
try:
    main()
except SystemExit:
    pass
sys.stderr.write("MODULES %d %s\\n" % (len(sys.modules), ",".join(m for m in {watch!r} if m in sys.modules)))
"""


def commands(config: Path) -> dict[str, list[str]]:
    return {"mco help": ["help"], "mco rpc --help": ["rpc", "--help"],
            "mco rpc rpcutil ping": ["rpc", "rpcutil", "ping", "-c", str(config), "--connection-timeout", "1"]}


def import_cost(args: list[str]) -> str:
    """`-X importtime` microseconds of each scripting module a command imports (steadier than wall time)."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", PROBE.format(watch=WATCH), *args],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)
    costs = []
    for line in proc.stderr.splitlines():
        parts = [p.strip() for p in line.removeprefix("import time:").split("|")]
        if len(parts) == 3 and parts[2] in WATCH:
            costs.append(f"{parts[2]} {parts[0]} us self, {parts[1]} us with what it imported first")
    return ", ".join(costs) or "none"


def measure(args: list[str], pythonpath: str | None, reps: int) -> tuple[float, str]:
    env = dict(os.environ, PYMCO_CACHE_DIR=os.environ.get("PYMCO_CACHE_DIR", str(Path.home() / ".cache/pymco")))
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    times, modules = [], ""
    for _ in range(reps):
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", PROBE.format(watch=WATCH), *args], env=env,
                              capture_output=True, text=True, stdin=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
        modules = next((line for line in proc.stderr.splitlines() if line.startswith("MODULES")), "MODULES ?")
    return statistics.median(times), modules.split(" ", 1)[1]


def base_lib(rev: str, directory: Path) -> str:
    archive = directory / "base.tar"
    with open(archive, "wb") as out:
        subprocess.run(["git", "-C", str(REPO), "archive", rev, "lib"], stdout=out, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(directory, filter="data")
    return str(directory / "lib")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--base", default="main", help="git revision to compare with ('' for none)")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        config = directory / "client.cfg"
        config.write_text("identity = bench\ncollectives = mcollective\nsecurityprovider = psk\nplugin.psk = x\n"
                          "connector = rabbitmq\nplugin.rabbitmq.pool.size = 1\n"
                          "plugin.rabbitmq.pool.1.host = 127.0.0.1\nplugin.rabbitmq.pool.1.port = 1\n")
        variants = {"this checkout": None}
        if opts.base:
            variants[f"base {opts.base}"] = base_lib(opts.base, directory)
        print(f"{'command':<24} {'variant':<16} {'median ms':>10}  modules / scripting modules imported")
        for title, args in commands(config).items():
            for variant, path in variants.items():
                median, modules = measure(args, path, opts.reps)
                count, _, watched = modules.partition(" ")
                print(f"{title:<24} {variant:<16} {median * 1000:>10.1f}  {count} / {watched or '-'}")
            print(f"{'':<24} {'import cost':<16} {import_cost(args)}")
        times = []
        for _ in range(opts.reps):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", "import pymco.api"], check=True)
            times.append(time.perf_counter() - start)
        print(f"{'python -c import pymco.api':<41} {statistics.median(times) * 1000:>10.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
