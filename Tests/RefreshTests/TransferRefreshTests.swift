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

    /// The test zone installed by transfer, as a bad source will find it: data.cdb's bytes.
    func installTheGoodZone() throws -> [UInt8] {
        let good = try primary(serving: zone.signed, name: "good")
        defer { good.stop() }
        let installedRun = try refresh(["axfr://\(good.endpoint)"])
        try #require(installedRun.status == 0, "\(installedRun.stderr)")
        return bytes(target.data)
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
        #expect(try DataStore.soa(path: target.data)?.serial == 2026112700)
        #expect(target.onlyFinalFiles, "\(target.scratch.files)")

        // The SOA says nothing changed: no transfer, nothing installed.
        let installed = bytes(target.data)
        let second = try refresh([source])
        #expect(second.status == 0 && second.output.contains("serial 2026112700 already installed"), "\(second.output)\(second.stderr)")
        #expect(unchanged(target.data, installed))
    }

    /// A primary whose serial is older than the one installed is stale: it
    /// confirms nothing (exit 4, `result=stale source`, the last success
    /// and confirmation as they were), or a fleet behind a stuck primary
    /// would look fresh for ever.
    @Test func aStaleSourceConfirmsNothing() throws {
        let installed = try installTheGoodZone()
        var state = RefreshState.read(forData: target.data)
        state.lastSuccess = 1_000_000_000
        state.confirmed = 1_000_000_000
        try state.write(forData: target.data)
        let stale = try primary(serving: try zone.sign(SignedZone.root(serial: 2026112600, tlds: 8), name: "old"), name: "old")
        defer { stale.stop() }
        let result = try refresh(["axfr://\(stale.endpoint)"])
        expectOneLineFailure(result, status: 4, mentions: "serial 2026112600 is older than the installed 2026112700: a stale source")
        #expect(unchanged(target.data, installed))
        let after = RefreshState.read(forData: target.data)
        #expect(after.result == "stale source" && after.lastSuccess == 1_000_000_000 && after.confirmed == 1_000_000_000, "\(after)")
    }

    /// The primary's data is 6 days old (RFC 7314's EXPIRE says so): the
    /// copy is as old, on install and on every unchanged check after it.
    @Test func aTransferKeepsThePrimarysAge() throws {
        let data = files.file("aged.cdb")
        try #require(try run(rootmirrorBinary, ["compile", zone.signed, "-o", data, "--keep-dnssec"]).status == 0)
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -6 * 86400)], ofItemAtPath: data)
        let server = try RootmirrorServer(data: data, directory: files, extra: ["--allow-transfer", "127.0.0.0/8"])
        defer { server.stop() }
        let sixDaysAgo = Int64(Date().timeIntervalSince1970) - 6 * 86400
        for run in ["installed", "already installed"] {
            let result = try refresh(["axfr://\(server.endpoint)"])
            #expect(result.status == 0 && result.output.contains(run), "\(result.output)\(result.stderr)")
            let confirmed = try #require(RefreshState.read(forData: target.data).confirmed)
            #expect(abs(confirmed - sixDaysAgo) < 300, "\(run): confirmed \(confirmed), 6 days ago \(sixDaysAgo)")
        }
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
        let installed = try installTheGoodZone()

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

    /// A transfer cut off after its first message (the connection dropped,
    /// no closing SOA): one line naming the source, the fetch's exit status,
    /// and data.cdb as it was.
    @Test func aTransferCutShortIsOneLineAndChangesNothing() throws {
        let installed = try installTheGoodZone()

        let newer = try zone.sign(SignedZone.root(serial: 2026112701, tlds: 250), name: "newer")
        let big = try primary(serving: newer, name: "newer")
        defer { big.stop() }
        let proxy = try CuttingProxy(to: big.endpoint)
        defer { proxy.stop() }
        let result = try refresh(["axfr://\(proxy.endpoint)"])
        expectOneLineFailure(result, status: 2, mentions: "axfr://\(proxy.endpoint): the transfer ended before its closing SOA")
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

/// A TCP relay to a DNS server that passes one reply message per
/// connection and then closes it: whole for an SOA query, cut short for a
/// transfer of several messages.
final class CuttingProxy: @unchecked Sendable {
    let endpoint = Endpoint.random()
    private let listener: Int32

    init(to server: Endpoint) throws {
        listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        guard withLoopback(endpoint, { bind(listener, $0, $1) }) == 0, listen(listener, 4) == 0 else {
            close(listener)
            throw TestFailure("cannot listen on \(endpoint)")
        }
        Thread { [self] in
            while true {
                let client = accept(listener, nil, nil)
                guard client >= 0 else { return }
                relayOne(client, to: server)
                close(client)
            }
        }.start()
    }

    private func relayOne(_ client: Int32, to server: Endpoint) {
        var header = [UInt8](repeating: 0, count: 2)
        guard recv(client, &header, 2, Int32(MSG_WAITALL)) == 2 else { return }
        var query = [UInt8](repeating: 0, count: Int(header[0]) << 8 | Int(header[1]))
        guard recv(client, &query, query.count, Int32(MSG_WAITALL)) == query.count,
              let upstream = try? TCPClient(server) else { return }
        upstream.write(TCPClient.framed(query))
        guard let first = upstream.readFrame() else { return }
        let framed = TCPClient.framed(first)
        _ = send(client, framed, framed.count, Int32(MSG_NOSIGNAL))
    }

    func stop() {
        // Closing the listener ends the accept loop.
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }
}
