#!/usr/bin/env python3
"""What dnstap costs linedns on the real carrier rules, in one run (standard library only).

    benches/dnstap.py [--seconds 10] [--runs 3] [--sample 0.01]

rules/china-carriers.yaml (tests/data/geo-data: 55k table blocks, 8 lines) served by two
linedns processes at once (release, 2 UDP workers each, both pinned to CPU 0): one
without dnstap, one logging `--sample` of its queries and answers to a dnstap file.
benches/loadgen drives one at a time from CPU 1 with compare.py's 100,000 distinct ECS
subnets (30 % IPv6), every answer checked against its line's addresses: a 2 s warm-up
of each, then `--runs` rounds of `--seconds` each, alternating off and on; the median
QPS of each and their ratio (the goal: on within 5 % of off at 1 % sampling), and the
frames the server wrote and dropped (its own metrics).
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402

REPO = compare.REPO


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--sample", type=float, default=0.01)
    a = p.parse_args()
    linedns, bin_dir = compare.build()
    work = tempfile.mkdtemp(prefix="linedns-dnstap-")
    env = dict(os.environ, LINEDNS_GEO_DATA=f"{REPO}/tests/data/geo-data")
    os.environ["LINEDNS_GEO_DATA"] = env["LINEDNS_GEO_DATA"]
    base = f"{REPO}/rules/china-carriers.yaml"
    # The same rules with dnstap on (written next to the base so that its data paths hold).
    tapped = os.path.join(os.path.dirname(base), f".dnstap-bench-{os.getpid()}.yaml")
    block = f"  dnstap: {{ file: {work}/queries.dnstap, sample: {a.sample} }}\n"
    open(tapped, "w").write(compare.with_server_setting(open(base).read(), block))
    servers = {"off": (base, 25371, 25372), "on": (tapped, 25373, 25374)}
    procs = {}
    try:
        table = compare.table_of(linedns, base, env)
        answers = compare.line_answers(linedns, base, table)
        qfile = f"{work}/queries.txt"
        compare.queries(table, answers, qfile, 100_000, 0.3, 42)
        pids = {}
        for name, (rules, port, admin) in servers.items():
            log = open(f"{work}/linedns-{name}.log", "w")
            procs[name] = subprocess.Popen(
                ["taskset", "-c", compare.SERVER_CPU, linedns, "serve", "-c", rules, "--listen", f"127.0.0.1:{port}",
                 "--workers", "2", "--admin-listen", f"127.0.0.1:{admin}"], stdout=log, stderr=log, env=env)
            compare.wait_ready(port, f"{work}/linedns-{name}.log")
            pids[name] = [procs[name].pid] + compare.descendants(procs[name].pid)
        for name, (_, port, _) in servers.items():
            compare.loadgen(bin_dir, port, pids[name], qfile, 2, True)
        runs = {"off": [], "on": []}
        for _ in range(a.runs):
            for name, (_, port, _) in servers.items():
                runs[name].append(compare.loadgen(bin_dir, port, pids[name], qfile, a.seconds, True))
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{servers['on'][2]}/metrics").read().decode()
    finally:
        os.unlink(tapped)
        for proc in procs.values():
            proc.terminate()
            proc.wait(timeout=15)
    print(f"linedns dnstap cost, sample {a.sample:g}, {a.runs} x {a.seconds:g} s, real carrier rules\n")
    medians = compare.print_medians(runs, "dnstap ")
    print(f"on / off: {medians['on'] / medians['off']:.3f}")
    for result in ("written", "dropped"):
        value = re.search(rf'^linedns_dnstap_frames_total{{result="{result}"}} (\S+)$', metrics, re.M)
        print(f"frames {result}: {value.group(1) if value else '?'}")
    size = os.path.getsize(f"{work}/queries.dnstap") if os.path.exists(f"{work}/queries.dnstap") else 0
    print(f"dnstap file: {size:,} octets")


if __name__ == "__main__":
    main()
