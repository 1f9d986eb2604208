import CDBStore
import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// `refresh --url axfr://...`: the zone by transfer from rootmirror's own
/// `serve --allow-transfer`, serving a root the test signs (DNSSEC and
/// ZONEMD, its key the trust anchor). No OpenPGP signature: the zone's own
/// proofs decide, and a source that fails passes the turn to the next.
@Suite(.serialized) struct TransferRefreshTests {
    let zone: SignedZone
    let target: Target
    let files: Scratch

    init() throws {
        zone = try SignedZone(SignedZone.root(tlds: 8), algorithm: "ECDSAP256SHA256")
        target = try Target()
        files = try Scratch()
    }

    /// rootmirror serving the signed zone file `signed` to transfer clients on loopback.
    func primary(serving signed: String, name: String) throws -> RootmirrorServer {
        let data = files.file("\(name).cdb")
        let compiled = try run(rootmirrorBinary, ["compile", signed, "-o", data, "--keep-dnssec"])
        try #require(compiled.status == 0, "\(compiled.stderr)")
        return try RootmirrorServer(data: data, directory: files, extra: ["--allow-transfer", "127.0.0.0/8"])
    }

    func refresh(_ sources: [String], _ extra: [String] = []) throws -> ProcessResult {
        try target.refresh(sources.flatMap { ["--url", $0] } + ["--min-tlds", "1", "--trust-anchor", zone.anchor, "--timeout", "3"] + extra)
    }

    @Test func installsFromATransferAndSkipsAnUnchangedSerial() throws {
        let server = try primary(serving: zone.signed, name: "good")
        defer { server.stop() }
        let source = "axfr://\(server.endpoint)"

        let first = try refresh([source])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.output.contains("serial 2026112700 installed") && first.output.contains("from \(source)")
                && first.output.contains("verified dnssec zonemd"), "\(first.output)")
        #expect(RefreshState.read(forData: target.data).verified == ["dnssec", "zonemd"])
        #expect(try DataStore.serial(path: target.data) == 2026112700)
        #expect(target.onlyFinalFiles, "\(target.scratch.files)")

        // The SOA says nothing changed: no transfer, nothing installed.
        let installed = bytes(target.data)
        let second = try refresh([source])
        #expect(second.status == 0 && second.output.contains("serial 2026112700 already installed"), "\(second.output)\(second.stderr)")
        #expect(unchanged(target.data, installed))
    }

    /// A refused connection and a server that accepts but never answers are
    /// one line each; the third source installs.
    @Test func aDeadSourceFallsThroughToTheNext() throws {
        let server = try primary(serving: zone.signed, name: "good")
        defer { server.stop() }
        let closed = Endpoint.random()
        let silent = Endpoint.random()
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = silent.port.bigEndian
        inet_pton(AF_INET, silent.host, &address.sin_addr)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try #require(bound == 0 && listen(listener, 4) == 0)

        let result = try refresh(["axfr://\(closed)", "axfr://\(silent)", "axfr://\(server.endpoint)"])
        #expect(result.status == 0 && result.output.contains("installed"), "\(result.stderr)")
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 2 && lines[0].contains("axfr://\(closed)") && lines[1].contains("axfr://\(silent)"), "\(result.stderr)")
    }

    /// A newer serial with one glue address changed after signing: every
    /// RRSIG still holds (glue is not signed), only ZONEMD sees it. Refused,
    /// exit 4, data.cdb as it was.
    @Test func aChangedGlueAddressIsRefused() throws {
        let good = try primary(serving: zone.signed, name: "good")
        defer { good.stop() }
        let installedRun = try refresh(["axfr://\(good.endpoint)"])
        try #require(installedRun.status == 0, "\(installedRun.stderr)")
        let installed = bytes(target.data)

        let newer = try zone.sign(SignedZone.root(serial: 2026112701, tlds: 8), name: "newer")
        let text = try String(contentsOfFile: newer, encoding: .utf8)
        let changed = text.replacingOccurrences(of: "192.0.2.3", with: "203.0.113.3")
        try #require(changed != text)
        let forged = files.write("forged.zone", Array(changed.utf8))
        let bad = try primary(serving: forged, name: "forged")
        defer { bad.stop() }

        let result = try refresh(["axfr://\(bad.endpoint)"])
        expectOneLineFailure(result, status: 4, mentions: "ZONEMD")
        #expect(unchanged(target.data, installed), "data.cdb changed")
        #expect(target.onlyFinalFiles, "\(target.scratch.files)")
    }

    /// NSD as the source: another server's packing of the transfer (its
    /// own message sizes and compression) installs the same way.
    @Test func installsFromNSD() throws {
        let nsdDir = try files.subdirectory("nsd")
        let nsd = Endpoint.random()
        let daemon = try startNSD(zones: [(".", zone.signed)], listen: ["\(nsd.host)@\(nsd.port)"], in: nsdDir,
                                  zoneOptions: ["provide-xfr: 127.0.0.0/8 NOKEY"])
        defer { daemon.stop() }
        // NSD answers once it has loaded the zone; until then the refresh fails, and is retried (bounded).
        var result = try refresh(["axfr://\(nsd)"])
        for _ in 0..<100 where result.status != 0 {
            usleep(100_000)
            result = try refresh(["axfr://\(nsd)"])
        }
        #expect(result.status == 0 && result.output.contains("serial 2026112700 installed") && result.output.contains("verified dnssec zonemd"),
                "\(result.output)\(result.stderr)\n\(daemon.log)")
    }
}
