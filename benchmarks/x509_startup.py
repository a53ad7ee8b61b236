#!/usr/bin/env python3
"""What x509 adds to a directed `mco rpc` over psk, with Puppet-sized (RSA-4096) certificates.

Two pymcod on the real broker, one with psk and one with x509 (a throwaway
Puppet-shaped CA, 4096-bit keys as Puppet issues them), and for each the
median wall time of `mco rpc rpcutil ping -I node` over --reps runs: the
whole `mco` start, key loading, signing, the round trip and verification.
It also times loading the operator's 4096-bit key with and without
cryptography's RSA consistency check, which pymco skips for its own key.

    .venv/bin/python benchmarks/x509_startup.py --reps 10
"""

from __future__ import annotations

import argparse
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


def timed(config: Path, node: str) -> float:
    start = time.monotonic()
    proc = subprocess.run([tool("mco"), "rpc", "rpcutil", "ping", "-I", node, "--json", "-c", str(config)],
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    elapsed = time.monotonic() - start
    if proc.returncode != 0 or '"statuscode":0' not in proc.stdout:
        raise RuntimeError(f"mco rpc rpcutil ping -I {node} failed: {proc.stdout[:300]} {proc.stderr[:300]}")
    return elapsed


def key_load(path: Path, skip: bool, reps: int) -> float:
    data = path.read_bytes()
    start = time.perf_counter()
    for _ in range(reps):
        serialization.load_pem_private_key(data, password=None, unsafe_skip_rsa_key_validation=skip)
    return (time.perf_counter() - start) / reps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pymco-bench-") as tmp:
        pki = Pki(Path(tmp) / "ssl")
        for name in (NODE, "operator"):
            pki.issue(name, bits=4096)
        cluster = Cluster(Path(tmp) / "cluster")
        cluster.add_node("bench-psk")
        cluster.add_node(NODE, securityprovider="x509", **{"plugin.x509.ssldir": str(pki.ssldir)})
        x509_client = cluster.write_client("x509.cfg", securityprovider="x509", **{
            "plugin.x509.ssldir": str(pki.ssldir), "plugin.x509.certname": "operator"})
        try:
            cluster.wait()
            timed(cluster.client_config, "bench-psk")  # warm the DDL cache and the broker path
            psk = statistics.median(timed(cluster.client_config, "bench-psk") for _ in range(args.reps))
            x509 = statistics.median(timed(x509_client, NODE) for _ in range(args.reps))
        finally:
            cluster.stop()
        key = pki.ssldir / "private_keys" / "operator.pem"
        checked, skipped = key_load(key, False, 3), key_load(key, True, 3)
    print(f"{'figure':<52} {'median ms':>10}")
    print(f"{'mco rpc rpcutil ping -I node, psk':<52} {psk * 1000:>10.1f}")
    print(f"{'mco rpc rpcutil ping -I node, x509 (RSA-4096)':<52} {x509 * 1000:>10.1f}")
    print(f"{'x509 minus psk':<52} {(x509 - psk) * 1000:>10.1f}")
    print(f"{'load the RSA-4096 key, with the RSA check':<52} {checked * 1000:>10.1f}")
    print(f"{'load the RSA-4096 key, as pymco does (check skipped)':<52} {skipped * 1000:>10.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
