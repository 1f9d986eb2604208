#!/usr/bin/env bash
# Soak `rootmirror serve` by hand (issue 14): a steady UDP query mix with DO
# and without (dnsperf), TCP clients coming and going, a new data.cdb every
# few minutes (the signed 2023 and stripped 2026 roots in turn, renamed over) and a SIGHUP
# now and then, /health scraped every second. Every minute: RSS, open
# descriptors, SOA answers whose serial was not the installed one (after
# a reload's second of grace), TCP and /health failures; dnsperf's lost
# queries at the end. RSS and descriptors should be flat after the first
# reload, and nothing lost.
#
# usage: bench/soak.sh [MINUTES]   (default 60; BIN=path/rootmirror for another build)
# Needs: dnsperf, kdig, curl, python3, bc; the release build.
set -euo pipefail

minutes=${1:-60}
here=$(cd "$(dirname "$0")/.." && pwd)
shared=$(cd "$here/../shared" && pwd)
bin=${BIN:-$here/.build/release/rootmirror}
ip=127.79.0.1
port=5353
http=$ip:8053
work=$(mktemp -d /tmp/rootmirror-soak-XXXXXX)
pids_to_stop=()
cleanup() {
    if [ -n "${serve_pid:-}" ] && ! kill -0 "$serve_pid" 2>/dev/null; then
        echo "serve is not running; the end of its log:"; tail -20 "$work/serve.log"
    fi
    for p in "${pids_to_stop[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# a: the signed 2023 root with its DNSSEC records kept, so that the DO
# clients get signed answers and NSEC proofs; b: the stripped 2026 root.
"$bin" compile "$shared/zones/root-2023051100.zone.gz" -o "$work/a.cdb" --keep-dnssec >/dev/null
"$bin" compile "$shared/zones/root-2026082200-nosig.zone.gz" -o "$work/b.cdb" >/dev/null
cp "$work/a.cdb" "$work/data.cdb"
zcat "$shared/zones/root-2023051100.zone.gz" | awk '$4 !~ /^(RRSIG|NSEC|NSEC3|DNSKEY|DS)$/' > "$work/root.zone"
python3 "$here/bench/make-queries.py" "$work/root.zone" 100000 1 > "$work/queries.txt"

"$bin" serve -d "$work/data.cdb" --listen $ip:$port --udp-threads 2 --http $http --check-interval off --on-expiry serve 2>"$work/serve.log" &
serve_pid=$!; pids_to_stop+=($serve_pid)
for _ in $(seq 100); do kdig +short +tries=1 +time=1 @$ip -p $port . SOA >/dev/null 2>&1 && break; sleep 0.1; done

seconds=$((minutes * 60))
# The query mix at 2,000 queries/s, half of the clients setting DO.
dnsperf -s $ip -p $port -d "$work/queries.txt" -l $seconds -Q 1000 -c 4 >"$work/dnsperf.log" 2>&1 &
pids_to_stop+=($!)
dnsperf -s $ip -p $port -d "$work/queries.txt" -l $seconds -Q 1000 -c 4 -D >"$work/dnsperf-do.log" 2>&1 &
pids_to_stop+=($!)

# The checker: TCP clients that connect, ask a few queries and leave, the
# served serial against the installed one, /health every second; one line
# of counts a minute. It also installs a new data.cdb every 3 minutes and
# sends SIGHUP every 7.
python3 - "$ip" "$port" "$http" "$serve_pid" "$work" "$seconds" <<'PY'
import os, shutil, socket, struct, subprocess, sys, time, urllib.request, random
ip, port, http, pid, work, seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5], int(sys.argv[6])
serials = {"a": 2023051100, "b": 2026082200}
installed, changed_at = "a", 0.0

def query(name_wire, qtype, qid):
    return struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + name_wire + struct.pack(">HH", qtype, 1)

def soa_serial(reply):
    # The answer's SOA: skip the question (the root name, 5 bytes), then the
    # answer's owner pointer/root, type, class, TTL, length, two names.
    at = 12 + 1 + 4
    at += 1 if reply[at] == 0 else 2
    at += 10
    for _ in range(2):
        while reply[at] != 0 and reply[at] < 0xC0: at += reply[at] + 1
        at += 1 if reply[at] == 0 else 2
    return struct.unpack(">I", reply[at:at + 4])[0]

def rss_kb():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"): return int(line.split()[1])

def tcp_exchange(messages):
    s = socket.create_connection((ip, port), timeout=2)
    try:
        for m in messages: s.sendall(struct.pack(">H", len(m)) + m)
        replies = []
        for _ in messages:
            n = struct.unpack(">H", s.recv(2, socket.MSG_WAITALL))[0]
            replies.append(s.recv(n, socket.MSG_WAITALL))
        return replies
    finally:
        s.close()

udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); udp.settimeout(2)
counts = dict(soa=0, wrong=0, unanswered=0, tcp=0, tcp_failed=0, health=0, health_failed=0)
start = time.time(); next_report = start + 60; next_install = start + 180; next_hup = start + 420; minute = 0
print("minute rss_kb fds soa wrong unanswered tcp tcp_failed health health_failed", flush=True)
while time.time() - start < seconds:
    now = time.time()
    if now >= next_install:
        installed = "b" if installed == "a" else "a"
        shutil.copy(f"{work}/{installed}.cdb", f"{work}/data.cdb.new"); os.rename(f"{work}/data.cdb.new", f"{work}/data.cdb")
        changed_at, next_install = now, now + 180
    if now >= next_hup:
        os.kill(pid, 1); changed_at, next_hup = now, now + 420
    qid = random.randrange(65536)
    udp.sendto(query(b"\0", 6, qid), (ip, port))
    try:
        reply = udp.recv(4096)
        counts["soa"] += 1
        if now - changed_at > 2 and soa_serial(reply) != serials[installed]: counts["wrong"] += 1
    except socket.timeout:
        counts["unanswered"] += 1
    try:
        replies = tcp_exchange([query(b"\3com\0", 1, i) for i in range(random.randrange(1, 6))])
        counts["tcp"] += len(replies)
    except OSError:
        counts["tcp_failed"] += 1
    try:
        urllib.request.urlopen(f"http://{http}/health", timeout=2).read(); counts["health"] += 1
    except urllib.error.HTTPError:
        counts["health"] += 1
    except OSError:
        counts["health_failed"] += 1
    if time.time() >= next_report:
        minute += 1; next_report += 60
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        print(minute, rss_kb(), fds, *counts.values(), flush=True)
    time.sleep(max(0, 1 - (time.time() - now)))
print("end", rss_kb(), len(os.listdir(f"/proc/{pid}/fd")), *counts.values(), flush=True)
PY
sleep 2
echo "dnsperf (no DO): $(grep -E 'Queries (sent|completed|lost)' "$work/dnsperf.log" | tr -s ' ' | tr '\n' ';')"
echo "dnsperf (DO):    $(grep -E 'Queries (sent|completed|lost)' "$work/dnsperf-do.log" | tr -s ' ' | tr '\n' ';')"
grep -cE "reloaded" "$work/serve.log" | sed 's/^/reloads logged: /'
grep -E "refused|error" "$work/serve.log" | head -5 || true
