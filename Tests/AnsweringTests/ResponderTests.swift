import Answering
import DNSWire
import Foundation
import Testing
import TestSupport
import ZoneFile

/// A small root zone with every case the answering code distinguishes.
let testZone = """
    . 86400 IN SOA a.root. nstld. 7 1800 900 604800 3600
    . 518400 IN NS a.root.
    a.root. 518400 IN A 192.0.2.1
    root. 172800 IN NS a.root.
    ; in-domain glue (required) and sibling glue (optional)
    example. 172800 IN NS ns1.example.
    example. 172800 IN NS ns.sibling.
    example. 86400 IN DS 1 8 2 ABCD
    ns1.example. 172800 IN A 192.0.2.10
    ns1.example. 172800 IN AAAA 2001:db8::10
    sibling. 172800 IN NS ns.sibling.
    ns.sibling. 172800 IN A 192.0.2.20
    ns.sibling. 172800 IN AAAA 2001:db8::20
    """ + "\n"

func index(_ zone: String = testZone, keepDNSSEC: Bool = true) throws -> ZoneIndex {
    try ZoneIndex(records: Array(ZoneParser.parse(Array(zone.utf8), file: "t", options: ZoneParser.Options(keepDNSSEC: keepDNSSEC)).records))
}

func ask(_ zone: ZoneIndex, _ name: String, _ type: RRType, rclass: RRClass = .in, edns: EDNS? = nil,
         transport: Transport = .udp, payload: Int = 1232) throws -> (Message, Reply) {
    let packet = Message.query(id: 42, question: Question(name: try DNSName(text: name), type: type, rclass: rclass), edns: edns).encoded()
    var out = [UInt8](repeating: 0, count: Responder.maximumReplySize)
    let reply = packet.withUnsafeBytes { p in
        out.withUnsafeMutableBytes { Responder(maximumUDPPayload: payload).respond(to: p, zone: zone, transport: transport, into: $0) }
    }
    return (try Message(parsing: Array(out[0..<reply.length])), reply)
}

@Suite struct ResponderTests {
    @Test func apexAnswerIsAuthoritativeWithAdditionalAddresses() throws {
        let (m, reply) = try ask(index(), ".", .ns)
        #expect(reply.kind == .answer && m.header.isAuthoritative && m.rcode == .noError)
        #expect(m.answers.map(\.rdataText) == ["a.root."])
        #expect(m.additional.map(\.rdataText) == ["192.0.2.1"])
        #expect(m.header.id == 42 && m.header.isResponse)
    }

    @Test func referralCarriesNSAndGlueWithoutAA() throws {
        let (m, reply) = try ask(index(), "www.example.", .a)
        #expect(reply.kind == .referral && !m.header.isAuthoritative && m.rcode == .noError)
        #expect(m.answers.isEmpty)
        #expect(Set(m.authority.map(\.rdataText)) == ["ns1.example.", "ns.sibling."])
        #expect(Set(m.additional.map(\.rdataText)) == ["192.0.2.10", "2001:db8::10", "192.0.2.20", "2001:db8::20"])
    }

    @Test func glueNamesBelowADelegationGetTheReferral() throws {
        let (m, _) = try ask(index(), "ns1.example.", .a)
        #expect(!m.header.isAuthoritative && m.answers.isEmpty && m.authority.first?.owner.description == "example.")
    }

    @Test func dsAtTheCutIsTheParentsAnswer() throws {
        let (kept, _) = try ask(index(), "example.", .ds)
        #expect(kept.header.isAuthoritative && kept.answers.map(\.rdataText) == ["1 8 2 ABCD"])
        let (stripped, reply) = try ask(index(keepDNSSEC: false), "example.", .ds)
        #expect(reply.kind == .nodata && stripped.header.isAuthoritative && stripped.answers.isEmpty)
        #expect(stripped.authority.map(\.type) == [.soa])
        // DS below the cut is the child's business: referral.
        let (below, _) = try ask(index(), "www.example.", .ds)
        #expect(!below.header.isAuthoritative && below.authority.first?.type == .ns)
    }

    @Test func negativeAnswersCarryTheSOAWithTheNegativeTTL() throws {
        let (nx, reply) = try ask(index(), "nonexistent.", .a)
        #expect(reply.kind == .nxdomain && nx.rcode == .nxDomain && nx.header.isAuthoritative)
        // RFC 2308 §5: min(SOA TTL 86400, MINIMUM 3600).
        #expect(nx.authority.map(\.ttl) == [3600] && nx.authority.first?.owner == .root)
        let (nodata, _) = try ask(index(), ".", .mx)
        #expect(nodata.rcode == .noError && nodata.answers.isEmpty && nodata.authority.map(\.type) == [.soa])
    }

    @Test func questionIsEchoedByteForByte() throws {
        let (m, _) = try ask(index(), "wWw.ExAmPlE.", .a)
        #expect(m.questions.first?.name.description == "wWw.ExAmPlE.")
    }

    @Test func optionalGlueIsDroppedBeforeTruncating() throws {
        // Ten sibling name servers: their glue cannot all fit in 512 bytes.
        var zone = testZone
        for i in 0..<10 {
            zone += "big. 172800 IN NS ns\(i).long-sibling-name-to-fill-the-packet.sibling.\n"
            zone += "ns\(i).long-sibling-name-to-fill-the-packet.sibling. 172800 IN A 192.0.2.\(i)\n"
            zone += "ns\(i).long-sibling-name-to-fill-the-packet.sibling. 172800 IN AAAA 2001:db8::\(i)\n"
        }
        let (small, reply) = try ask(index(zone), "big.", .a)
        #expect(reply.length <= 512 && !small.header.isTruncated)
        #expect(small.authority.count == 10)
        // A records go first: every one of them made it in.
        #expect(small.additional.filter { $0.type == .a }.count == 10)
        #expect(small.additional.count < 20)
        let (large, _) = try ask(index(zone), "big.", .a, edns: EDNS(udpPayloadSize: 4096))
        #expect(large.additional.count == 20 && large.edns?.udpPayloadSize == 1232)
    }

    @Test func requiredGlueThatDoesNotFitSetsTC() throws {
        var zone = testZone
        for i in 0..<13 {
            zone += "huge. 172800 IN NS ns\(i).a-long-in-domain-name-server-label-for-size.huge.\n"
            zone += "ns\(i).a-long-in-domain-name-server-label-for-size.huge. 172800 IN AAAA 2001:db8::\(i)\n"
        }
        let (udp, reply) = try ask(index(zone), "huge.", .a)
        #expect(udp.header.isTruncated && reply.truncated && reply.length <= 512)
        let (tcp, _) = try ask(index(zone), "huge.", .a, transport: .tcp)
        #expect(!tcp.header.isTruncated && tcp.additional.count == 13)
    }

    @Test func ednsIsEchoedAndCapped() throws {
        let (m, _) = try ask(index(), ".", .soa, edns: EDNS(udpPayloadSize: 65000, dnssecOK: true), payload: 1400)
        #expect(m.edns?.udpPayloadSize == 1400 && m.edns?.dnssecOK == true)
        let (plain, _) = try ask(index(), ".", .soa)
        #expect(plain.edns == nil)
    }

    @Test func otherClassesAndTransfersAreRefused() throws {
        let (ch, _) = try ask(index(), "example.", .a, rclass: .hs)
        #expect(ch.rcode == .refused && ch.questions.count == 1)
        let (axfr, _) = try ask(index(), ".", .axfr)
        #expect(axfr.rcode == .refused)
    }

    @Test func anyGetsOneRRset() throws {
        let (m, _) = try ask(index(), ".", .any)
        #expect(m.answers.map(\.type) == [.soa])
    }

    @Test func namesOutsideAnInternalZoneAreRefused() throws {
        let zone = "$ORIGIN example.\n@ 1 IN SOA ns hm 1 1 1 1 1\n@ 1 IN NS ns\nns 1 IN A 192.0.2.1\n"
        let idx = try ZoneIndex(records: Array(ZoneParser.parse(Array(zone.utf8), file: "t",
                                                                options: ZoneParser.Options(origin: try DNSName(text: "example."))).records))
        #expect(try ask(idx, "www.other.", .a).0.rcode == .refused)
        #expect(try ask(idx, "missing.example.", .a).0.rcode == .nxDomain)
    }

    @Test func comReferralWithoutEDNSCarriesAllIPv4Glue() throws {
        // The dnscache case on the real root zone: no EDNS, 512 bytes.
        let records = try Array(ZoneParser.parse(ZoneText(path: "\(sharedZones)/root-2023051100.zone.gz")).records)
        let root = try ZoneIndex(records: records)
        #expect(root.delegationCount == 1479 && root.soa.serial == 2_023_051_100)
        for tld in ["com", "net", "org"] {
            let (m, reply) = try ask(root, "www.example.\(tld).", .a)
            #expect(reply.length <= 512)
            #expect(m.authority.count == m.additional.filter { $0.type == .a }.count, "every NS of \(tld) has its A glue")
            // net's servers are all in-domain (x.gtld-servers.net): their A
            // and AAAA glue cannot fit in 512 bytes, so RFC 9471 §3 wants TC.
            #expect(m.header.isTruncated == (tld == "net"))
        }
    }
}
