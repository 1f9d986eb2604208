@testable import DNSSEC
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

    // MARK: root-anchors.xml (RFC 9718) through TrustAnchor.read(file:)

    /// KSK-2017's public key (key tag 20326), as IANA publishes it.
    static let ksk2017 = "AwEAAaz/tAm8yTn4Mfeh5eyI96WSVexTBAvkMgJzkKTOiW1vkIbzxeF3+/4RgWOq7HrxRixHlFlExOLAJr5emLvN7SWXgnLh4+B5xQlNVz8Og8kvArMtNROxVQuCaSnIDdD5LKyWbRd2n9WGe2R8PzgCmr3EgVLrjyBxWezF0jLHwVN8efS3rCj/EWgvIWgb9tarpVUDK/b58Da+sqqls3eNbuv7pr+eoZG+SrDK6nWeL3c6H5Apxz7LjVc1uTIdsIXxuOLYA4/ilBmSVIzuDWfdRUfhHdY6+cn8HFRm+2hM8AnXGXws9555KrUB5qihylGa8subX2Nn6UwNR1AkUTV74bU="
    static let digest19036 = "49AAC11D7B6F6446702E54A1607371607A1A41855200FD2CE1CDDE32F24E8FB5"
    static let digest20326 = "E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D"
    static let digest38696 = "683D2D0ACB8C9B712A1948B27F741219298D0A450D612C483AF444A4C0FB2B16"

    /// What of an anchor matters to trust: the digest or key, and the window.
    struct Trust: Equatable, CustomStringConvertible {
        var kind: TrustAnchor.Kind
        var validFrom: Int64?
        var validUntil: Int64?
        init(_ anchor: TrustAnchor) { (kind, validFrom, validUntil) = (anchor.kind, anchor.validFrom, anchor.validUntil) }
        var description: String { "\(kind) \(validFrom.map(String.init) ?? "-")...\(validUntil.map(String.init) ?? "-")" }
    }

    /// The three KeyDigests, KSK-2017's with its PublicKey (`key`, base64):
    /// RFC 9718's form, with what the real file does not use.
    static func variantXML(ksk2017 key: String = ksk2017) -> String {
        """
        <?xml version='1.0' encoding='UTF-8'?>
        <!-- An RFC 9718 file written for the test:
             <KeyDigest id="fake" validFrom="2000-01-01T00:00:00Z"><KeyTag>1</KeyTag><Algorithm>8</Algorithm>
             <DigestType>2</DigestType><Digest>00</Digest></KeyDigest> -->
        <TrustAnchor source='http://data.iana.org/root-anchors/root-anchors.xml' id='E9724F53-1851-4F86-85E5-F1392102940B'>
          <KeyDigest validUntil='2019-01-11T00:00:00Z' id='Kjqmt7v' validFrom='2010-07-15T00:00:00Z'>
            <Digest>
              \(digest19036)
            </Digest>
            <DigestType>2</DigestType>
            <!-- <KeyTag>1</KeyTag> -->
            <Algorithm>8</Algorithm>
            <KeyTag>19036</KeyTag>
          </KeyDigest>
          <Zone>.</Zone>
          <KeyDigest validFrom = '2017-02-02T00:00:00+00:00' id="Klajeyz">
            <Flags>257</Flags>
            <PublicKey>\(key)</PublicKey>
            <Algorithm>8</Algorithm>
            <KeyTag>20326</KeyTag>
            <Digest>\(digest20326.lowercased())</Digest>
            <DigestType>2</DigestType>
          </KeyDigest>
          <KeyDigest id='Kmyv6jo' validFrom='2024-07-18T02:00:00+02:00'>
            <KeyTag>38696</KeyTag><Algorithm>8</Algorithm><DigestType>2</DigestType>
            <Digest>\(digest38696)</Digest>
          </KeyDigest>
        </TrustAnchor>

        """
    }

    static func write(_ scratch: Scratch, _ name: String, _ text: String) -> String {
        scratch.write(name, Array(text.utf8))
    }

    @Test func ianaFileReadsAsTheBuiltInAnchors() throws {
        let file = URL(fileURLWithPath: packageRoot).appendingPathComponent("zones/root-anchors.xml").path
        let anchors = try TrustAnchor.read(file: file)
        #expect(anchors.map(\.keyTag) == [19036, 20326, 38696])
        #expect(anchors.map(\.validFrom) == [1_279_152_000, 1_485_993_600, 1_721_260_800])
        #expect(anchors.map(\.validUntil) == [1_547_164_800, nil, nil])
        #expect(anchors.allSatisfy { $0.owner == .root && $0.algorithm == 8 && $0.source == file })
        #expect(anchors.map(\.kind) == [
            .ds(keyTag: 19036, algorithm: 8, digestType: 2, digest: try #require(Codecs.hexDecode(Array(Self.digest19036.utf8)))),
            .ds(keyTag: 20326, algorithm: 8, digestType: 2, digest: try #require(Codecs.hexDecode(Array(Self.digest20326.utf8)))),
            .ds(keyTag: 38696, algorithm: 8, digestType: 2, digest: try #require(Codecs.hexDecode(Array(Self.digest38696.utf8)))),
        ])
        #expect(anchors.map(Trust.init) == RootAnchors.all.map(Trust.init))
        #expect(RootAnchors.all.allSatisfy { $0.source == "built-in" })
    }

    @Test func rfc9718VariantReadsAsTheRealFile() throws {
        let scratch = try Scratch()
        let anchors = try TrustAnchor.read(file: Self.write(scratch, "variant.xml", Self.variantXML()))
        #expect(anchors.map(Trust.init) == RootAnchors.all.map(Trust.init), "\(anchors.map(Trust.init))")
        // The PublicKey is the key the Digest names.
        let key = try #require(Codecs.base64Decode(Array(Self.ksk2017.utf8)))
        let rdata: [UInt8] = [1, 1, 3, 8] + key
        #expect(anchors[1].matches(dnskey: rdata))
        #expect(!anchors[0].matches(dnskey: rdata) && !anchors[2].matches(dnskey: rdata))
        // Leading white space before the declaration is still XML, not a zone file.
        let spaced = try TrustAnchor.read(file: Self.write(scratch, "spaced.xml", "\n  " + Self.variantXML()))
        #expect(spaced.map(Trust.init) == anchors.map(Trust.init))
    }

    @Test func keyDigestWhosePublicKeyIsNotItsDigestIsLeftOut() throws {
        let scratch = try Scratch()
        // One base64 character changed: still a key, another one.
        var other = Array(Self.ksk2017)
        other[40] = other[40] == "A" ? "B" : "A"
        let changed = String(other)
        #expect(changed != Self.ksk2017 && Codecs.base64Decode(Array(changed.utf8)) != nil)
        let anchors = try TrustAnchor.read(file: Self.write(scratch, "changed.xml", Self.variantXML(ksk2017: changed)))
        #expect(anchors.map(\.keyTag) == [19036, 38696])
        #expect(anchors.map(Trust.init) == RootAnchors.all.filter { $0.keyTag != 20326 }.map(Trust.init))

        let only = """
            <?xml version="1.0" encoding="UTF-8"?>
            <TrustAnchor id="x" source="test">
            <Zone>.</Zone>
            <KeyDigest id="Klajeyz" validFrom="2017-02-02T00:00:00+00:00">
            <KeyTag>20326</KeyTag>
            <Algorithm>8</Algorithm>
            <DigestType>2</DigestType>
            <Digest>\(Self.digest20326)</Digest>
            <PublicKey>\(changed)</PublicKey>
            <Flags>257</Flags>
            </KeyDigest>
            </TrustAnchor>

            """
        let file = Self.write(scratch, "only.xml", only)
        let error = #expect(throws: ZoneError.self) { try TrustAnchor.read(file: file) }
        #expect(error?.description.hasPrefix("\(file):") == true, "\(String(describing: error))")
        #expect(error?.description.contains("no usable <KeyDigest>") == true, "\(String(describing: error))")
        #expect(error?.description.contains("20326") == true, "\(String(describing: error))")
        // The right key in the same file reads.
        let right = Self.write(scratch, "right.xml", only.replacingOccurrences(of: changed, with: Self.ksk2017))
        #expect(try TrustAnchor.read(file: right).map(\.keyTag) == [20326])
    }

    /// Each broken file, the line its error names and the reason.
    @Test(arguments: [
        // The KeyDigest's </Digest> is missing: </KeyDigest> closes <Digest>.
        ("unclosed", "<KeyTag>20326</KeyTag>\n<Algorithm>8</Algorithm>\n<DigestType>2</DigestType>\n<Digest>\(AnchorTests.digest20326)\n</KeyDigest>", 8, "</KeyDigest> closes <Digest> (line 7)"),
        ("not a number", "<KeyTag>abc</KeyTag>\n<Algorithm>8</Algorithm>\n<DigestType>2</DigestType>\n<Digest>\(AnchorTests.digest20326)</Digest>\n</KeyDigest>", 4, "<KeyTag> 'abc' is not a number"),
        ("no Digest", "<KeyTag>20326</KeyTag>\n<Algorithm>8</Algorithm>\n<DigestType>2</DigestType>\n</KeyDigest>", 3, "<KeyDigest> without a hexadecimal <Digest>"),
        ("Digest not hex", "<KeyTag>20326</KeyTag>\n<Algorithm>8</Algorithm>\n<DigestType>2</DigestType>\n<Digest>XYZ</Digest>\n</KeyDigest>", 7, "<KeyDigest> without a hexadecimal <Digest>"),
        // Ends in <Algorithm>, with no newline: the error is on the last line.
        ("truncated", "<KeyTag>20326</KeyTag>\n<Algorithm>8", 5, "<Algorithm> (line 5) is not closed"),
    ])
    func malformedXMLNamesFileAndLine(_ name: String, _ keyDigest: String, _ line: Int, _ reason: String) throws {
        let scratch = try Scratch()
        let text = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<TrustAnchor id=\"x\" source=\"test\">\n"
            + "<KeyDigest id=\"Klajeyz\" validFrom=\"2017-02-02T00:00:00+00:00\">\n" + keyDigest
            + (name == "truncated" ? "" : "\n<Zone>.</Zone>\n</TrustAnchor>\n")
        let file = Self.write(scratch, "broken.xml", text)
        let error = #expect(throws: ZoneError.self, "\(name)") { try TrustAnchor.read(file: file) }
        #expect(error?.description.hasPrefix("\(file):\(line): root-anchors.xml: ") == true, "\(name): \(String(describing: error))")
        #expect(error?.description.contains(reason) == true, "\(name): \(String(describing: error))")
    }

    @Test func anchorWindowDecidesValidity() throws {
        let ksk2010 = try #require(RootAnchors.all.first { $0.keyTag == 19036 })
        #expect(try ksk2010.isValid(at: #require(UTCTime.parse("2018-06-01T00:00:00Z"))))
        #expect(try !ksk2010.isValid(at: #require(UTCTime.parse("2020-06-01T00:00:00Z"))))
        #expect(try !ksk2010.isValid(at: #require(UTCTime.parse("2010-07-14T23:59:59Z"))))
        // validFrom belongs to the window, validUntil does not.
        #expect(ksk2010.isValid(at: 1_279_152_000) && ksk2010.isValid(at: 1_547_164_799) && !ksk2010.isValid(at: 1_547_164_800))
        let ksk2024 = try #require(RootAnchors.all.first { $0.keyTag == 38696 })
        #expect(!ksk2024.isValid(at: 1_721_260_799) && ksk2024.isValid(at: 1_721_260_800) && ksk2024.isValid(at: 4_000_000_000))
        // A DS or DNSKEY file gives no window: valid at any time.
        let scratch = try Scratch()
        let ds = Self.write(scratch, "root.ds", ". IN DS 20326 8 2 \(Self.digest20326)\n")
        let plain = try #require(try TrustAnchor.read(file: ds).first)
        #expect(plain.validFrom == nil && plain.validUntil == nil && plain.isValid(at: 0) && plain.isValid(at: 4_000_000_000))
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

    /// The signature checks over the apex DNSKEY set, as the verifier runs
    /// them, and the keys: the files keep no other signatures for the
    /// verifier's whole-zone checks to pass.
    func keySet(at time: String) throws -> (outcome: SignatureChecks.Outcome, keys: [ZoneKey]) {
        let zone = CanonicalZone(records, apex: .root)
        let apex = try #require(zone.apexName)
        let set = try #require(zone.rrset(apex, .dnskey))
        let keys = zone.entries(of: set).map { ZoneKey(rdata: Array(zone.rdata(zone.records.entries[Int($0)]))) }
        let checks = SignatureChecks(zone: zone, keys: keys, now: try #require(UTCTime.parse(time)))
        let outcomes = checks.run()
        let task = try #require(checks.tasks.firstIndex { $0.name == apex && $0.covered == .dnskey })
        return (outcomes[task], keys)
    }

    @Test func keySetVerifiesAgainstTheBuiltInAnchors() throws {
        let (outcome, keys) = try keySet(at: "2026-08-25T00:00:00Z")
        let anchors = RootAnchors.valid(at: try #require(UTCTime.parse("2026-08-25T00:00:00Z")))
        let anchored = keys.filter { key in anchors.contains { $0.matches(dnskey: key.rdata) } }
        #expect(Set(anchored.map(\.keyTag)) == [20326, 38696])
        #expect(outcome.defect == nil && outcome.verified == 1)
        #expect(outcome.signers.map { keys[$0].keyTag } == [20326], "KSK-2017 signs the set, an anchored key")
        #expect(outcome.expires == UTCTime.parse("2026-09-10T00:00:00Z"))
    }

    @Test func keySetOutsideItsWindowIsRefused() throws {
        let (outcome, _) = try keySet(at: "2026-09-15T00:00:00Z")
        #expect(outcome.signers.isEmpty && outcome.provenBy == nil)
        #expect(outcome.uncounted.contains { $0.reason.contains("expired on 2026-09-10T00:00:00Z") }, "\(outcome.uncounted)")
    }

    @Test func keySetIsNotSignedByKSK2024Alone() throws {
        // KSK-2024 is published but did not sign: a chain from it alone does not open.
        let (outcome, keys) = try keySet(at: "2026-08-25T00:00:00Z")
        let ksk2024 = RootAnchors.valid(at: 1_800_000_000).filter { $0.keyTag == 38696 }
        #expect(!outcome.signers.contains { signer in ksk2024.contains { $0.matches(dnskey: keys[signer].rdata) } })
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
