import CDBStore
import DNSWire
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
        #expect(try RefreshState.read(forData: target.data).verified == ["dnssec", "zonemd"])
        #expect(DataStore.soa(path: target.data)?.serial == 2026112700)
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
        var state = try RefreshState.read(forData: target.data)
        state.lastSuccess = 1_000_000_000
        state.confirmed = 1_000_000_000
        try state.write(forData: target.data)
        let stale = try primary(serving: try zone.sign(SignedZone.root(serial: 2026112600, tlds: 8), name: "old"), name: "old")
        defer { stale.stop() }
        let result = try refresh(["axfr://\(stale.endpoint)"])
        expectOneLineFailure(result, status: 4, mentions: "serial 2026112600 is older than the installed 2026112700: a stale source")
        #expect(unchanged(target.data, installed))
        let after = try RefreshState.read(forData: target.data)
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
            let confirmed = try #require(try RefreshState.read(forData: target.data).confirmed)
            #expect(abs(confirmed - sixDaysAgo) < 300, "\(run): confirmed \(confirmed), 6 days ago \(sixDaysAgo)")
        }
    }

    /// A refused connection and a server that accepts but never answers are
    /// one line each; the third source installs.
    @Test func aDeadSourceFallsThroughToTheNext() throws {
        let server = try primary(serving: zone.signed, name: "good")
        defer { server.stop() }
        let closed = Endpoint.random()
        let silent = try SilentListener()
        defer { silent.stop() }

        let result = try refresh(["axfr://\(closed)", "axfr://\(silent.endpoint)", "axfr://\(server.endpoint)"])
        #expect(result.status == 0 && result.output.contains("installed"), "\(result.stderr)")
        // The two failures, then how the zone came.
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 3 && lines[2].contains("AXFR, ") && lines[0].contains("axfr://\(closed)") && lines[1].contains("axfr://\(silent.endpoint)"), "\(result.stderr)")
    }

    /// Every source failing: the one line names the first source's failure,
    /// the cause to act on, and how many fallbacks failed after it.
    @Test func everySourceFailingNamesTheFirst() throws {
        let closed = (0..<3).map { _ in Endpoint.random() }
        let result = try refresh(closed.map { "axfr://\($0)" }, ["--quiet"])
        expectOneLineFailure(result, status: 2, mentions: "rootmirror: axfr://\(closed[0]): ")
        #expect(result.stderr.contains("; all 2 other sources failed too, the last: axfr://\(closed[2]): "), "\(result.stderr)")
    }

    /// `--max-time` caps the whole run, whatever each source's `--timeout`:
    /// two sources that never answer, five minutes each, and the run gives
    /// up at the cap with one line naming where it was, exit 2, nothing left.
    @Test func theWholeRunHasATimeCap() throws {
        let installed = try installTheGoodZone()
        let silent = try SilentListener()
        defer { silent.stop() }
        let result = try target.refresh(["--url", "axfr://\(silent.endpoint)", "--url", "axfr://\(silent.endpoint)",
                                         "--trust-anchor", zone.anchor, "--timeout", "300", "--max-time", "1"])
        expectOneLineFailure(result, status: 2, mentions: "refresh gave up after --max-time 1 s, on axfr://\(silent.endpoint); nothing installed")
        #expect(unchanged(target.data, installed), "data.cdb changed")
        #expect(target.onlyFinalFiles, "\(target.scratch.files)")
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
        let proxy = try TransferProxy(to: big.endpoint, .cutAfterFirstMessage)
        defer { proxy.stop() }
        let result = try refresh(["axfr://\(proxy.endpoint)"])
        expectOneLineFailure(result, status: 2, mentions: "axfr://\(proxy.endpoint): the transfer ended before its closing SOA")
        #expect(unchanged(target.data, installed), "data.cdb changed")
        #expect(target.onlyFinalFiles, "\(target.scratch.files)")
    }

    /// RFC 5936 §2.2: the closing SOA repeats the opening one. A zone
    /// changed while it was sent (a serial moved up or down at the end) is
    /// not one zone: bad data, exit 4, nothing installed.
    @Test(arguments: [5, -100] as [Int32])
    func aClosingSOAThatDiffersIsRefused(delta: Int32) throws {
        let installed = try installTheGoodZone()
        let newer = try zone.sign(SignedZone.root(serial: 2026112701, tlds: 8), name: "newer")
        let server = try primary(serving: newer, name: "newer")
        defer { server.stop() }
        let proxy = try TransferProxy(to: server.endpoint, .closingSerial(delta: delta))
        defer { proxy.stop() }
        let result = try refresh(["axfr://\(proxy.endpoint)"])
        let closing = UInt32(bitPattern: Int32(2026112701) &+ delta)
        expectOneLineFailure(result, status: 4,
                             mentions: "axfr://\(proxy.endpoint): the closing SOA (serial \(closing)) differs from the opening one (serial 2026112701)")
        #expect(unchanged(target.data, installed), "data.cdb changed")
        #expect(target.onlyFinalFiles, "\(target.scratch.files)")
    }

    /// `--max-size` caps a transfer as it caps a download (a fixed 64 MiB
    /// applied before): the real signed root, 1.5 MB on the wire, over a
    /// 1 MiB cap is exit 2 every time, in the same words, and installs nothing.
    @Test func aTransferOverMaxSizeIsAFetchFailure() throws {
        let data = files.file("root-signed.cdb")
        let compiled = try run(rootmirrorBinary, ["compile", "\(sharedZones)/root-2023051100.zone.gz", "-o", data, "--keep-dnssec"])
        try #require(compiled.status == 0, "\(compiled.stderr)")
        let server = try RootmirrorServer(data: data, directory: files, extra: ["--allow-transfer", "127.0.0.0/8"])
        defer { server.stop() }
        for _ in 0..<3 {
            let result = try refresh(["axfr://\(server.endpoint)"], ["--max-size", "1"])
            expectOneLineFailure(result, status: 2, mentions: "axfr://\(server.endpoint): the transfer is over the --max-size cap of 1 MiB")
        }
        #expect(!FileManager.default.fileExists(atPath: target.data))
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

/// A TCP relay to a DNS server, one connection per client connection,
/// that alters a transfer on its way as a hostile or broken primary would.
final class TransferProxy: @unchecked Sendable {
    enum Alteration {
        /// Passes the first reply message and then closes: whole for an
        /// SOA query, cut short for a transfer of several messages.
        case cutAfterFirstMessage
        /// Passes every message, with the serial of the transfer's closing
        /// SOA moved by `delta` (the opening one as sent).
        case closingSerial(delta: Int32)
    }

    let endpoint = Endpoint.random()
    private let listener: Int32

    init(to server: Endpoint, _ alteration: Alteration) throws {
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
                relay(client, to: server, alteration)
                close(client)
            }
        }.start()
    }

    private func relay(_ client: Int32, to server: Endpoint, _ alteration: Alteration) {
        var header = [UInt8](repeating: 0, count: 2)
        guard recv(client, &header, 2, Int32(MSG_WAITALL)) == 2 else { return }
        var query = [UInt8](repeating: 0, count: Int(header[0]) << 8 | Int(header[1]))
        guard recv(client, &query, query.count, Int32(MSG_WAITALL)) == query.count,
              let upstream = try? TCPClient(server) else { return }
        upstream.write(TCPClient.framed(query))
        let isTransfer = (try? Message(parsing: query))?.questions.first?.type == .axfr
        var opening: [UInt8]?
        var soas = 0
        while var message = upstream.readFrame() {
            var last = !isTransfer
            switch alteration {
            case .cutAfterFirstMessage:
                last = true
            case .closingSerial(let delta) where isTransfer:
                guard let parsed = try? Message(parsing: message) else { return }
                let here = parsed.answers.filter { $0.type == .soa }
                // Serial, refresh, retry, expire, minimum: the SOA rdata's last 20 bytes.
                if opening == nil, let first = here.first { opening = Array(first.rdata.suffix(20)) }
                soas += here.count
                if soas >= 2, let opening, let at = lastIndex(of: opening, in: message) {
                    let serial = opening[0..<4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) } &+ UInt32(bitPattern: delta)
                    message.replaceSubrange(at..<(at + 4), with: (0..<4).map { UInt8(truncatingIfNeeded: serial >> (24 - 8 * $0)) })
                    last = true
                }
            case .closingSerial:
                break
            }
            let framed = TCPClient.framed(message)
            _ = send(client, framed, framed.count, Int32(MSG_NOSIGNAL))
            if last { return }
        }
    }

    private func lastIndex(of needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        return stride(from: haystack.count - needle.count, through: 0, by: -1).first { Array(haystack[$0..<($0 + needle.count)]) == needle }
    }

    func stop() {
        // Closing the listener ends the accept loop.
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }
}

/// A TCP port on loopback that accepts connections (the kernel does, from
/// its backlog) and never answers: a source that hangs.
final class SilentListener {
    let endpoint = Endpoint.random()
    private let listener: Int32

    init() throws {
        listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard withLoopback(endpoint, { bind(listener, $0, $1) }) == 0, listen(listener, 4) == 0 else {
            close(listener)
            throw TestFailure("cannot listen on \(endpoint)")
        }
    }

    func stop() { close(listener) }
}
