import Foundation
import Testing
import TestSupport

/// `rootmirror query` on the real 2023 root zone: what a resolver is told,
/// checked against the records the test reads from the zone text itself.
@Suite struct QueryCommandTests {
    func compiled(_ zone: RealZone, keepDNSSEC: Bool, in scratch: Scratch) throws -> String {
        let data = "\(scratch.path)/\(keepDNSSEC ? "signed" : "stripped").cdb"
        let result = try runRootmirror(["compile", zone.path, "-o", data] + (keepDNSSEC ? ["--keep-dnssec"] : []))
        try #require(result.status == 0, "\(result.stderr)")
        return data
    }

    /// "owner ttl IN type rdata" as `query` prints it, from a zone record.
    func line(_ r: ZoneRecord) -> String {
        let rdata = switch r.type {
        case "DS": r.rdata[0...2].joined(separator: " ") + " " + r.rdata[3...].joined().uppercased()
        case "AAAA": Wire.ipv6Text(Wire.ipv6(r.rdata[0])) // internic writes 2001:503:ba3e:0:0:0:2:30
        default: r.rdata.joined(separator: " ")
        }
        return "\(r.owner) \(r.ttl) IN \(r.type) \(rdata)"
    }

    @Test func answersFromTheRealZone() throws {
        let zone = try zone2023.get()
        let scratch = try Scratch()
        defer { scratch.remove() }
        let stripped = try compiled(zone, keepDNSSEC: false, in: scratch)
        let signed = try compiled(zone, keepDNSSEC: true, in: scratch)

        // Referral: com's 13 NS in authority, their A glue in additional, AA clear.
        let comNS = zone.records("com.", "NS")
        try #require(comNS.count == 13)
        let comGlueA = comNS.flatMap { zone.records($0.rdata[0], "A") }
        try #require(comGlueA.count == 13)
        let referral = try query("www.example.com", "A", data: stripped)
        #expect(referral.status == "NOERROR")
        #expect(referral.flags == ["qr"], "\(referral.text)")
        #expect(referral.section("ANSWER").isEmpty && referral.counts["ANSWER"] == 0)
        #expect(referral.lines("AUTHORITY").sorted() == comNS.map(line).sorted())
        #expect(referral.counts["AUTHORITY"] == 13)
        let additional = Set(referral.lines("ADDITIONAL"))
        #expect(Set(comGlueA.map(line)).isSubset(of: additional), "\(referral.text)")
        // Without EDNS the reply fits in 512 bytes.
        #expect(referral.text.contains(";; MSG SIZE  rcvd: ") && !referral.flags.contains("tc"))
        let size = Int(referral.text.split(separator: "\n").last!.split(separator: " ").last!)!
        #expect(size <= 512)

        // NXDOMAIN: the SOA in authority, TTL min(SOA TTL, MINIMUM) (RFC 2308).
        let soa = zone.soa
        let negativeTTL = min(soa.ttl, UInt32(soa.rdata[6])!)
        #expect(negativeTTL == 86400)
        var negativeSOA = soa
        negativeSOA.ttl = negativeTTL
        for name in ["nonexistent-tld-xyz", "foo.local", "www.example.nonexistent-tld-xyz"] {
            let nx = try query(name, "A", data: stripped)
            #expect(nx.status == "NXDOMAIN", "\(name)")
            #expect(nx.flags == ["qr", "aa"], "\(name)")
            #expect(nx.section("ANSWER").isEmpty)
            #expect(nx.lines("AUTHORITY") == [line(negativeSOA)], "\(nx.text)")
        }

        // DS at the cut: the parent's own data, answered with AA.
        let comDS = zone.records("com.", "DS")
        try #require(!comDS.isEmpty)
        let ds = try query("com", "DS", data: signed)
        #expect(ds.status == "NOERROR" && ds.flags == ["qr", "aa"], "\(ds.text)")
        #expect(ds.lines("ANSWER").sorted() == comDS.map(line).sorted())
        #expect(ds.section("AUTHORITY").isEmpty)
        // Stripped: NODATA, still AA, with the SOA.
        let nodata = try query("com", "DS", data: stripped)
        #expect(nodata.status == "NOERROR" && nodata.flags == ["qr", "aa"], "\(nodata.text)")
        #expect(nodata.section("ANSWER").isEmpty)
        #expect(nodata.lines("AUTHORITY") == [line(negativeSOA)])

        // A glue name is below the net cut: a referral to net, not an answer.
        // net's servers are all in net, so their glue is required: without
        // EDNS every A fits in 512 bytes but not every AAAA (TC is then
        // allowed); with EDNS all of it fits.
        let netNS = zone.records("net.", "NS")
        let netGlueA = netNS.flatMap { zone.records($0.rdata[0], "A") }
        let netGlueAAAA = netNS.flatMap { zone.records($0.rdata[0], "AAAA") }
        try #require(netNS.count == 13 && netGlueA.count == 13 && netGlueAAAA.count == 13)
        let glue = try query("a.gtld-servers.net", "A", data: stripped)
        #expect(glue.status == "NOERROR" && glue.flags.contains("qr") && !glue.flags.contains("aa"), "\(glue.text)")
        #expect(glue.section("ANSWER").isEmpty)
        #expect(glue.lines("AUTHORITY").sorted() == netNS.map(line).sorted())
        #expect(Set(netGlueA.map(line)).isSubset(of: glue.lines("ADDITIONAL")), "\(glue.text)")
        let glueEDNS = try query("a.gtld-servers.net", "A", data: stripped, ["--edns", "1232"])
        #expect(glueEDNS.status == "NOERROR" && glueEDNS.flags == ["qr"], "\(glueEDNS.text)")
        #expect(glueEDNS.lines("AUTHORITY").sorted() == netNS.map(line).sorted())
        #expect(glueEDNS.lines("ADDITIONAL").sorted() == (netGlueA + netGlueAAAA).map(line).sorted(), "\(glueEDNS.text)")

        // The apex: the 13 root servers, authoritatively.
        let apex = try query(".", "NS", data: stripped)
        #expect(apex.flags == ["qr", "aa"] && apex.lines("ANSWER").sorted() == zone.records(".", "NS").map(line).sorted())
    }

    @Test func helpAndArgumentErrors() throws {
        let help = try runRootmirror(["--help"])
        #expect(help.status == 0)
        #expect(help.output.contains("compile") && help.output.contains("query"), "\(help.output)")
        let compileHelp = try runRootmirror(["compile", "--help"])
        #expect(compileHelp.status == 0 && compileHelp.output.contains("--keep-dnssec") && compileHelp.output.contains("--max-size"))
        let bad = try runRootmirror(["query", "com", "NOTATYPE", "-d", "/nonexistent"])
        #expect(bad.status == 64 && bad.stderr == "rootmirror: unknown query type 'NOTATYPE'\n")
        let missing = try runRootmirror(["query", "com", "NS", "-d", "/nonexistent/data.cdb"])
        #expect(missing.status == 1 && missing.stderr.hasPrefix("rootmirror: /nonexistent/data.cdb: "))
        #expect(missing.stderr.filter { $0 == "\n" }.count == 1)
    }
}
