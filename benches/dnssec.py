#!/usr/bin/env python3
"""What DNSSEC costs linedns on the real carrier rules, in one run (standard library only).

    benches/dnssec.py [--seconds 10] [--runs 3]

rules/china-carriers.yaml (tests/data/geo-data: 55k table blocks, 8 lines) with the zone
signed (a CSK made by `linedns keygen`, ECDSA P-256 or `--algorithm ed25519`), served by
linedns (release, 2 UDP workers) pinned to CPU 0, driven by benches/loadgen from CPU 1
with compare.py's 100,000 distinct ECS subnets (30 % IPv6), every answer checked against
its line's addresses:

- a 2 s warm-up with DO=1 (every line's answer signed once), then `--runs` rounds of
  `--seconds` each with DO=0 and with DO=1, alternating: the median QPS of each and
  their ratio (the goal: DO=1 within 10 % of DO=0);
- the signature cache after the runs, from the server's own metrics: sets, octets,
  signatures made, and the server's resident memory;
- the cold signing rate comes from criterion (`cargo bench --bench engine -- sign`).
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402

REPO = compare.REPO


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--algorithm", default="ecdsa-p256")
    a = p.parse_args()
    linedns, bin_dir = compare.build()
    work = tempfile.mkdtemp(prefix="linedns-dnssec-")
    env = dict(os.environ, LINEDNS_GEO_DATA=f"{REPO}/tests/data/geo-data")
    os.environ["LINEDNS_GEO_DATA"] = env["LINEDNS_GEO_DATA"]
    base = f"{REPO}/rules/china-carriers.yaml"
    # The same rules, with a state directory for the keys: the zone is signed once its
    # key is there.
    rules = os.path.join(os.path.dirname(base), f".dnssec-bench-{os.getpid()}.yaml")
    open(rules, "w").write(compare.with_server_setting(open(base).read(), f"  state_dir: {work}/state\n"))
    port, admin = 25361, 25362
    proc = None
    try:
        compare.sh(linedns, "keygen", "-c", rules, "example.cn", "--algorithm", a.algorithm)
        table = compare.table_of(linedns, rules, env)
        answers = compare.line_answers(linedns, rules, table)
        qfile = f"{work}/queries.txt"
        compare.queries(table, answers, qfile, 100_000, 0.3, 42)
        log = open(f"{work}/linedns.log", "w")
        proc = subprocess.Popen(["taskset", "-c", compare.SERVER_CPU, linedns, "serve", "-c", rules, "--listen",
                                 f"127.0.0.1:{port}", "--workers", "2", "--admin-listen", f"127.0.0.1:{admin}"],
                                stdout=log, stderr=log, env=env)
        compare.wait_ready(port, f"{work}/linedns.log")
        signed = subprocess.run(["kdig", "@127.0.0.1", "-p", str(port), "+dnssec", "www.example.cn", "A"],
                                capture_output=True, text=True).stdout
        if "RRSIG" not in signed:
            raise SystemExit(f"the zone is not signed:\n{signed}")
        pids = [proc.pid] + compare.descendants(proc.pid)
        rss_before = rss(proc.pid)
        compare.loadgen(bin_dir, port, pids, qfile, 2, True, extra=["--dnssec"])
        runs = {"DO=0": [], "DO=1": []}
        for _ in range(a.runs):
            for name, extra in (("DO=0", []), ("DO=1", ["--dnssec"])):
                runs[name].append(compare.loadgen(bin_dir, port, pids, qfile, a.seconds, True, extra=extra))
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{admin}/metrics").read().decode()
        rss_after = rss(proc.pid)
    finally:
        os.unlink(rules)
        if proc:
            proc.terminate()
            proc.wait(timeout=10)
    print(f"linedns DNSSEC cost, {a.algorithm}, {a.runs} x {a.seconds:g} s, real carrier rules\n")
    medians = compare.print_medians(runs)
    print(f"DO=1 / DO=0: {medians['DO=1'] / medians['DO=0']:.3f}")
    for family in ("linedns_dnssec_signature_cache_sets", "linedns_dnssec_signature_cache_bytes",
                   "linedns_dnssec_signatures_made_total", "linedns_dnssec_signature_cache_hits_total"):
        value = re.search(rf"^{family} (\S+)$", metrics, re.M)
        print(f"{family} {value.group(1) if value else '?'}")
    print(f"server RSS: {rss_before} kB after start, {rss_after} kB after the runs")


def rss(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


if __name__ == "__main__":
    main()
