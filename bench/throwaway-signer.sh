# Sourced by the bench scripts. sign_with_throwaway_key WORK signs
# WORK/root.zone.gz as internic signs the root zone (DSA-1024, detached,
# SHA-1) with a key made for the run, since internic's own signature over
# an old zone is not kept, and leaves WORK/root.zone.gz.sig, the public key
# armored (WORK/key.asc, for --keyring) and as a keyring (WORK/key.gpg, for
# gpgv). GnuPG's home is WORK/gnupg; the caller's trap removes WORK.
sign_with_throwaway_key() {
  local work=$1
  export GNUPGHOME="$work/gnupg"
  mkdir -m 700 "$GNUPGHOME"
  gpg --batch --quiet --gen-key 2>/dev/null <<'KEY'
Key-Type: DSA
Key-Length: 1024
Key-Usage: sign
Name-Real: rootmirror benchmark signer
Expire-Date: 0
%no-protection
%commit
KEY
  gpg --batch --quiet --digest-algo SHA1 --detach-sign -o "$work/root.zone.gz.sig" "$work/root.zone.gz"
  gpg --batch --armor --export > "$work/key.asc"
  gpg --batch --export > "$work/key.gpg"
  gpgconf --kill all
  unset GNUPGHOME
}
