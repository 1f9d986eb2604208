#!/usr/bin/env bash
# Benchmark: AXFR of the full signed root out of `serve --allow-transfer`,
# against the same transfer out of Knot serving the same zone, in the same
# run (hyperfine timing `kdig +tcp . AXFR`, as a secondary's operator would).
# Run by hand, not in CI.
#
# usage: bench/axfr.sh [RUNS]
# needs: hyperfine, knot, knot-dnsutils
set -euo pipefail
cd "$(dirname "$0")/.."
zone=../shared/zones/root-2023051100.zone.gz
runs=${1:-30}
work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

swift build -c release -Xswiftc -static-stdlib >/dev/null
bin=.build/release/rootmirror
"$bin" compile "$zone" -o "$work/data.cdb" --keep-dnssec >/dev/null
zcat "$zone" > "$work/root.zone"

# Loopback addresses of the run's own, one port for both servers.
port=$((20000 + RANDOM % 30000))
ours=127.53.$((RANDOM % 250 + 1)).$((RANDOM % 250 + 2))
knot=127.54.$((RANDOM % 250 + 1)).$((RANDOM % 250 + 2))

"$bin" serve -d "$work/data.cdb" --listen "$ours:$port" --allow-transfer 127.0.0.0/8 \
    --http off --check-interval off --udp-threads 1 2>"$work/serve.log" &
pids+=($!)
mkdir -p "$work/knot"
cat > "$work/knot.conf" <<CONF
server:
    rundir: $work/knot
    listen: $knot@$port
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: $work/knot
acl:
  - id: loopback
    address: 127.0.0.0/8
    action: transfer
template:
  - id: default
    storage: $work/knot
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
    semantic-checks: off
zone:
  - domain: .
    file: $work/root.zone
    acl: loopback
CONF
knotd -c "$work/knot.conf" 2>"$work/knot.log" &
pids+=($!)

for _ in $(seq 150); do
    if [ -n "$(kdig @"$ours" -p "$port" . SOA +short 2>/dev/null)" ] &&
       [ -n "$(kdig @"$knot" -p "$port" . SOA +short 2>/dev/null)" ]; then break; fi
    sleep 0.2
done
# The same records from both, or the comparison means nothing.
if ! diff -q <(kdig @"$ours" -p "$port" +tcp . AXFR +noall +answer | sort) \
             <(kdig @"$knot" -p "$port" +tcp . AXFR +noall +answer | sort) >/dev/null; then
    echo "the two transfers differ" >&2
    exit 1
fi

echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
hyperfine -N --warmup 3 --runs "$runs" \
    -n rootmirror "kdig @$ours -p $port +tcp . AXFR" \
    -n knot "kdig @$knot -p $port +tcp . AXFR"
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
