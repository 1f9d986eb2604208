#!/usr/bin/env bash
# Before and after a change, in the same run: two builds of rootmirror take
# turns in each hyperfine round (compile, verify, refresh with the zone's
# proofs), beside gzip -dc and ldns-verify-zone, so that a slow spell of
# this shared machine falls on both alike; then bench/serve.sh once per
# binary, stripped, for stripped data and for signed data with DO on every
# query (CPU per query, resident memory, against NSD and Knot each time).
# Run by hand, not in CI.
#
# usage: bench/before-after.sh BEFORE_BIN AFTER_BIN [ROUNDS] [SERVE_SECONDS]   (as root)
# needs: what bench/compile.sh, verify.sh and serve.sh need
set -euo pipefail
cd "$(dirname "$0")/.."
before=$(realpath "$1")
after=$(realpath "$2")
rounds=${3:-5}
secs=${4:-5}
zone=../shared/zones/root-2023051100.zone.gz
when=2023-05-11T12:00:00Z
ldns_when=20230511120000
work=$(mktemp -d)
trap 'GNUPGHOME="$work/gnupg" gpgconf --kill all 2>/dev/null || true; rm -rf "$work"' EXIT

gzip -dc "$zone" > "$work/root.zone"
cp "$zone" "$work/root.zone.gz"
echo ". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D" > "$work/root.ds"
. bench/throwaway-signer.sh
sign_with_throwaway_key "$work"

commands=()
for side in before after; do
    bin=${!side}
    verify="$bin verify $work/root.zone --now $when --zonemd off"
    refresh="$bin refresh --file $work/root.zone.gz --sig $work/root.zone.gz.sig --keyring $work/key.asc -d $work/$side.cdb --quiet --now $when --zonemd off"
    # Each must succeed before it is timed.
    $verify >/dev/null
    $refresh
    commands+=(-n "compile ($side)" "$bin compile $zone -o $work/$side-out.cdb"
               -n "verify ($side)" "$verify"
               -n "refresh ($side)" "$refresh")
done
for round in $(seq "$rounds"); do
    hyperfine -N --warmup 2 --runs 8 --export-json "$work/h$round.json" --prepare "rm -f $work/before.cdb $work/after.cdb" \
        -n "gzip -dc" "gzip -dc $zone" \
        -n "ldns-verify-zone" "ldns-verify-zone -t $ldns_when -k $work/root.ds $work/root.zone" \
        "${commands[@]}" >/dev/null
done
echo "zone: $zone; load: $(cut -d' ' -f1-3 /proc/loadavg); cores: $(nproc)"
python3 bench/medians.py "$work"/h*.json \
    "compile (after) / compile (before)" "compile (before) / gzip -dc" "compile (after) / gzip -dc" \
    "verify (after) / verify (before)" "verify (before) / ldns-verify-zone" "verify (after) / ldns-verify-zone" \
    "refresh (after) / refresh (before)"

for signed in "" 1; do
    for side in before after; do
        echo "== serve, $side${signed:+, signed with DO}"
        SIGNED=$signed STRIP=1 BIN=${!side} bench/serve.sh "$secs"
    done
done
