import DNSWire
import Testing
@testable import ZoneFile

func parse(_ text: String, keepDNSSEC: Bool = false, origin: String = ".") throws -> ParsedZone {
    try ZoneParser.parse(Array(text.utf8), file: "test.zone",
                         options: ZoneParser.Options(origin: try DNSName(text: origin), keepDNSSEC: keepDNSSEC))
}

/// The error a zone text produces, for checks on its message and line.
func parseError(_ text: String, keepDNSSEC: Bool = false) -> ZoneError? {
    do {
        _ = try parse(text, keepDNSSEC: keepDNSSEC)
        return nil
    } catch {
        return error as? ZoneError
    }
}

@Suite struct ParserTests {
    @Test func directivesParenthesesCommentsAndOmittedFields() throws {
        let zone = try parse("""
            $ORIGIN example.
            $TTL 1h
            @   IN  SOA ns1 hostmaster ( 2024010101 ; serial
                        7200 3600      ; refresh, retry
                        1W 300 )       ; expire, minimum
                NS  ns1                 ; owner omitted
            ns1 600 A 192.0.2.1
                IN 700 AAAA 2001:db8::1 ; class before TTL
            www a 192.0.2.2              ; lower-case type
            """, origin: "example.")
        #expect(zone.records.map(\.type) == [.soa, .ns, .a, .aaaa, .a])
        #expect(zone.records.map(\.owner.description) == ["example.", "example.", "ns1.example.", "ns1.example.", "www.example."])
        #expect(zone.records.map(\.ttl) == [3600, 3600, 600, 700, 3600])
        #expect(zone.records.entries.map(\.line) == [3, 6, 7, 8, 9])
        let soa = try #require(SOAFields(rdata: zone.records[0].rdata))
        #expect(soa.mname.description == "ns1.example." && soa.rname.description == "hostmaster.example.")
        #expect((soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum) == (2_024_010_101, 7200, 3600, 604_800, 300))
    }

    @Test func lastTTLIsTheDefaultWithoutDollarTTL() throws {
        let zone = try parse(". 100 IN NS a.\na. IN A 192.0.2.1\n")
        #expect(zone.records.map(\.ttl) == [100, 100])
    }

    @Test func quotedStringsAndEscapes() throws {
        let zone = try parse(#"t. 1 TXT "a \"quoted\" string; not a comment" plain \065\066 """# + "\n")
        let txt = zone.records[0]
        #expect(txt.rdataText == #""a \"quoted\" string; not a comment" "plain" "AB" """#)
        let name = try parse("a\\.b.c. 1 A 192.0.2.1\n").records[0].owner
        #expect(name.wire.first == 3 && name.labelCount == 2)
    }

    @Test func genericTypesAndRDATA() throws {
        let zone = try parse("""
            x. 1 TYPE65 \\# 3 010203
            x. 1 A \\# 4 C0000201
            x. 1 type999 \\# 0
            x. 1 MX 10 mail.x.
            x. 1 PTR host.x.
            """)
        #expect(zone.records.map(\.type) == [RRType(65), .a, RRType(999), .mx, .ptr])
        #expect(zone.records[0].rdata == [1, 2, 3])
        #expect(zone.records[1].rdataText == "192.0.2.1")
        #expect(zone.records[2].rdata.isEmpty)
        #expect(zone.records[3].rdataText == "10 mail.x.")
    }

    @Test func dnssecRecordsAreStrippedOrKept() throws {
        let text = """
            . 86400 IN DS 30909 8 2 E2D3C916F6DEEAC73294E8268FB5885044A833FC5459588F4A9184CF C41A5766
            . 86400 IN RRSIG SOA 8 0 86400 20230524050000 20230511040000 60955 . AwEA AQEC
            . 86400 IN NSEC aaa. NS SOA RRSIG NSEC DNSKEY
            . 172800 IN DNSKEY 257 3 8 AwEAAaz/tAm8yTn4Mfeh5eyI96WSVexTBAvkMgJzkKTOiW1vkIbzxeF3
            . 86400 IN ZONEMD 2026082201 1 1 5E21E890ACDE0249A3C73F5500159960F01C1783534876FAEC24F3CB
            . 86400 IN NSEC3PARAM 1 0 0 -
            . 86400 IN A 192.0.2.1
            """ + "\n"
        let stripped = try parse(text)
        #expect(stripped.records.map(\.type) == [.a] && stripped.strippedCount == 6)
        let kept = try parse(text, keepDNSSEC: true)
        #expect(kept.records.map(\.type) == [.ds, .rrsig, .nsec, .dnskey, .zonemd, .nsec3param, .a])
        #expect(kept.records[0].rdataText == "30909 8 2 E2D3C916F6DEEAC73294E8268FB5885044A833FC5459588F4A9184CFC41A5766")
        #expect(kept.records[1].rdataText == "SOA 8 0 86400 20230524050000 20230511040000 60955 . AwEAAQEC")
        #expect(kept.records[2].rdataText == "aaa. NS SOA RRSIG NSEC DNSKEY")
    }

    @Test func windowsLineEndingsAndNoFinalNewline() throws {
        #expect(try parse(". 1 IN NS a.\r\na. 1 IN A 192.0.2.1").records.count == 2)
    }

    @Test(arguments: [
        ("$INCLUDE /etc/passwd\n", 1, "$INCLUDE is not allowed"),
        ("$GENERATE 1-2 x A 1.2.3.4\n", 1, "unknown directive"),
        (". 1 IN NS a.\n. 1 IN FOO bar\n", 2, "unknown record type"),
        (". 99999999999 IN NS a.\n", 1, "TTL out of range"),
        (". 1x IN NS a.\n", 1, "bad TTL"),
        (". 2147483648 IN NS a.\n", 1, "TTL out of range"),
        (". 1 IN NS a. (\n\n", 1, "'(' not closed"),
        (". 1 IN NS a. )\n", 1, "')' without '('"),
        (". 1 IN TXT \"open\n", 1, "newline inside a quoted string"),
        ("a. 1 IN A 192.0.2\n", 1, "bad IPv4 address"),
        ("a. 1 IN A 192.0.2.256\n", 1, "bad IPv4 address"),
        ("a. 1 IN AAAA 2001:db8::g\n", 1, "bad IPv6 address"),
        ("a. 1 IN A\n", 1, "missing IPv4 address"),
        ("a. 1 IN A 192.0.2.1 extra\n", 1, "unexpected text after the rdata"),
        ("a. 1 IN TYPE65 \\# 4 0102\n", 1, "does not match"),
        ("a. 1 IN NS \\# 2 0102\n", 1, "not a valid NS record"),
        ("a. 1 IN TYPE65 01\n", 1, "needs RFC 3597 rdata"),
        (" 1 IN A 192.0.2.1\n", 1, "no owner name"),
        ("a. IN A 192.0.2.1\n", 1, "no TTL given"),
        ("a. 1 IN A 192.0.2.1\na. 1 CH A 192.0.2.1\n", 2, "differs from the zone's class"),
        ("\n\nab\u{1}c. 1 IN A 192.0.2.1\n", 3, "unexpected byte 0x01"),
        ("a..b. 1 IN A 192.0.2.1\n", 1, "bad name"),
        ("a. 1 IN DNSKEY 257 3 8 !!!!\n", 1, "bad base64"),
        // 300 strings of 255 bytes: more than an rdata length can say.
        ("a. 1 IN A 192.0.2.1\nb. 1 IN TXT " + String(repeating: "\"" + String(repeating: "x", count: 255) + "\" ", count: 300) + "\n",
         2, "rdata longer than 65535 bytes"),
    ] as [(String, Int, String)])
    func errorsNameTheLine(text: String, line: Int, message: String) throws {
        let error = try #require(parseError(text, keepDNSSEC: true))
        #expect(error.line == line)
        #expect(error.description.contains(message), "\(error)")
        #expect(error.description.hasPrefix("test.zone:\(line): "))
        #expect(!error.description.contains("\n"))
    }
}
