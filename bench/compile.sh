#!/usr/bin/env bash
# Benchmark: compile a root zone into data.cdb, against the work any approach
# must do (gzip -dc) and the classic recipe's compiler (tinydns-data), all
# measured in the same run with hyperfine. Run by hand, not in CI.
#
# usage: bench/compile.sh [ZONE.gz] [RUNS]
# needs: hyperfine, gzip, tinydns (tinydns-data), python3
set -euo pipefail
cd "$(dirname "$0")/.."
zone=${1:-../shared/zones/root-2023051100.zone.gz}
runs=${2:-40}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

swift build -c release -Xswiftc -static-stdlib >/dev/null
bin=.build/release/rootmirror

# The classic recipe's input to tinydns-data, made once (outside the timing)
# from our own compiled records: same records, tinydns data lines.
mkdir -p "$work/classic"
"$bin" compile "$zone" -o "$work/data.cdb" >/dev/null
python3 - "$work/data.cdb" > "$work/classic/data" <<'PY'
import subprocess, sys
raw = subprocess.run(["cdb", "-d", sys.argv[1]], capture_output=True, check=True).stdout
def name(b, i=0):
    labels = []
    while b[i]:
        labels.append(b[i + 1:i + 1 + b[i]].decode()); i += 1 + b[i]
    return ".".join(labels) or ".", i + 1
i = 0
while raw[i:i + 1] == b"+":
    colon = raw.index(b":", i); klen, dlen = map(int, raw[i + 1:colon].split(b","))
    key = raw[colon + 1:colon + 1 + klen]; val = raw[colon + 3 + klen:colon + 3 + klen + dlen]
    i = colon + 3 + klen + dlen + 1
    owner, _ = name(key); rtype = int.from_bytes(val[0:2], "big"); ttl = int.from_bytes(val[3:7], "big"); rdata = val[15:]
    if rtype == 6:
        m, j = name(rdata); r, j = name(rdata, j); f = [int.from_bytes(rdata[j + 4 * k:j + 4 * k + 4], "big") for k in range(5)]
        print(f"Z{owner}:{m}:{r}:{f[0]}:{f[1]}:{f[2]}:{f[3]}:{f[4]}:{ttl}")
    elif rtype == 2:
        print(f"&{owner}::{name(rdata)[0]}:{ttl}")
    elif rtype == 1:
        print(f"+{owner}:{'.'.join(map(str, rdata))}:{ttl}")
    else:
        octal = "".join("\\%03o" % c for c in rdata)
        print(f":{owner}:{rtype}:{octal}:{ttl}")
PY

hyperfine -N --warmup 3 --runs "$runs" --export-json "$work/h.json" \
  -n "gzip -dc" "gzip -dc $zone" \
  -n "tinydns-data" "sh -c 'cd $work/classic && tinydns-data'" \
  -n "rootmirror compile" "$bin compile $zone -o $work/out.cdb" >/dev/null

echo "zone: $zone"
python3 bench/medians.py "$work/h.json" "rootmirror compile / gzip -dc" "rootmirror compile / tinydns-data"
