"""Shared harness of the integration tests: a real dev network (scripts/devnet.sh: per node a real voxa-dataplane
and, by default, a voxa-control with the api plugin, on loopback or in network namespaces), driven through
voxactl, inspected through `voxactl local-stats` (the data plane's socket), the REST API (Devnet.api) and, for the
on-the-wire checks, through an AF_PACKET capture of what one node receives.

Every test is a plain script: it exits 0 on success, 1 with a message on failure, 77 when the machine lacks
something it needs (meson reports that as skipped). Python standard library only.
"""
import ctypes
import hashlib
import http.client
import json
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("VOXA_BUILD", ROOT / "build" / "release"))
DATAPLANE = BUILD / "dataplane" / "daemon" / "voxa-dataplane"
VOXACTL = BUILD / "controlplane" / "voxactl" / "voxactl"
CONTROL = BUILD / "controlplane" / "control" / "voxa-control"
DEVNET = ROOT / "scripts" / "devnet.sh"


class Failure(Exception):
    pass


_libc = ctypes.CDLL(None, use_errno=True)
_CLONE_NEWNET = 0x40000000


def enter_netns(name):
    """Moves the calling thread into network namespace `name` (setns(2); os.setns needs Python 3.12)."""
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        if _libc.setns(fd, _CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns {name}: {os.strerror(err)}")
    finally:
        os.close(fd)


def check(cond, what):
    if not cond:
        raise Failure(what)


def skip(reason):
    print(f"SKIP: {reason}")
    sys.exit(77)


def main(test):
    """Runs `test()` and maps its outcome to the exit code meson expects."""
    try:
        test()
    except Failure as e:
        print(f"FAIL: {e}")
        sys.exit(1)
    print("PASS")
    sys.exit(0)


def need_root():
    if os.geteuid() != 0:
        skip("needs root (network namespaces, raw capture)")



def free_udp_port_base(count, tries=50):
    """A base B such that UDP 127.0.0.1:B..B+count-1 are free now: loopback devnets of different tests (or of
    other users of this machine) then never fight over fixed ports. Picked below the kernel's ephemeral range."""
    for _ in range(tries):
        base = random.randrange(20000, 32000 - count)
        socks = []
        try:
            for p in range(base, base + count):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise Failure(f"no {count} consecutive free UDP ports on 127.0.0.1")


def wait_until(what, cond, timeout, step=0.1):
    """Polls cond() until true; returns the seconds it took. Fails naming `what` after `timeout` s."""
    t0 = time.time()
    while True:
        if cond():
            return time.time() - t0
        if time.time() - t0 > timeout:
            raise Failure(f"{what}: not within {timeout} s")
        time.sleep(step)


def wait_gone(pid, timeout=5.0):
    """Waits until process `pid` has exited. A process this script started again (Devnet.restart) is its child:
    once dead it stays a zombie, which signal 0 still reaches, until it is reaped here."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        except ChildProcessError:
            pass   # not our child: init reaps it
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.02)


class Devnet:
    """A running dev network; use as a context manager so it is always stopped."""

    def __init__(self, count, netns=False, relays=None, hops=2, n=5, k=3, parts_per_relay=2, extra_p2p=None,
                 name="it", control=True, backend="uring", dpdk_nodes=None, dpdk_vdev=None, hugepages=False,
                 dpdk_arp=False, netns_prefix=None, timeout=None, registry=None,
                 registry_settings=None):
        """control: also run voxa-control (api plugin on an ephemeral port per node) beside every data plane.
        backend: "uring", "dpdk" or "mixed" (devnet.sh --backend; dpdk and mixed imply netns); dpdk_nodes: the
        DPDK nodes' indices for mixed (default: the even-indexed relays); dpdk_vdev: "af_packet" (default) or
        "tap"; dpdk_arp: DPDK nodes learn MACs through ARP only (no static neighbours); netns_prefix:
        VOXA_NETNS_PREFIX for the devnet's namespaces, bridge and subnet (default: the environment's, else
        "voxa"); timeout: devnet.sh --timeout (seconds until every node is ready); registry: "central" or "dht"
        (devnet.sh --registry: nodes find one another only through the registry plugin; implies netns);
        registry_settings: a dict merged into every node's plugin-settings.registry."""
        self.dir = Path(f"/tmp/voxa-it-{name}")
        self.env = dict(os.environ)
        if netns_prefix:
            self.env["VOXA_NETNS_PREFIX"] = netns_prefix
        netns = netns or registry is not None
        self.netns = netns
        self.control = control
        self.registry = registry
        args = [str(DEVNET), "start", str(count), "--dir", str(self.dir), "--build", str(BUILD),
                "--hops", str(hops), "--n", str(n), "--k", str(k), "--parts-per-relay", str(parts_per_relay)]
        if control:
            args += ["--api-base", "0"]   # ephemeral ports; each node's is in nodes.json and data/run/api_port
        else:
            args.append("--no-control")
        if netns:
            args.append("--netns")
        else:
            args += ["--port-base", str(free_udp_port_base(count))]
        if relays is not None:
            args += ["--relays", str(relays)]
        if backend != "uring":
            args += ["--backend", backend]
            if dpdk_nodes:
                args += ["--dpdk-nodes", ",".join(str(i) for i in dpdk_nodes)]
            if dpdk_vdev:
                args += ["--dpdk-vdev", dpdk_vdev]
            if hugepages:
                args.append("--hugepages")
            if dpdk_arp:
                args.append("--dpdk-arp")
        # devnet.sh gives up after --timeout (default 20 s) and then stops what it started (up to ~15 s).
        self.start_timeout = max(120, (timeout or 20) + 60)
        if timeout is not None:
            args += ["--timeout", str(timeout)]
        if registry:
            args += ["--registry", registry]
        if registry_settings:
            args += ["--registry-settings", json.dumps(registry_settings)]
        p2p = {"gossip_interval_s": 1}
        p2p.update(extra_p2p or {})
        args += ["--extra-p2p", json.dumps(p2p)]
        self.start_args = args

    def __enter__(self):
        subprocess.run([str(DEVNET), "stop", "--dir", str(self.dir)], capture_output=True, env=self.env)
        try:
            r = subprocess.run(self.start_args, capture_output=True, text=True, timeout=self.start_timeout,
                               env=self.env)
        except subprocess.TimeoutExpired as e:
            self.stop()   # nothing of a half-started devnet stays behind
            raise Failure(f"devnet start did not finish within {self.start_timeout} s:\n{e.stdout}\n{e.stderr}\n"
                          f"{self.logs()}")
        if r.returncode != 0:
            self.stop()
            raise Failure(f"devnet start failed:\n{r.stdout}\n{r.stderr}\n{self.logs()}")
        self.nodes = json.loads((self.dir / "nodes.json").read_text())
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def stop(self):
        subprocess.run([str(DEVNET), "stop", "--dir", str(self.dir)], capture_output=True, timeout=60, env=self.env)

    def logs(self, tail=15):
        out = []
        for log in sorted(list(self.dir.glob("node*/log")) + list(self.dir.glob("node*/control.log"))):
            lines = log.read_text(errors="replace").splitlines()[-tail:]
            out.append(f"--- {log}\n" + "\n".join(lines))
        return "\n".join(out)

    # ---- nodes ----
    def node(self, i):
        return self.nodes[i]

    def ctl(self, i, *args, timeout=120, check_rc=True, env=None):
        """Runs voxactl for node i (inside its namespace in --netns mode, where its REST API listens), with `env`
        added to the environment (passwords, registry tokens)."""
        base = self.dir / f"node{i}"
        cmd = [str(VOXACTL), "--data", str(base / "data"), "--config", str(base / "config"), *args]
        if self.nodes[i].get("netns"):
            cmd = ["ip", "netns", "exec", self.nodes[i]["netns"], *cmd]
        full_env = dict(os.environ)
        full_env.update(env or {})
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=full_env)
        if check_rc and r.returncode != 0:
            raise Failure(f"voxactl {' '.join(args)} on node {i} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}\n"
                          f"{self.logs()}")
        return r

    def stats(self, i):
        """The data plane's own STATS JSON (local socket; works without voxa-control)."""
        return json.loads(self.ctl(i, "local-stats").stdout)

    def wait_stat(self, i, path, at_least, timeout=5):
        """Stats are published by the workers every 50 ms: waits until stats[path...] >= at_least."""
        deadline = time.time() + timeout
        while True:
            v = self.stats(i)
            for key in path:
                v = v[key]
            if v >= at_least or time.time() > deadline:
                return v
            time.sleep(0.05)

    def pid(self, i):
        return int((self.dir / f"node{i}" / "pid").read_text())

    def kill(self, i, sig=signal.SIGKILL):
        """Signals node i's data plane and waits (5 s at most) until it is gone."""
        pid = self.pid(i)
        os.kill(pid, sig)
        wait_gone(pid)

    def restart(self, i, env=None):
        """Starts node i again with its own config and data (same identity), optionally with extra env."""
        node = self.nodes[i]
        base = self.dir / f"node{i}"
        cmd = [str(DATAPLANE), "--config", str(base / "config"), "--data", str(base / "data")]
        if node.get("netns"):
            cmd = ["ip", "netns", "exec", node["netns"], *cmd]
        full_env = dict(os.environ)
        full_env.update(env or {})
        log = open(base / "log", "a")
        p = subprocess.Popen(cmd, stdout=log, stderr=log, env=full_env, start_new_session=True)
        (base / "pid").write_text(str(p.pid))
        deadline = time.time() + 20
        while time.time() < deadline:
            r = self.ctl(i, "local-stats", check_rc=False, timeout=5)
            if r.returncode == 0:
                return p
            time.sleep(0.1)
        raise Failure(f"node {i} did not come back:\n{self.logs()}")

    # ---- the control plane and its REST API ----
    def token(self, i):
        """The api plugin's bearer token of node i (data/local/api_token)."""
        return (self.dir / f"node{i}" / "data" / "local" / "api_token").read_text().strip()

    def api_port(self, i):
        return int((self.dir / f"node{i}" / "data" / "run" / "api_port").read_text().strip())

    def api(self, i, path, method="GET", body=None, token=None, timeout=10, raw_body=None, headers=None):
        """One HTTP request to node i's REST API. token: None = the node's token for POST/PUT/DELETE and none for
        GET, "" = none, else that token. body: a JSON value (or raw_body: bytes as they are). Returns
        (status, headers as a dict with lower-case names, parsed JSON body or the text when it is not JSON)."""
        if token is None:
            token = self.token(i) if method in ("POST", "PUT", "DELETE") else ""
        hdrs = dict(headers or {})
        if token:
            hdrs["Authorization"] = f"Bearer {token}"
        data = raw_body
        if data is None and body is not None:
            data = json.dumps(body).encode()
        if data is not None:
            hdrs.setdefault("Content-Type", "application/json")
        result = {}

        def run():
            try:
                if self.nodes[i].get("netns"):
                    enter_netns(self.nodes[i]["netns"])   # this thread only
                host = self.nodes[i].get("api_host") or "127.0.0.1"   # a central registry listens off loopback
                conn = http.client.HTTPConnection(host, self.api_port(i), timeout=timeout)
                conn.request(method, path, body=data, headers=hdrs)
                resp = conn.getresponse()
                text = resp.read().decode(errors="replace")
                conn.close()
                try:
                    parsed = json.loads(text)
                except ValueError:
                    parsed = text
                result["r"] = (resp.status, {k.lower(): v for k, v in resp.getheaders()}, parsed)
            except Exception as e:   # reported in the caller's thread
                result["e"] = e
        t = threading.Thread(target=run)
        t.start()
        t.join(timeout + 5)
        if "e" in result:
            raise result["e"]
        if "r" not in result:
            raise Failure(f"{method} {path} on node {i}: no answer within {timeout} s")
        return result["r"]

    def control_pid(self, i):
        return int((self.dir / f"node{i}" / "control.pid").read_text())

    def kill_control(self, i, sig=signal.SIGKILL):
        """Signals node i's voxa-control and waits (5 s at most) until it is gone."""
        pid = self.control_pid(i)
        os.kill(pid, sig)
        wait_gone(pid)

    def restart_control(self, i, env=None, timeout=20):
        """Starts voxa-control of node i again (same config and data); returns once /status/health answers."""
        base = self.dir / f"node{i}"
        cmd = [str(CONTROL), "--config", str(base / "config"), "--data", str(base / "data")]
        if self.nodes[i].get("netns"):
            cmd = ["ip", "netns", "exec", self.nodes[i]["netns"], *cmd]
        full_env = dict(os.environ)
        full_env.update(env or {})
        log = open(base / "control.log", "a")
        p = subprocess.Popen(cmd, stdout=log, stderr=log, env=full_env, start_new_session=True)
        (base / "control.pid").write_text(str(p.pid))
        deadline = time.time() + timeout
        while time.time() < deadline:
            if p.poll() is not None:
                raise Failure(f"voxa-control of node {i} exited ({p.returncode}):\n{self.logs()}")
            try:
                # With the token: a node whose API listens off loopback (a central registry) needs it for reads.
                if self.api(i, "/status/health", timeout=2, token=self.token(i))[0] == 200:
                    return p
            except (OSError, ValueError, Failure, http.client.HTTPException):
                pass   # not listening yet (or api_port still names the previous instance's port)
            time.sleep(0.1)
        raise Failure(f"voxa-control of node {i} did not answer /status/health within {timeout} s:\n{self.logs()}")

    def wait_ready(self, i, timeout=20):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            try:
                last = self.api(i, "/status/ready", timeout=2, token=self.token(i))
                if last[0] == 200:
                    return last[2]
            except (OSError, Failure, http.client.HTTPException) as e:
                last = e
            time.sleep(0.1)
        raise Failure(f"node {i} not ready within {timeout} s: {last}")

    def wait_known(self, i, count, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.stats(i)["directory"]["known"] >= count:
                return
            time.sleep(0.2)
        raise Failure(f"node {i} knows {self.stats(i)['directory']['known']} nodes, expected {count}")


class Receiver:
    """`voxactl recv` running in the background at one node."""

    def __init__(self, net, i, count=1, out_dir=None, timeout=120):
        self.out_dir = Path(out_dir or (net.dir / f"recv{i}"))
        self.out_dir.mkdir(parents=True, exist_ok=True)
        cmd = [str(VOXACTL), "--data", net.nodes[i]["data"], "recv", "--count", str(count), "--timeout",
               str(timeout), "--out-dir", str(self.out_dir)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(0.3)   # subscribed before anything is sent (the daemon also queues until a subscriber)

    def wait(self, timeout=180):
        out, err = self.proc.communicate(timeout=timeout)
        if self.proc.returncode != 0:
            raise Failure(f"voxactl recv failed ({self.proc.returncode}):\n{out}\n{err}")
        return out


def random_file(path, size):
    with open(path, "wb") as f:
        left = size
        while left:
            chunk = os.urandom(min(left, 1 << 20))
            f.write(chunk)
            left -= len(chunk)
    return sha256(path)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_lines(out):
    """`file <name> <bytes> <sha256> ...` lines printed by voxactl recv."""
    result = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[0] == "file":
            result[parts[1]] = (int(parts[2]), parts[3])
    return result


def transfer(net, src, dst, size, name="blob.bin", chunk=None):
    """Sends a random file of `size` bytes from node src to node dst and checks its hash there."""
    path = net.dir / name
    digest = random_file(path, size)
    recv = Receiver(net, dst)
    args = ["send", net.nodes[dst]["node_id"], "--file", str(path)]
    if chunk:
        args += ["--chunk", str(chunk)]
    net.ctl(src, *args, timeout=300)
    files = file_lines(recv.wait())
    check(name in files, f"no file line for {name} at node {dst}")
    check(files[name] == (size, digest), f"{name}: received {files[name]}, sent {(size, digest)}")
    got = sha256(recv.out_dir / name)
    check(got == digest, f"{name} on disk hashes to {got}, sent {digest}")


def drops_total(stats, layer):
    return sum(stats["drops"].get(layer, {}).values())


# ---- raw capture (AF_PACKET) ----
class Capture:
    """Captures UDP datagrams to `port` on `ifname` (inside namespace `netns`, if given) in a thread."""

    def __init__(self, ifname, port, netns=None):
        self.port = port
        self.datagrams = []   # (src ip, src port, dst ip, payload bytes)
        self.stop_flag = False
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ifname, netns), daemon=True)
        self.thread.start()
        self.ready.wait(5)

    def _run(self, ifname, netns):
        if netns:
            enter_netns(netns)   # this thread only
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
        s.bind((ifname, 0))
        s.settimeout(0.2)
        self.ready.set()
        while not self.stop_flag:
            try:
                frame, addr = s.recvfrom(65535)
            except socket.timeout:
                continue
            if addr[2] == socket.PACKET_OUTGOING:
                continue
            self._parse(frame)
        s.close()

    def _parse(self, frame):
        off = 14   # Ethernet (lo also carries a 14-byte fake Ethernet header)
        ethertype = struct.unpack("!H", frame[12:14])[0]
        if ethertype != 0x0800:
            return
        ihl = (frame[off] & 0x0F) * 4
        if frame[off + 9] != 17:
            return
        total = struct.unpack("!H", frame[off + 2:off + 4])[0]
        src = socket.inet_ntoa(frame[off + 12:off + 16])
        dst = socket.inet_ntoa(frame[off + 16:off + 20])
        udp = off + ihl
        sport, dport = struct.unpack("!HH", frame[udp:udp + 4])
        if dport != self.port:
            return
        # A UDP GSO train crosses veth and the bridge unsegmented: one capture record holding several datagrams
        # of gso_size bytes each. Its IP length covers the whole train.
        self.datagrams.append((src, sport, dst, bytes(frame[udp + 8:off + total])))

    def stop(self):
        self.stop_flag = True
        self.thread.join(5)
        return self.datagrams


def send_udp(host, port, payloads, netns=None):
    """Fires raw UDP datagrams at host:port (from inside `netns`, if given)."""
    def run():
        if netns:
            enter_netns(netns)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for p in payloads:
            s.sendto(p, (host, port))
        s.close()
    t = threading.Thread(target=run)
    t.start()
    t.join()
