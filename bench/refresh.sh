#!/usr/bin/env bash
# Benchmark: `rootmirror refresh --file --sig` (verify, gunzip, parse, strip,
# compile, install) against the work any approach must do, gpgv plus
# gzip -dc on the same files, all in the same hyperfine run. Run by hand,
# not in CI.
#
# The zone is signed here with a throwaway key of internic's kind (DSA-1024,
# detached, SHA-1), since internic's own signature over an old zone is not
# kept. Every timed refresh installs for real: data.cdb is removed before
# each run, so it is never the same-serial no-op. `rootmirror compile` of
# the same file (no signature) is timed too: the part of a refresh that is
# the compile pipeline of issue 1.
#
# gpgme-verify (bench/gpgme-verify.c, built here) is the floor for a
# verification through gpgme, as the brief asks: what rootmirror asks of
# gpgme, in a C program that does nothing else. Its time against gpgv's is
# what gpgme costs by itself (a gpg --version probe, the full gpg, double
# forks, pumping through a pipe), work no gpgme-based refresh avoids.
#
# The runs are split into rounds that take the commands in turn, so that a
# slow spell of this shared machine lands on every command alike instead of
# on whichever hyperfine happened to be running.
#
# usage: bench/refresh.sh [ZONE.gz] [RUNS] [ROUNDS]
# needs: hyperfine, gnupg (gpg), gpgv, gzip, python3 (bench/medians.py),
#        gcc and libgpgme-dev (bench/gpgme-verify.c)
set -euo pipefail
cd "$(dirname "$0")/.."
zone=${1:-../shared/zones/root-2023051100.zone.gz}
runs=${2:-120}
rounds=${3:-12}
work=$(mktemp -d)
trap 'GNUPGHOME="$work/gnupg" gpgconf --kill all 2>/dev/null || true; rm -rf "$work"' EXIT

swift build -c release -Xswiftc -static-stdlib >/dev/null
bin=$PWD/.build/release/rootmirror

cp "$zone" "$work/root.zone.gz"
. bench/throwaway-signer.sh
sign_with_throwaway_key "$work"

# The private home rootmirror writes for each run, made once.
mkdir -m 700 "$work/home"
cp "$work/key.gpg" "$work/home/pinned.gpg"
printf 'no-autostart\nno-auto-key-retrieve\ntrust-model always\nno-default-keyring\nkeyring pinned.gpg\n' > "$work/home/gpg.conf"
gcc -O2 -o "$work/gpgme-verify" bench/gpgme-verify.c $(pkg-config --cflags --libs gpgme)
GNUPGHOME="$work/home" "$work/gpgme-verify" "$work/root.zone.gz.sig" "$work/root.zone.gz"

# The zone's own proofs are timed by bench/verify.sh; here, as before them,
# the OpenPGP pipeline alone (the 2023 zone's signatures have expired).
refresh="$bin refresh --file $work/root.zone.gz --sig $work/root.zone.gz.sig --keyring $work/key.asc -d $work/data.cdb --quiet --dnssec off --zonemd off"
$refresh
gpgv --keyring "$work/key.gpg" "$work/root.zone.gz.sig" "$work/root.zone.gz" 2>/dev/null

# -N: no shell in between; hyperfine sends stdout to /dev/null. The
# baseline is taken both ways: the sum of the two commands timed apart (the
# stricter one), and as one shell line, as a script would run it.
for round in $(seq "$rounds"); do
  GNUPGHOME="$work/home" hyperfine -N --warmup 3 --runs $(( (runs + rounds - 1) / rounds )) --export-json "$work/h$round.json" --prepare "rm -f $work/data.cdb" \
    -n "gpgv" "gpgv --keyring $work/key.gpg $work/root.zone.gz.sig $work/root.zone.gz" \
    -n "gpgme-verify" "$work/gpgme-verify $work/root.zone.gz.sig $work/root.zone.gz" \
    -n "gzip -dc" "gzip -dc $work/root.zone.gz" \
    -n "gpgv && gzip -dc (one sh line)" \
    "sh -c 'gpgv -q --keyring $work/key.gpg $work/root.zone.gz.sig $work/root.zone.gz 2>/dev/null && gzip -dc $work/root.zone.gz >/dev/null'" \
    -n "rootmirror compile" "$bin compile $work/root.zone.gz -o $work/data.cdb" \
    -n "rootmirror refresh --file" "$refresh" >/dev/null
done

echo "zone: $zone"
python3 bench/medians.py "$work"/h*.json \
  "rootmirror refresh --file / gpgv + gzip -dc" \
  "rootmirror refresh --file / gpgv && gzip -dc (one sh line)" \
  "rootmirror refresh --file / gpgme-verify + gzip -dc" \
  "gpgme-verify / gpgv" \
  "rootmirror refresh --file / rootmirror compile"
echo "  goals: <= 1.6 x gpgv + gzip -dc; <= 32 ms (0.5 x the classic recipe's 64 ms, see README)"
