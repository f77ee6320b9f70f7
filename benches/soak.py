#!/usr/bin/env python3
"""A soak run of linedns under faults (standard library, and dnsperf for the load).

    benches/soak.py [--seconds 1800] [--linedns PATH] [--cpu N]

`linedns serve` answers load at half its measured maximum (dnsperf) while, all the time:
the rules are reloaded every 2 s (two versions in turn, each written atomically, SIGHUP);
ten health-checked TCP backends flap at random (each closes and reopens its port every
0.5–4 s); and every minute a burst of 2,000 malformed packets and an RRL flood of 5,000
queries from one /24 (127.0.9.0/24; the load's own address is on the RRL allow-list)
arrive. RSS and open file descriptors are sampled every 10 s.

It passes (exit 0) when no good query is lost, none gets SERVFAIL, RSS grows less than
5 % from the end of the warm-up (a third of the run, at most 60 s) to the end, the fd
count ends where it started (give or take the probes in flight), every flood was held to
its rate, and the server answers at the end. Without --linedns it builds the release
binary first. CI runs `--seconds 60` (tests/slow/soak.rs); the 30-minute run is recorded in
benches/README.md.
"""
import argparse
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
BACKENDS = 10
RRL_RATE = 50
FLOOD_SOURCE = "127.0.9.1"
BURST_SOURCE = "127.0.8.1"


def rules(version, port, backends):
    """The rules of one version: ten probed nodes over two lines, RRL and a TXT version."""
    nodes = "\n".join(f"            - {{ address: 192.0.2.{10 + i}, probe: \"127.0.0.1:{p}\" }}"
                      for i, p in enumerate(backends))
    return f"""version: 1
server:
  listen: ["127.0.0.1:{port}"]
  watch: false
  rrl: {{ rate: {RRL_RATE}, slip: 2, allow: [127.0.0.1/32] }}
health_checks:
  tcp: {{ kind: tcp, interval_ms: 200, timeout_ms: 200, fall: 2, rise: 2 }}
lines:
  - name: telecom
    sources: [{{ cidr: [198.51.100.0/24] }}]
zones:
  - origin: example.com
    soa: {{ mname: ns1, rname: hostmaster, serial: 1 }}
    ns: [ns1]
    records:
      - {{ name: ns1, type: A, values: 192.0.2.53 }}
      - {{ name: version, type: TXT, values: "{version}" }}
    line_records:
      - name: www
        type: A
        health_check: tcp
        pools:
          default:
{nodes}
"""


class Backend:
    """A TCP listener on a fixed loopback port that can be closed and opened again."""

    def __init__(self):
        self.sock = None
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self.open()

    def open(self):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(64)
        s.setblocking(False)
        self.sock = s

    def close(self):
        if self.sock:
            self.sock.close()
            self.sock = None

    def accept_all(self):
        """Accepts and closes whatever connected (a probe only connects)."""
        if not self.sock:
            return
        try:
            while True:
                conn, _ = self.sock.accept()
                conn.close()
        except (BlockingIOError, OSError):
            pass


def flap(backends, stop, flips):
    """Each backend closes or reopens at random every 0.5–4 s until `stop`."""
    due = [time.monotonic() + random.uniform(0.5, 4) for _ in backends]
    while not stop.is_set():
        now = time.monotonic()
        for i, b in enumerate(backends):
            b.accept_all()
            if now >= due[i]:
                b.close() if b.sock else b.open()
                flips[0] += 1
                due[i] = now + random.uniform(0.5, 4)
        time.sleep(0.02)
    for b in backends:
        b.close()


def query(qid, name, qtype=1):
    q = qid.to_bytes(2, "big") + b"\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00"
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\x00" + qtype.to_bytes(2, "big") + b"\x00\x01"


def flood(port, count, seconds):
    """`count` queries from FLOOD_SOURCE over `seconds`; returns (full answers, truncated)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((FLOOD_SOURCE, 0))
    s.setblocking(False)
    full = truncated = 0
    start = time.monotonic()
    for i in range(count):
        s.sendto(query(i & 0xFFFF, "www.example.com"), ("127.0.0.1", port))
        if i % 50 == 49:
            time.sleep(max(0.0, start + seconds * (i + 1) / count - time.monotonic()))
        full, truncated = drain(s, full, truncated)
    end = time.monotonic() + 0.5
    while time.monotonic() < end:
        full, truncated = drain(s, full, truncated)
        time.sleep(0.01)
    s.close()
    return full, truncated


def drain(s, full, truncated):
    while True:
        try:
            answer = s.recv(4096)
        except BlockingIOError:
            return full, truncated
        if answer[2] & 0x02:
            truncated += 1
        elif int.from_bytes(answer[6:8], "big") > 0:
            full += 1


def burst(port, count, seconds):
    """`count` malformed datagrams from BURST_SOURCE over `seconds`: random bytes, cut
    headers, bad names and OPT records."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((BURST_SOURCE, 0))
    rng = random.Random(count)
    start = time.monotonic()
    for i in range(count):
        kind = i % 4
        if kind == 0:
            data = rng.randbytes(rng.randint(0, 600))
        elif kind == 1:
            data = query(i, "www.example.com")[: rng.randint(0, 20)]
        elif kind == 2:
            q = bytearray(query(i, "www.example.com"))
            q[12] = 0xC0  # a compression pointer in the question
            data = bytes(q)
        else:
            data = query(i, "www.example.com")[:-4] + b"\x00\x00\x29" + rng.randbytes(rng.randint(0, 40))
        s.sendto(data, ("127.0.0.1", port))
        if i % 50 == 49:
            time.sleep(max(0.0, start + seconds * (i + 1) / count - time.monotonic()))
    s.close()


def dnsperf(port, qfile, seconds, rate=None):
    args = ["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", qfile, "-l", str(seconds), "-c", "4",
            "-q", "200", "-t", "3"]
    if rate:
        args += ["-Q", str(rate)]
    return subprocess.run(args, capture_output=True, text=True).stdout


def field(report, label):
    for line in report.splitlines():
        if line.strip().startswith(label):
            return line.split(":", 1)[1].strip()
    return ""


def sample(pid):
    with open(f"/proc/{pid}/status") as f:
        rss = int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=int, default=1800)
    p.add_argument("--linedns", help="the binary to soak (default: build target/release/linedns)")
    p.add_argument("--cpu", help="pin the server to this CPU (taskset)")
    a = p.parse_args()
    linedns = a.linedns
    if not linedns:
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=REPO, check=True)
        linedns = f"{REPO}/target/release/linedns"
    work = tempfile.mkdtemp(prefix="linedns-soak-")
    port_probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    port_probe.bind(("127.0.0.1", 0))
    port = port_probe.getsockname()[1]
    port_probe.close()
    backends = [Backend() for _ in range(BACKENDS)]
    versions = [rules(v, port, [b.port for b in backends]) for v in ("A", "B")]
    path = f"{work}/rules.yaml"
    open(path, "w").write(versions[0])
    qfile = f"{work}/queries.txt"
    open(qfile, "w").write("www.example.com A\nns1.example.com A\nversion.example.com TXT\nnothing.example.com A\n")

    stop = threading.Event()
    flips = [0]
    flapper = threading.Thread(target=flap, args=(backends, stop, flips), daemon=True)
    flapper.start()
    cmd = [linedns, "serve", "-c", path, "--workers", "2", "--admin-listen", "off"]
    if a.cpu is not None:
        cmd = ["taskset", "-c", a.cpu] + cmd
    log = open(f"{work}/linedns.log", "w")
    server = subprocess.Popen(cmd, stdout=log, stderr=log, env=dict(os.environ, RUST_LOG="warn"))
    failures = []
    try:
        deadline = time.monotonic() + 20
        while True:
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit(f"linedns did not start:\n{open(f'{work}/linedns.log').read()}")
            try:
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.settimeout(0.2)
                s.sendto(query(1, "ns1.example.com"), ("127.0.0.1", port))
                s.recv(512)
                break
            except OSError:
                time.sleep(0.1)
        pid = server.pid
        maximum = float(field(dnsperf(port, qfile, 3), "Queries per second") or 0)
        rate = int(maximum / 2)
        print(f"soak: {a.seconds} s at {rate} QPS (half of the measured {maximum:.0f}), "
              f"reload every 2 s, {BACKENDS} flapping backends, a burst and a flood every 60 s", flush=True)
        result = {}
        load = threading.Thread(target=lambda: result.update(report=dnsperf(port, qfile, a.seconds, rate)))
        start = time.monotonic()
        load.start()
        samples, floods, reloads, bursts = [], [], 0, 0
        next_reload, next_sample, next_fault = start + 2, start, start + min(30, a.seconds / 4)
        while load.is_alive():
            now = time.monotonic()
            if server.poll() is not None:
                failures.append(f"linedns exited ({server.returncode}) during the soak")
                break
            if now >= next_sample:
                samples.append((round(now - start), *sample(pid)))
                next_sample += 10
            if now >= next_reload:
                reloads += 1
                tmp = f"{path}.new"
                open(tmp, "w").write(versions[reloads % 2])
                os.replace(tmp, path)
                os.kill(pid, signal.SIGHUP)
                next_reload += 2
            if now >= next_fault and now < start + a.seconds - 5:
                burst(port, 2000, 1.0)
                bursts += 1
                floods.append(flood(port, 5000, 1.0))
                next_fault += 60
            time.sleep(0.05)
        load.join()
        report = result.get("report", "")
        samples.append((round(time.monotonic() - start), *sample(pid)))
        # The server still answers.
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(2)
        s.sendto(query(7, "version.example.com", 16), ("127.0.0.1", port))
        try:
            s.recv(512)
        except OSError:
            failures.append("linedns does not answer after the soak")
    finally:
        stop.set()
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()

    sent = int(field(report, "Queries sent") or 0)
    lost = field(report, "Queries lost")
    codes = field(report, "Response codes")
    servfail = int(m.group(1)) if (m := re.search(r"SERVFAIL (\d+)", codes)) else 0
    warm = min(60, a.seconds // 3)
    after_warm = [s for s in samples if s[0] >= warm] or samples[-1:]
    rss0, rss1 = after_warm[0][1], samples[-1][1]
    fd0, fd1 = after_warm[0][2], samples[-1][2]
    growth = (rss1 - rss0) / rss0 * 100
    print(f"queries sent {sent}, lost {lost}, response codes {codes}")
    print(f"reloads {reloads} (SIGHUP every 2 s), backend flips {flips[0]}, malformed bursts {bursts} x 2000, "
          f"RRL floods {len(floods)} x 5000 from {FLOOD_SOURCE}: full answers / truncated {floods}")
    print(f"RSS {samples[0][1]} kB at start, {rss0} kB after the {warm} s warm-up, {rss1} kB at the end "
          f"({growth:+.2f} %); fds {samples[0][2]} at start, {fd0} after warm-up, {fd1} at the end, "
          f"{min(s[2] for s in samples)}..{max(s[2] for s in samples)} over the run")
    print("samples (s, RSS kB, fds):", " ".join(f"{t}:{r}:{f}" for t, r, f in samples))
    if sent == 0:
        failures.append(f"dnsperf sent nothing:\n{report}")
    if not lost.startswith("0 "):
        failures.append(f"queries lost: {lost}")
    if servfail:
        failures.append(f"{servfail} SERVFAIL answers")
    if growth >= 5:
        failures.append(f"RSS grew {growth:.2f} % after the warm-up")
    if abs(fd1 - fd0) > BACKENDS + 2:
        failures.append(f"fd count moved from {fd0} to {fd1}")
    for full, truncated in floods:
        if full > RRL_RATE * 3 or truncated == 0:
            failures.append(f"a flood was not held to the rate: {full} full answers, {truncated} truncated")
    if failures:
        print("soak FAILED:\n  " + "\n  ".join(failures), file=sys.stderr)
        print(open(f"{work}/linedns.log").read()[-3000:], file=sys.stderr)
        sys.exit(1)
    print("soak passed")


if __name__ == "__main__":
    main()
