#!/usr/bin/env python3
"""`linedns push` of a zone of N RRsets (default 10,000) to BIND 9 by DNS UPDATE and to
PowerDNS through its HTTP API, both started here on loopback and stopped by PID: the
first push (every RRset created), a push with nothing to do, and a push after one
record changed in the rules, each timed from start to exit.

    cargo build --release && python3 benches/push.py [--rrsets 10000] [--binary target/release/linedns]

Needs named (bind9), pdns_server and pdnsutil (pdns-backend-sqlite3), sqlite3.
"""

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

SECRET = "q4Kxv7oO3eS1b8m7yqvS0a8y2c6r2G5b4n8k1l0p9o8="
SCHEMA = "/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql"


def free_port():
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                    return port
                except OSError:
                    continue


def wait_soa(port):
    for _ in range(200):
        out = subprocess.run(["kdig", "@127.0.0.1", "-p", str(port), "+short", "example.com", "SOA"],
                             capture_output=True, text=True)
        if out.stdout.strip():
            return
        time.sleep(0.05)
    sys.exit(f"no SOA from port {port}")


def start_bind(d):
    os.makedirs(d)
    with open(f"{d}/example.com.zone", "w") as f:
        f.write("$TTL 300\n@ SOA ns1.example.com. hostmaster.example.com. 1 3600 600 86400 60\n"
                "@ NS ns1.example.com.\nns1 A 192.0.2.53\n")
    port = free_port()
    with open(f"{d}/named.conf", "w") as f:
        f.write(f'options {{ directory "{d}"; pid-file "{d}/named.pid"; session-keyfile "{d}/s.key"; '
                f'listen-on port {port} {{ 127.0.0.1; }}; listen-on-v6 {{ none; }}; recursion no; }};\n'
                f'key "push-key" {{ algorithm hmac-sha256; secret "{SECRET}"; }};\ncontrols {{ }};\n'
                f'zone "example.com" {{ type primary; file "example.com.zone"; '
                f'update-policy {{ grant push-key zonesub ANY; }}; allow-transfer {{ key "push-key"; }}; }};\n')
    proc = subprocess.Popen(["named", "-g", "-c", f"{d}/named.conf"], stdout=subprocess.DEVNULL,
                            stderr=open(f"{d}/named.log", "w"))
    wait_soa(port)
    return proc, port


def start_pdns(d):
    os.makedirs(d)
    subprocess.run(["sqlite3", f"{d}/pdns.db"], stdin=open(SCHEMA), check=True)
    port, api = free_port(), free_port()
    with open(f"{d}/pdns.conf", "w") as f:
        f.write(f"launch=gsqlite3\ngsqlite3-database={d}/pdns.db\nlocal-address=127.0.0.1\nlocal-port={port}\n"
                f"api=yes\napi-key=bench-key\nwebserver=yes\nwebserver-address=127.0.0.1\nwebserver-port={api}\n"
                f"webserver-allow-from=127.0.0.0/8\nsocket-dir={d}\nguardian=no\ndaemon=no\ndisable-syslog=yes\n"
                "write-pid=no\n")
    util = ["pdnsutil", f"--config-dir={d}"]
    subprocess.run(util + ["create-zone", "example.com", "ns1.example.com"], check=True, capture_output=True)
    subprocess.run(util + ["add-record", "example.com", "ns1", "A", "300", "192.0.2.53"], check=True,
                   capture_output=True)
    proc = subprocess.Popen(["pdns_server", f"--config-dir={d}"], stdout=subprocess.DEVNULL,
                            stderr=open(f"{d}/pdns.log", "w"))
    wait_soa(port)
    with open(f"{d}/api.key", "w") as f:
        f.write("bench-key\n")
    return proc, api


def rules(n, bind_port, api_port, key_file, first_value):
    lines = ["version: 1", "zones:", "  - origin: example.com", "    soa: { mname: ns1, rname: hostmaster, serial: 1 }",
             "    ns: [ns1]", "    records:", "      - { name: ns1, type: A, values: 192.0.2.53 }",
             f"      - {{ name: h0, type: A, values: {first_value} }}"]
    for i in range(1, n):
        lines.append(f"      - {{ name: h{i}, type: A, values: 10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255} }}")
    lines += ["keys:", f'  push-key: {{ algorithm: hmac-sha256, secret: "{SECRET}" }}', "providers:",
              f'  - {{ name: bind, kind: dns_update, server: "127.0.0.1:{bind_port}", key: push-key }}',
              f'  - {{ name: pdns, kind: powerdns, api: "http://127.0.0.1:{api_port}", api_key_file: {key_file} }}']
    return "\n".join(lines) + "\n"


def push(binary, path, provider):
    start = time.monotonic()
    out = subprocess.run([binary, "push", "-c", path, "--provider", provider], capture_output=True, text=True)
    took = time.monotonic() - start
    first = out.stdout.splitlines()[0] if out.stdout else out.stderr.strip()
    if out.returncode != 0:
        sys.exit(f"push to {provider} failed: {out.stdout}{out.stderr}")
    return took, first


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rrsets", type=int, default=10000)
    ap.add_argument("--binary", default="target/release/linedns")
    args = ap.parse_args()
    for program in ["named", "pdns_server", "pdnsutil", "sqlite3", "kdig"]:
        if not shutil.which(program):
            sys.exit(f"{program} is missing (bind9, pdns-backend-sqlite3, sqlite3, knot-dnsutils)")
    d = tempfile.mkdtemp(prefix="linedns-push-bench-")
    procs = []
    try:
        bind, bind_port = start_bind(f"{d}/bind")
        procs.append(bind)
        pdns, api_port = start_pdns(f"{d}/pdns")
        procs.append(pdns)
        path = f"{d}/rules.yaml"
        print(f"| provider | first push ({args.rrsets} RRsets) | nothing to do | one record changed |")
        print("|---|---:|---:|---:|")
        results = {}
        for provider in ["bind", "pdns"]:
            with open(path, "w") as f:
                f.write(rules(args.rrsets, bind_port, api_port, f"{d}/pdns/api.key", "192.0.2.1"))
            first, shown = push(args.binary, path, provider)
            print(f"  {shown}", file=sys.stderr)
            again, shown = push(args.binary, path, provider)
            print(f"  {shown}", file=sys.stderr)
            with open(path, "w") as f:
                f.write(rules(args.rrsets, bind_port, api_port, f"{d}/pdns/api.key", "192.0.2.2"))
            one, shown = push(args.binary, path, provider)
            print(f"  {shown}", file=sys.stderr)
            results[provider] = (first, again, one)
            print(f"| {provider} | {first:.2f} s | {again:.2f} s | {one:.2f} s |")
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
