#!/usr/bin/env bash
# How compile's time grows with the records of one owner (issue 14, item 2),
# by hand: a minimal root zone plus N records at the apex, all at that one
# owner, against the same N records at N distinct owners (`hI.`). The
# records are RFC 3597 `TYPE65280 \# 0` (empty rdata), so the RRset stays
# under the 64 KiB cap at any N and only the record count grows.
#
# usage: bench/one-owner.sh [N ...]   (default 10000 80000 300000 1000000)
# Needs: a built rootmirror (BIN, default .build/release/rootmirror), python3.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${BIN:-$here/.build/release/rootmirror}
counts=("${@:-10000 80000 300000 1000000}")
work=$(mktemp -d /tmp/rootmirror-one-owner-XXXXXX)
trap 'rm -rf "$work"' EXIT

zone() {  # zone N same|distinct
    python3 - "$1" "$2" <<'PY'
import sys
n, shape = int(sys.argv[1]), sys.argv[2]
out = sys.stdout
out.write(". 86400 IN SOA a.root-servers.net. nstld.verisign-grs.com. 1 1800 900 604800 86400\n")
out.write(". 518400 IN NS a.root-servers.net.\n")
out.write("a.root-servers.net. 518400 IN A 198.41.0.4\n")
out.write("net. 172800 IN NS a.gtld-servers.net.\n")
out.write("a.gtld-servers.net. 172800 IN A 192.5.6.30\n")
for i in range(n):
    owner = "." if shape == "same" else f"h{i}."
    out.write(f"{owner} 172800 IN TYPE65280 \\# 0\n")
PY
}

echo "uptime: $(uptime)"
for n in ${counts[@]}; do
    for shape in same distinct; do
        zone "$n" "$shape" > "$work/z"
        start=$(date +%s.%N)
        "$bin" compile "$work/z" -o "$work/data.cdb" > /dev/null
        end=$(date +%s.%N)
        printf '%8d records, %-8s owner(s): %6.2f s\n' "$n" "$shape" "$(echo "$end - $start" | bc)"
    done
done
echo "uptime: $(uptime)"
