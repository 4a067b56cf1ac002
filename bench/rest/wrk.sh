#!/usr/bin/env bash
# REST API throughput of a real node (voxa-dataplane + voxa-control + the api plugin on loopback), measured with
# wrk: `wrk -t2 -c50 -d5s --latency` five times on /status/health and on /metrics; prints the medians as JSON:
#   {"/status/health": {"requests_per_s": ..., "latency_avg_ms": ..., "latency_p50_ms": ..., "latency_p99_ms": ...,
#    "runs": [...]}, "/metrics": {...}, "config": {...}}
# Usage: bench/rest/wrk.sh [--build DIR] [--runs N] [--duration S] [--threads T] [--connections C]
# The node is started as tests/integration/test_api.py does (temporary config/data dirs, ephemeral ports).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${VOXA_BUILD:-$root/build/release}"
runs=5 duration=5 threads=2 connections=50
while [[ $# -gt 0 ]]; do
    case "$1" in
        --build) build="$2"; shift 2 ;;
        --runs) runs="$2"; shift 2 ;;
        --duration) duration="$2"; shift 2 ;;
        --threads) threads="$2"; shift 2 ;;
        --connections) connections="$2"; shift 2 ;;
        -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "wrk.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
command -v wrk >/dev/null || { echo "wrk.sh: wrk is not installed (apt-get install wrk)" >&2; exit 1; }
case "$build" in /*) ;; *) build="$root/$build" ;; esac

VOXA_BUILD="$build" exec python3 - "$root" "$runs" "$duration" "$threads" "$connections" <<'PY'
import json, re, statistics, subprocess, sys
root, runs, duration, threads, connections = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
sys.path.insert(0, f"{root}/tests/integration")
from test_api import Node, wait_ready  # noqa: E402

UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def ms(text):
    m = re.fullmatch(r"([0-9.]+)(us|ms|s)", text)
    return float(m.group(1)) * UNITS_MS[m.group(2)]


def run_wrk(url):
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", url],
                         capture_output=True, text=True, check=True).stdout
    run = {"requests_per_s": float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1)),
           "latency_avg_ms": ms(re.search(r"Latency\s+(\S+)", out).group(1)),
           "latency_p50_ms": ms(re.search(r"\s50%\s+(\S+)", out).group(1)),
           "latency_p99_ms": ms(re.search(r"\s99%\s+(\S+)", out).group(1))}
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(r"Socket errors:.*", out)
    run["non_2xx"] = int(errors.group(1)) if errors else 0
    run["socket_errors"] = socket_errors.group(0) if socket_errors else ""
    return run


result = {"config": {"runs": runs, "duration_s": int(duration), "wrk_threads": int(threads),
                     "connections": int(connections)}}
with Node() as node:
    wait_ready(node)
    for path in ("/status/health", "/metrics"):
        url = f"http://127.0.0.1:{node.port}{path}"
        rs = [run_wrk(url) for _ in range(runs)]
        med = {k: round(statistics.median(r[k] for r in rs), 3)
               for k in ("requests_per_s", "latency_avg_ms", "latency_p50_ms", "latency_p99_ms")}
        med["non_2xx_total"] = sum(r["non_2xx"] for r in rs)
        med["runs"] = rs
        result[path] = med
print(json.dumps(result, indent=2))
PY
