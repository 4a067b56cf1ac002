#!/usr/bin/env python3
"""Registry timings on the 12-node devnet, both backends (issue 6's benchmark): a relay's start -> its first use
in a circuit by another node, and its death -> its avoidance, median of 5 kill/start cycles each.

It runs tests/integration/test_registry.py --bench (the same network and checks as the integration test) and
prints its BENCH lines. Needs root (network namespaces) and a release build: VOXA_BUILD=build/release (default).
Usage: sudo bench/registry/timing.py [--only central|dht]
"""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEST = ROOT / "tests" / "integration" / "test_registry.py"

if __name__ == "__main__":
    env = dict(os.environ)
    env.setdefault("VOXA_BUILD", str(ROOT / "build" / "release"))
    p = subprocess.run([sys.executable, str(TEST), "--bench", *sys.argv[1:]], env=env, capture_output=True, text=True)
    lines = [line for line in p.stdout.splitlines() if line.startswith("BENCH ") or "cycle" in line]
    print("\n".join(lines))
    if p.returncode != 0:
        print(p.stdout[-4000:], p.stderr[-2000:], sep="\n", file=sys.stderr)
    sys.exit(p.returncode)
