#!/usr/bin/env python3
"""linedns against the floor and its peers on one machine, in one run (standard library only).

    benches/compare.sh [--data synthetic|real] [--seconds 10] [--runs 3] [--rate 20000]

For each server: linedns, linedns-defended (the same with RRL on at a rate no run reaches
and a client cookie in every query: what rate limiting and cookies cost), the do-nothing
batched responder (`floor`, the kernel's cost),
gdnsd (geoip plugin, a nets map, ECS on), Knot DNS (mod-geoip, subnet mode, ECS on) and
NSD (a static zone: no geo), all answering `www.example.cn` with the same lines and
addresses, the server pinned to CPU 0 and `loadgen` to CPU 1:

- a 1 s check run: every answer must carry the addresses of its subnet's line (not for
  the floor and NSD, which do not route by line);
- `--runs` rounds, each server once per round (round-robin: all servers run at once,
  idle but for the one under load), of `--seconds` at the highest rate (200 queries in
  flight over 16 sockets): the median QPS, the median server CPU µs per answer, and
  which side was the limit (the one near 100 % CPU);
- one run at a fixed `--rate` QPS: the average latency.

Data: `synthetic` is 4,000 IPv4 prefixes in 5 lines (4 + default) and 100,000 distinct
/24 ECS subnets; `real` is rules/china-carriers.yaml on tests/data/geo-data (55k table
blocks, 8 lines) and 100,000 distinct subnets, 30 % of them IPv6. Prints the table and
linedns's ratios, and writes it with a bar chart to benches/results/compare-DATA.{txt,svg}.
"""
import argparse
import ipaddress
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SERVER_CPU, LOADGEN_CPU = "0", "1"


def sh(*args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw).stdout


def build():
    sh("cargo", "build", "--release", "--quiet", "--manifest-path", f"{REPO}/Cargo.toml")
    sh("cargo", "build", "--release", "--quiet", "--manifest-path", f"{HERE}/loadgen/Cargo.toml")
    return f"{REPO}/target/release/linedns", f"{HERE}/loadgen/target/release"


def synthetic_rules(work):
    """4,000 IPv4 prefixes (/14 to /22, disjoint, some nested in others' space) in 4 lines."""
    rng = random.Random(7)
    lines = ["telecom", "unicom", "mobile", "cernet"]
    taken, prefixes = set(), {l: [] for l in lines}
    while sum(len(v) for v in prefixes.values()) < 4000:
        plen = rng.choice([14, 16, 18, 20, 22])
        net = ipaddress.ip_network((rng.randrange(1 << 24, 223 << 24) >> (32 - plen) << (32 - plen), plen))
        if net.is_private or net.is_multicast or net.is_reserved or net.is_loopback:
            continue
        key = (int(net.network_address) >> 10)
        span = range(key, key + max(1, net.num_addresses >> 10))
        if any(k in taken for k in span):
            continue
        taken.update(span)
        prefixes[rng.choice(lines)].append(str(net))
    out = ["version: 1", "server:", "  watch: false", "lines:"]
    for l in lines:
        out.append(f"  - name: {l}")
        out.append(f"    sources: [{{ cidr: [{', '.join(prefixes[l])}] }}]")
    out += ["zones:", "  - origin: example.cn", "    soa: { mname: ns1, rname: hostmaster, serial: 1 }",
            "    ns: [ns1]", "    records:", "      - { name: ns1, type: A, values: 192.0.2.53 }",
            "    line_records:", "      - name: www", "        type: A", "        ttl: 60", "        pools:"]
    for i, l in enumerate(lines):
        out.append(f"          {l}: [192.0.2.{10 * i + 1}, 192.0.2.{10 * i + 2}]")
    out.append("          default: [192.0.2.101, 192.0.2.102]")
    path = f"{work}/synthetic.yaml"
    open(path, "w").write("\n".join(out) + "\n")
    return path


def table_of(linedns, rules, env):
    """The compiled prefix table of `rules` (`linedns table`): [(network, line)]."""
    table_text = sh(linedns, "table", "-c", rules, env=env)
    return [(ipaddress.ip_network(n), l) for n, l in (row.split() for row in table_text.splitlines())]


def with_server_setting(text, setting):
    """The rules `text` with `setting` (indented YAML lines) in its `server:` section."""
    if "\nserver:\n" in text:
        return text.replace("server:\n", "server:\n" + setting, 1)
    return text.replace("version: 1\n", "version: 1\nserver:\n" + setting, 1)


def print_medians(runs, label=""):
    """Prints each run set's median QPS, its runs, and the median run's server cost and
    checks; returns the medians by name."""
    medians = {}
    for name, rs in runs.items():
        qps = sorted(float(r["qps"]) for r in rs)
        medians[name] = statistics.median(qps)
        mid = sorted(rs, key=lambda r: float(r["qps"]))[len(rs) // 2]
        print(f"{label}{name}: median {medians[name]:,.0f} QPS (runs {', '.join(f'{q:,.0f}' for q in qps)}), "
              f"{mid['us_per_answer']} us/answer, limit {mid['limit']}, wrong {mid['wrong']}, lost {mid['lost']}")
    return medians


def line_answers(linedns, rules, table):
    """Each line's answer for www.example.cn A and AAAA, as linedns gives it."""
    first = {}
    for net, line in table:
        first.setdefault((line, net.version), net)
    answers = {}
    for (line, version), net in first.items():
        qtype = "AAAA" if version == 6 else "A"
        out = json.loads(sh(linedns, "explain", "-c", rules, "--json", str(net), "www.example.cn", qtype))
        answers.setdefault(line, {})[qtype] = sorted(r.split()[-1] for r in out["records"])
    return answers


def queries(table, answers, path, n, v6_share, seed):
    """N distinct ECS subnets, each inside one block (so its line is unambiguous)."""
    rng = random.Random(seed)
    v4 = [(b, l) for b, l in table if b.version == 4 and l in answers and answers[l].get("A")]
    v6 = [(b, l) for b, l in table if b.version == 6 and b.prefixlen >= 16 and l in answers and answers[l].get("AAAA")]
    seen = set()
    with open(path, "w") as f:
        while len(seen) < n:
            use6 = v6 and rng.random() < v6_share
            block, line = rng.choice(v6 if use6 else v4)
            plen = max(block.prefixlen, 56 if use6 else 24)
            addr = int(block.network_address) + rng.randrange(block.num_addresses)
            subnet = ipaddress.ip_network((addr, plen), strict=False)
            if subnet in seen:
                continue
            seen.add(subnet)
            qtype = "AAAA" if use6 else "A"
            f.write(f"{qtype} {subnet} {','.join(answers[line][qtype])}\n")


def zone_file(path, answers, geo_default):
    rr = answers["default"]
    with open(path, "w") as f:
        f.write("$ORIGIN example.cn.\n$TTL 600\n@ IN SOA ns1 hostmaster 1 3600 600 1209600 60\n@ IN NS ns1\nns1 IN A 192.0.2.53\n")
        if geo_default is None:
            for rtype in ("A", "AAAA"):
                for a in rr.get(rtype, []):
                    f.write(f"www 60 IN {rtype} {a}\n")
        else:
            f.write(geo_default)


def configs(work, table, answers, ports):
    # NSD: the default answer, no geo (the upper bound of a static server).
    zone_file(f"{work}/example.cn.zone", answers, None)
    open(f"{work}/nsd.conf", "w").write(f"""server:
  ip-address: 127.0.0.1
  port: {ports['nsd']}
  server-count: 2
  username: ""
  chroot: ""
  database: ""
  zonelistfile: "{work}/nsd.zonelist"
  xfrdfile: "{work}/nsd.xfrd"
  pidfile: "{work}/nsd.pid"
  zonesdir: "{work}"
  verbosity: 0
  rrl-ratelimit: 0
remote-control:
  control-enable: no
zone:
  name: example.cn
  zonefile: example.cn.zone
""")
    # Knot DNS: mod-geoip in subnet mode, every non-default block with its line's answer.
    with open(f"{work}/knot-geo.conf", "w") as f:
        f.write("www.example.cn:\n")
        for net, line in table:
            if line == "default":
                continue
            f.write(f"  - net: {net}\n")
            for rtype in ("A", "AAAA"):
                if answers[line].get(rtype):
                    f.write(f"    {rtype}: [ {', '.join(answers[line][rtype])} ]\n")
    os.makedirs(f"{work}/knot", exist_ok=True)
    open(f"{work}/knot.conf", "w").write(f"""server:
  rundir: "{work}/knot"
  listen: 127.0.0.1@{ports['knot']}
  udp-workers: 2
  edns-client-subnet: on
database:
  storage: "{work}/knot"
mod-geoip:
  - id: lines
    config-file: "{work}/knot-geo.conf"
    ttl: 60
    mode: subnet
template:
  - id: default
    storage: "{work}"
zone:
  - domain: example.cn
    file: example.cn.zone
    module: mod-geoip/lines
""")
    # gdnsd: the geoip plugin with a nets map (no GeoIP database): every non-default
    # block to its line; anything else to `default`, listed first.
    g = f"{work}/gdnsd"
    os.makedirs(f"{g}/zones", exist_ok=True)
    lines = ["default"] + sorted({l for _, l in table if l != "default"})
    os.makedirs(f"{g}/geoip", exist_ok=True)
    with open(f"{g}/geoip/nets", "w") as f:  # a map's `nets => FILE` is read from geoip/
        for net, line in table:
            if line != "default":
                f.write(f"{net} => [{line}]\n")
    dcmap = []
    for l in lines:
        addrs = answers.get(l, answers["default"])
        # plugin_multifo takes IPv4 and IPv6 addresses apart.
        families = [f"addrs_v4 => [ {', '.join(addrs['A'])} ]"] if addrs.get("A") else []
        families += [f"addrs_v6 => [ {', '.join(addrs['AAAA'])} ]"] if addrs.get("AAAA") else []
        dcmap.append(f"          {l} => {{ {' '.join(families)} }}")
    open(f"{g}/config", "w").write(f"""options => {{
  listen => [ 127.0.0.1:{ports['gdnsd']} ]
  udp_threads => 2
  tcp_threads => 1
  edns_client_subnet => true
}}
plugins => {{
  geoip => {{
    maps => {{
      lines => {{
        datacenters => [ {', '.join(lines)} ]
        nets => nets
      }}
    }}
    resources => {{
      www => {{
        map => lines
        service_types => up
        dcmap => {{
{chr(10).join(dcmap)}
        }}
      }}
    }}
  }}
}}
""")
    zone = "www 60 DYNA geoip!www\n"
    zone_file(f"{g}/zones/example.cn", answers, zone)


def descendants(pid):
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read()
            except OSError:
                continue
            if int(stat.rsplit(") ", 1)[1].split()[1]) == pid:
                kids.append(int(entry))
                kids += descendants(int(entry))
    return kids


def wait_ready(port, log):
    for _ in range(100):
        r = subprocess.run(["kdig", "@127.0.0.1", "-p", str(port), "+timeout=1", "+retry=0", "www.example.cn", "A"],
                           capture_output=True, text=True)
        if "status: NOERROR" in r.stdout:
            return
        time.sleep(0.2)
    tail = open(log).read()[-1500:] if os.path.exists(log) else ""
    raise SystemExit(f"the server on port {port} did not answer; its log ends:\n{tail}")


def loadgen(bin_dir, port, pids, qfile, seconds, check, rate=None, extra=()):
    args = ["taskset", "-c", LOADGEN_CPU, f"{bin_dir}/loadgen", "--server", f"127.0.0.1:{port}", "--queries", qfile,
            "--seconds", str(seconds), "--server-pid", ",".join(map(str, pids)), *extra]
    if not check:
        args.append("--no-check")
    if rate:
        args += ["--rate", str(rate)]
    r = subprocess.run(args, capture_output=True, text=True)
    fields = dict(kv.split("=", 1) for kv in r.stdout.split())
    if r.returncode != 0:
        raise SystemExit(f"loadgen on port {port} failed ({r.returncode}): {r.stdout}{r.stderr}")
    return fields


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", choices=["synthetic", "real"], default="synthetic")
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--rate", type=int, default=20000)
    p.add_argument("--only", help="comma-separated servers to run (default: all)")
    a = p.parse_args()
    linedns, bin_dir = build()
    work = tempfile.mkdtemp(prefix="linedns-compare-")
    env = dict(os.environ, LINEDNS_GEO_DATA=f"{REPO}/tests/data/geo-data")
    rules = f"{REPO}/rules/china-carriers.yaml" if a.data == "real" else synthetic_rules(work)
    table = table_of(linedns, rules, env)
    os.environ["LINEDNS_GEO_DATA"] = env["LINEDNS_GEO_DATA"]
    answers = line_answers(linedns, rules, table)
    qfile = f"{work}/queries.txt"
    queries(table, answers, qfile, 100_000, 0.3 if a.data == "real" else 0.0, 42)
    ports = {"floor": 25350, "linedns": 25351, "gdnsd": 25352, "knot": 25353, "nsd": 25354, "linedns-defended": 25355}
    # linedns with RRL on (a rate no run reaches, so that every answer is counted and none
    # limited) and every query carrying a client cookie (every answer gets a server
    # cookie made for it): the cost of both, against plain linedns in the same run.
    defended = os.path.join(os.path.dirname(rules), f".compare-defended-{os.getpid()}.yaml")
    open(defended, "w").write(with_server_setting(open(rules).read(), "  rrl: { rate: 100000000, slip: 2 }\n"))
    gen_extra = {"linedns-defended": ["--cookie"]}
    configs(work, table, answers, ports)
    servers = {
        "floor": ([f"{bin_dir}/floor", "--listen", f"127.0.0.1:{ports['floor']}", "--threads", "2"], False),
        "nsd": (["nsd", "-d", "-c", f"{work}/nsd.conf"], False),
        "gdnsd": (["gdnsd", "-c", f"{work}/gdnsd", "start"], True),
        "knot": (["knotd", "-c", f"{work}/knot.conf"], True),
        "linedns": ([linedns, "serve", "-c", rules, "--listen", f"127.0.0.1:{ports['linedns']}", "--workers", "2",
                     "--admin-listen", "off"], True),
        "linedns-defended": ([linedns, "serve", "-c", defended, "--listen", f"127.0.0.1:{ports['linedns-defended']}",
                              "--workers", "2", "--admin-listen", "off"], True),
    }
    if a.only:
        servers = {k: v for k, v in servers.items() if k in a.only.split(",")}
    # Every server starts at once (pinned to the same CPU: the idle ones cost nothing),
    # then the runs go round-robin, so that a change of the machine's pace during the
    # run touches every server alike.
    procs, pids = {}, {}
    try:
        for name, (cmd, check) in servers.items():
            log = open(f"{work}/{name}.log", "w")
            procs[name] = subprocess.Popen(["taskset", "-c", SERVER_CPU] + cmd, stdout=log, stderr=log, env=env)
        for name, (cmd, check) in servers.items():
            wait_ready(ports[name], f"{work}/{name}.log")
            pids[name] = [procs[name].pid] + descendants(procs[name].pid)
            loadgen(bin_dir, ports[name], pids[name], qfile, 1, check, extra=gen_extra.get(name, ()))  # warm-up, check
        runs = {name: [] for name in servers}
        for _ in range(a.runs):
            for name, (cmd, check) in servers.items():
                runs[name].append(loadgen(bin_dir, ports[name], pids[name], qfile, a.seconds, check,
                                          extra=gen_extra.get(name, ())))
        results = {}
        for name, (cmd, check) in servers.items():
            rs = sorted(runs[name], key=lambda r: float(r["qps"]))
            median = rs[len(rs) // 2]
            fixed = loadgen(bin_dir, ports[name], pids[name], qfile, a.seconds, check, rate=a.rate,
                            extra=gen_extra.get(name, ()))
            results[name] = {"qps": float(median["qps"]), "qps_runs": [float(r["qps"]) for r in runs[name]],
                             "us": statistics.median(float(r["us_per_answer"]) for r in rs), "limit": median["limit"],
                             "gen_cpu": float(median["gen_cpu"]), "server_cpu": float(median["server_cpu"]),
                             "lat_us": float(fixed["avg_us"]), "lost": int(median["lost"]), "wrong": int(median["wrong"])}
    finally:
        os.unlink(defended)
        for proc in procs.values():
            proc.terminate()
        for proc in procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    report(a, results, table, work)


def report(a, results, table, work):
    v4 = sum(1 for b, _ in table if b.version == 4)
    head = (f"{a.data} data: {len(table)} table blocks ({v4} IPv4), {len({l for _, l in table})} lines; "
            f"100,000 distinct ECS subnets ({'30 % IPv6' if a.data == 'real' else 'IPv4'}); "
            f"server on CPU {SERVER_CPU}, loadgen on CPU {LOADGEN_CPU}; median of {a.runs} x {a.seconds:g} s; "
            f"latency at {a.rate} QPS")
    base = results.get("linedns")
    rows = [f"| server | max QPS | runs | server µs/answer | limit (gen/server CPU %) | avg latency µs at {a.rate} QPS | linedns vs it |",
            "|---|---:|---|---:|---|---:|---:|"]
    for name, r in results.items():
        ratio = f"{base['qps'] / r['qps']:.2f}×" if base else "-"
        runs = " / ".join(f"{q / 1000:.0f}k" for q in r["qps_runs"])  # in round order
        rows.append(f"| {name} | {r['qps']:,.0f} | {runs} | {r['us']:.2f} | {r['limit']} ({r['gen_cpu']:.0f}/{r['server_cpu']:.0f}) "
                    f"| {r['lat_us']:.0f} | {ratio} |")
    text = head + "\n\n" + "\n".join(rows) + "\n"
    print(text)
    os.makedirs(f"{HERE}/results", exist_ok=True)
    open(f"{HERE}/results/compare-{a.data}.txt", "w").write(text)
    open(f"{HERE}/results/compare-{a.data}.svg", "w").write(svg(results, head))
    print(f"(written to benches/results/compare-{a.data}.txt and .svg; work files in {work})")


def svg(results, title):
    width, bar_h, gap, left = 760, 26, 12, 90
    top = 50
    height = top + len(results) * (bar_h + gap) + 30
    peak = max(r["qps"] for r in results.values()) or 1
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
           f'<text x="10" y="20" font-size="13">max QPS (median), server µs per answer</text>',
           f'<text x="10" y="38" fill="#555" font-size="10">{title[:140]}</text>']
    for i, (name, r) in enumerate(results.items()):
        y = top + i * (bar_h + gap)
        w = (width - left - 170) * r["qps"] / peak
        colour = "#d9534f" if name == "linedns" else "#5b8dd9"
        out.append(f'<text x="10" y="{y + 17}">{name}</text>')
        out.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{colour}"/>')
        out.append(f'<text x="{left + w + 6:.1f}" y="{y + 17}">{r["qps"] / 1000:.0f}k QPS, {r["us"]:.2f} µs</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(main())
