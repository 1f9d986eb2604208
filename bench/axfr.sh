#!/usr/bin/env bash
# Benchmark, in two parts. Run by hand, not in CI.
#
# 1. AXFR of the full signed root out of `serve --allow-transfer`, against
#    the same transfer out of Knot serving the same zone, in the same run
#    (hyperfine timing `kdig +tcp . AXFR`, as a secondary's operator would).
# 2. `refresh --url axfr://` from Knot on loopback, with every check a
#    transfer gets (DNSSEC, ZONEMD), beside `refresh --file --sig` of the same
#    zone with every check a file gets (OpenPGP, DNSSEC, ZONEMD), and the bare
#    transfer. The 2023 root has no ZONEMD and its signatures have expired,
#    so it is signed again here, as the root is (RSA-2048, NSEC, ZONEMD
#    SHA-384), with keys made for the run, and its gzip with a throwaway
#    OpenPGP key (bench/throwaway-signer.sh).
#
# usage: bench/axfr.sh [RUNS]
# needs: hyperfine, knot, knot-dnsutils, ldnsutils, gnupg, python3
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
    --http off --check-interval off --on-expiry serve --udp-threads 1 2>"$work/serve.log" &
pids+=($!)
# start_knot NAME ADDR ZONEFILE: Knot serving ZONEFILE as "." on ADDR:$port.
start_knot() {
    mkdir -p "$work/$1"
    cat > "$work/$1.conf" <<CONF
server:
    rundir: $work/$1
    listen: $2@$port
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: $work/$1
acl:
  - id: loopback
    address: 127.0.0.0/8
    action: transfer
template:
  - id: default
    storage: $work/$1
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
    semantic-checks: off
zone:
  - domain: .
    file: $3
    acl: loopback
CONF
    knotd -c "$work/$1.conf" >"$work/$1.log" 2>&1 &
    pids+=($!)
}
start_knot knot "$knot" "$work/root.zone"

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

# Part 2: refresh from a transfer, with every check, beside refresh from files.
signed=127.55.$((RANDOM % 250 + 1)).$((RANDOM % 250 + 2))
# The records a signer makes are dropped and made again with keys of the run.
awk '$4 !~ /^(RRSIG|NSEC|DNSKEY|ZONEMD)$/' "$work/root.zone" > "$work/unsigned.zone"
(cd "$work" && ksk=$(ldns-keygen -a RSASHA256 -b 2048 -k .) && zsk=$(ldns-keygen -a RSASHA256 -b 2048 .) &&
    ldns-signzone -z 1:1 -o . -f resigned.zone unsigned.zone "$zsk" "$ksk" && cp "$ksk.ds" anchor.ds)
gzip -c "$work/resigned.zone" > "$work/root.zone.gz"
. bench/throwaway-signer.sh
sign_with_throwaway_key "$work"
start_knot knot-signed "$signed" "$work/resigned.zone"
for _ in $(seq 150); do
    [ -n "$(kdig @"$signed" -p "$port" . SOA +short 2>/dev/null)" ] && break
    sleep 0.2
done
from_axfr="$bin refresh --url axfr://$signed:$port --trust-anchor $work/anchor.ds -d $work/axfr.cdb --quiet"
from_file="$bin refresh --file $work/root.zone.gz --sig $work/root.zone.gz.sig --keyring $work/key.asc --trust-anchor $work/anchor.ds -d $work/file.cdb --quiet"
# Each must install before it is timed; data.cdb is removed before each run,
# so every run installs (an installed serial would skip the transfer).
$from_axfr && $from_file
hyperfine -N --warmup 2 --runs "$runs" --prepare "rm -f $work/axfr.cdb $work/file.cdb" --export-json "$work/refresh.json" \
    -n "kdig AXFR (transfer only)" "kdig @$signed -p $port +tcp . AXFR" \
    -n "refresh --url axfr:// (dnssec zonemd)" "$from_axfr" \
    -n "refresh --file (openpgp dnssec zonemd)" "$from_file" >/dev/null
echo "load: $(cut -d' ' -f1-3 /proc/loadavg); cores: $(nproc)"
python3 bench/medians.py "$work/refresh.json" \
  "refresh --url axfr:// (dnssec zonemd) / refresh --file (openpgp dnssec zonemd)" \
  "refresh --url axfr:// (dnssec zonemd) / kdig AXFR (transfer only)"
