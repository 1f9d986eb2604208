import CDBStore
import DNSWire
import Foundation
import Testing
import TestSupport

/// `refresh --url axfr://HOST --keep-dnssec` by IXFR: the differences from
/// the installed serial, applied and verified as a whole zone (DNSSEC and
/// ZONEMD) before anything is installed; a difference that does not apply,
/// or whose result does not verify, leaves data.cdb as it was and the
/// whole zone is transferred instead.
@Suite(.serialized) struct IncrementalRefreshTests {
    let zone: SignedZone
    let files: Scratch
    let target: Target
    var primaryData: String { files.file("primary.cdb") }
    static let validity = ["-i", "20261101000000", "-e", "20370101000000"]

    init() throws {
        // RSA (deterministic) and fixed validity: a new serial re-signs only
        // what changed, as the root's signer does, so the difference is small.
        zone = try SignedZone(SignedZone.root(tlds: 40), algorithm: "RSASHA256", signing: Self.validity)
        files = try Scratch()
        target = try Target()
    }

    func signed(serial: UInt32) throws -> String {
        // Serial 2 also moves one glue address: a difference beyond the SOA and its proofs.
        let text = SignedZone.root(serial: serial, tlds: 40).replacingOccurrences(of: "192.0.2.3\n", with: serial == 2 ? "192.0.2.203\n" : "192.0.2.3\n")
        return try zone.sign(text, name: "zone-\(serial)", extra: Self.validity)
    }

    /// Compiles serial `serial` onto the primary's data, as refresh would install it (with its journal).
    func publish(serial: UInt32) throws {
        let compiled = try run(rootmirrorBinary, ["compile", try signed(serial: serial), "-o", primaryData, "--keep-dnssec"])
        try #require(compiled.status == 0, "\(compiled.stderr)")
    }

    func refresh(from primary: RootmirrorServer) throws -> ProcessResult {
        try target.refresh(["--url", "axfr://\(primary.endpoint)", "--keep-dnssec", "--trust-anchor", zone.anchor, "--min-tlds", "1", "--timeout", "5"])
    }

    /// The records of a data.cdb, owners in lower case, as a set.
    func content(_ data: String) throws -> Set<ResourceRecord> {
        Set(try DataStore.load(path: data))
    }

    /// The target at serial 1 by AXFR; the primary then at serial 2.
    func startAtSerialOne() throws -> RootmirrorServer {
        try publish(serial: 1)
        let primary = try RootmirrorServer(data: primaryData, directory: files, extra: ["--allow-transfer", "127.0.0.0/8"])
        let first = try refresh(from: primary)
        try #require(first.status == 0, "\(first.stderr)")
        #expect(first.stderr.contains("AXFR, "), "\(first.stderr)")
        return primary
    }

    @Test func followsByIXFRAndEndsWithThePrimarysData() throws {
        let primary = try startAtSerialOne()
        defer { primary.stop() }
        try publish(serial: 2)
        #expect(primary.daemon.wait(until: { (try? digShort(primary.endpoint, ".", "SOA"))?.contains(" 2 ") == true }))

        let second = try refresh(from: primary)
        try #require(second.status == 0, "\(second.stderr)")
        #expect(second.stderr.contains("IXFR, 1 difference, "), "\(second.stderr)")
        #expect(try content(target.data) == content(primaryData))
        #expect(DataStore.soa(path: target.data)?.serial == 2)
        // The follower keeps a journal too: it can feed a fleet of its own by IXFR.
        #expect(try ZoneJournal.read(forData: target.data).differences.map(\.toSerial) == [2])

        // Stripped data cannot take a difference that changes signatures: AXFR.
        let stripped = try Target()
        for serialNeeded in [true, false] {
            let run = try stripped.refresh(["--url", "axfr://\(primary.endpoint)", "--trust-anchor", zone.anchor, "--min-tlds", "1", "--force"])
            try #require(run.status == 0, "\(run.stderr)")
            #expect(run.stderr.contains("AXFR, ") && !run.stderr.contains("IXFR"), "\(serialNeeded): \(run.stderr)")
        }
    }

    /// The primary's journal, replaced by `edit` of the true difference from 1 to 2.
    func tamperWithThePrimarysJournal(_ edit: (inout ZoneDifference) -> Void) throws -> RootmirrorServer {
        let primary = try startAtSerialOne()
        primary.stop()
        let serialOne = try DataStore.load(path: primaryData)
        try publish(serial: 2)
        var difference = try #require(ZoneDifference(old: serialOne, new: try DataStore.load(path: primaryData)))
        edit(&difference)
        try ZoneJournal([difference]).stage(forData: primaryData).commit()
        return try RootmirrorServer(data: primaryData, directory: files, extra: ["--allow-transfer", "127.0.0.0/8"])
    }

    @Test func aDifferenceThatDoesNotApplyFallsBackToAXFR() throws {
        let primary = try tamperWithThePrimarysJournal { difference in
            difference.deleted.append(ResourceRecord(owner: try! DNSName(text: "nowhere."), type: .a, ttl: 300, rdata: [192, 0, 2, 99]))
        }
        defer { primary.stop() }
        let result = try refresh(from: primary)
        try #require(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("IXFR from serial 1 not used (serial 2 deletes nowhere. A, which is not installed)"), "\(result.stderr)")
        #expect(result.stderr.contains("AXFR, "), "\(result.stderr)")
        #expect(try content(target.data) == content(primaryData))
    }

    @Test func aDifferenceThatDoesNotVerifyFallsBackToAXFR() throws {
        // An added delegation NS: not signed (RFC 4035 §2.2), so only ZONEMD sees it.
        let primary = try tamperWithThePrimarysJournal { difference in
            difference.added.append(ResourceRecord(owner: try! DNSName(text: "tld1."), type: .ns, ttl: 172800,
                                                   rdata: try! DNSName(text: "ns.evil.example.").wire))
        }
        defer { primary.stop() }
        let installed = bytes(target.data)
        let result = try refresh(from: primary)
        try #require(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("the zone after IXFR does not verify"), "\(result.stderr)")
        #expect(result.stderr.contains("ZONEMD"), "\(result.stderr)")
        #expect(result.stderr.contains("AXFR, "), "\(result.stderr)")
        #expect(bytes(target.data) != installed)
        #expect(try content(target.data) == content(primaryData))
    }
}

/// A rootmirror following another with a TSIG key: `serve --refresh`
/// refreshes as soon as its primary's signed NOTIFY comes (its SOA timers
/// alone would wait 30 minutes), by IXFR; NOTIFY from anyone else, or
/// unsigned, is refused; `refresh` with a wrong secret gets nothing, and a
/// key file others can read is refused before anything is asked.
@Suite(.serialized) struct FollowByNotifyTests {
    let base: IncrementalRefreshTests
    let key: String

    init() throws {
        base = try IncrementalRefreshTests()
        let made = try run("/usr/sbin/tsig-keygen", ["-a", "hmac-sha256", "fleet"])
        try #require(made.status == 0, "\(made.stderr)")
        key = base.files.write("fleet.key", made.stdout)
        chmod(key, 0o600)
    }

    var keyArguments: [String] { ["--tsig-key", key, "--transfer-key", "fleet"] }

    @Test func aSignedNotifyStartsARefreshByIXFR() throws {
        try base.publish(serial: 1)
        let follower = Endpoint.random()
        let primary = try RootmirrorServer(data: base.primaryData, directory: base.files,
                                           extra: keyArguments + ["--notify", follower.description])
        defer { primary.stop() }
        let first = try base.target.refresh(["--url", "axfr://\(primary.endpoint)", "--keep-dnssec", "--trust-anchor", base.zone.anchor,
                                             "--min-tlds", "1"] + keyArguments)
        try #require(first.status == 0, "\(first.stderr)")

        // A directory of its own: each server's log is rootmirror-N.log in its directory.
        let server = try RootmirrorServer(data: base.target.data, directory: try base.files.subdirectory("follower"), extra: [
            "--refresh", "--url", "axfr://\(primary.endpoint)", "--upstream", primary.endpoint.description, "--keep-dnssec",
            "--trust-anchor", base.zone.anchor, "--min-tlds", "1", "--timeout", "5",
        ] + keyArguments, endpoint: follower)
        defer { server.stop() }
        try base.publish(serial: 2)
        #expect(server.daemon.wait(until: { (try? servedSerial(follower)) == "2" }, attempts: 1200), "\(server.daemon.log)")
        #expect(server.daemon.log.contains("reason=notify from \(primary.endpoint.host)"), "\(server.daemon.log)")
        #expect(server.daemon.log.contains("IXFR, 1 difference"), "\(server.daemon.log)")
        #expect(primary.daemon.wait(until: {
            primary.daemon.log.split(separator: "\n").contains { $0.contains("notify acknowledged") && $0.contains("serial=2") }
        }), "\(primary.daemon.log)")

        // Unsigned, from the primary's own address: refused, and no refresh.
        let refreshes = server.daemon.log.components(separatedBy: "reason=notify").count
        for source in [primary.endpoint.host, "127.0.0.1"] {
            let notify = try run("/usr/bin/dig", ["@\(follower.host)", "-p", "\(follower.port)", "-b", source, "+opcode=notify",
                                                  "+norecurse", ".", "SOA", "+time=3", "+tries=1"])
            #expect(notify.output.contains("status: REFUSED"), "\(notify.output)")
        }
        #expect(server.daemon.log.contains("not signed by key fleet"), "\(server.daemon.log)")
        #expect(server.daemon.log.contains("not a primary this server refreshes from"), "\(server.daemon.log)")
        #expect(server.daemon.log.components(separatedBy: "reason=notify").count == refreshes)
    }

    @Test func aPrimaryLogsWhatASecondaryAnswers() throws {
        try base.publish(serial: 1)
        // A rootmirror that follows no one: it refuses the NOTIFY, and the primary says so.
        let secondary = try RootmirrorServer(data: base.primaryData, directory: try base.files.subdirectory("secondary"))
        defer { secondary.stop() }
        let primary = try RootmirrorServer(data: base.primaryData, directory: base.files,
                                           extra: ["--allow-transfer", "127.0.0.0/8", "--notify", secondary.endpoint.description])
        defer { primary.stop() }
        #expect(primary.daemon.wait(until: { primary.daemon.log.contains("notify answered REFUSED") }), "\(primary.daemon.log)")
        #expect(!primary.daemon.log.contains("notify acknowledged"), "\(primary.daemon.log)")
    }

    @Test func aWrongSecretOrAKeyFileOthersReadGetsNothing() throws {
        try base.publish(serial: 1)
        let primary = try RootmirrorServer(data: base.primaryData, directory: base.files, extra: keyArguments)
        defer { primary.stop() }
        let text = try String(contentsOfFile: key, encoding: .utf8)
        let secret = try #require(text.split(separator: "\"").dropFirst(3).first)
        let wrong = base.files.write("wrong.key", Array(text.replacingOccurrences(of: secret, with: Data(repeating: 1, count: 32).base64EncodedString()).utf8))
        chmod(wrong, 0o600)
        let refused = try base.target.refresh(["--url", "axfr://\(primary.endpoint)", "--keep-dnssec", "--trust-anchor", base.zone.anchor,
                                               "--min-tlds", "1", "--tsig-key", wrong, "--transfer-key", "fleet"])
        expectOneLineFailure(refused, status: 2, mentions: "BADSIG")
        #expect(!FileManager.default.fileExists(atPath: base.target.data))

        chmod(wrong, 0o644)
        for command in [["refresh", "-d", base.target.data, "--url", "axfr://\(primary.endpoint)"], ["serve", "-d", base.primaryData, "--http", "off"]] {
            let readable = try run(rootmirrorBinary, command + ["--tsig-key", wrong, "--transfer-key", "fleet"])
            expectOneLineFailure(readable, status: 64, mentions: "\(wrong): readable by others")
            let unknown = try run(rootmirrorBinary, command + ["--tsig-key", key, "--transfer-key", "other"])
            expectOneLineFailure(unknown, status: 64, mentions: "--transfer-key other: no such key in \(key)")
        }
    }
}
