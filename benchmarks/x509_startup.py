#!/usr/bin/env python3
"""What x509 adds to a directed `mco rpc` over psk, with Puppet-sized (RSA-4096) certificates.

Two pymcod on the real broker, one with psk and one with x509 (a throwaway
Puppet 6+-shaped PKI: root and intermediate CA, crl.pem with both CRLs, every
key 4096-bit as Puppet makes them), and `mco rpc rpcutil ping -I node` run
--reps times for each, alternating, so load from other processes hits both
alike.  For every run it takes the wall time and the CPU time (user + sys) of
the `mco` process; it prints the medians and the x509 - psk differences:

* x509: the usual case, the client's record of verified certificates
  (plugin.x509.verified_cache, in a private XDG_CACHE_HOME) already knows the
  node's and its own certificate;
* x509, full check: the record disabled, so every call imports
  cryptography.x509 and checks both certificates against ca.pem and crl.pem
  (what a first call, or one after a CRL change, costs).

Bytecode is cached for the children (PYTHONPYCACHEPREFIX) even when the
caller sets PYTHONDONTWRITEBYTECODE, as an installed pymco has its .pyc files.
It also times loading the operator's key with and without cryptography's RSA
consistency check, which pymco skips for its own key.

    .venv/bin/python benchmarks/x509_startup.py --reps 31
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography.hazmat.primitives import serialization  # noqa: E402

from tests.support.cluster import Cluster, tool  # noqa: E402
from tests.support.pki import Pki  # noqa: E402

NODE = "bench-x509.example.test"


def timed(config: Path, node: str, env: dict[str, str]) -> tuple[float, float]:
    """(wall, CPU of the child) in seconds for one `mco rpc rpcutil ping -I node`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    proc = subprocess.run([tool("mco"), "rpc", "rpcutil", "ping", "-I", node, "--json", "-c", str(config)],
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, env=env)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0 or '"statuscode":0' not in proc.stdout:
        raise RuntimeError(f"mco rpc rpcutil ping -I {node} failed: {proc.stdout[:300]} {proc.stderr[:300]}")
    return wall, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def key_load(path: Path, skip: bool, reps: int) -> float:
    data = path.read_bytes()
    start = time.perf_counter()
    for _ in range(reps):
        serialization.load_pem_private_key(data, password=None, unsafe_skip_rsa_key_validation=skip)
    return (time.perf_counter() - start) / reps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=31)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pymco-bench-") as tmp:
        root = Pki(Path(tmp) / "root", name="Puppet Root CA: bench", bits=4096)
        pki = Pki(Path(tmp) / "ssl", name="Puppet CA: bench", parent=root, bits=4096)
        for name in (NODE, "operator"):
            pki.issue(name, bits=4096)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(PYTHONPYCACHEPREFIX=str(Path(tmp) / "pycache"), XDG_CACHE_HOME=str(Path(tmp) / "cache"))
        cluster = Cluster(Path(tmp) / "cluster")
        cluster.add_node("bench-psk")
        cluster.add_node(NODE, securityprovider="x509", **{"plugin.x509.ssldir": str(pki.ssldir)})
        x509 = {"securityprovider": "x509", "plugin.x509.ssldir": str(pki.ssldir), "plugin.x509.certname": "operator"}
        runs = {"psk": (cluster.client_config, "bench-psk"),
                "x509": (cluster.write_client("x509.cfg", **x509), NODE),
                "x509, full check": (cluster.write_client("x509-full.cfg", **x509,
                                                          **{"plugin.x509.verified_cache": "none"}), NODE)}
        figures: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
        try:
            cluster.wait()
            for config, node in runs.values():  # compile the bytecode, warm the DDL cache and the record
                timed(config, node, env)
            for _ in range(args.reps):
                for name, (config, node) in runs.items():
                    figures[name].append(timed(config, node, env))
        finally:
            cluster.stop()
        key = pki.ssldir / "private_keys" / "operator.pem"
        checked, skipped = key_load(key, False, 3), key_load(key, True, 3)
    wall = {name: statistics.median(w for w, _ in runs_) * 1000 for name, runs_ in figures.items()}
    cpu = {name: statistics.median(c for _, c in runs_) * 1000 for name, runs_ in figures.items()}
    print(f"mco rpc rpcutil ping -I node, median of {args.reps} alternating runs (RSA-4096, root + intermediate CA)")
    print(f"{'':<40} {'wall ms':>9} {'CPU ms':>9}")
    for name in figures:
        print(f"{name:<40} {wall[name]:>9.1f} {cpu[name]:>9.1f}")
    for name in ("x509", "x509, full check"):
        print(f"{name + ' minus psk':<40} {wall[name] - wall['psk']:>9.1f} {cpu[name] - cpu['psk']:>9.1f}")
    print(f"{'load the RSA-4096 key, with the RSA check':<52} {checked * 1000:>9.1f} ms")
    print(f"{'load the RSA-4096 key, as pymco does (check skipped)':<52} {skipped * 1000:>9.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
