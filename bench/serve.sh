#!/usr/bin/env bash
# Benchmark `rootmirror serve` against NSD, Knot DNS and tinydns, by hand
# (not a test): every server serves the same DNSSEC-stripped root zone on a
# loopback address of its own, port 53, pinned to CPU 1; dnsperf runs on
# CPU 0 (../shared/bench/cpu-per-query.sh). Reports CPU µs per answered
# query at 60k and 100k queries/s offered, lost queries, average latency,
# resident memory (rootmirror and Knot also after a few UDP and TCP queries)
# and ratios to NSD; then a reload of rootmirror's data.cdb
# (renamed over, twice) under 50k queries/s, which must lose nothing.
#
# SIGNED=1: every server serves the signed root unchanged (rootmirror from
# data compiled with --keep-dnssec; tinydns, which knows no DNSSEC, sits
# out) and every query has EDNS with the DO bit; then 60k queries/s again
# with EDNS and no DO, for the cost of DO against the same data. No monitor
# and reload runs: they do not depend on the data.
#
# usage: [SIGNED=1] [STRIP=1] [BIN=path] bench/serve.sh [SECONDS_PER_RUN]   (as root; default 10)
# Needs: nsd knot tinydns dnsperf (Debian packages), python3, bc.
set -euo pipefail

secs=${1:-10}
signed=${SIGNED:-}
here=$(cd "$(dirname "$0")/.." && pwd)
shared=$(cd "$here/../shared" && pwd)
zone_gz=$shared/zones/root-2023051100.zone.gz
newer_gz=$shared/zones/root-2026082200-nosig.zone.gz
cpq=$shared/bench/cpu-per-query.sh

ip_rootmirror=127.78.0.1
ip_nsd=127.78.0.2
ip_knot=127.78.0.3
ip_tinydns=127.78.0.4
ip_floor=127.78.0.7
ip_monitored=127.78.0.5
ip_silent=127.78.0.6

work=$(mktemp -d /tmp/rootmirror-bench-XXXXXX)
pids_to_stop=()
cleanup() {
    for p in "${pids_to_stop[@]}"; do kill "$p" 2>/dev/null || true; done
    sleep 1
    for p in "${pids_to_stop[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

# BIN=path measures that binary instead (an older build, for a before and
# after in the same session); STRIP=1 strips it first, as installed.
if [ -n "${BIN:-}" ]; then
    bin=$BIN
else
    echo "== building release with a static Swift runtime"
    (cd "$here" && swift build -c release -Xswiftc -static-stdlib 2>&1 | tail -1)
    bin=$(cd "$here" && swift build -c release -Xswiftc -static-stdlib --show-bin-path)/rootmirror
fi
if [ -n "${STRIP:-}" ]; then
    "$here/service/strip-binary" "$bin" "$work/rootmirror"
    bin=$work/rootmirror
fi

echo "== data: $zone_gz"
"$bin" compile "$zone_gz" -o "$work/data.cdb" ${signed:+--keep-dnssec} >/dev/null
"$bin" compile "$newer_gz" -o "$work/newer.cdb" >/dev/null
cp "$work/data.cdb" "$work/older.cdb"
if [ -n "$signed" ]; then
    zcat "$zone_gz" > "$work/root.zone"
else
    zcat "$zone_gz" | awk '$4 !~ /^(RRSIG|NSEC|NSEC3|NSEC3PARAM|DNSKEY|DS|CDS|CDNSKEY|ZONEMD)$/' > "$work/root.zone"
fi
python3 "$here/bench/make-queries.py" "$work/root.zone" 200000 1 > "$work/queries.txt"

# Every process of a server: NSD forks xfrd and its server process (a
# grandchild), and may replace the server process after loading, so the
# tree is read at each use.
family() { local c; echo -n "$1 "; for c in $(pgrep -P "$1"); do family "$c"; done; }
pids_of() { case $1 in nsd) family $nsd_pid;; *) echo "${pids[$1]}";; esac; }
rss_mb() { local t=0; for p in "$@"; do t=$((t + $(awk '/VmRSS/ {print $2}' /proc/$p/status))); done; echo "scale=1; $t / 1024" | bc; }
pin() { for p in "$@"; do taskset -a -p -c 1 "$p" >/dev/null; done; }
# What dnsperf counts lost was dropped by the kernel somewhere: at the
# server's own sockets (their receive queue full: the server's loss), or at
# dnsperf's (UDP RcvbufErrors of the whole host minus the server's: replies
# sent that the client did not read in time).
server_drops() { local a; a=$(echo "$1" | awk -F. '{printf "%02X%02X%02X%02X:0035", $4, $3, $2, $1}'); awk -v a="$a" '$2 == a {d += $13} END {print d + 0}' /proc/net/udp; }
rcvbuf_errors() { awk '$1 == "Udp:" && $2 ~ /^[0-9]+$/ {print $6}' /proc/net/snmp; }
wait_answering() { for _ in $(seq 100); do dig +short +tries=1 +time=1 @"$1" . SOA >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "$1 does not answer" >&2; exit 1; }

echo "== starting servers"
# No SOA monitor here (it would ask the real root servers), and the signed
# 2023 root, whose signatures expired long ago, is served as is, never
# forwarded to them (--on-expiry serve); the monitor's cost is
# measured apart below, against an upstream that never answers.
"$bin" serve -d "$work/data.cdb" --listen $ip_rootmirror:53 --udp-threads 1 --http $ip_rootmirror:8053 \
    --check-interval off --on-expiry serve 2>"$work/rootmirror.log" &
rm_pid=$!; pids_to_stop+=($rm_pid)

mkdir -p "$work/nsd"
cat > "$work/nsd.conf" <<EOF
server:
    ip-address: $ip_nsd
    server-count: 1
    rrl-ratelimit: 0
    username: ""
    chroot: ""
    zonesdir: "$work"
    pidfile: "$work/nsd/nsd.pid"
    xfrdfile: "$work/nsd/xfrd.state"
    zonelistfile: "$work/nsd/zone.list"
    database: ""
    logfile: "$work/nsd/nsd.log"
remote-control:
    control-enable: no
zone:
    name: "."
    zonefile: "$work/root.zone"
EOF
nsd -d -c "$work/nsd.conf" &
nsd_pid=$!; pids_to_stop+=($nsd_pid)

mkdir -p "$work/knot"
cat > "$work/knot.conf" <<EOF
server:
    rundir: $work/knot
    pidfile: $work/knot/knot.pid
    listen: $ip_knot@53
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: $work/knot
log:
  - target: stderr
    any: error
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
EOF
knotd -c "$work/knot.conf" &
knot_pid=$!; pids_to_stop+=($knot_pid)

# tinydns serves rootmirror's data.cdb unchanged (tinydns-data's format).
tiny_pid=
if [ -z "$signed" ]; then
    mkdir -p "$work/tinydns"
    cp "$work/data.cdb" "$work/tinydns/data.cdb"
    env IP=$ip_tinydns ROOT="$work/tinydns" UID=65534 GID=65534 tinydns >/dev/null 2>&1 &
    tiny_pid=$!; pids_to_stop+=($tiny_pid)
fi

# The kernel-only floor (../shared/bench/floor-responder.c): REFUSED to
# everything, no lookup. No server's CPU per query can go below it here.
cc -O2 -o "$work/floor-responder" "$shared/bench/floor-responder.c"
"$work/floor-responder" $ip_floor 53 &
floor_pid=$!; pids_to_stop+=($floor_pid)

declare -A pids=([rootmirror]="$rm_pid" [knot]="$knot_pid" [tinydns]="$tiny_pid" [floor]="$floor_pid")
declare -A ips=([rootmirror]=$ip_rootmirror [nsd]=$ip_nsd [knot]=$ip_knot [tinydns]=$ip_tinydns [floor]=$ip_floor)
servers="rootmirror nsd knot ${tiny_pid:+tinydns }floor"
for s in $servers; do wait_answering ${ips[$s]}; done
sleep 1
for s in $servers; do pin $(pids_of $s); done
[ -n "$signed" ] && export EDNS=1 DO=1

# Memory under ordinary mixed traffic (issue 14, finding 7), rootmirror
# against Knot after the same queries: loaded, after 3,000 UDP queries,
# after 600 more over TCP (10 connections), and (rss_MB in the table
# below) after the CPU runs' minute or so of dnsperf.
head -3000 "$work/queries.txt" > "$work/udp3000.txt"
sed -n '3001,3600p' "$work/queries.txt" > "$work/tcp600.txt"
declare -A rss_loaded rss_udp rss_tcp
for s in rootmirror knot; do rss_loaded[$s]=$(rss_mb $(pids_of $s)); done
for s in rootmirror knot; do
    dnsperf -s "${ips[$s]}" -d "$work/udp3000.txt" -n 1 -c 1 -Q 3000 >/dev/null
    rss_udp[$s]=$(rss_mb $(pids_of $s))
    dnsperf -m tcp -s "${ips[$s]}" -d "$work/tcp600.txt" -n 1 -c 10 -Q 600 >/dev/null
    rss_tcp[$s]=$(rss_mb $(pids_of $s))
done

declare -A cpu lost lat rss
printf "\n== %s s per run, server on CPU 1, dnsperf on CPU 0\n" "$secs"
for rate in 60000 100000; do
    for s in $servers; do
        pin $(pids_of $s)
        drops_before=$(server_drops "${ips[$s]}"); rcvbuf_before=$(rcvbuf_errors)
        line=$("$cpq" "${ips[$s]}" "$work/queries.txt" "$secs" "$rate" $(pids_of $s))
        dropped=$(( $(server_drops "${ips[$s]}") - drops_before ))
        at_client=$(( $(rcvbuf_errors) - rcvbuf_before - dropped ))
        echo "  $s @ $rate: $line server_drops=$dropped client_drops=$at_client"
        cpu[$s,$rate]=$(echo "$line" | sed -E 's/.*cpu_us_per_query=([0-9.]+).*/\1/')
        lost[$s,$rate]=$(echo "$line" | sed -E 's/.*lost=([0-9]+).*/\1/')/$dropped
        lat[$s,$rate]=$(echo "$line" | sed -E 's/.*avg_latency_s=([0-9.]+).*/\1/')
    done
done
for s in $servers; do rss[$s]=$(rss_mb $(pids_of $s)); done
if [ -n "$signed" ]; then
    for s in $servers; do
        line=$(DO= "$cpq" "${ips[$s]}" "$work/queries.txt" "$secs" 60000 $(pids_of $s))
        echo "  $s @ 60000 without DO: $line"
        cpu[$s,nodo]=$(echo "$line" | sed -E 's/.*cpu_us_per_query=([0-9.]+).*/\1/')
    done
fi

printf "\n(lost: by dnsperf / of them dropped at the server's sockets; the rest at dnsperf's)\n"
printf "%-11s %12s %12s %9s %9s %14s %14s %9s %13s %15s\n" server "cpu_us@60k" "cpu_us@100k" "lost@60k" "lost@100k" "latency_ms@60k" "latency_ms@100k" "rss_MB" "cpu@60k/nsd" "cpu@60k/floor"
for s in $servers; do
    ratio=$(echo "scale=2; ${cpu[$s,60000]} / ${cpu[nsd,60000]}" | bc)
    floor_ratio=$(echo "scale=2; ${cpu[$s,60000]} / ${cpu[floor,60000]}" | bc)
    printf "%-11s %12s %12s %9s %9s %14s %14s %9s %13s %15s\n" $s "${cpu[$s,60000]}" "${cpu[$s,100000]}" \
        "${lost[$s,60000]}" "${lost[$s,100000]}" \
        "$(echo "scale=3; ${lat[$s,60000]} * 1000" | bc)" "$(echo "scale=3; ${lat[$s,100000]} * 1000" | bc)" \
        "${rss[$s]}" "$ratio" "$floor_ratio"
done
if [ -n "$signed" ]; then
    echo
    printf "%-11s %16s %16s %10s\n" server "cpu_us@60k DO" "cpu_us@60k no DO" "DO/no DO"
    for s in $servers; do
        printf "%-11s %16s %16s %10s\n" $s "${cpu[$s,60000]}" "${cpu[$s,nodo]}" "$(echo "scale=2; ${cpu[$s,60000]} / ${cpu[$s,nodo]}" | bc)"
    done
    exit 0
fi

printf "\n%-11s %11s %15s %15s %17s\n" server "rss_loaded" "rss_after_udp" "rss_after_tcp" "rss_after_dnsperf"
for s in rootmirror knot; do
    printf "%-11s %11s %15s %15s %17s\n" $s "${rss_loaded[$s]}" "${rss_udp[$s]}" "${rss_tcp[$s]}" "${rss[$s]}"
done

echo
echo "== the SOA monitor waiting on an upstream that never answers (checks every 1 s, 2 s timeout)"
python3 -c "import socket, time; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('$ip_silent', 53)); time.sleep(3600)" &
pids_to_stop+=($!)
"$bin" serve -d "$work/data.cdb" --listen $ip_monitored:53 --udp-threads 1 --http off \
    --upstream $ip_silent --check-interval 1s --check-timeout 2 2>"$work/monitored.log" &
mon_pid=$!; pids_to_stop+=($mon_pid)
wait_answering $ip_monitored
pin $mon_pid
sleep 3
line=$("$cpq" $ip_monitored "$work/queries.txt" "$secs" 60000 $mon_pid)
echo "  rootmirror @ 60000, monitor never answered: $line"
mon_cpu=$(echo "$line" | sed -E 's/.*cpu_us_per_query=([0-9.]+).*/\1/')
echo "  cpu per query against the unmonitored run: $(echo "scale=2; $mon_cpu / ${cpu[rootmirror,60000]}" | bc)"
kill $mon_pid

echo
echo "== reload under 50k queries/s: data.cdb renamed over twice while dnsperf runs"
reload_secs=12
( sleep 3; cp "$work/newer.cdb" "$work/data.cdb.new"; mv "$work/data.cdb.new" "$work/data.cdb"
  sleep 4; cp "$work/older.cdb" "$work/data.cdb.new"; mv "$work/data.cdb.new" "$work/data.cdb" ) &
reloader=$!
line=$("$cpq" $ip_rootmirror "$work/queries.txt" $reload_secs 50000 $rm_pid)
wait $reloader
echo "  rootmirror @ 50000 with reloads: $line"
grep -E "reloaded|refused" "$work/rootmirror.log" | sed 's/^/  log: /'
echo "  rss after reloads: $(rss_mb $rm_pid) MB"
