import DNSSEC
import DNSWire
import Foundation
import Testing
import TestSupport
import ZoneFile

@Suite struct AnchorTests {
    @Test func builtInAnchorsAreTheFileByteForByte() throws {
        let file = URL(fileURLWithPath: packageRoot).appendingPathComponent("zones/root-anchors.xml").path
        let text = try #require(FileManager.default.contents(atPath: file))
        #expect(Array(RootAnchors.xml.utf8) == Array(text))
    }

    @Test func anchorsHonourTheirValidityWindow() throws {
        func tags(_ time: String) throws -> [UInt16] { RootAnchors.valid(at: try #require(UTCTime.parse(time))).map(\.keyTag) }
        #expect(try tags("2018-06-01T00:00:00Z") == [19036, 20326])
        #expect(try tags("2023-05-11T12:00:00Z") == [20326])
        #expect(try tags("2026-08-25T00:00:00Z") == [20326, 38696])
    }

    @Test func anchorFilesReadDSAndDNSKEYRecordsOnly() throws {
        let scratch = try Scratch()
        let ds = scratch.write("root.ds", Array(". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n".utf8))
        let anchors = try TrustAnchor.read(file: ds)
        #expect(anchors.map(\.keyTag) == [20326])
        let wrong = scratch.write("wrong.key", Array(". 3600 IN A 192.0.2.1\n".utf8))
        #expect(throws: ZoneError.self) { try TrustAnchor.read(file: wrong) }
        let empty = scratch.write("empty.key", Array("; nothing\n".utf8))
        #expect(throws: ZoneError.self) { try TrustAnchor.read(file: empty) }
    }

    @Test func timesReadAndPrintAsRFC3339() {
        #expect(UTCTime.parse("2023-05-11T12:00:00Z") == 1_683_806_400)
        #expect(UTCTime.parse("2023-05-11T14:00:00+02:00") == 1_683_806_400)
        #expect(UTCTime.parse("2023-05-11 12:00") == nil)
        #expect(Codecs.rfc3339Timestamp(epochSeconds: Int(1_683_806_400)) == "2023-05-11T12:00:00Z")
    }
}

/// The apex DNSKEY sets of the 2026 root files keep their signatures: they
/// verify against IANA's anchors inside their window, not outside it, and
/// not against KSK-2024 alone, which did not sign them.
@Suite struct RootKeySetTests {
    let records: PackedRecords

    init() throws {
        let parsed = try ZoneParser.parse(ZoneText(path: "\(sharedZones)/root-2026082200-nosig.zone.gz"),
                                          options: ZoneParser.Options(keepDNSSEC: true))
        records = parsed.records
    }

    func policy(_ time: String, anchors: [TrustAnchor]? = nil) throws -> VerificationPolicy {
        let now = try #require(UTCTime.parse(time))
        return VerificationPolicy(anchors: anchors ?? RootAnchors.valid(at: now), now: now)
    }

    @Test func keySetVerifiesAgainstTheBuiltInAnchors() throws {
        let report = try ZoneVerifier.verifyKeySet(records, apex: .root, file: "2026", policy: policy("2026-08-25T00:00:00Z"))
        #expect(report.dnssecVerified)
        #expect(Set(report.anchoredKeyTags) == [20326, 38696])
        #expect(report.signaturesChecked == 1)
        #expect(report.signaturesExpire == UTCTime.parse("2026-09-10T00:00:00Z"))
    }

    @Test func keySetOutsideItsWindowIsRefused() throws {
        let error = #expect(throws: VerificationError.self) {
            try ZoneVerifier.verifyKeySet(records, apex: .root, file: "2026", policy: policy("2026-09-15T00:00:00Z"))
        }
        #expect(error?.reason.contains("expired on 2026-09-10T00:00:00Z") == true, "\(String(describing: error))")
        #expect(error?.type == .dnskey)
    }

    @Test func keySetNeedsASignatureByAnAnchoredKey() throws {
        let ksk2024 = RootAnchors.valid(at: 1_800_000_000).filter { $0.keyTag == 38696 }
        let error = #expect(throws: VerificationError.self) {
            try ZoneVerifier.verifyKeySet(records, apex: .root, file: "2026", policy: policy("2026-08-25T00:00:00Z", anchors: ksk2024))
        }
        #expect(error?.reason.contains("not signed by a key that matches the trust anchors") == true, "\(String(describing: error))")
    }

    @Test func wholeZoneFailsWithoutItsSignatures() throws {
        var policy = try policy("2026-08-25T00:00:00Z")
        policy.zonemd = .off
        let error = #expect(throws: VerificationError.self) {
            try ZoneVerifier.verify(records, apex: .root, file: "2026", policy: policy)
        }
        #expect(error?.reason == "no signature", "\(String(describing: error))")
    }
}
