import DNSWire
import Foundation
import Testing
import TestSupport
@testable import ZoneFile

@Suite struct ZoneTextTests {
    let zone = Array(". 86400 IN SOA a. b. 1 2 3 4 5\n. 86400 IN NS a.\na. 86400 IN A 192.0.2.1\n".utf8)

    func read(_ path: String, maximumSize: Int = ZoneText.defaultMaximumSize) throws -> [UInt8] {
        try ZoneText(path: path, maximumSize: maximumSize).bytes()
    }

    @Test func plainAndGzipGiveTheSameText() throws {
        let scratch = try Scratch()
        #expect(try read(scratch.write("plain.zone", zone)) == zone)
        #expect(try read(try scratch.gzip("z.zone", zone)) == zone)
    }

    @Test func multiMemberGzip() throws {
        let scratch = try Scratch()
        let a = try Array(Data(contentsOf: URL(fileURLWithPath: scratch.gzip("a", Array(zone[0..<20])))))
        let b = try Array(Data(contentsOf: URL(fileURLWithPath: scratch.gzip("b", Array(zone[20...])))))
        #expect(try read(scratch.write("ab.gz", a + b)) == zone)
    }

    @Test func truncatedCorruptAndTrailingGarbage() throws {
        let scratch = try Scratch()
        let gz = try Array(Data(contentsOf: URL(fileURLWithPath: scratch.gzip("z", zone))))
        let truncated = scratch.write("t.gz", Array(gz.prefix(gz.count - 6)))
        #expect { try read(truncated) } throws: { "\($0)".contains("truncated gzip data") && "\($0)".hasPrefix(truncated) }
        var flipped = gz
        flipped[flipped.count - 8] ^= 0xFF // the CRC
        #expect { try read(scratch.write("c.gz", flipped)) } throws: { "\($0)".contains("corrupt gzip data") }
        #expect { try read(scratch.write("g.gz", gz + [0x42, 0x42])) } throws: { "\($0)".contains("trailing garbage") }
        // Zero padding after the last member is fine, as for gzip -d.
        #expect(try read(scratch.write("p.gz", gz + [UInt8](repeating: 0, count: 1000))) == zone)
        #expect { try read(scratch.write("q.gz", gz + [0, 0, 7])) } throws: { "\($0)".contains("trailing garbage") }
    }

    @Test func sizeCapStopsABomb() throws {
        let scratch = try Scratch()
        let bomb = try scratch.gzip("bomb", [UInt8](repeating: 0x20, count: 3 << 20))
        #expect { try read(bomb, maximumSize: 1 << 20) } throws: { "\($0)".contains("exceeds the 1 MiB limit") }
        let plain = scratch.write("big", [UInt8](repeating: 0x20, count: (1 << 20) + 1))
        #expect { try read(plain, maximumSize: 1 << 20) } throws: { "\($0)".contains("larger than the 1 MiB limit") }
    }

    @Test func missingFile() {
        #expect { try read("/nonexistent/root.zone") } throws: { "\($0)".hasPrefix("/nonexistent/root.zone: cannot open") }
    }

    @Test func corruptGzipBeatsTheParseErrorItCauses() throws {
        let scratch = try Scratch()
        var gz = try Array(Data(contentsOf: URL(fileURLWithPath: scratch.gzip("z", zone))))
        gz[gz.count - 8] ^= 0xFF
        let text = try ZoneText(path: scratch.write("c.gz", gz))
        #expect { try ZoneParser.parse(text) } throws: { "\($0)".contains("corrupt gzip data") }
    }
}

@Suite struct CheckerTests {
    func check(_ text: String, origin: String = ".") throws -> CheckedZone {
        try ZoneChecker.check(try parse(text, origin: origin), apex: try DNSName(text: origin), file: "test.zone")
    }

    func checkError(_ text: String, origin: String = ".") -> String {
        do {
            _ = try check(text, origin: origin)
            return ""
        } catch {
            return "\(error)"
        }
    }

    let good = """
        . 86400 IN SOA a.root. nstld. 1 1800 900 604800 86400
        . 518400 IN NS a.root.
        root. 172800 IN NS ns.root.
        a.root. 518400 IN A 192.0.2.1
        ns.root. 172800 IN A 192.0.2.2
        example. 172800 IN NS ns.example.
        example. 172800 IN NS ns.root.
        ns.example. 172800 IN AAAA 2001:db8::1
        """ + "\n"

    @Test func acceptsAWellFormedZone() throws {
        let zone = try check(good)
        #expect(zone.soa.serial == 1)
        #expect(zone.delegationCount == 2)
        #expect(zone.records.count == 8)
    }

    /// 16,384 A records are 65,536 bytes of rdata, one more than a DNS
    /// message can hold: refused at the record that crosses, by line, owner
    /// and type. Split across runs of the owner (`good` has the first), and
    /// beside a big RRset of another type that fits, so only the per-type
    /// sum can decide.
    @Test func refusesAnRRsetLargerThanAMessage() {
        func addresses(_ range: Range<Int>) -> String {
            range.map { "a.root. 1 IN A 10.\($0 >> 16 & 255).\($0 >> 8 & 255).\($0 & 255)\n" }.joined()
        }
        let fits = good + addresses(0..<8_000) + "b. 1 IN A 192.0.2.9\n" + addresses(8_000..<16_382)
            + (0..<4_000).map { "a.root. 1 IN AAAA 2001:db8::\(String($0, radix: 16))\n" }.joined()
        #expect(checkError(fits) == "")
        let header = good.split(separator: "\n").count
        #expect(checkError(fits + addresses(16_382..<16_383))
            == "test.zone:\(header + 8_000 + 1 + 8_382 + 4_000 + 1): RRset larger than a DNS message can carry (over 65535 bytes of rdata): 'a.root. A'")
    }

    @Test func exactlyOneSOAAtTheApex() {
        #expect(checkError(". 1 IN NS a.\na. 1 IN A 192.0.2.1\n") == "test.zone: no SOA record at the zone apex '.'")
        #expect(checkError(good + ". 1 IN SOA a. b. 2 1 1 1 1\n").hasPrefix("test.zone:9: more than one SOA record"))
        #expect(checkError(good + "x. 1 IN SOA a. b. 2 1 1 1 1\n").hasPrefix("test.zone:9: SOA record is not at the zone apex"))
    }

    @Test func apexNeedsNS() {
        #expect(checkError(". 1 IN SOA a. b. 1 1 1 1 1\n") == "test.zone: no NS records at the zone apex '.'")
    }

    @Test func ownersMustBeInsideTheZone() {
        let zone = "$ORIGIN example.\n@ 1 IN SOA ns hm 1 1 1 1 1\n@ 1 IN NS ns\nns 1 IN A 192.0.2.1\nother. 1 IN A 192.0.2.1\n"
        #expect(checkError(zone, origin: "example.") == "test.zone:5: owner is outside the zone 'example.': 'other.'")
    }

    @Test func onlyGlueBelowADelegation() {
        #expect(checkError(good + "www.example. 1 IN TXT \"x\"\n").hasPrefix("test.zone:9: TXT record below the delegation 'example.' is not glue"))
        #expect(checkError(good + "sub.example. 1 IN NS ns.example.\n").contains("NS record below the delegation 'example.'"))
        #expect(checkError(good + "example. 1 IN TXT \"x\"\n").hasPrefix("test.zone:9: TXT data at a delegation point is occluded"))
        // An address below a cut that no NS record names is not glue either.
        #expect(checkError(good + "www.example. 1 IN A 192.0.2.7\n") ==
                "test.zone:9: A record below the delegation 'example.' is not glue: no NS record names it: 'www.example.'")
    }

    @Test func inZoneNameServersNeedGlue() {
        #expect(checkError(good + "other. 1 IN NS ns.other.\n") ==
                "test.zone:9: name server inside the zone has no A or AAAA record (glue): 'ns.other.'")
    }

    @Test func cnameStandsAlone() {
        #expect(checkError(good + "c.root. 1 IN CNAME a.root.\nc.root. 1 IN A 192.0.2.9\n").contains("CNAME beside other data"))
    }

    @Test(arguments: ["root-2023051100.zone.gz", "root-2026082200-nosig.zone.gz", "root-2026082201-nosig.zone.gz"])
    func realRootZonesParseAndCheck(file: String) throws {
        let text = try ZoneText(path: "\(sharedZones)/\(file)")
        let zone = try ZoneChecker.check(try ZoneParser.parse(text), apex: .root, file: file)
        #expect(zone.soa.expire == 604_800 && zone.soa.minimum == 86400)
        #expect(zone.delegationCount > 1400)
        #expect(!zone.records.contains { $0.type.isDNSSEC })
    }
}
