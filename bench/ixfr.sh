#!/usr/bin/env bash
# Benchmark: IXFR out of one root serial change (RFC 1995), rootmirror against
# Knot in the same run. Run by hand, not in CI.
#
# Both serve the 2026082201 root and hold the difference from 2026082200:
# rootmirror from DATA.journal (two compiles, as two refreshes make it), Knot
# from its journal (`zonefile-load: difference`, the file replaced and
# reloaded, as an operator with a zone file does). Reported, for signed and
# stripped data: the bytes on the wire of IXFR from 2026082200 and of AXFR,
# and the server CPU per IXFR (its utime+stime over N transfers made by one
# Python client on loopback, in ROUNDS rounds: median and spread).
#
# usage: bench/ixfr.sh [N [ROUNDS]]
# needs: knot, knot-dnsutils, python3-dnspython
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-2000}
rounds=${2:-5}
old=../shared/zones/root-2026082200-nosig.zone.gz
new=../shared/zones/root-2026082201-nosig.zone.gz
work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

swift build -c release -Xswiftc -static-stdlib >/dev/null
bin=$PWD/.build/release/rootmirror
port=$((20000 + RANDOM % 30000))

cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# transfers ADDR N: N IXFRs from 2026082200 over TCP, one connection each.
transfers() {
    /usr/bin/python3 - "$1" "$port" "$2" <<'PY'
import socket, sys, dns.message, dns.rrset
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
q = dns.message.make_query('.', 'IXFR')
q.authority.append(dns.rrset.from_text('.', 86400, 'IN', 'SOA', 'a.root-servers.net. nstld.verisign-grs.com. 2026082200 1800 900 604800 86400'))
w = q.to_wire()
framed = len(w).to_bytes(2, 'big') + w
for _ in range(n):
    s = socket.create_connection((host, port))
    s.sendall(framed)
    got, records, done = b'', 0, False
    # Message by message until the closing SOA: the last record of the last message.
    while not done:
        c = s.recv(65536)
        if not c: break
        got += c
        while not done and len(got) > 2 and len(got) >= 2 + int.from_bytes(got[:2], 'big'):
            length = int.from_bytes(got[:2], 'big')
            m = dns.message.from_wire(got[2:2 + length], one_rr_per_rrset=True)
            got = got[2 + length:]
            records += len(m.answer)
            done = records > 1 and m.answer[-1].rdtype == 6
    s.close()
PY
}

for flavour in signed stripped; do
    keep=(); [ $flavour = signed ] && keep=(--keep-dnssec)
    rm -rf "$work/$flavour"; mkdir -p "$work/$flavour/knot"
    "$bin" compile "$old" -o "$work/$flavour/data.cdb" "${keep[@]}" >/dev/null
    "$bin" compile "$new" -o "$work/$flavour/data.cdb" "${keep[@]}" >/dev/null
    ours=127.53.$((RANDOM % 250 + 1)).$((RANDOM % 250 + 2))
    knot=127.54.$((RANDOM % 250 + 1)).$((RANDOM % 250 + 2))
    "$bin" serve -d "$work/$flavour/data.cdb" --listen "$ours:$port" --allow-transfer 127.0.0.0/8 \
        --http off --check-interval off --on-expiry serve --udp-threads 1 2>"$work/$flavour/serve.log" &
    ourpid=$!; pids+=($ourpid)

    # Knot's zone file: what rootmirror serves, as a file (signed: all; stripped: without DNSSEC).
    # (Without the closing SOA: a file holds it once.)
    zonefile() { kdig @"$ours" -p "$2" . AXFR +noidn +nocomments +nostats +noquestion | grep -v '^;' | sed '$d' > "$1"; }
    cat > "$work/$flavour/knot.conf" <<CONF
server:
    rundir: $work/$flavour/knot
    listen: $knot@$port
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
control:
    listen: $work/$flavour/knot/knot.sock
database:
    storage: $work/$flavour/knot
acl:
  - id: loopback
    address: 127.0.0.0/8
    action: transfer
template:
  - id: default
    storage: $work/$flavour/knot
    zonefile-sync: -1
    zonefile-load: difference
    journal-content: changes
    semantic-checks: off
zone:
  - domain: .
    file: $work/$flavour/root.zone
    acl: loopback
CONF
    for _ in $(seq 100); do kdig @"$ours" -p "$port" . SOA +short >/dev/null 2>&1 && break; sleep 0.1; done
    # The 2026082200 version first: the difference Knot keeps is the one rootmirror keeps.
    "$bin" compile "$old" -o "$work/$flavour/old.cdb" "${keep[@]}" >/dev/null
    "$bin" serve -d "$work/$flavour/old.cdb" --listen "$ours:$((port + 1))" --allow-transfer 127.0.0.0/8 \
        --http off --check-interval off --on-expiry serve --udp-threads 1 2>/dev/null &
    oldpid=$!
    for _ in $(seq 100); do kdig @"$ours" -p $((port + 1)) . SOA +short >/dev/null 2>&1 && break; sleep 0.1; done
    zonefile "$work/$flavour/root.zone" $((port + 1))
    kill $oldpid
    knotd -c "$work/$flavour/knot.conf" >"$work/$flavour/knot.log" 2>&1 &
    knotpid=$!; pids+=($knotpid)
    for _ in $(seq 150); do [ -n "$(kdig @"$knot" -p "$port" . SOA +short 2>/dev/null)" ] && break; sleep 0.2; done
    zonefile "$work/$flavour/root.zone" "$port"
    knotc -c "$work/$flavour/knot.conf" zone-reload . >/dev/null
    for _ in $(seq 150); do kdig @"$knot" -p "$port" . SOA +short | grep -q 2026082201 && break; sleep 0.2; done

    for who in rootmirror knot; do
        addr=$ours; [ $who = knot ] && addr=$knot
        ixfr=$(kdig @"$addr" -p "$port" +tcp . IXFR=2026082200 | sed -n 's/^;; Received \([0-9]*\) B.*/\1/p')
        axfr=$(kdig @"$addr" -p "$port" +tcp . AXFR | sed -n 's/^;; Received \([0-9]*\) B.*/\1/p')
        records=$(kdig @"$addr" -p "$port" +tcp . IXFR=2026082200 | sed -n 's/.*messages, \([0-9]*\) records.*/\1/p')
        echo "$flavour $who: IXFR $ixfr bytes ($records records), AXFR $axfr bytes, IXFR/AXFR $(echo "scale=4; $ixfr / $axfr * 100" | bc) %"
    done
    for r in $(seq "$rounds"); do
        line="$flavour round $r: µs of server CPU per IXFR:"
        for who in rootmirror knot; do
            addr=$ours; pid=$ourpid; [ $who = knot ] && { addr=$knot; pid=$knotpid; }
            before=$(cpu $pid); transfers "$addr" "$n"; after=$(cpu $pid)
            line="$line $who $(echo "scale=1; ($after - $before) * 10000 / $n" | bc)"
        done
        echo "$line"
    done
    kill $ourpid $knotpid 2>/dev/null || true
done
