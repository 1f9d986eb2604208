#!/usr/bin/env python3
# A copy of ../shared/bench/make-queries.py, the team's instrument: the
# differential test and the bench scripts read it from the repository.
"""Write a dnsperf query file ("NAME TYPE" per line) that resembles what a
resolver sends to the root: referrals under real TLDs, queries for
non-existent TLDs (NXDOMAIN), TLD-level and apex queries, and glue names.

usage: make-queries.py ZONEFILE COUNT [SEED] > queries.txt
"""
import random, sys

def main():
    zonefile, count = sys.argv[1], int(sys.argv[2])
    rnd = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
    tlds, glue = set(), set()
    with open(zonefile) as f:
        for line in f:
            if not line.strip() or line.startswith(";"):
                continue
            parts = line.split()
            if len(parts) < 5:
                continue
            owner, rtype = parts[0].lower(), parts[3].upper()
            if rtype == "NS" and owner != ".":
                tlds.add(owner.rstrip("."))
            elif rtype in ("A", "AAAA"):
                glue.add(owner.rstrip("."))
    tlds, glue = sorted(tlds), sorted(glue)
    # A few TLDs carry most traffic; the rest share a long tail.
    heavy = [t for t in ("com", "net", "org", "de", "uk", "cn", "ru", "br", "jp", "io") if t in tlds]
    junk = ["local", "home", "lan", "corp", "internal", "localdomain", "belkin",
            "domain", "dhcp", "router", "intranet", "workgroup", "mail", "test"]
    junk = [j for j in junk if j not in tlds]
    letters = "abcdefghijklmnopqrstuvwxyz0123456789"

    def label(n=None):
        return "".join(rnd.choice(letters) for _ in range(n or rnd.randint(3, 12)))

    def tld():
        return rnd.choice(heavy) if rnd.random() < 0.6 else rnd.choice(tlds)

    out = []
    for _ in range(count):
        r = rnd.random()
        if r < 0.50:    # referral for a name under an existing TLD
            qtype = rnd.choices(["A", "AAAA", "NS", "MX", "TXT", "HTTPS"], [55, 25, 5, 5, 5, 5])[0]
            name = f"{label()}.{tld()}" if rnd.random() < 0.5 else f"www.{label()}.{tld()}"
        elif r < 0.80:  # non-existent TLD
            qtype = rnd.choices(["A", "AAAA", "SOA", "PTR"], [50, 30, 10, 10])[0]
            bad = rnd.choice(junk) if rnd.random() < 0.5 else label(rnd.randint(6, 14))
            name = f"{label()}.{bad}" if rnd.random() < 0.7 else bad
        elif r < 0.88:  # TLD itself
            qtype = rnd.choices(["NS", "DS", "SOA", "A", "DNSKEY"], [40, 30, 15, 10, 5])[0]
            name = tld()
        elif r < 0.93:  # zone apex
            qtype = rnd.choices(["SOA", "NS", "DNSKEY", "A", "ANY"], [35, 35, 20, 5, 5])[0]
            name = "."
        elif r < 0.98:  # name-server host names (glue lives below a delegation)
            qtype = rnd.choice(["A", "AAAA"])
            name = rnd.choice(glue) if glue else "a.root-servers.net"
        else:           # mixed-case query name (resolvers that use 0x20)
            qtype = "A"
            name = "".join(c.upper() if rnd.random() < 0.5 else c
                           for c in f"www.{label()}.{tld()}")
        out.append(f"{name} {qtype}")
    sys.stdout.write("\n".join(out) + "\n")

main()
