import Answering
import DNSWire
import Foundation
import Testing
import TestSupport
import ZoneFile

/// The summary `rootmirror check` reads instead of building the index,
/// against what the zone's own text says.
struct ZoneSummaryTests {
    @Test func realRootSummaryMatchesItsText() throws {
        let path = "\(sharedZones)/root-2023051100.zone.gz"
        let records = try Array(ZoneParser.parse(ZoneText(path: path), options: ZoneParser.Options(keepDNSSEC: true)).records)
        let summary = try ZoneSummary(records: records)
        #expect(summary.soa.serial == 2_023_051_100)
        #expect(summary.apex == DNSName.root)

        // Read the text with gzip and fields, not with our parser.
        let lines = try run("/usr/bin/gzip", ["-dc", path]).output.split(separator: "\n").map { $0.split(whereSeparator: \.isWhitespace) }
        let servers = Set(lines.filter { $0.count == 5 && $0[0] == "." && $0[3] == "NS" }.map { $0[4].lowercased() })
        #expect(servers.count == 13)
        let glue = lines.filter { $0.count == 5 && ($0[3] == "A" || $0[3] == "AAAA") && servers.contains($0[0].lowercased()) }
        #expect(summary.apexServerAddresses.count == glue.count && glue.count == 26)
        // The file writes IPv6 addresses uncompressed: compare bytes, as inet_pton reads the text.
        let glueBytes = glue.map { fields -> [UInt8] in
            var bytes = [UInt8](repeating: 0, count: fields[3] == "A" ? 4 : 16)
            _ = inet_pton(fields[3] == "A" ? AF_INET : AF_INET6, String(fields[4]), &bytes)
            return bytes
        }
        #expect(Set(summary.apexServerAddresses) == Set(glueBytes))
        // RRSIG's ninth field is its expiration, YYYYMMDDHHMMSS: the text's order is the time's.
        let earliest = lines.filter { $0.count > 8 && $0[3] == "RRSIG" }.map { String($0[8]) }.min()
        #expect(summary.signaturesExpire.map { Codecs.civilTimestamp(epochSeconds: Int($0)) } == earliest)

        let index = try ZoneIndex(records: records)
        #expect(index.summary.apexServerAddresses == summary.apexServerAddresses)
        #expect(index.summary.signaturesExpire == summary.signaturesExpire && index.soa.serial == summary.soa.serial)
    }

    @Test func strippedDataHasNoSignatureExpiry() throws {
        let summary = try ZoneSummary(records: Array(ZoneParser.parse(Array(testZone.utf8), file: "t").records))
        #expect(summary.signaturesExpire == nil)
        #expect(summary.apexServerAddresses == [[192, 0, 2, 1]])
    }

    @Test func zonesWithoutOneSOAOrApexNSAreRefusedByName() throws {
        func summary(_ text: String) throws -> ZoneSummary {
            try ZoneSummary(records: Array(ZoneParser.parse(Array(text.utf8), file: "t").records))
        }
        #expect(throws: ZoneSummary.LoadError.noSOA) { try summary(". 1 IN NS a.root.\n") }
        #expect(throws: ZoneSummary.LoadError.multipleSOA) {
            try summary(". 1 IN SOA a. b. 1 1 1 1 1\n. 1 IN SOA a. b. 2 1 1 1 1\n. 1 IN NS a.root.\n")
        }
        #expect(throws: ZoneSummary.LoadError.noApexNS) { try summary(". 1 IN SOA a. b. 1 1 1 1 1\nx. 1 IN NS a.root.\n") }
        #expect(ZoneSummary.LoadError.noApexNS.description == "no NS records at the apex")
    }
}
