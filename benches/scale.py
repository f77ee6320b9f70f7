#!/usr/bin/env python3
"""How linedns's cost grows with the data (standard library only).

    benches/scale.py [--prefixes 10000,100000,1000000] [--zones 1,1000,100000] [--no-criterion]

For each synthetic rule set: compile time (= reload time) and peak RSS of
`linedns check-config` (which compiles exactly what a reload compiles), and, unless
`--no-criterion`, the criterion medians of classify v4/v6 and handle_packet on that set
(`cargo bench --bench engine` with LINEDNS_BENCH_RULES). For the largest prefix set it
also serves the rules, loads them at a fixed 20k QPS with `loadgen` and reloads (SIGHUP)
during the load: the worst query latency of that run is the reload's stall.

Prefix sets: five lines (`domestic`, and four carriers inside it as in the real lists:
`telecom`, `unicom`, `mobile`, `cernet` with `parent: domestic`), 70 % IPv4 (/12 to /24)
and 30 % IPv6 (/24 to /48), carriers' prefixes nested inside domestic's. Zone sets: N
zones each with a static record and a `www` line record with a pool per line.
"""
import argparse
import os
import random
import re
import signal
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
CARRIERS = ["telecom", "unicom", "mobile", "cernet"]


def prefix_set(work, n, seed=1):
    """Writes N prefixes in five list files and the rules using them; returns the rules path."""
    rng = random.Random(seed)
    files = {line: open(f"{work}/{line}.txt", "w") for line in ["domestic"] + CARRIERS}
    domestic_v4, domestic_v6 = [], []
    for i in range(n):
        v6 = rng.random() < 0.3
        if i % 5 == 0 or not (domestic_v6 if v6 else domestic_v4):
            # A domestic prefix: a wide one.
            if v6:
                plen = rng.randint(20, 32)
                addr = (0x2400 << 112 | rng.getrandbits(112)) >> (128 - plen) << (128 - plen)
                domestic_v6.append((addr, plen))
                files["domestic"].write(f"{ipv6(addr)}/{plen}\n")
            else:
                plen = rng.randint(10, 16)
                addr = rng.randrange(1 << 24, 223 << 24) >> (32 - plen) << (32 - plen)
                domestic_v4.append((addr, plen))
                files["domestic"].write(f"{ipv4(addr)}/{plen}\n")
        else:
            # A carrier prefix nested inside a domestic one.
            base, blen = rng.choice(domestic_v6 if v6 else domestic_v4)
            bits = 128 if v6 else 32
            plen = rng.randint(blen + 1, min(bits, blen + (16 if v6 else 12)))
            addr = (base | rng.getrandbits(bits - blen)) >> (bits - plen) << (bits - plen)
            text = f"{ipv6(addr)}/{plen}" if v6 else f"{ipv4(addr)}/{plen}"
            files[rng.choice(CARRIERS)].write(text + "\n")
    for f in files.values():
        f.close()
    lines = ["version: 1", "server:", "  watch: false", "lines:",
             "  - name: domestic", "    sources: [{ file: domestic.txt }]"]
    for c in CARRIERS:
        lines += [f"  - name: {c}", "    parent: domestic", f"    sources: [{{ file: {c}.txt }}]"]
    lines += zones_yaml(1)
    path = f"{work}/rules.yaml"
    open(path, "w").write("\n".join(lines) + "\n")
    return path


def zones_yaml(n):
    out = ["zones:"]
    pools = ", ".join(f"{c}: [192.0.2.{i + 1}]" for i, c in enumerate(CARRIERS))
    for i in range(n):
        origin = "example.cn" if i == 0 else f"zone{i}.example"
        out.append(f"  - {{ origin: {origin}, soa: {{ mname: ns1, rname: hostmaster, serial: 1 }}, ns: [ns1], "
                   f"records: [{{ name: ns1, type: A, values: 192.0.2.53 }}], "
                   f"line_records: [{{ name: www, type: A, pools: {{ {pools}, domestic: [192.0.2.9], default: [192.0.2.100] }} }}] }}")
    return out


def zone_set(work, n):
    lines = ["version: 1", "server:", "  watch: false", "lines:",
             "  - name: domestic", "    sources: [{ cidr: [10.0.0.0/8] }]"]
    for i, c in enumerate(CARRIERS):
        lines += [f"  - name: {c}", "    parent: domestic", f"    sources: [{{ cidr: [10.{i}.0.0/16] }}]"]
    lines += zones_yaml(n)
    path = f"{work}/zones-{n}.yaml"
    open(path, "w").write("\n".join(lines) + "\n")
    return path


def ipv4(a):
    return ".".join(str(a >> s & 255) for s in (24, 16, 8, 0))


def ipv6(a):
    return ":".join(f"{a >> s & 0xffff:x}" for s in range(112, -1, -16))


def compile_cost(linedns, rules):
    r = subprocess.run(["/usr/bin/time", "-f", "TIME %e %M", linedns, "check-config", "-c", rules],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{rules} does not compile:\n{r.stdout}{r.stderr[-2000:]}")
    m = re.search(r"TIME ([\d.]+) (\d+)", r.stderr)
    blocks = re.search(r"tables: (\d+) IPv4 blocks, (\d+) IPv6 blocks", r.stdout)
    return float(m.group(1)), int(m.group(2)) / 1024, (int(blocks.group(1)), int(blocks.group(2)))


def criterion(rules):
    """Criterion medians on the rules `rules` (None: the real carrier lists), as text in ns;
    the batched classify figures per address."""
    env = dict(os.environ)
    env.pop("LINEDNS_BENCH_RULES", None)
    if rules:
        env["LINEDNS_BENCH_RULES"] = rules
    out = subprocess.run(["cargo", "bench", "--bench", "engine", "--", "classify|handle_packet|reference"],
                         cwd=REPO, env=env, capture_output=True, text=True).stdout
    scale = {"ps": 1e-3, "ns": 1, "µs": 1e3, "us": 1e3, "ms": 1e6}
    found = {}
    for name, mid, unit in re.findall(r"^(\S+)\s+time:\s+\[\S+ \S+ (\S+) (\S+) \S+ \S+\]", out, re.M):
        ns = float(mid) * scale[unit] / (32 if name.endswith("-batch32") else 1)
        found[name] = f"{ns:.1f} ns"
    return found


def criterion_row(label, blocks, secs, rss, c):
    cols = ["classify/v4", "classify/v6", "classify/v4-batch32", "classify/v6-batch32", "handle_packet/ecs",
            "handle_packet/ecs-prepared", "reference/prefix-trie-v4", "reference/prefix-trie-v6"]
    return f"| {label} | {blocks} | {secs} | {rss} | " + " | ".join(c.get(k, "-") for k in cols) + " |"


def reload_stall(linedns, rules, loadgen_dir, work):
    """Serves `rules`, loads it at 20k QPS for 8 s, and reloads twice during the run."""
    port = 25360
    qfile = f"{work}/stall-queries.txt"
    with open(qfile, "w") as f:
        for i in range(1000):
            f.write(f"A 198.51.{i % 250}.0/24 192.0.2.100\n")
    server = subprocess.Popen(["taskset", "-c", "0", linedns, "serve", "-c", rules, "--listen", f"127.0.0.1:{port}",
                               "--workers", "2", "--admin-listen", "off"], stderr=subprocess.DEVNULL)
    try:
        time.sleep(1)
        for _ in range(100):
            if subprocess.run(["kdig", "@127.0.0.1", "-p", str(port), "+timeout=1", "+retry=0", "example.cn", "SOA"],
                              capture_output=True).returncode == 0:
                break
            time.sleep(0.5)
        gen = subprocess.Popen(["taskset", "-c", "1", f"{loadgen_dir}/loadgen", "--server", f"127.0.0.1:{port}",
                                "--queries", qfile, "--seconds", "8", "--rate", "20000"], stdout=subprocess.PIPE, text=True)
        for _ in range(2):
            time.sleep(2.5)
            server.send_signal(signal.SIGHUP)
        out = gen.communicate()[0]
        return dict(kv.split("=", 1) for kv in out.split())
    finally:
        server.terminate()
        server.wait()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--prefixes", default="10000,100000,1000000")
    p.add_argument("--zones", default="1,1000,100000")
    p.add_argument("--no-criterion", action="store_true")
    a = p.parse_args()
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=REPO, check=True)
    subprocess.run(["cargo", "build", "--release", "--quiet", "--manifest-path", f"{HERE}/loadgen/Cargo.toml"], check=True)
    linedns = f"{REPO}/target/release/linedns"
    rows = ["| set | table blocks (v4 + v6) | compile s | peak RSS MB | classify/v4 | classify/v6 | "
            "v4 in a batch of 32 | v6 in a batch of 32 | handle_packet/ecs | prepared | prefix-trie v4 | prefix-trie v6 |",
            "|---|---|---:|---:|" + "---:|" * 8]
    if not a.no_criterion:
        # The real lists in the same run: what the larger sets are judged against.
        rows.append(criterion_row("real carrier lists", "", "", "", criterion(None)))
        print(rows[-1], flush=True)
    largest = None
    for n in [int(x) for x in a.prefixes.split(",") if x]:
        work = tempfile.mkdtemp(prefix=f"linedns-scale-{n}-")
        rules = prefix_set(work, n)
        secs, rss, (b4, b6) = compile_cost(linedns, rules)
        c = {} if a.no_criterion else criterion(rules)
        rows.append(criterion_row(f"{n:,} prefixes", f"{b4:,} + {b6:,}", f"{secs:.2f}", f"{rss:.0f}", c))
        print(rows[-1], flush=True)
        largest = (rules, work)
    for n in [int(x) for x in a.zones.split(",") if x]:
        work = tempfile.mkdtemp(prefix=f"linedns-scale-zones-{n}-")
        rules = zone_set(work, n)
        secs, rss, (b4, b6) = compile_cost(linedns, rules)
        rows.append(criterion_row(f"{n:,} zones", f"{b4:,} + {b6:,}", f"{secs:.2f}", f"{rss:.0f}", {}))
        print(rows[-1], flush=True)
    print("\n".join(rows))
    if largest:
        r = reload_stall(linedns, largest[0], f"{HERE}/loadgen/target/release", largest[1])
        print(f"reload of the largest prefix set under 20k QPS (2 reloads in 8 s): answered {r.get('answered')}, "
              f"lost {r.get('lost')}, avg {r.get('avg_us')} µs, p99 {r.get('p99_us')} µs, worst {r.get('max_us')} µs")


if __name__ == "__main__":
    main()
