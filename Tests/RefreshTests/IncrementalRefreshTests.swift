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
