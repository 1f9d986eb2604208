import CDBStore
import DNSWire
import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// refresh checks the zone's own proofs on top of internic's OpenPGP
/// signature: zones signed by ldns-signzone (DNSSEC and ZONEMD) and then
/// by the test's OpenPGP key, so that the OpenPGP check passes and only the
/// zone's own proofs can refuse them. A refusal is exit 4, one line,
/// data.cdb byte for byte as it was.
@Suite struct RefreshProofTests {
    let key: SigningKey
    let zone: SignedZone
    let target: Target
    let files: Scratch

    init() throws {
        key = try SigningKey()
        zone = try SignedZone(SignedZone.root(tlds: 8), algorithm: "ECDSAP256SHA256")
        target = try Target()
        files = try Scratch()
    }

    /// `file` gzipped and signed with OpenPGP as internic publishes it; the refresh's result.
    func refresh(_ file: String, _ extra: [String] = []) throws -> ProcessResult {
        let gz = try files.gzip("root.zone", Array(try String(contentsOfFile: file, encoding: .utf8).utf8))
        let signature = try key.sign(gz)
        return try target.refresh(["--file", gz, "--sig", signature, "--keyring", key.publicKey, "--min-tlds", "1",
                                   "--trust-anchor", zone.anchor] + extra)
    }

    func installFirst() throws -> [UInt8] {
        let result = try refresh(zone.signed)
        try #require(result.status == 0, "\(result.stderr)")
        return bytes(target.data)
    }

    func expectRefused(_ result: ProcessResult, mentions: String, installed: [UInt8],
                       sourceLocation: SourceLocation = #_sourceLocation) {
        expectOneLineFailure(result, status: 4, mentions: mentions, sourceLocation: sourceLocation)
        #expect(unchanged(target.data, installed), "data.cdb changed", sourceLocation: sourceLocation)
        #expect(target.onlyFinalFiles, "left behind: \(target.scratch.files)", sourceLocation: sourceLocation)
    }

    @Test func allThreeProofsInstallAndAreRecorded() throws {
        let result = try refresh(zone.signed)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.output.contains("serial 2026112700 installed") && result.output.contains("verified openpgp dnssec zonemd"),
                "\(result.output)")
        #expect(result.stderr.isEmpty, "\(result.stderr)")
        let state = try RefreshState.read(forData: target.data)
        #expect(state.verified == ["openpgp", "dnssec", "zonemd"])
        let expiry = try #require(state.signaturesExpire)
        #expect(expiry > Int64(Date().timeIntervalSince1970))
        // The DNSSEC records were verified, then stripped as before.
        let stored = try DataStore.load(path: target.data)
        #expect(!stored.contains { $0.type.isDNSSEC } && stored.contains { $0.type == .ns })
    }

    @Test func healthShowsWhatWasProven() throws {
        try #require(try refresh(zone.signed).status == 0)
        let expiry = try #require(try RefreshState.read(forData: target.data).signaturesExpire)
        let body = try serveReports(data: target.data, once: "\"verified\"").health
        #expect(body.contains("\"verified\": [\"openpgp\", \"dnssec\", \"zonemd\"]"), "\(body)")
        #expect(body.contains("\"signatures_expire\": \"\(Codecs.rfc3339Timestamp(epochSeconds: Int(expiry)))\""), "\(body)")
    }

    @Test func changedGlueIsRefusedByZONEMD() throws {
        let installed = try installFirst()
        let glue = try zone.variant("glue") { $0.replacingOccurrences(of: "\t192.0.2.3\n", with: "\t203.0.113.3\n") }
        expectRefused(try refresh(glue), mentions: "ZONEMD digest mismatch (SHA-384)", installed: installed)
    }

    @Test func badSignatureIsRefusedByDNSSEC() throws {
        let installed = try installFirst()
        let tampered = try zone.variant("ds") { $0.replacingOccurrences(of: "\tDS\t1002 8 2 12", with: "\tDS\t1002 8 2 13") }
        expectRefused(try refresh(tampered, ["--zonemd", "off"]), mentions: "tld2. DS: bad signature by key tag", installed: installed)
        // With ZONEMD on too, the first failure in the file is still DNSSEC's.
        expectRefused(try refresh(tampered), mentions: "bad signature by key tag", installed: installed)
    }

    @Test func theBuiltInAnchorsDoNotTrustATestKey() throws {
        let gz = try files.gzip("root.zone", Array(try String(contentsOfFile: zone.signed, encoding: .utf8).utf8))
        let result = try target.refresh(["--file", gz, "--sig", try key.sign(gz), "--keyring", key.publicKey, "--min-tlds", "1"])
        expectOneLineFailure(result, status: 4, mentions: "no key matches the trust anchors (key tags 20326, 38696)")
        #expect(!FileManager.default.fileExists(atPath: target.data))
    }

    @Test func expiredSignaturesAreRefused() throws {
        let installed = try installFirst()
        let later = ISO8601DateFormatter().string(from: Date().addingTimeInterval(90 * 86400))
        expectRefused(try refresh(zone.signed, ["--now", later]), mentions: "signature expired on", installed: installed)
    }

    @Test func compileVerifyRefusesWhatRefreshRefuses() throws {
        let glue = try zone.variant("glue") { $0.replacingOccurrences(of: "\t192.0.2.3\n", with: "\t203.0.113.3\n") }
        let output = files.file("data.cdb")
        let refused = try run(rootmirrorBinary, ["compile", glue, "-o", output, "--verify", "--trust-anchor", zone.anchor])
        expectOneLineFailure(refused, status: 4, mentions: "ZONEMD digest mismatch")
        #expect(!FileManager.default.fileExists(atPath: output))
        let good = try run(rootmirrorBinary, ["compile", zone.signed, "-o", output, "--verify", "--trust-anchor", zone.anchor])
        #expect(good.status == 0 && good.output.contains("verified: serial 2026112700"), "\(good.stderr)")
        // Plain compile does not look at the proofs.
        #expect(try run(rootmirrorBinary, ["compile", glue, "-o", output]).status == 0)
    }
}
