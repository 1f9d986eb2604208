import Answering
import DNSWire
import Testing

/// A small signed root: a signed delegation (example, with DS), an unsigned
/// one (root), NSEC chain `.` → example → root → `.`. The signatures are
/// placeholders: answering copies them and never checks them.
let signedZone = """
    . 86400 IN SOA a.root. nstld. 7 1800 900 604800 3600
    . 86400 IN RRSIG SOA 8 0 86400 20300101000000 20230101000000 1 . AAAA
    . 518400 IN NS a.root.
    . 518400 IN RRSIG NS 8 0 518400 20300101000000 20230101000000 1 . AAAA
    . 172800 IN DNSKEY 257 3 8 \(key)
    . 172800 IN DNSKEY 256 3 8 \(key)
    . 172800 IN RRSIG DNSKEY 8 0 172800 20300101000000 20230101000000 1 . AAAA
    . 86400 IN NSEC example. NS SOA RRSIG NSEC DNSKEY
    . 86400 IN RRSIG NSEC 8 0 86400 20290101000000 20230101000000 1 . AAAA
    example. 172800 IN NS ns1.example.
    example. 86400 IN DS 1 8 2 ABCD
    example. 86400 IN RRSIG DS 8 1 86400 20300101000000 20230101000000 1 . AAAA
    example. 86400 IN NSEC root. NS DS RRSIG NSEC
    example. 86400 IN RRSIG NSEC 8 1 86400 20300101000000 20230101000000 1 . AAAA
    ns1.example. 172800 IN A 192.0.2.10
    root. 172800 IN NS a.root.
    root. 86400 IN NSEC . NS RRSIG NSEC
    root. 86400 IN RRSIG NSEC 8 1 86400 20300101000000 20230101000000 1 . AAAA
    a.root. 518400 IN A 192.0.2.1

    """
/// 400 bytes of key material: one DNSKEY fits in 512 bytes, two do not.
private let key = String(repeating: "AAAA", count: 133) + "AA=="

private let dnssec = EDNS(udpPayloadSize: 1232, dnssecOK: true)

@Suite struct SignedAnswerTests {
    func types(_ records: [ResourceRecord]) -> [RRType] { records.map(\.type) }
    func covered(_ records: [ResourceRecord]) -> [RRType] {
        records.filter { $0.type == .rrsig }.map { RRType(UInt16($0.rdata[0]) << 8 | UInt16($0.rdata[1])) }
    }

    @Test func rrsetsTravelWithTheirSignaturesOnlyWithDO() throws {
        let zone = try index(signedZone)
        let (signed, _) = try ask(zone, ".", .ns, edns: dnssec)
        #expect(types(signed.answers) == [.ns, .rrsig] && covered(signed.answers) == [.ns])
        #expect(signed.additional.map(\.rdataText).contains("192.0.2.1"))
        let (plain, _) = try ask(zone, ".", .ns, edns: EDNS(udpPayloadSize: 1232))
        #expect(types(plain.answers) == [.ns])
        // An explicit DNSKEY or DS query gets those records without DO too.
        #expect(types(try ask(zone, ".", .dnskey, edns: EDNS(udpPayloadSize: 1232)).0.answers) == [.dnskey, .dnskey])
        let (ds, _) = try ask(zone, "example.", .ds, edns: dnssec)
        #expect(ds.header.isAuthoritative && types(ds.answers) == [.ds, .rrsig] && covered(ds.answers) == [.ds])
    }

    /// An RRSIG query gets one signature, the first in canonical order
    /// (here the NS set's), with DO or without: Knot's answer, not a name's
    /// every signature, which made a small query a large reply.
    @Test func anRRSIGQueryGetsOneSignatureAsKnotAnswers() throws {
        let zone = try index(signedZone)
        for edns in [dnssec, EDNS(udpPayloadSize: 1232)] {
            let (reply, _) = try ask(zone, ".", .rrsig, edns: edns)
            #expect(reply.header.isAuthoritative && types(reply.answers) == [.rrsig] && covered(reply.answers) == [.ns], "\(reply)")
        }
    }

    @Test func referralsProveTheDSOrItsAbsence() throws {
        let zone = try index(signedZone)
        let (signedCut, reply) = try ask(zone, "www.example.", .a, edns: dnssec)
        #expect(reply.kind == .referral && !signedCut.header.isAuthoritative)
        #expect(types(signedCut.authority) == [.ns, .ds, .rrsig] && covered(signedCut.authority) == [.ds])
        #expect(signedCut.additional.map(\.rdataText).contains("192.0.2.10"))
        let (unsignedCut, _) = try ask(zone, "www.root.", .a, edns: dnssec)
        #expect(types(unsignedCut.authority) == [.ns, .nsec, .rrsig] && covered(unsignedCut.authority) == [.nsec])
        #expect(unsignedCut.authority[1].owner.description == "root.")
        let (plain, _) = try ask(zone, "www.example.", .a, edns: EDNS(udpPayloadSize: 1232))
        #expect(types(plain.authority) == [.ns])
    }

    @Test func nxdomainCarriesTheCoveringAndWildcardNSEC() throws {
        let zone = try index(signedZone)
        // foo sorts between example and root; the wildcard *. between . and example.
        let (two, reply) = try ask(zone, "www.foo.", .a, edns: dnssec)
        #expect(reply.kind == .nxdomain && two.rcode == .nxDomain && two.header.isAuthoritative)
        // Each RRset followed by its RRSIGs (Knot sends the three RRsets
        // first; order within a section means nothing): the proofs are
        // templates shared by every reply that needs them.
        #expect(types(two.authority) == [.soa, .rrsig, .nsec, .rrsig, .nsec, .rrsig])
        #expect(two.authority.filter { $0.type == .nsec }.map(\.owner.description) == ["example.", "."])
        #expect(covered(two.authority) == [.soa, .nsec, .nsec])
        // b sorts between . and example: one NSEC proves both, sent once.
        let (one, _) = try ask(zone, "B.", .a, edns: dnssec)
        #expect(types(one.authority) == [.soa, .rrsig, .nsec, .rrsig])
        #expect(one.authority[2].owner == .root)
        // After the last owner the chain wraps: root's NSEC covers zzz.
        let (last, _) = try ask(zone, "zzz.", .a, edns: dnssec)
        #expect(last.authority.filter { $0.type == .nsec }.map(\.owner.description) == ["root.", "."])
        let (plain, _) = try ask(zone, "www.foo.", .a, edns: EDNS(udpPayloadSize: 1232))
        #expect(types(plain.authority) == [.soa])
    }

    @Test func nodataCarriesTheNamesNSEC() throws {
        let zone = try index(signedZone)
        let (apex, reply) = try ask(zone, ".", .mx, edns: dnssec)
        #expect(reply.kind == .nodata && apex.answers.isEmpty)
        #expect(types(apex.authority) == [.soa, .rrsig, .nsec, .rrsig] && apex.authority[2].owner == .root)
        let (noDS, _) = try ask(zone, "root.", .ds, edns: dnssec)
        #expect(noDS.header.isAuthoritative && types(noDS.authority) == [.soa, .rrsig, .nsec, .rrsig])
        #expect(noDS.authority[2].owner.description == "root.")
    }

    @Test func whatDoesNotFitIsTruncatedWholeRRsetsAtATime() throws {
        let zone = try index(signedZone)
        // RFC 2181 §9 and Knot: no part of an RRset, TC when the DNSKEY set does not fit.
        let (small, reply) = try ask(zone, ".", .dnskey, edns: EDNS(udpPayloadSize: 512, dnssecOK: true))
        #expect(reply.truncated && small.header.isTruncated && small.answers.isEmpty)
        let (plain, _) = try ask(zone, ".", .dnskey)
        #expect(plain.header.isTruncated && plain.answers.isEmpty)
        let (tcp, _) = try ask(zone, ".", .dnskey, edns: dnssec, transport: .tcp)
        #expect(!tcp.header.isTruncated && types(tcp.answers) == [.dnskey, .dnskey, .rrsig])
    }

    @Test func strippedDataAnswersDOAsWithout() throws {
        let stripped = try index(signedZone, keepDNSSEC: false)
        for (name, type) in [(".", RRType.ns), ("www.example.", .a), ("www.foo.", .a), (".", .mx), ("example.", .ds)] {
            let (withDO, _) = try ask(stripped, name, type, edns: dnssec)
            let (without, _) = try ask(stripped, name, type, edns: EDNS(udpPayloadSize: 1232))
            #expect(withDO.answers == without.answers && withDO.authority == without.authority
                    && withDO.additional.count == without.additional.count, "\(name) \(type)")
            #expect(!(withDO.answers + withDO.authority).contains { $0.type.isDNSSEC }, "\(name) \(type)")
        }
        #expect(stripped.summary.signaturesExpire == nil)
    }

    @Test func earliestSignatureExpiration() throws {
        // The apex NSEC's RRSIG, 2029-01-01T00:00:00Z, expires first.
        #expect(try index(signedZone).summary.signaturesExpire == 1_861_920_000)
    }
}
