#!/usr/bin/env python3
"""voxactl, the operator CLI, end to end.

Part 1 (no daemons): voxactl against a small fake API server in this process, to pin what the HTTP client and the
exit codes promise: chunked and Content-Length bodies, the server's error message on stderr with the URL, the
token sent from data/local/api_token, a hung server ended by --timeout, no server (exit 1 naming the URL), usage
errors (exit 2), `ready` exiting 1 when the node answers 503.

Part 2: every REST verb against a running devnet node (voxa-control with the api plugin): the human output names
what operators look for, --json parses and carries the contract's fields, reload/drain/log-level work with the
token and are refused (exit 1, 401 on stderr) without it, and the local verbs still work beside them."""
import http.server
import json
import os
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import voxa_it as it


def run(args, timeout=30, env=None):
    r = subprocess.run([str(it.VOXACTL), *args], capture_output=True, text=True, timeout=timeout, env=env)
    return r.returncode, r.stdout, r.stderr


# ---- part 1: a fake API ----

class Fake(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen = []   # (method, path, authorization, body)

    def log_message(self, *args):
        pass

    def send(self, status, body, chunked=False, ctype="application/json"):
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(data), 7):   # many small chunks, with an extension on one
                part = data[i:i + 7]
                ext = ";x=1" if i == 0 else ""
                self.wfile.write(f"{len(part):x}{ext}\r\n".encode() + part + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    def do_GET(self):
        Fake.seen.append(("GET", self.path, self.headers.get("Authorization"), None))
        if self.path == "/status/health":
            self.send(200, {"status": "ok", "control": {"pid": 11, "epoch": 3, "uptime_s": 5},
                            "dataplane": {"up": True, "pid": 10, "epoch": 2, "heartbeat_age_ms": 7}}, chunked=True)
        elif self.path == "/status/ready":
            self.send(503, {"ready": False, "reasons": ["data plane down"]})
        elif self.path == "/metrics":
            self.send(200, "# TYPE voxa_up gauge\nvoxa_up 1\n", ctype="text/plain; version=0.0.4", chunked=True)
        else:
            self.send(404, {"error": {"code": "not_found", "message": f"no route {self.path}"}})

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n).decode()
        Fake.seen.append(("POST", self.path, self.headers.get("Authorization"), body))
        if self.headers.get("Authorization") != "Bearer " + "ab" * 32:
            self.send_response(401)
            data = b'{"error":{"code":"unauthorized","message":"a bearer token is required"}}'
            self.send_header("WWW-Authenticate", "Bearer")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        if self.path == "/control/drain":
            self.send(200, {"success": True, "draining": True, "deadline_s": json.loads(body).get("deadline_s", 10)})
        else:
            self.send(200, {"success": True, "level": json.loads(body).get("level")})


def part_fake():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Fake)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    api = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        (data / "run").mkdir(parents=True)
        (data / "local").mkdir(mode=0o700)
        g = ["--data", str(data), "--config", str(Path(tmp) / "config")]

        # The port comes from data/run/api_port when there is no --api.
        (data / "run" / "api_port").write_text(f"{port}\n")
        rc, out, err = run([*g, "health"])
        it.check(rc == 0, f"health (chunked body) exited {rc}: {err}")
        it.check("up, pid 10, epoch 2" in out and "pid 11, epoch 3" in out, f"health output: {out!r}")
        rc, out, err = run([*g, "--json", "health"])
        it.check(rc == 0 and json.loads(out)["dataplane"]["epoch"] == 2, f"health --json: {rc} {out!r} {err}")
        rc, out, err = run([*g, "health", "--json"])   # --json after the verb too
        it.check(rc == 0 and json.loads(out)["control"]["pid"] == 11, f"health --json after the verb: {out!r}")

        rc, out, err = run([*g, "metrics"])
        it.check(rc == 0 and out == "# TYPE voxa_up gauge\nvoxa_up 1\n", f"metrics: {rc} {out!r} {err}")

        # Not ready: the body is printed, exit 1.
        rc, out, err = run([*g, "ready"])
        it.check(rc == 1 and "not ready: data plane down" in out, f"ready on 503: {rc} {out!r} {err!r}")

        # A server error: exit 1, stderr names the URL, the status and the server's message.
        rc, out, err = run([*g, "peers"])
        it.check(rc == 1 and f"GET {api}/peers" in err and "404" in err and "no route /peers" in err,
                 f"peers on 404: {rc} {err!r}")

        # Writes without a token: 401, and stderr says where the token was looked for.
        rc, out, err = run([*g, "log-level", "debug"])
        it.check(rc == 1 and "401" in err and "api_token" in err, f"log-level without token: {rc} {err!r}")
        (data / "local" / "api_token").write_text("ab" * 32 + "\n")
        os.chmod(data / "local" / "api_token", 0o600)
        rc, out, err = run([*g, "log-level", "debug"])
        it.check(rc == 0 and "debug" in out, f"log-level with token: {rc} {out!r} {err!r}")
        it.check(Fake.seen[-1][3] == '{"level":"debug"}', f"log-level body {Fake.seen[-1]}")
        rc, out, err = run([*g, "--json", "drain", "--deadline", "7"])
        it.check(rc == 0 and json.loads(out)["deadline_s"] == 7, f"drain --deadline 7: {rc} {out!r} {err!r}")
        it.check(json.loads(Fake.seen[-1][3]) == {"deadline_s": 7}, f"drain body {Fake.seen[-1]}")

        # --api wins over api_port.
        (data / "run" / "api_port").write_text("1\n")
        rc, out, err = run([*g, "--api", api, "health"])
        it.check(rc == 0, f"--api {api} health: {rc} {err}")

        # No server: exit 1 with a message naming the URL.
        rc, out, err = run([*g, "status"])
        it.check(rc == 1 and "http://127.0.0.1:1/status" in err and "refused" in err.lower(),
                 f"status with no server: {rc} {err!r}")

        # A server that never answers (a listening socket nobody accepts on): ended by --timeout, exit 1.
        mute = socket.socket()
        mute.bind(("127.0.0.1", 0))
        mute.listen(4)
        t0 = time.time()
        rc, out, err = run([*g, "--api", f"http://127.0.0.1:{mute.getsockname()[1]}", "--timeout", "0.5", "health"])
        mute.close()
        took = time.time() - t0
        it.check(rc == 1 and "timed out" in err and took < 4, f"hung server: {rc} after {took:.1f} s: {err!r}")

        # Usage errors: exit 2, before any connection.
        for args in (["frobnicate"], ["log-level", "loud"], ["drain", "--deadline", "0"], ["stats", "--interval", "x"],
                     ["status", "extra"], ["--api", "https://x:1", "status"], []):
            rc, out, err = run([*g, *args])
            it.check(rc == 2, f"voxactl {' '.join(args)} exited {rc}, expected 2: {err!r}")
        # Every verb has --help (exit 0, on stdout).
        for verb in ("status", "peers", "circuits", "paths", "stats", "health", "ready", "version", "settings",
                     "reload", "drain", "log-level", "metrics", "send", "recv", "reply", "message-status",
                     "local-stats"):
            rc, out, err = run([verb, "--help"])
            it.check(rc == 0 and "usage: voxactl" in out and verb in out, f"{verb} --help: {rc} {out!r} {err!r}")
    server.shutdown()


# ---- part 2: a real node ----

def part_devnet():
    if not it.CONTROL.exists():
        it.skip(f"{it.CONTROL} is not built (part 1 passed)")
    with it.Devnet(3, relays=1, hops=1, n=1, k=1, parts_per_relay=1, name="voxactl") as net:
        i = 0
        j = lambda *a: json.loads(net.ctl(i, "--json", *a).stdout)   # noqa: E731

        out = net.ctl(i, "status").stdout
        for word in ("node", "control", "dataplane", "up, pid", net.nodes[i]["node_id"]):
            it.check(word in out, f"status lacks {word!r}:\n{out}")
        s = j("status")
        it.check(s["node_id"] == net.nodes[i]["node_id"], f"status node_id {s.get('node_id')}")
        it.check(s["dataplane"]["up"] is True and s["known_nodes"] >= 2, f"status: {s}")

        h = j("health")
        it.check(h["status"] == "ok" and h["control"]["pid"] == net.control_pid(i), f"health: {h}")
        it.check(h["dataplane"]["pid"] == net.pid(i), f"health dataplane pid {h['dataplane']} vs {net.pid(i)}")
        it.check(net.ctl(i, "ready").stdout.strip() == "ready", "ready")
        it.check(j("ready")["ready"] is True, "ready --json")

        v = j("version")
        it.check(v["name"] == "voxa" and any(p["name"] == "api" for p in v["plugins"]), f"version: {v}")
        it.check("api" in net.ctl(i, "version").stdout, "version lists the api plugin")

        st = j("settings")
        it.check("settings" in st and "p2p" in st, f"settings: {list(st)}")

        p = j("peers")
        it.check(p["total"] >= 2 and len(p["peers"]) >= 2, f"peers: {p}")
        ids = {x["node_id"] for x in p["peers"]}
        it.check(net.nodes[1]["node_id"] in ids, f"node 1 not among the peers of node 0: {ids}")
        it.check(net.nodes[1]["node_id"][:16] in net.ctl(i, "peers").stdout, "peers table lacks node 1")

        # Traffic, so circuits, paths and counters have something to show.
        it.transfer(net, 2, 1, 256 << 10, name="small.bin")
        c = j("circuits")
        it.check("circuits" in c and "origin_circuits" in c, f"circuits: {c}")
        # The circuit list is a snapshot the workers refresh every 250 ms: allow it a moment to show the circuit.
        deadline = time.time() + 3
        while True:
            c2 = json.loads(net.ctl(2, "--json", "circuits").stdout)
            if c2["circuits"] or time.time() > deadline:
                break
            time.sleep(0.1)
        it.check(c2["circuits"] and c2["origin_circuits"] >= 1, f"the sender has no origin circuit: {c2}")
        it.check("origin circuits" in net.ctl(2, "circuits").stdout, "circuits table footer")
        # Paths come from the data plane's circuit snapshot: a new circuit may take a moment to show.
        deadline = time.time() + 5
        while True:
            pa = json.loads(net.ctl(2, "--json", "paths").stdout)
            if any(x["destination"] == net.nodes[1]["node_id"] for x in pa["paths"]) or time.time() > deadline:
                break
            net.ctl(2, "send", net.nodes[1]["node_id"], "--data", "keep a circuit up", "--no-wait")
            time.sleep(0.3)
        it.check(any(x["destination"] == net.nodes[1]["node_id"] for x in pa["paths"]), f"paths: {pa}")
        net.ctl(2, "paths")

        st = j("stats")
        it.check(st["counters"] and "totals" in st and st["workers"], f"stats: {list(st)}")
        out = net.ctl(i, "stats").stdout
        it.check("COUNTER" in out and st["counters"][0]["name"] in out, f"stats table:\n{out}")
        # Live: three samples, rates from the second one on; --json gives one document per line.
        r = net.ctl(i, "stats", "--watch", "--interval", "0.2", "--count", "3")
        it.check(r.stdout.count("COUNTER") == 3, f"stats --watch --count 3 printed:\n{r.stdout}")
        lines = net.ctl(i, "--json", "stats", "--watch", "--interval", "0.1", "--count", "2").stdout.splitlines()
        it.check(len(lines) == 2 and all("totals" in json.loads(x) for x in lines), f"stats --json --watch: {lines}")

        m = net.ctl(i, "metrics").stdout
        it.check("# TYPE" in m and "voxa_dataplane_up" in m, f"metrics:\n{m[:300]}")

        # Writes: with the token (read by voxactl from data/local/api_token) they work.
        rl = j("reload")
        it.check(rl.get("success") is True and "applied" in rl, f"reload: {rl}")
        ll = j("log-level", "debug")
        it.check(ll.get("level") == "debug", f"log-level: {ll}")
        net.ctl(i, "log-level", "info")
        # ... and without it they are refused: exit 1, 401 on stderr. (A copy of the data dir without the token.)
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "run").mkdir()
            (Path(tmp) / "run" / "api_port").write_text(str(net.api_port(i)))
            rc, out, err = run(["--data", tmp, "reload"])
            it.check(rc == 1 and "401" in err, f"reload without a token: {rc} {err!r}")
            rc, out, err = run(["--data", tmp, "--json", "health"])
            it.check(rc == 0 and json.loads(out)["status"] == "ok", f"reads need no token on loopback: {rc} {err}")

        # Local verbs beside the REST ones.
        ls = json.loads(net.ctl(i, "local-stats").stdout)
        it.check(ls["directory"]["known"] >= 2, f"local-stats: {ls.get('directory')}")

        # Drain last (the node stops taking new circuits).
        d = j("drain", "--deadline", "5")
        it.check(d.get("draining") is True and d.get("deadline_s") == 5, f"drain: {d}")
        st = j("status")
        it.check(st["draining"] is True, f"status after drain: draining={st.get('draining')}")
        rc = net.ctl(i, "ready", check_rc=False).returncode
        it.check(rc == 1, f"ready after drain exited {rc}, expected 1 (draining)")


def test():
    it.check(it.VOXACTL.exists(), f"{it.VOXACTL} is not built")
    part_fake()
    part_devnet()


it.main(test)
