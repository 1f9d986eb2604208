import CDBStore
import DNSSEC
import DNSWire
import Foundation
import Refresh
import Testing
import TestSupport

/// RFC 5011 as refresh follows it, replayed with `--now` over synthetic
/// roots (Tests/Fixtures/rollover_zones.py) signed like the phases of the
/// root's KSK rollover, each OpenPGP-signed by the test's key so that only
/// the DNSSEC chain can refuse them. The anchor given is the old KSK
/// alone: everything after it must be learned from the zones themselves.
@Suite struct TrustAnchorRolloverTests {
    let key: SigningKey
    let files: Scratch
    let keys: String
    /// Day 0 of the replay.
    let start = Int64(Date().timeIntervalSince1970)
    static let day: Int64 = 86400

    init() throws {
        key = try SigningKey()
        files = try Scratch()
        keys = files.file("keys")
    }

    /// The zone of `phase` with `serial`, its signatures valid around day
    /// `day`, gzipped and signed as internic publishes it.
    func zone(_ phase: String, day: Int64, serial: UInt32) throws -> (zone: String, signature: String) {
        let at = start + day * Self.day
        let text = files.file("\(phase)-\(serial).zone")
        let made = try run("/usr/bin/python3", ["\(packageRoot)/Tests/Fixtures/rollover_zones.py", keys, phase, "\(serial)",
                                                "\(at - Self.day)", "\(at + 20 * Self.day)", text])
        guard made.status == 0 else { throw TestFailure("rollover_zones.py \(phase): \(made.stderr)") }
        let gz = try files.gzip("\(phase)-\(serial).zone.gz", bytes(text))
        return (gz, try key.sign(gz))
    }

    func refresh(_ target: Target, _ phase: String, day: Int64, serial: UInt32, anchor: String = "ksk-old") throws -> ProcessResult {
        let (gz, signature) = try zone(phase, day: day, serial: serial)
        let now = Codecs.rfc3339Timestamp(epochSeconds: Int(start + day * Self.day))
        return try target.refresh(["--file", gz, "--sig", signature, "--keyring", key.publicKey, "--min-tlds", "1",
                                   "--trust-anchor", "\(keys)/\(anchor).ds", "--now", now])
    }

    func anchors(_ target: Target) throws -> TrustAnchorState {
        try #require(try TrustAnchorState.read(forData: target.data))
    }

    func tag(_ name: String) throws -> UInt16 {
        try #require(try TrustAnchor.read(file: "\(keys)/\(name).ds").first).keyTag
    }

    func status(_ state: TrustAnchorState, _ tag: UInt16) -> TrustAnchorState.Status? {
        state.keys.first { $0.keyTag == tag }?.status
    }

    @Test func theNewKeyIsLearnedAndTheOldOneRevoked() throws {
        let target = try Target()
        let day0 = try refresh(target, "prepublish", day: 0, serial: 2027010100)
        try #require(day0.status == 0, "\(day0.stderr)")
        let (old, new) = (try tag("ksk-old"), try tag("ksk-new"))
        var state = try anchors(target)
        #expect(status(state, old) == .trusted && status(state, new) == .pending, "\(state.text)")
        let pending = try #require(state.keys.first { $0.keyTag == new })
        #expect(pending.trustedFrom == start + 30 * Self.day)
        #expect(day0.stderr.contains("trust anchor: key \(new) (algorithm 8) is new in the root's DNSKEY set: pending, trusted from "
                                     + Codecs.rfc3339Timestamp(epochSeconds: Int(start + 30 * Self.day))), "\(day0.stderr)")
        #expect(day0.stderr.split(separator: "\n").count == 1, "\(day0.stderr)")

        // Still pending the day before the hold-down ends, trusted after it.
        let day29 = try refresh(target, "prepublish", day: 29, serial: 2027010101)
        try #require(day29.status == 0, "\(day29.stderr)")
        #expect(status(try anchors(target), new) == .pending)
        #expect(day29.stderr.isEmpty, "\(day29.stderr)")
        let day35 = try refresh(target, "prepublish", day: 35, serial: 2027010102)
        try #require(day35.status == 0, "\(day35.stderr)")
        #expect(status(try anchors(target), new) == .trusted)
        #expect(day35.stderr.contains("trust anchor: key \(new) (algorithm 8) is trusted"), "\(day35.stderr)")

        // The new key signs, the old one is revoked: installed, and the old one is gone for good.
        let day45 = try refresh(target, "revoked", day: 45, serial: 2027010103)
        #expect(day45.status == 0 && day45.output.contains("serial 2027010103 installed"), "\(day45.stderr)")
        state = try anchors(target)
        #expect(status(state, old) == .revoked && status(state, new) == .trusted, "\(state.text)")
        #expect(day45.stderr.contains("trust anchor: key \(old) (algorithm 8) was trusted and is revoked"), "\(day45.stderr)")

        // The old key given again seeds nothing it has not already learned:
        // the zone signed by the new key alone still installs, and the old
        // key stays revoked.
        let day46 = try refresh(target, "removed", day: 46, serial: 2027010104)
        #expect(day46.status == 0, "\(day46.stderr)")
        #expect(status(try anchors(target), old) == .revoked)

        // A host starting afresh on day 45 with the old anchor alone cannot follow.
        let fresh = try Target()
        let refused = try refresh(fresh, "revoked", day: 45, serial: 2027010103)
        expectOneLineFailure(refused, status: 4, mentions: "key \(old) is revoked (published as key")
        #expect(!FileManager.default.fileExists(atPath: fresh.data))
        #expect(!FileManager.default.fileExists(atPath: TrustAnchorState.path(forData: fresh.data)))
    }

    @Test func aKeyRemovedBeforeItsHoldDownIsNeverTrusted() throws {
        let target = try Target()
        try #require(try refresh(target, "prepublish", day: 0, serial: 2027010100).status == 0)
        let new = try tag("ksk-new")
        let day10 = try refresh(target, "old-only", day: 10, serial: 2027010101)
        try #require(day10.status == 0, "\(day10.stderr)")
        #expect(status(try anchors(target), new) == nil)
        #expect(day10.stderr.contains("key \(new) (algorithm 8) left the root's DNSKEY set before its hold-down ended"), "\(day10.stderr)")
        // Back on day 20: the hold-down starts again from there.
        try #require(try refresh(target, "prepublish", day: 20, serial: 2027010102).status == 0)
        let again = try #require(try anchors(target).keys.first { $0.keyTag == new })
        #expect(again.status == .pending && again.trustedFrom == start + 50 * Self.day)
        // On day 40 it signs alone: not trusted yet, so refused, data.cdb as it was.
        let installed = bytes(target.data)
        let refused = try refresh(target, "new-signs", day: 40, serial: 2027010103)
        expectOneLineFailure(refused, status: 4, mentions: "not signed by a key that matches the trust anchors")
        #expect(unchanged(target.data, installed))
    }

    @Test func healthAndCheckShowTrustedAndPendingKeys() throws {
        let target = try Target()
        try #require(try refresh(target, "prepublish", day: 0, serial: 2027010100).status == 0)
        let (old, new) = (try tag("ksk-old"), try tag("ksk-new"))
        let until = Codecs.rfc3339Timestamp(epochSeconds: Int(start + 30 * Self.day))
        let check = try run(rootmirrorBinary, ["check", "-d", target.data, "--upstream", "127.0.0.1:9", "--check-timeout", "0.2"])
        #expect(check.output.contains("trust anchors \(old), \(new) pending until \(until)"), "\(check.output)")

        let (health, metrics) = try serveReports(data: target.data, once: "\"trust_anchors\"")
        #expect(health.contains("\"pending\": [{\"key_tag\": \(new), \"algorithm\": 8, \"first_seen\": "), "\(health)")
        #expect(health.contains("\"trusted_from\": \"\(until)\""), "\(health)")
        #expect(health.contains("\"trusted\": [{\"key_tag\": \(old), \"algorithm\": 8"), "\(health)")
        #expect(metrics.contains("rootmirror_trust_anchor{key_tag=\"\(new)\",algorithm=\"8\",status=\"pending\"} 1"), "\(metrics)")
        #expect(metrics.contains("rootmirror_trust_anchor{key_tag=\"\(old)\",algorithm=\"8\",status=\"trusted\"} 1"), "\(metrics)")
        #expect(metrics.contains("rootmirror_trust_anchor_trusted_from_seconds{key_tag=\"\(new)\",algorithm=\"8\"} \(start + 30 * Self.day)"),
                "\(metrics)")
    }

    /// README's way to bring in an anchor by hand: IANA's file format,
    /// given to one refresh, learned for the next ones.
    @Test func anAnchorFileInIANAsFormatIsTakenAndKept() throws {
        let (gz, signature) = try zone("removed", day: 0, serial: 2027010100)
        let ds = try #require(try TrustAnchor.read(file: "\(keys)/ksk-new.ds").first)
        guard case .ds(let tag, let algorithm, let type, let digest) = ds.kind else { throw TestFailure("not a DS") }
        let xml = files.write("root-anchors.xml", Array("""
            <?xml version="1.0" encoding="UTF-8"?>
            <TrustAnchor id="test" source="test">
            <Zone>.</Zone>
            <!-- the test's new KSK, as IANA would publish it -->
            <KeyDigest id="k1" validFrom="2020-01-01T00:00:00+00:00">
            <KeyTag>\(tag)</KeyTag><Algorithm>\(algorithm)</Algorithm><DigestType>\(type)</DigestType>
            <Digest>\(Codecs.hexEncode(digest))</Digest>
            </KeyDigest>
            </TrustAnchor>

            """.utf8))
        let target = try Target()
        let now = Codecs.rfc3339Timestamp(epochSeconds: Int(start))
        let result = try target.refresh(["--file", gz, "--sig", signature, "--keyring", key.publicKey, "--min-tlds", "1",
                                         "--trust-anchor", xml, "--now", now])
        #expect(result.status == 0 && result.output.contains("serial 2027010100 installed"), "\(result.stderr)")
        let learned = try #require(try anchors(target).keys.first { $0.keyTag == tag })
        #expect(learned.status == .trusted && learned.origin == xml && learned.validFrom == UTCTime.parse("2020-01-01T00:00:00Z"))
        // The next run needs no --trust-anchor to trust it still.
        let (gz2, signature2) = try zone("removed", day: 1, serial: 2027010101)
        let again = try target.refresh(["--file", gz2, "--sig", signature2, "--keyring", key.publicKey, "--min-tlds", "1",
                                        "--now", Codecs.rfc3339Timestamp(epochSeconds: Int(start + Self.day))])
        #expect(again.status == 0, "\(again.stderr)")
    }

    @Test func aDamagedAnchorFileStopsRefreshWithOneLine() throws {
        let target = try Target()
        try #require(try refresh(target, "old-only", day: 0, serial: 2027010100).status == 0)
        let path = TrustAnchorState.path(forData: target.data)
        var text = try String(contentsOfFile: path, encoding: .utf8)
        text += "trusted 12345 8 ds=2:nothex\n"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let installed = bytes(target.data)
        let result = try refresh(target, "old-only", day: 1, serial: 2027010101)
        expectOneLineFailure(result, status: 1, mentions: "data.cdb.anchors:4: ds: '2:nothex' is not DIGESTTYPE:HEX")
        #expect(unchanged(target.data, installed))
    }
}

/// The seeding rules on their own: what refresh starts from.
@Suite struct AnchorSeedingTests {
    @Test func builtInSeedsKeepTheirWindows() throws {
        let now = try #require(UTCTime.parse("2026-12-07T00:00:00Z"))
        let state = AnchorTracking.seeded(nil, seeds: RootAnchors.all, now: now)
        // KSK 19036's window closed in 2019: it is not even written down.
        #expect(state.keys.map(\.keyTag) == [20326, 38696])
        #expect(state.keys.allSatisfy { $0.status == .trusted && $0.origin == "built-in" })
        #expect(AnchorTracking.anchors(state, now: now).map(\.keyTag) == [20326, 38696])
        // KSK-2024 may not open the chain before its validFrom.
        let before = try #require(UTCTime.parse("2024-01-01T00:00:00Z"))
        #expect(AnchorTracking.anchors(state, now: before).map(\.keyTag) == [20326])
    }

    @Test func stateSurvivesItsTextAndSeedsDoNotUndoARevocation() throws {
        let now = try #require(UTCTime.parse("2027-02-01T00:00:00Z"))
        var state = AnchorTracking.seeded(nil, seeds: RootAnchors.all, now: now)
        state.keys[0].status = .revoked
        let reread = try TrustAnchorState(parsing: state.text, path: "test")
        #expect(reread == state)
        let reseeded = AnchorTracking.seeded(reread, seeds: RootAnchors.all, now: now)
        #expect(reseeded.keys.map(\.status) == [.revoked, .trusted])
        #expect(AnchorTracking.anchors(reseeded, now: now).map(\.keyTag) == [38696])
    }
}
