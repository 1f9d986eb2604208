#!/usr/bin/env bash
# Benchmark: what response rate limiting costs. The same release binary
# serves the 2023 root three ways on loopback addresses of its own, each on
# CPU 1 with one UDP thread: RRL off (the loopback default), and with
# --rate-limit 200 under a flood from one source (nearly every query over
# the limit: half dropped, half slipped to TC). BASELINE=path adds a binary
# without RRL (an older build) as a third server. dnsperf on CPU 0 offers
# 60k queries/s for 5 s per server, the servers in turn, several rounds;
# reported: the server's CPU microseconds per query *sent* (a dropped query
# costs CPU too, and gets no answer to count), median and range, and the
# ratios the issue sets (on/off ≤ 1.2, off/baseline ≤ 1.05). Run by hand, as root.
#
# usage: bench/rrl.sh [ROUNDS]     needs: dnsperf, bc, python3
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
swift build -c release -Xswiftc -static-stdlib >/dev/null
bin=$PWD/.build/release/rootmirror
work=$(mktemp -d)
pids=()
trap 'kill ${pids[@]} 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
"$bin" compile ../shared/zones/root-2023051100.zone.gz -o "$work/data.cdb" >/dev/null
gzip -dc ../shared/zones/root-2023051100.zone.gz > "$work/root.zone"
python3 bench/make-queries.py "$work/root.zone" 100000 20261207 > "$work/queries"

base=127.62.$((RANDOM % 250 + 1))
declare -A ip=([off]=$base.2 [on]=$base.3 [baseline]=$base.4) pid=()
serve() { # NAME BINARY OPTIONS...
  local name=$1 binary=$2; shift 2
  taskset -c 1 "$binary" serve -d "$work/data.cdb" --listen "${ip[$name]}:53" --udp-threads 1 --http off \
      --check-interval off "$@" 2>"$work/$name.log" &
  pids+=($!); pid[$name]=$!
}
serve off "$bin"
serve on "$bin" --rate-limit 200
names=(off on)
if [ -n "${BASELINE:-}" ]; then serve baseline "$BASELINE"; names+=(baseline); fi
sleep 3

ticks() { local t=0 s; for s in /proc/$1/task/*/stat; do t=$((t + $(sed "s/.*) //" "$s" | awk '{print $12+$13}'))); done; echo $t; }
hz=$(getconf CLK_TCK)
for round in $(seq "$rounds"); do
  for name in "${names[@]}"; do
    a=$(ticks "${pid[$name]}")
    # A window large enough that dropped queries (timed out after 1 s) do not stall the offered rate.
    out=$(taskset -c 0 dnsperf -s "${ip[$name]}" -d "$work/queries" -l 5 -c 4 -q 60000 -t 1 -Q 60000 2>&1)
    b=$(ticks "${pid[$name]}")
    sent=$(echo "$out" | awk '/Queries sent/ {print $3}')
    echo "$name $(echo "($b - $a) * 1000000 / $hz / $sent" | bc -l) $sent" >> "$work/results"
  done
done
echo "load: $(cut -d' ' -f1-3 /proc/loadavg); cores: $(nproc)"
python3 - "$work/results" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    name, us, sent = line.split()
    runs.setdefault(name, []).append(float(us))
med = {n: statistics.median(v) for n, v in runs.items()}
for n, v in runs.items():
    print(f"  {n:9s} CPU µs per query sent: median {med[n]:.2f} (min {min(v):.2f}, max {max(v):.2f}, {len(v)} rounds)")
print(f"  on / off = {med['on'] / med['off']:.2f}   (goal <= 1.2)")
if "baseline" in med:
    print(f"  off / baseline = {med['off'] / med['baseline']:.2f}   (goal <= 1.05)")
PY
