import Foundation
import Testing
import TestSupport

/// `rootmirror verify` on the phases of a key and an algorithm rollover
/// (Tests/Fixtures/rollover_zones.py), each against each of the three
/// KSKs as the trust anchor: the verdict must be ldns-verify-zone's at the
/// same instant and also the one written down here, so that a change in
/// both cannot pass unseen. Any one valid path is enough (RFC 4035 §5.3,
/// RFC 6840 §5.11); the signatures that prove nothing are counted in the
/// summary, and a refusal names the reason.
@Suite(RolloverZones.Scope()) struct RolloverVerifyTests {
    static let phases = [
        "old-only", "prepublish", "new-signs", "revoked", "only-revoked", "removed", "double-signed",
        "sigs-before-keys", "ecdsa-only", "unknown-algorithm", "expired-beside-valid", "unpublished-only",
        "changed-glue", "expired-only",
    ]
    static let anchors = ["ksk-old", "ksk-new", "ksk-ecdsa"]

    /// The anchors each phase is accepted with (ldns-verify-zone's verdicts).
    static let accepted: [String: Set<String>] = [
        "old-only": ["ksk-old"],
        "prepublish": ["ksk-old"],
        "new-signs": ["ksk-new"],
        "revoked": ["ksk-new"],
        "only-revoked": [],
        "removed": ["ksk-new"],
        "double-signed": ["ksk-new", "ksk-ecdsa"],
        "sigs-before-keys": ["ksk-new"],
        "ecdsa-only": ["ksk-ecdsa"],
        "unknown-algorithm": ["ksk-new"],
        "expired-beside-valid": ["ksk-new"],
        "unpublished-only": [],
        "changed-glue": [],
        "expired-only": [],
    ]

    /// What the summary says of the signatures that prove nothing, by phase;
    /// phases not listed have none, and their summary says nothing of them.
    static let uncounted: [String: String] = [
        "unknown-algorithm": "signatures by algorithm 18 not checked (unsupported)",
        "sigs-before-keys": "(algorithm 13, not published)",
        "expired-beside-valid": " expired, ",
    ]

    /// The reason of a refusal: the anchor's key is revoked, published but
    /// not signing, or not published at all, unless that key does sign and
    /// the zone is wrong elsewhere.
    static func refusal(_ phase: String, _ anchor: String, keyTag: UInt16) -> String {
        switch (phase, anchor) {
        case ("revoked", "ksk-old"), ("only-revoked", "ksk-old"):
            return ". DNSKEY: no key matches the trust anchors (key tags \(keyTag); key \(keyTag) is revoked (published as key "
        case ("prepublish", "ksk-new"), ("new-signs", "ksk-old"), ("only-revoked", "ksk-new"):
            return ". DNSKEY: the DNSKEY set is not signed by a key that matches the trust anchors (key tags \(keyTag))"
        case ("unpublished-only", "ksk-new"):
            return "tld0. DS: no DNSKEY with key tag "
        case ("changed-glue", "ksk-new"):
            return ". ZONEMD: ZONEMD digest mismatch"
        case ("expired-only", "ksk-new"):
            return ". SOA: signature expired on "
        default:
            return ". DNSKEY: no key matches the trust anchors (key tags \(keyTag))"
        }
    }

    struct Verdicts {
        var ours: ProcessResult
        var ldns: Bool
    }

    /// `rootmirror verify` and `ldns-verify-zone -Z` on one phase with one anchor file.
    func verify(_ phase: String, anchor: String) throws -> Verdicts {
        let zones = try RolloverZones.shared
        let file = zones.zone(phase)
        let ours = try runRootmirror(["verify", file, "--trust-anchor", anchor, "--now", RolloverZones.now.rfc3339])
        let ldns = try run("/usr/bin/ldns-verify-zone", ["-Z", "-k", anchor, "-t", RolloverZones.now.ldns, file])
        return Verdicts(ours: ours, ldns: ldns.status == 0)
    }

    @Test(arguments: phases, anchors)
    func verdictIsLdnsVerdictAndTheExpectedOne(_ phase: String, _ anchor: String) throws {
        let zones = try RolloverZones.shared
        let expected = try #require(Self.accepted[phase]).contains(anchor)
        let v = try verify(phase, anchor: zones.anchor(anchor, "ds"))
        let ours = v.ours
        #expect((ours.status == 0) == v.ldns, "rootmirror: \(ours.status) \(ours.stderr), ldns-verify-zone: \(v.ldns)")
        #expect((ours.status == 0) == expected, "expected \(expected ? "accepted" : "refused"): \(ours.status) \(ours.output)\(ours.stderr)")

        let keyTag = try zones.keyTag(anchor)
        if expected {
            guard ours.status == 0 else { return }
            #expect(ours.stderr.isEmpty, "\(ours.stderr)")
            let summary = ours.output
            #expect(summary.hasPrefix("\(zones.zone(phase)): serial \(RolloverZones.serial), ") && summary.hasSuffix("\n")
                    && summary.split(separator: "\n").count == 1, "\(summary)")
            #expect(summary.contains(" signatures good, ") && summary.contains("ZONEMD SHA-384 good"), "\(summary)")
            #expect(summary.contains(" keys (\(keyTag) trusted)"), "\(summary)")
            if let note = Self.uncounted[phase] {
                #expect(summary.contains(note), "\(summary)")
            } else {
                for note in ["not checked", "not published", " expired"] {
                    #expect(!summary.contains(note), "\(summary)")
                }
            }
            if phase == "double-signed" {
                #expect(summary.contains(", 4 keys ("), "\(summary)")
            }
        } else {
            guard ours.status != 0 else { return }
            #expect(ours.status == 4, "\(ours.stderr)")
            #expect(ours.output.isEmpty, "\(ours.output)")
            let lines = ours.stderr.split(separator: "\n")
            #expect(lines.count == 1 && ours.stderr.hasSuffix("\n"), "\(ours.stderr)")
            // rootmirror: FILE:LINE: OWNER TYPE: reason
            let prefix = "rootmirror: \(zones.zone(phase)):"
            #expect(ours.stderr.hasPrefix(prefix), "\(ours.stderr)")
            let line = ours.stderr.dropFirst(prefix.count).prefix { $0 != ":" }
            #expect(Int(line).map { $0 > 0 } == true, "no line number: \(ours.stderr)")
            let reason = Self.refusal(phase, anchor, keyTag: keyTag)
            #expect(ours.stderr.contains(": \(reason)"), "wanted \(reason): \(ours.stderr)")
        }
    }

    /// root.key's form of anchor, the KSK's DNSKEY record, is the same
    /// trust as its DS: the REVOKE bit makes another key of it all the same.
    @Test(arguments: ["revoked", "double-signed", "ecdsa-only"])
    func dnskeyAnchorsGiveTheVerdictsOfDSAnchors(_ phase: String) throws {
        let zones = try RolloverZones.shared
        let expected = try #require(Self.accepted[phase])
        for anchor in Self.anchors {
            let key = try verify(phase, anchor: zones.anchor(anchor, "key"))
            let ds = try verify(phase, anchor: zones.anchor(anchor, "ds"))
            #expect((key.ours.status == 0) == key.ldns, "\(anchor).key: rootmirror \(key.ours.status) \(key.ours.stderr), ldns \(key.ldns)")
            #expect((key.ours.status == 0) == expected.contains(anchor), "\(anchor).key: \(key.ours.status) \(key.ours.stderr)")
            #expect(key.ours.status == ds.ours.status, "\(anchor): .key \(key.ours.stderr), .ds \(ds.ours.stderr)")
            // The same summary, or the same reason from the same record.
            #expect(key.ours.output == ds.ours.output, "\(anchor)")
            #expect(key.ours.stderr == ds.ours.stderr, "\(anchor)")
        }
    }
}

/// Every phase generated once for the suite, in one scratch directory with
/// one key directory, removed when the suite ends: the suite's trait makes
/// it and hands it to the tests in a task-local value.
final class RolloverZones: @unchecked Sendable {  // immutable after init
    static let serial = 2024010101
    /// The instant both verifiers are asked about: signatures run from a
    /// day before it to 30 days after (the expired ones 40 to 10 days before).
    static let now = VerifyCommandTests.Instant(date: Date(timeIntervalSince1970: 1_704_067_200)) // 2024-01-01T00:00:00Z
    static let generator = "\(packageRoot)/Tests/Fixtures/rollover_zones.py"

    let scratch: Scratch
    let keys: String

    init() throws {
        scratch = try Scratch()
        keys = scratch.file("keys")
        let seconds = Int(Self.now.date.timeIntervalSince1970)
        let common = ["\(Self.serial)", "\(seconds - 86400)", "\(seconds + 30 * 86400)"]
        let jobs = RolloverVerifyTests.phases.map { [Self.generator, keys, $0] + common + [scratch.file("\($0).zone")] }
        @Sendable func generate(_ arguments: [String]) throws {
            let result = try run("/usr/bin/python3", arguments)
            guard result.status == 0 else { throw TestFailure("rollover_zones.py \(arguments[2]): \(result.stderr)") }
        }
        // The first run makes the keys; the rest share them, two at a time.
        try generate(jobs[0])
        let failures = Failures()
        let rest = Array(jobs.dropFirst())
        DispatchQueue.concurrentPerform(iterations: 2) { lane in
            for job in stride(from: lane, to: rest.count, by: 2).map({ rest[$0] }) {
                do { try generate(job) } catch { failures.add(error) }
            }
        }
        if let first = failures.first { throw first }
    }

    private final class Failures: @unchecked Sendable {
        private let lock = NSLock()
        private var errors: [any Error] = []
        func add(_ error: any Error) { lock.withLock { errors.append(error) } }
        var first: (any Error)? { lock.withLock { errors.first } }
    }

    func zone(_ phase: String) -> String { scratch.file("\(phase).zone") }

    /// `ksk-old.ds`, `ksk-ecdsa.key`, ...
    func anchor(_ name: String, _ form: String) -> String { "\(keys)/\(name).\(form)" }

    /// The key tag in the DS anchor file (`. IN DS TAG ALG TYPE DIGEST`).
    func keyTag(_ name: String) throws -> UInt16 {
        let text = try String(contentsOfFile: anchor(name, "ds"), encoding: .utf8)
        let fields = text.split(whereSeparator: \.isWhitespace)
        guard fields.count > 3, fields[2] == "DS", let tag = UInt16(fields[3]) else { throw TestFailure("\(name).ds: \(text)") }
        return tag
    }

    @TaskLocal static var current: RolloverZones?

    static var shared: RolloverZones {
        get throws {
            guard let current else { throw TestFailure("no rollover zones: the suite needs its RolloverZones.Scope trait") }
            return current
        }
    }

    /// Makes the zones before the suite's first test and removes them after its last.
    struct Scope: SuiteTrait, TestScoping {
        var isRecursive: Bool { false }

        func provideScope(for test: Test, testCase: Test.Case?,
                          performing function: @Sendable () async throws -> Void) async throws {
            let zones = try RolloverZones()
            try await RolloverZones.$current.withValue(zones) { try await function() }
        }
    }
}
