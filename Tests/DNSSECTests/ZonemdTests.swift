import DNSSEC
import DNSWire
import Testing
import TestSupport
import ZoneFile

/// RFC 8976 Appendix A: each example's digest verifies, and one record
/// changed, added or removed breaks it.
@Suite struct ZonemdTests {
    static let examples: [(file: String, origin: String)] = [
        ("a1-simple.example.zone", "example."), ("a2-complex.example.zone", "example."),
        ("a3-multiple-digests.example.zone", "example."), ("a4-uri.arpa.zone", "uri.arpa."),
        ("a5-root-servers.net.zone", "root-servers.net."),
    ]

    func records(_ example: (file: String, origin: String)) throws -> (PackedRecords, DNSName) {
        let origin = try DNSName(text: example.origin)
        let parsed = try ZoneParser.parse(ZoneText(path: "\(sharedZones)/zonemd/\(example.file)"),
                                          options: ZoneParser.Options(origin: origin, keepDNSSEC: true))
        return (parsed.records, origin)
    }

    func verify(_ records: [ResourceRecord], apex: DNSName) throws -> VerificationReport {
        try ZoneVerifier.verify(PackedRecords(records), apex: apex, file: "example",
                                policy: VerificationPolicy(dnssec: .off, zonemd: .required, anchors: [], now: 0))
    }

    @Test(arguments: examples.map(\.file))
    func exampleVerifies(_ file: String) throws {
        let (records, apex) = try records(Self.examples.first { $0.file == file }!)
        let report = try verify(Array(records), apex: apex)
        #expect(report.zonemdVerified && report.zonemdHash == "SHA-384")
    }

    @Test(arguments: examples.map(\.file))
    func oneRecordChangedAddedOrRemovedFails(_ file: String) throws {
        let (packed, apex) = try records(Self.examples.first { $0.file == file }!)
        let records = Array(packed)
        // An in-zone record that is not the digest itself and has no twin.
        let victim = try #require(records.firstIndex { record in
            record.type == .ns && records.filter { $0 == record }.count == 1
        })
        var changed = records
        changed[victim].rdata[changed[victim].rdata.count - 2] ^= 0x01
        var added = records
        added.append(ResourceRecord(owner: apex, type: .txt, ttl: 300, rdata: [5] + Array("added".utf8)))
        var removed = records
        removed.remove(at: victim)
        for (what, zone) in [("changed", changed), ("added", added), ("removed", removed)] {
            let error = #expect(throws: VerificationError.self, "\(what)") { try verify(zone, apex: apex) }
            #expect(error?.reason.hasPrefix("ZONEMD digest mismatch") == true, "\(what): \(String(describing: error))")
        }
    }

    @Test func outOfZoneDataIsLeftOutAndOccludedDataKept() throws {
        // a2 holds both: a record outside example. and one below the sub. cut.
        let (packed, apex) = try records(Self.examples[1])
        let records = Array(packed)
        let outside = records.filter { !$0.owner.isSubdomain(of: apex) }
        let occluded = records.filter { $0.owner.description == "occluded.sub.example." }
        #expect(outside.count == 1 && occluded.count == 1)
        var changedOutside = records
        changedOutside[records.firstIndex(of: outside[0])!].ttl += 1
        #expect(try verify(changedOutside, apex: apex).zonemdVerified)
        var changedOccluded = records
        changedOccluded[records.firstIndex(of: occluded[0])!].ttl += 1
        #expect(throws: VerificationError.self) { try verify(changedOccluded, apex: apex) }
    }

    @Test func serialMustMatchTheSOA() throws {
        let (packed, apex) = try records(Self.examples[0])
        var records = Array(packed)
        let index = try #require(records.firstIndex { $0.type == .zonemd })
        records[index].rdata[3] ^= 0x01
        let error = #expect(throws: VerificationError.self) { try verify(records, apex: apex) }
        #expect(error?.reason.contains("does not match the SOA serial") == true, "\(String(describing: error))")
    }

    @Test func unsupportedSchemesAndHashesAreSkipped() throws {
        // a3 carries SHA-384, SHA-512, scheme 241 and hash 240: drop the two
        // that verify and only the unknown ones are left.
        let (packed, apex) = try records(Self.examples[2])
        let records = Array(packed).filter { !($0.type == .zonemd && $0.owner == apex && [1, 2].contains($0.rdata[5]) && $0.rdata[4] == 1) }
        let error = #expect(throws: VerificationError.self) { try verify(records, apex: apex) }
        #expect(error?.reason.contains("no ZONEMD record with a supported scheme and hash") == true, "\(String(describing: error))")
        let sha512Only = Array(packed).filter { !($0.type == .zonemd && $0.owner == apex && $0.rdata[5] == 1 && $0.rdata[4] == 1) }
        #expect(try verify(sha512Only, apex: apex).zonemdHash == "SHA-512")
    }
}
