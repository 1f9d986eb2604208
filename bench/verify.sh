#!/usr/bin/env bash
# Benchmark: `rootmirror verify` (every RRSIG of the zone, the chain from
# the trust anchor, RRset coverage, the NSEC chain) against the reference
# verifier, `ldns-verify-zone`, on the same file at the same validation
# time, and a refresh with the zone's proofs against gpgv + gzip -dc +
# ldns-verify-zone, the same work done by the classic tools. Run by hand,
# not in CI.
#
# The 2023 root predates ZONEMD, so DNSSEC is what is timed there
# (--zonemd off). The digest is timed apart: `ldns-signzone -Z -z 1:1`
# adds a ZONEMD record to the same zone without keys (dropping its RRSIGs),
# and `rootmirror verify --dnssec off` checks it.
#
# The runs are split into rounds that take the commands in turn, so that a
# slow spell of this shared machine lands on every command alike.
#
# usage: bench/verify.sh [ZONE.gz] [RUNS] [ROUNDS]
# needs: hyperfine, ldnsutils (ldns-verify-zone), gnupg, gpgv, gzip, python3
set -euo pipefail
cd "$(dirname "$0")/.."
zone=${1:-../shared/zones/root-2023051100.zone.gz}
runs=${2:-60}
rounds=${3:-6}
when=2023-05-11T12:00:00Z
ldns_when=20230511120000
work=$(mktemp -d)
trap 'GNUPGHOME="$work/gnupg" gpgconf --kill all 2>/dev/null || true; rm -rf "$work"' EXIT

swift build -c release -Xswiftc -static-stdlib >/dev/null
bin=$PWD/.build/release/rootmirror

gzip -dc "$zone" > "$work/root.zone"
cp "$zone" "$work/root.zone.gz"
ldns-signzone -Z -z 1:1 -o . -f "$work/zonemd.zone" "$work/root.zone"
# KSK-2017's DS, as in IANA's root-anchors.xml and Debian's root.ds.
echo ". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D" > "$work/root.ds"

. bench/throwaway-signer.sh
sign_with_throwaway_key "$work"

verify="$bin verify $work/root.zone --now $when --zonemd off"
refresh="$bin refresh --file $work/root.zone.gz --sig $work/root.zone.gz.sig --keyring $work/key.asc -d $work/data.cdb --quiet --now $when --zonemd off"
# Each must succeed before it is timed.
$verify >/dev/null
$bin verify "$work/zonemd.zone" --dnssec off >/dev/null
ldns-verify-zone -t $ldns_when -k "$work/root.ds" "$work/root.zone" >/dev/null
$refresh

for round in $(seq "$rounds"); do
  hyperfine -N --warmup 2 --runs $(( (runs + rounds - 1) / rounds )) --export-json "$work/h$round.json" --prepare "rm -f $work/data.cdb" \
    -n "ldns-verify-zone" "ldns-verify-zone -t $ldns_when -k $work/root.ds $work/root.zone" \
    -n "rootmirror verify" "$verify" \
    -n "rootmirror verify (.gz)" "$bin verify $work/root.zone.gz --now $when --zonemd off" \
    -n "rootmirror verify --dnssec off (ZONEMD)" "$bin verify $work/zonemd.zone --dnssec off" \
    -n "gpgv" "gpgv --keyring $work/key.gpg $work/root.zone.gz.sig $work/root.zone.gz" \
    -n "gzip -dc" "gzip -dc $work/root.zone.gz" \
    -n "rootmirror refresh --file (openpgp + dnssec)" "$refresh" >/dev/null
done

echo "zone: $zone; load: $(cut -d' ' -f1-3 /proc/loadavg); cores: $(nproc)"
python3 bench/medians.py "$work"/h*.json \
  "rootmirror verify / ldns-verify-zone" \
  "rootmirror verify (.gz) / ldns-verify-zone" \
  "rootmirror refresh --file (openpgp + dnssec) / gpgv + gzip -dc + ldns-verify-zone"
echo "  goals: verify <= 0.4 x ldns-verify-zone; refresh <= 0.35 x gpgv + gzip -dc + ldns-verify-zone"
