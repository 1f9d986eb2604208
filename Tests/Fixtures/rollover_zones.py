#!/usr/bin/python3
"""Generate small DNSSEC-signed root zones in the phases of a key or algorithm rollover.

Usage:
  /usr/bin/python3 rollover_zones.py KEYDIR PHASE SERIAL INCEPTION EXPIRATION OUTFILE [--tlds N]

The zones feed tests that compare `rootmirror verify` with `ldns-verify-zone -Z`.
Keys live in KEYDIR (PEM) so that several serials of one rollover share them;
the trust anchors (`ksk-*.ds`, `ksk-*.key`) are rewritten there on every run.
Needs Debian's python3-dnspython (2.3) and python3-cryptography, hence the
interpreter path: the `python3` on PATH may lack them.
"""

import argparse
import hashlib
import os
from typing import Callable, Dict, List, NamedTuple, Tuple

import dns.dnssec
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rdtypes.ANY.DNSKEY
import dns.rdtypes.ANY.RRSIG
import dns.zone
import dns.zonetypes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ROOT = dns.name.root
IN = dns.rdataclass.IN
T = dns.rdatatype.RdataType
DAY = 86400
REVOKE = 0x0080  # RFC 5011

# name: (algorithm, RSA modulus bits or None for P-256, DNSKEY flags)
KEY_SPECS = {
    "ksk-old": (8, 2048, 257),
    "ksk-new": (8, 2048, 257),
    "zsk-rsa": (8, 1536, 256),
    "ksk-ecdsa": (13, None, 257),
    "zsk-ecdsa": (13, None, 256),
    "zsk-unpublished": (8, 1536, 256),
}
ANCHORS = ("ksk-old", "ksk-new", "ksk-ecdsa")

# phase: (published DNSKEYs, signers of the DNSKEY set, signers of every other RRset)
BASE_PHASES = {
    # Before the rollover: the key a test's RFC 5011 replay starts from.
    "old-only": (("ksk-old", "zsk-rsa"), ("ksk-old",), ("zsk-rsa",)),
    "prepublish": (("ksk-old", "ksk-new", "zsk-rsa"), ("ksk-old",), ("zsk-rsa",)),
    "new-signs": (("ksk-old", "ksk-new", "zsk-rsa"), ("ksk-new",), ("zsk-rsa",)),
    "revoked": (("ksk-old-revoked", "ksk-new", "zsk-rsa"), ("ksk-new", "ksk-old-revoked"), ("zsk-rsa",)),
    "only-revoked": (("ksk-old-revoked", "ksk-new", "zsk-rsa"), ("ksk-old-revoked",), ("zsk-rsa",)),
    "removed": (("ksk-new", "zsk-rsa"), ("ksk-new",), ("zsk-rsa",)),
    "double-signed": (("ksk-new", "zsk-rsa", "ksk-ecdsa", "zsk-ecdsa"), ("ksk-new", "ksk-ecdsa"), ("zsk-rsa", "zsk-ecdsa")),
    # RFC 6781 §4.1.4: signatures of the new algorithm go out before its keys.
    "sigs-before-keys": (("ksk-new", "zsk-rsa"), ("ksk-new", "ksk-ecdsa"), ("zsk-rsa", "zsk-ecdsa")),
    "ecdsa-only": (("ksk-ecdsa", "zsk-ecdsa"), ("ksk-ecdsa",), ("zsk-ecdsa",)),
}
# Variations of "removed" with one deliberate oddity each (see plan()).
DERIVED_PHASES = ("unknown-algorithm", "expired-beside-valid", "unpublished-only", "changed-glue", "expired-only")
PHASES = tuple(BASE_PHASES) + DERIVED_PHASES


class Key(NamedTuple):
    private: object
    dnskey: dns.rdtypes.ANY.DNSKEY.DNSKEY


Signer = Callable[[dns.name.Name, dns.rdataset.Rdataset], dns.rdtypes.ANY.RRSIG.RRSIG]


def create_once(path: str, data: bytes) -> bytes:
    """Store data at path unless a file is already there; return what path holds.

    Tests may run generators in parallel on one KEYDIR: linking a complete
    temporary file into place lets the first writer win, and nobody reads a
    half-written or later-replaced key.
    """
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)
    with open(path, "rb") as f:
        return f.read()


def replace_file(path: str, text: str) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def load_keys(keydir: str) -> Dict[str, Key]:
    keys = {}
    for name, (algorithm, bits, flags) in KEY_SPECS.items():
        path = os.path.join(keydir, name + ".pem")
        if not os.path.exists(path):  # generate only on first use: RSA keygen is the slow part
            new = (rsa.generate_private_key(65537, bits) if bits
                   else ec.generate_private_key(ec.SECP256R1()))
            create_once(path, new.private_bytes(serialization.Encoding.PEM,
                                                serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption()))
        with open(path, "rb") as f:
            private = serialization.load_pem_private_key(f.read(), password=None)
        keys[name] = Key(private, dns.dnssec.make_dnskey(private.public_key(), algorithm, flags))
    # Same private key, REVOKE bit set: a different DNSKEY with its own key tag.
    old = keys["ksk-old"]
    keys["ksk-old-revoked"] = Key(old.private, old.dnskey.replace(flags=old.dnskey.flags | REVOKE))
    # Algorithm 18 is unassigned, so no validator can check it: random key and
    # signatures suffice. The key is kept so every serial publishes the same one.
    blob = create_once(os.path.join(keydir, "alg18.bin"), os.urandom(64))
    keys["alg18"] = Key(None, dns.rdtypes.ANY.DNSKEY.DNSKEY(IN, T.DNSKEY, 256, 3, 18, blob))
    return keys


def write_anchors(keydir: str, keys: Dict[str, Key]) -> None:
    """Write DS and DNSKEY anchors in the style of Debian's /usr/share/dns/root.{ds,key}."""
    for name in ANCHORS:
        dnskey = keys[name].dnskey
        ds = dns.dnssec.make_ds(ROOT, dnskey, "SHA256")
        replace_file(os.path.join(keydir, name + ".ds"),
                     f". IN DS {ds.key_tag} {ds.algorithm} {ds.digest_type} {ds.digest.hex().upper()}\n")
        replace_file(os.path.join(keydir, name + ".key"), f". IN DNSKEY {dnskey.to_text(chunksize=0)}\n")


def real_signer(key: Key, inception: int, expiration: int) -> Signer:
    return lambda name, rds: dns.dnssec.sign((name, rds), key.private, ROOT, key.dnskey,
                                             inception=inception, expiration=expiration)


def fake_signer(dnskey, inception: int, expiration: int) -> Signer:
    """An RRSIG correct in every field but the signature, which is random."""
    return lambda name, rds: dns.rdtypes.ANY.RRSIG.RRSIG(
        IN, T.RRSIG, rds.rdtype, dnskey.algorithm, len(name) - 1, rds.ttl,
        expiration, inception, dns.dnssec.key_id(dnskey), ROOT, os.urandom(64))


def plan(phase: str, keys: Dict[str, Key], inception: int, expiration: int):
    """Return (published DNSKEYs, DNSKEY-set signers, other signers, {(owner, type): signers})."""
    published, ksks, zsks = BASE_PHASES.get(phase, BASE_PHASES["removed"])
    published = [keys[k].dnskey for k in published]
    ksk_signers = [real_signer(keys[k], inception, expiration) for k in ksks]
    zsk_signers = [real_signer(keys[k], inception, expiration) for k in zsks]
    overrides: Dict[Tuple[dns.name.Name, int], List[Signer]] = {}
    expired = real_signer(keys["zsk-rsa"], inception - 40 * DAY, inception - 10 * DAY)
    if phase == "unknown-algorithm":
        published.append(keys["alg18"].dnskey)
        fake = fake_signer(keys["alg18"].dnskey, inception, expiration)
        ksk_signers.append(fake)
        zsk_signers.append(fake)
    elif phase == "expired-beside-valid":
        zsk_signers.append(expired)
    elif phase == "unpublished-only":
        overrides[(dns.name.from_text("tld0."), T.DS)] = [
            real_signer(keys["zsk-unpublished"], inception, expiration)]
    elif phase == "expired-only":
        overrides[(ROOT, T.SOA)] = [expired]
    return published, ksk_signers, zsk_signers, overrides


def build_zone(serial: int, tlds: int, dnskeys) -> Tuple[dns.zone.Zone, List[dns.name.Name]]:
    """Return the unsigned zone and its authoritative names (those that get NSEC and RRSIGs)."""
    zone = dns.zone.Zone(ROOT, relativize=False)

    def add(owner: str, ttl: int, rdtype: str, text: str) -> None:
        rdata = dns.rdata.from_text(IN, rdtype, text)
        zone.find_rdataset(owner, rdata.rdtype, create=True).add(rdata, ttl)

    add(".", 86400, "SOA", f"a.root-servers.net. nstld.verisign-grs.com. {serial} 1800 900 604800 86400")
    add(".", 518400, "NS", "a.root-servers.net.")
    # No zone cut for net. or root-servers.net. here, so unlike in the real
    # root these addresses are authoritative data of the root zone.
    add("a.root-servers.net.", 518400, "A", "198.41.0.4")
    add("a.root-servers.net.", 518400, "AAAA", "2001:503:ba3e::2:30")
    for i in range(tlds):
        tld = f"tld{i}."
        add(tld, 172800, "NS", f"ns1.nic.{tld}")
        add(f"ns1.nic.{tld}", 172800, "A", f"192.0.2.{i + 1}")
        if i % 2 == 0:
            digest = hashlib.sha256(tld.encode()).hexdigest().upper()
            add(tld, 86400, "DS", f"{20000 + i} 8 2 {digest}")
    for dnskey in dnskeys:
        zone.find_rdataset(ROOT, T.DNSKEY, create=True).add(dnskey, 172800)
    names = [ROOT, dns.name.from_text("a.root-servers.net.")]
    names += [dns.name.from_text(f"tld{i}.") for i in range(tlds)]
    return zone, sorted(names)  # dnspython orders names canonically (RFC 4034 §6.1)


def add_nsec_chain(zone: dns.zone.Zone, names: List[dns.name.Name]) -> None:
    for name, following in zip(names, names[1:] + names[:1]):
        types = {rds.rdtype for rds in zone.get_node(name)} | {T.RRSIG, T.NSEC}
        if name == ROOT:
            types.add(T.ZONEMD)  # added after the digest, but listed now so the digest covers this NSEC
        bitmap = " ".join(dns.rdatatype.to_text(t) for t in sorted(types))
        nsec = dns.rdata.from_text(IN, T.NSEC, f"{following} {bitmap}")
        zone.find_rdataset(name, T.NSEC, create=True).add(nsec, 86400)


def sign_rrset(zone: dns.zone.Zone, name: dns.name.Name, rds: dns.rdataset.Rdataset,
               signers: List[Signer]) -> None:
    sigs = zone.find_rdataset(name, T.RRSIG, covers=rds.rdtype, create=True)
    for signer in signers:
        sigs.add(signer(name, rds), rds.ttl)


def sign_zone(zone, names, ksk_signers, zsk_signers, overrides) -> None:
    for name in names:
        node = zone.get_node(name)
        at_cut = name != ROOT and node.get_rdataset(IN, T.NS) is not None
        for rds in list(node):  # copy: signing adds RRSIG rdatasets to the node
            if rds.rdtype == T.RRSIG or (at_cut and rds.rdtype == T.NS):
                continue  # delegation NS is the child's data; glue is never visited
            default = ksk_signers if rds.rdtype == T.DNSKEY else zsk_signers
            sign_rrset(zone, name, rds, overrides.get((name, rds.rdtype), default))


def add_zonemd(zone: dns.zone.Zone, zsk_signers: List[Signer]) -> None:
    # RFC 8976 §3: the digest covers everything (signatures and glue too) but the
    # apex ZONEMD RRset and its RRSIGs, so it is computed last, then signed.
    zonemd = zone.compute_digest(dns.zonetypes.DigestHashAlgorithm.SHA384,
                                 dns.zonetypes.DigestScheme.SIMPLE)
    rds = zone.find_rdataset(ROOT, T.ZONEMD, create=True)
    rds.add(zonemd, 86400)
    sign_rrset(zone, ROOT, rds, zsk_signers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("keydir")
    parser.add_argument("phase", choices=PHASES)
    parser.add_argument("serial", type=int)
    parser.add_argument("inception", type=int, help="unix seconds")
    parser.add_argument("expiration", type=int, help="unix seconds")
    parser.add_argument("outfile")
    parser.add_argument("--tlds", type=int, default=8, help="number of delegations (2..254)")
    args = parser.parse_args()
    if not 2 <= args.tlds <= 254:  # tld1 must exist for changed-glue; glue is 192.0.2.(I+1)
        parser.error("--tlds must be between 2 and 254")

    os.makedirs(args.keydir, exist_ok=True)
    keys = load_keys(args.keydir)
    write_anchors(args.keydir, keys)
    published, ksk_signers, zsk_signers, overrides = plan(args.phase, keys, args.inception, args.expiration)

    zone, names = build_zone(args.serial, args.tlds, published)
    add_nsec_chain(zone, names)
    sign_zone(zone, names, ksk_signers, zsk_signers, overrides)
    add_zonemd(zone, zsk_signers)
    if args.phase == "changed-glue":  # after the digest, so ZONEMD no longer matches
        glue = zone.find_rdataset("ns1.nic.tld1.", T.A)
        ttl = glue.ttl
        glue.clear()
        glue.add(dns.rdata.from_text(IN, T.A, "192.0.2.99"), ttl)

    zone.to_file(args.outfile, relativize=False)


if __name__ == "__main__":
    main()
