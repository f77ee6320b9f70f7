#!/usr/bin/env bash
# linedns vs the do-nothing responder, gdnsd, Knot DNS and NSD on this machine, in one
# run: installs the Debian packages it drives when missing (gdnsd, knot, knot-module-geoip,
# nsd, knot-dnsutils; apt-get as root or via sudo), then runs benches/compare.py with the
# arguments given (see `benches/compare.py --help`). Every server is started here on a
# loopback port, pinned to CPU 0, and stopped by its PID; the load generator runs on CPU 1.
#
#   benches/compare.sh --data synthetic
#   benches/compare.sh --data real
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
missing=()
for pair in gdnsd:gdnsd knotd:knot nsd:nsd kdig:knot-dnsutils taskset:util-linux python3:python3; do
  command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
[ -e /usr/lib/x86_64-linux-gnu/knot/modules-3.2/geoip.so ] || ls /usr/lib/*/knot/modules-*/geoip.so >/dev/null 2>&1 || missing+=(knot-module-geoip)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing: ${missing[*]}" >&2
  $sudo apt-get update -qq && $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
exec python3 "$here/compare.py" "$@"
