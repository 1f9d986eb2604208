import Foundation
import Testing
import TestSupport

/// RFC 1035 master-file features, end to end: small zones written here,
/// compiled by the CLI, and read back with `rootmirror query`. The expected
/// records are what the RFCs say the text means, worked out by hand.
@Suite struct ParserFeatureTests {
    static let featureZone = ##"""
        ; Every feature once. A comment with "quotes", (parens) and \backslashes.
        $origin example.
        $ttl 1h30m
        @   in  soa ns1 hostmaster.example. (
                2024010101 ; serial
                7200       ; refresh
                900 1209600
                300 )      ; minimum
            ns  ns1                         ; owner omitted: still the apex
            IN NS ns2.example.              ; absolute name
        ns1 a 192.0.2.1
        ns2 in 600 A 192.0.2.2              ; class before TTL
        ns2 AAAA 2001:db8::2                ; TTL omitted: $TTL
        txt 60 IN TXT "say \"hi\"" "\065\066C" "caf\195\169" "semi;colon (paren)" plain
        sub IN TYPE65 \# 3 010203
        Mixed.Case 120 In Mx 10 mail.deep   ; relative target
        $ORIGIN deep.example.
        mail A 192.0.2.9
        @ 300 IN TXT ( "multi"   ; a comment inside parentheses
           "line" )
        child NS ns.child
        ns.child A 192.0.2.10

        """##

    /// Compiles `text` into a fresh scratch directory; returns the data.cdb path.
    func compile(_ text: String, origin: String, in scratch: Scratch, records: Int) throws -> String {
        let zone = scratch.write("zone", Array(text.utf8))
        let data = "\(scratch.path)/data.cdb"
        let result = try runRootmirror(["compile", zone, "-o", data, "--origin", origin])
        try #require(result.status == 0, "compile: \(result.stderr)")
        #expect(result.output.contains(", \(records) records kept, 0 DNSSEC records stripped, "), "\(result.output)")
        return data
    }

    @Test func everyFeatureInOneZone() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let data = try compile(Self.featureZone, origin: "example.", in: scratch, records: 13)

        // SOA across six lines with comments; no TTL on it, so $TTL's 1h30m.
        let soa = try query("example", "SOA", data: data)
        #expect(soa.status == "NOERROR" && soa.flags == ["qr", "aa"])
        #expect(soa.lines("ANSWER") == ["example. 5400 IN SOA ns1.example. hostmaster.example. 2024010101 7200 900 1209600 300"])

        // Owner omitted twice (the apex); relative and absolute targets; glue
        // with its own TTLs in additional.
        let ns = try query("example", "NS", data: data)
        #expect(ns.lines("ANSWER").sorted() == ["example. 5400 IN NS ns1.example.", "example. 5400 IN NS ns2.example."])
        #expect(ns.lines("ADDITIONAL").sorted() == [
            "ns1.example. 5400 IN A 192.0.2.1", "ns2.example. 5400 IN AAAA 2001:db8::2", "ns2.example. 600 IN A 192.0.2.2",
        ].sorted(), "\(ns.text)")
        // $TTL is the default for a record without a TTL (RFC 2308 §4), not
        // the previous record's 600.
        #expect(try query("ns2.example", "AAAA", data: data).lines("ANSWER") == ["ns2.example. 5400 IN AAAA 2001:db8::2"])

        // Quoted strings: \" inside, \DDD for printable (A B) and other bytes,
        // ; and ( ) taken literally, an unquoted word as a string too.
        let txt = try query("txt.example", "TXT", data: data)
        #expect(txt.lines("ANSWER") == [#"txt.example. 60 IN TXT "say \"hi\"" "ABC" "caf\195\169" "semi;colon (paren)" "plain""#])

        // RFC 3597 unknown-type syntax, and TYPEnnn as the query type.
        let unknown = try query("sub.example", "TYPE65", data: data)
        #expect(unknown.lines("ANSWER") == [##"sub.example. 5400 IN TYPE65 \# 3 010203"##])

        // Mixed-case owner and keywords; an MX target relative to $ORIGIN,
        // whose address (after the next $ORIGIN) comes as additional data.
        let mx = try query("mixed.case.example", "MX", data: data)
        #expect(mx.lines("ANSWER").map { $0.lowercased() } == ["mixed.case.example. 120 in mx 10 mail.deep.example."])
        #expect(mx.lines("ADDITIONAL") == ["mail.deep.example. 5400 IN A 192.0.2.9"])

        // `@` after $ORIGIN is the new origin; parentheses join two strings.
        #expect(try query("deep.example", "TXT", data: data).lines("ANSWER") == [#"deep.example. 300 IN TXT "multi" "line""#])

        // A delegation two levels down, named relative to the new origin.
        let referral = try query("www.child.deep.example", "A", data: data)
        #expect(referral.status == "NOERROR" && referral.flags == ["qr"] && referral.section("ANSWER").isEmpty)
        #expect(referral.lines("AUTHORITY") == ["child.deep.example. 5400 IN NS ns.child.deep.example."])
        #expect(referral.lines("ADDITIONAL") == ["ns.child.deep.example. 5400 IN A 192.0.2.10"])

        // Negative answers: SOA with min(SOA TTL 5400, MINIMUM 300).
        let nx = try query("nothing.example", "A", data: data)
        #expect(nx.status == "NXDOMAIN" && nx.flags == ["qr", "aa"])
        #expect(nx.lines("AUTHORITY") == ["example. 300 IN SOA ns1.example. hostmaster.example. 2024010101 7200 900 1209600 300"])
        let nodata = try query("ns1.example", "MX", data: data)
        #expect(nodata.status == "NOERROR" && nodata.flags == ["qr", "aa"] && nodata.section("ANSWER").isEmpty)
        #expect(nodata.lines("AUTHORITY") == nx.lines("AUTHORITY"))
    }

    /// Without $TTL a record's TTL defaults to the previous record's
    /// (RFC 1035 §5.1); the negative TTL is the SOA's own when it is the
    /// smaller one; the owner carries over to following lines.
    @Test func ttlInheritanceAndNegativeTTL() throws {
        let text = """
            .   60  IN  SOA a.root-servers.net. nstld.verisign-grs.com. 7 1800 900 604800 86400
                IN  NS  a.root-servers.net.
            a.root-servers.net. 3600 A 198.41.0.4
                                AAAA 2001:503:ba3e::2:30
            tld.    NS  ns.tld.
            ns.tld. IN A 192.0.2.53

            """
        let scratch = try Scratch()
        defer { scratch.remove() }
        let data = try compile(text, origin: ".", in: scratch, records: 6)
        #expect(try query(".", "NS", data: data).lines("ANSWER") == [". 60 IN NS a.root-servers.net."])
        #expect(try query("a.root-servers.net", "AAAA", data: data).lines("ANSWER") == ["a.root-servers.net. 3600 IN AAAA 2001:503:ba3e::2:30"])
        let referral = try query("www.tld", "A", data: data)
        #expect(referral.lines("AUTHORITY") == ["tld. 3600 IN NS ns.tld."])
        #expect(referral.lines("ADDITIONAL") == ["ns.tld. 3600 IN A 192.0.2.53"])
        let nx = try query("nope", "A", data: data)
        #expect(nx.status == "NXDOMAIN")
        #expect(nx.lines("AUTHORITY") == [". 60 IN SOA a.root-servers.net. nstld.verisign-grs.com. 7 1800 900 604800 86400"])
    }
}
