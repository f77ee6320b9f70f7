#!/usr/bin/env bash
# dnsperf on loopback: linedns vs NSD (static zone, no geo: the upper bound) vs Knot DNS
# with mod-geoip in subnet mode, on the same lines, addresses and ECS query mix.
#
# Needs: Debian's dnsperf,
# nsd, knot, knot-module-geoip, knot-dnsutils. Every server is started here on a loopback
# port, loaded for DURATION seconds (default 10), and stopped by its PID. The geo data is
# the repository's fixtures (tests/data/geo-data), or LINEDNS_GEO_DATA if set.
#
#   benches/dnsperf/run.sh [DURATION]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
duration="${1:-10}"
export LINEDNS_GEO_DATA="${LINEDNS_GEO_DATA:-$repo/tests/data/geo-data}"
rules="$repo/rules/china-carriers.yaml"
work="$(mktemp -d /tmp/linedns-dnsperf.XXXXXX)"
pids=()
cleanup() { for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

for tool in dnsperf nsd knotd kdig python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install dnsperf nsd knot knot-module-geoip knot-dnsutils)" >&2; exit 1; }
done
cargo build --release --quiet --manifest-path "$repo/Cargo.toml"
linedns="$repo/target/release/linedns"

# Lines and the addresses each line is served, straight from linedns.
"$linedns" table -c "$rules" > "$work/table.txt"
python3 - "$linedns" "$rules" "$work/table.txt" > "$work/answers.json" <<'PY'
import json, subprocess, sys
linedns, rules, table = sys.argv[1:]
first = {}
for row in open(table):
    net, line = row.split()
    first.setdefault((line, ":" in net), net.split("/")[0])
answers = {}
for (line, v6), addr in first.items():
    qtype = "AAAA" if v6 else "A"
    out = json.loads(subprocess.check_output([linedns, "explain", "-c", rules, "--json", addr, "www.example.cn", qtype]))
    answers.setdefault(line, {})[qtype] = [r.split()[-1] for r in out["records"]]
print(json.dumps(answers))
PY
python3 "$here/gen.py" queries "$work/table.txt" "$work/queries.bin" 200000 42
python3 "$here/gen.py" knot "$work/table.txt" "$work/answers.json" "$work/geo.conf"

# 40 sample subnets: one block of every line (v4 and v6), the rest at random.
python3 - "$work/table.txt" > "$work/samples.txt" <<'PY'
import random, sys
rows = [l.split() for l in open(sys.argv[1])]
seen, picks = set(), []
for net, line in rows:
    key = (line, ":" in net)
    if key not in seen:
        seen.add(key)
        picks.append(net)
rng = random.Random(1)
picks += [rng.choice(rows)[0] for _ in range(40 - len(picks))]
for net in picks[:40]:
    # A block's own prefix is a valid ECS subnet (host bits zero).
    print(net, "AAAA" if ":" in net else "A")
PY

default_a=$(python3 -c "import json;print(' '.join(json.load(open('$work/answers.json'))['default']['A']))")
default_aaaa=$(python3 -c "import json;print(' '.join(json.load(open('$work/answers.json'))['default'].get('AAAA',[])))")
{
  echo '$ORIGIN example.cn.'
  echo '$TTL 600'
  echo '@ IN SOA ns1 hostmaster 2026112101 3600 600 1209600 60'
  echo '@ IN NS ns1'
  echo 'ns1 IN A 192.0.2.53'
  for a in $default_a; do echo "www 60 IN A $a"; done
  for a in $default_aaaa; do echo "www 60 IN AAAA $a"; done
} > "$work/example.cn.zone"

port_linedns=25353; port_nsd=25354; port_knot=25355
cat > "$work/nsd.conf" <<CONF
server:
  ip-address: 127.0.0.1
  port: $port_nsd
  server-count: 2
  username: ""
  chroot: ""
  database: ""
  zonelistfile: "$work/nsd.zonelist"
  xfrdfile: "$work/nsd.xfrd"
  pidfile: "$work/nsd.pid"
  zonesdir: "$work"
  verbosity: 0
  rrl-ratelimit: 0        # NSD limits 200 answers/s per /24 by default: off for a load test
remote-control:
  control-enable: no
zone:
  name: example.cn
  zonefile: example.cn.zone
CONF
mkdir -p "$work/knot"
cat > "$work/knot.conf" <<CONF
server:
  rundir: "$work/knot"
  listen: 127.0.0.1@$port_knot
  udp-workers: 2
  edns-client-subnet: on
database:
  storage: "$work/knot"
mod-geoip:
  - id: lines
    config-file: "$work/geo.conf"
    ttl: 60
    mode: subnet
template:
  - id: default
    storage: "$work"
zone:
  - domain: example.cn
    file: example.cn.zone
    module: mod-geoip/lines
CONF

# CPU ticks (user + system) of a server and all its descendants (NSD's servers are
# grandchildren of the process started here).
descendants() { local c; for c in $(pgrep -P "$1" || true); do echo "$c"; descendants "$c"; done; }
cpu_ticks() {
  local total=0 p
  for p in "$1" $(descendants "$1"); do
    # Fields after "pid (comm) ": the name may hold spaces (NSD's do), so cut at ") ".
    [ -r "/proc/$p/stat" ] && total=$((total + $(sed 's/.*) //' "/proc/$p/stat" | awk '{print $12 + $13}')))
  done
  echo "$total"
}
wait_port() { for _ in $(seq 1 100); do kdig @127.0.0.1 -p "$1" +timeout=1 +retry=0 example.cn SOA >/dev/null 2>&1 && return 0; sleep 0.2; done; echo "server on $1 did not start" >&2; return 1; }

run_one() { # name port pid
  local name=$1 port=$2 pid=$3
  wait_port "$port"
  local check subnet
  check=$(kdig @127.0.0.1 -p "$port" +short +subnet=49.64.0.0/24 www.example.cn A | sort | tr '\n' ' ')
  # Answers for the sample subnets, compared between servers at the end.
  while read -r subnet qtype; do
    echo "$subnet $qtype $(kdig @127.0.0.1 -p "$port" +short +subnet="$subnet" www.example.cn "$qtype" | sort | tr '\n' ' ')"
  done < "$work/samples.txt" > "$work/$name.answers"
  dnsperf -s 127.0.0.1 -p "$port" -B -d "$work/queries.bin" -l 2 -c 4 -q 200 -T 1 >/dev/null 2>&1 || true  # warm up
  local t0 c0 c1 t1
  t0=$(date +%s.%N); c0=$(cpu_ticks "$pid")
  dnsperf -s 127.0.0.1 -p "$port" -B -d "$work/queries.bin" -l "$duration" -c 4 -q 200 -T 1 > "$work/$name.dnsperf" 2>&1
  c1=$(cpu_ticks "$pid"); t1=$(date +%s.%N)
  local qps lat lost cpu
  qps=$(awk '/Queries per second/ {print $4}' "$work/$name.dnsperf")
  lat=$(awk '/Average Latency/ {print $4}' "$work/$name.dnsperf")
  lost=$(awk '/Queries lost/ {print $3}' "$work/$name.dnsperf")
  cpu=$(python3 -c "print(round(100 * ($c1 - $c0) / $(getconf CLK_TCK) / ($t1 - $t0), 1))")
  printf '%-12s %12s %14s %8s %10s   %s\n' "$name" "$qps" "${lat:-?}" "${lost:-?}" "$cpu" "$check"
  echo "$name $qps" >> "$work/qps.txt"
}

echo "dnsperf: ${duration}s per server, 200,000 distinct ECS queries (80% IPv4 /24, 20% IPv6 /56) for www.example.cn, 1 dnsperf thread, 4 clients, 200 in flight"
echo "lines: $(cut -d' ' -f2 "$work/table.txt" | sort -u | tr '\n' ' ')  blocks: $(wc -l < "$work/table.txt")"
printf '%-12s %12s %14s %8s %10s   %s\n' server QPS "avg latency s" lost "server CPU%" "answer for 49.64.0.0/24 (telecom)"

"$linedns" serve -c "$rules" --listen "127.0.0.1:$port_linedns" --workers 2 2> "$work/linedns.log" & pids+=($!)
run_one linedns "$port_linedns" "${pids[-1]}"; kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true

nsd -d -c "$work/nsd.conf" 2> "$work/nsd.log" & pids+=($!)
run_one nsd "$port_nsd" "${pids[-1]}"; kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true

knotd -c "$work/knot.conf" 2> "$work/knot.log" & pids+=($!)
run_one knot-geoip "$port_knot" "${pids[-1]}"; kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true

if diff -q "$work/linedns.answers" "$work/knot-geoip.answers" >/dev/null; then
  echo "linedns and knot-geoip gave the same answers for all $(wc -l < "$work/samples.txt") sample subnets"
else
  echo "linedns and knot-geoip DISAGREE on sample subnets:"; diff "$work/linedns.answers" "$work/knot-geoip.answers" || true
fi
python3 - "$work/qps.txt" <<'PY'
import sys
qps = dict(l.split() for l in open(sys.argv[1]))
base = float(qps["linedns"])
print("ratios to linedns: " + ", ".join(f"{k} {float(v) / base:.2f}" for k, v in qps.items()))
PY
echo "(work files: $work)"
