import Foundation
import Testing
import TestSupport

/// `rootmirror verify` on zones signed by ldns-signzone, whole and tampered
/// with, against `ldns-verify-zone`'s verdict on the same file and time:
/// the two must agree on every case, and each refusal is one line naming
/// the record and the reason, exit 4.
@Suite struct VerifyCommandTests {
    /// ldns-verify-zone's `-t` and our `--now` for one instant.
    struct Instant {
        let date: Date
        var rfc3339: String {
            let f = ISO8601DateFormatter()
            f.timeZone = TimeZone(identifier: "UTC")
            return f.string(from: date)
        }
        var ldns: String {
            let f = DateFormatter()
            f.timeZone = TimeZone(identifier: "UTC")
            f.dateFormat = "yyyyMMddHHmmss"
            return f.string(from: date)
        }
    }

    /// Verifies `file` both ways; returns our result after checking the verdicts agree.
    @discardableResult
    func both(_ zone: SignedZone, _ file: String, at instant: Instant? = nil, anchor: String? = nil,
              sourceLocation: SourceLocation = #_sourceLocation) throws -> ProcessResult {
        let ours = try runRootmirror(["verify", file, "--trust-anchor", anchor ?? zone.anchor]
                                     + (instant.map { ["--now", $0.rfc3339] } ?? []))
        let reference = try zone.ldnsVerifies(file, at: instant?.ldns, anchor: anchor)
        #expect((ours.status == 0) == reference, "rootmirror: \(ours.status) \(ours.stderr), ldns-verify-zone: \(reference)",
                sourceLocation: sourceLocation)
        return ours
    }

    func expectRefused(_ result: ProcessResult, _ reason: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(result.status == 4, "\(result.stderr)", sourceLocation: sourceLocation)
        #expect(result.stderr.hasPrefix("rootmirror: ") && result.stderr.split(separator: "\n").count == 1,
                "\(result.stderr)", sourceLocation: sourceLocation)
        #expect(result.stderr.contains(reason), "\(result.stderr)", sourceLocation: sourceLocation)
        #expect(result.output.isEmpty, sourceLocation: sourceLocation)
    }

    func expectGood(_ result: ProcessResult, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(result.status == 0, "\(result.stderr)", sourceLocation: sourceLocation)
        #expect(result.output.contains("signatures good") && result.output.contains("ZONEMD SHA-384 good"),
                "\(result.output)", sourceLocation: sourceLocation)
    }

    /// Every line of `text` for which `drop` holds removed.
    static func without(_ text: String, _ drop: (String) -> Bool) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter { !drop($0) }.joined(separator: "\n")
    }

    @Test(arguments: ["RSASHA256", "ECDSAP256SHA256", "ED25519"])
    func tamperedZonesAreRefusedAsLdnsRefusesThem(_ algorithm: String) throws {
        let zone = try SignedZone(SignedZone.root(), algorithm: algorithm)
        expectGood(try both(zone, zone.signed))

        // Glue is not signed: only the ZONEMD digest sees it change.
        let glue = try zone.variant("glue") { $0.replacingOccurrences(of: "\t192.0.2.2\n", with: "\t192.0.2.99\n") }
        expectRefused(try both(zone, glue), "ZONEMD digest mismatch")

        let noDS = try zone.variant("no-ds") { Self.without($0) { $0.hasPrefix("tld0.\t") && ($0.contains("\tDS\t") || $0.contains("\tRRSIG\tDS ")) } }
        expectRefused(try both(zone, noDS), "tld0. NSEC: NSEC type bitmap does not match the data: lists absent DS")

        let added = try zone.variant("added") { $0 + "extra.tld1.\t3600\tIN\tTXT\t\"occluded\"\n.\t3600\tIN\tTXT\t\"added\"\n" }
        expectRefused(try both(zone, added), ". TXT: no signature")

        let flipped = try zone.variant("flipped") { text in
            Self.without(text) { _ in false }.split(separator: "\n").map { line -> String in
                guard line.contains("\tRRSIG\tSOA ") else { return String(line) }
                var bytes = Array(line.utf8)
                bytes[bytes.count - 6] = bytes[bytes.count - 6] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
                return String(decoding: bytes, as: UTF8.self)
            }.joined(separator: "\n") + "\n"
        }
        expectRefused(try both(zone, flipped), ". SOA: bad signature by key tag")

        let gap = try zone.variant("gap") { Self.without($0) { $0.hasPrefix("tld2.\t") && $0.contains("NSEC") } }
        expectRefused(try both(zone, gap), "NSEC chain broken after")
    }

    @Test func signaturesOutsideTheirWindowAreRefused() throws {
        let zone = try SignedZone(SignedZone.root(), algorithm: "ECDSAP256SHA256")
        let later = Instant(date: Date().addingTimeInterval(60 * 86400))
        expectRefused(try both(zone, zone.signed, at: later), "signature expired on")
        let earlier = Instant(date: Date().addingTimeInterval(-2 * 86400))
        expectRefused(try both(zone, zone.signed, at: earlier), "signature not yet valid")
    }

    @Test func anotherKeyIsNotTrusted() throws {
        let zone = try SignedZone(SignedZone.root(), algorithm: "ECDSAP256SHA256")
        let stranger = try SignedZone(SignedZone.root(), algorithm: "ECDSAP256SHA256")
        expectRefused(try both(zone, zone.signed, anchor: stranger.anchor), "no key matches the trust anchors")
    }

    @Test func unsupportedAlgorithmIsNeverTakenAsValid() throws {
        // RSA/SHA-1 (5): ldns still accepts it; RFC 8624 lets a validator
        // treat it as unsupported, and we do, saying so.
        // The KSK itself as the anchor: ldns-keygen's DS for it is SHA-1 (type 1).
        let zone = try SignedZone(SignedZone.root(), algorithm: "RSASHA1")
        expectRefused(try runRootmirror(["verify", zone.signed, "--trust-anchor", zone.anchorKey]), "unsupported algorithm 5")
    }

    @Test func sha512DigestAndP384AndRSASHA512() throws {
        for algorithm in ["ECDSAP384SHA384", "RSASHA512"] {
            let zone = try SignedZone(SignedZone.root(), algorithm: algorithm, zonemd: "1:2")
            let result = try both(zone, zone.signed)
            #expect(result.status == 0 && result.output.contains("ZONEMD SHA-512 good"), "\(algorithm): \(result.stderr)")
        }
    }

    @Test func bindSignedZoneVerifies() throws {
        let scratch = try Scratch()
        let zoneFile = scratch.write("root.zone", Array(SignedZone.root().utf8))
        for arguments in [["-a", "ECDSAP256SHA256", "-f", "KSK", "."], ["-a", "ECDSAP256SHA256", "."]] {
            let keygen = try run("/usr/bin/dnssec-keygen", ["-q"] + arguments, directory: scratch.path)
            try #require(keygen.status == 0, "\(keygen.stderr)")
        }
        let sign = try run("/usr/bin/dnssec-signzone", ["-S", "-o", ".", "-f", "signed", zoneFile], directory: scratch.path)
        try #require(sign.status == 0, "\(sign.stderr)")
        let ksk = try #require(scratch.files.first { $0.hasSuffix(".key") && (try? String(contentsOfFile: scratch.file($0), encoding: .utf8))?.contains("DNSKEY 257") == true })
        let signed = scratch.file("signed")
        let result = try runRootmirror(["verify", signed, "--trust-anchor", scratch.file(ksk), "--zonemd", "optional"])
        #expect(result.status == 0 && result.output.contains("signatures good"), "\(result.stderr)")
        #expect(try run("/usr/bin/ldns-verify-zone", ["-k", scratch.file(ksk), signed]).status == 0)
    }

    // MARK: The real root

    @Test func root2023VerifiesAsOfItsDayAndNotToday() throws {
        let zone = "\(sharedZones)/root-2023051100.zone.gz"
        let then = try runRootmirror(["verify", zone, "--now", "2023-05-11T12:00:00Z", "--zonemd", "off"])
        #expect(then.status == 0, "\(then.stderr)")
        #expect(then.output.contains("serial 2023051100, 2849 signatures good, 2 keys (20326 trusted)"), "\(then.output)")
        #expect(then.output.contains("earliest signature expiry 2023-05-24T05:00:00Z"), "\(then.output)")
        expectRefused(try runRootmirror(["verify", zone, "--zonemd", "off"]), ". SOA: signature expired on 2023-05-24T05:00:00Z")
        // Before ZONEMD existed the root carries none: required means refused.
        expectRefused(try runRootmirror(["verify", zone, "--now", "2023-05-11T12:00:00Z"]), "no ZONEMD record at the apex")
    }

    /// ldns-signzone computes the digest of the whole 2023 root (with -Z, no
    /// keys: it drops the RRSIGs and adds ZONEMD): our digest must agree on
    /// a real zone's size and shape, and see one changed glue address.
    @Test(arguments: ["1:1", "1:2"])
    func ldnsDigestOfTheRealRootVerifies(_ zonemd: String) throws {
        let scratch = try Scratch()
        let plain = scratch.write("root.zone", try run("/bin/gzip", ["-dc", "\(sharedZones)/root-2023051100.zone.gz"]).stdout)
        let digested = scratch.file("zonemd.zone")
        let sign = try run("/usr/bin/ldns-signzone", ["-Z", "-z", zonemd, "-o", ".", "-f", digested, plain])
        try #require(sign.status == 0, "\(sign.stderr)")
        let good = try runRootmirror(["verify", digested, "--dnssec", "off"])
        #expect(good.status == 0 && good.output.contains(zonemd == "1:1" ? "ZONEMD SHA-384 good" : "ZONEMD SHA-512 good"),
                "\(good.output)\(good.stderr)")
        let text = try String(contentsOfFile: digested, encoding: .utf8)
        let glue = text.replacingOccurrences(of: "\tA\t192.5.6.30\n", with: "\tA\t192.5.6.31\n")
        try #require(glue != text)
        let changed = scratch.write("glue.zone", Array(glue.utf8))
        expectRefused(try runRootmirror(["verify", changed, "--dnssec", "off"]), "ZONEMD digest mismatch")
    }

    @Test func root2026WithoutItsSignaturesIsRefused() throws {
        let zone = "\(sharedZones)/root-2026082200-nosig.zone.gz"
        expectRefused(try runRootmirror(["verify", zone, "--now", "2026-08-25T00:00:00Z", "--zonemd", "off"]), "no signature")
        expectRefused(try runRootmirror(["verify", zone, "--dnssec", "off"]), "ZONEMD digest mismatch (SHA-384)")
    }

    @Test func badArgumentsAreUsageErrors() throws {
        let zone = "\(sharedZones)/zonemd/a1-simple.example.zone"
        let badTime = try runRootmirror(["verify", zone, "--origin", "example.", "--now", "yesterday"])
        #expect(badTime.status == 64 && badTime.stderr.contains("--now"), "\(badTime.stderr)")
        let badMode = try runRootmirror(["verify", zone, "--origin", "example.", "--zonemd", "maybe"])
        #expect(badMode.status == 64, "\(badMode.stderr)")
        let missing = try runRootmirror(["verify", zone, "--origin", "example.", "--trust-anchor", "/nonexistent/root.key"])
        #expect(missing.status == 1 && missing.stderr.contains("/nonexistent/root.key"), "\(missing.stderr)")
        let good = try runRootmirror(["verify", zone, "--origin", "example."])
        #expect(good.status == 0 && good.output.contains("DNSSEC not checked, ZONEMD SHA-384 good"), "\(good.output)\(good.stderr)")
    }
}
