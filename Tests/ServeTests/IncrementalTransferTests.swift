import Foundation
import Testing
import TestSupport

/// IXFR out (RFC 1995) from the journal beside data.cdb, on the two
/// consecutive 2026 roots: the difference, checked against what
/// ldns-read-zone makes of the two files; one SOA for a current client;
/// the whole zone for a serial the journal does not hold; the SOA alone
/// over UDP. The journal written by `compile`, and the one the server
/// writes itself when another tool replaced data.cdb, survive a restart;
/// a damaged one costs IXFR, never the service.
@Suite("IXFR out", .serialized)
struct IncrementalTransferTests {
    static let previous = Paths.zones + "/root-2026082200-nosig.zone.gz"
    static let current = Paths.zones + "/root-2026082201-nosig.zone.gz"

    /// A record set in ldns-read-zone's canonical form (lower case, one
    /// spelling per record), without SOAs.
    static func canonical(_ file: String) throws -> Set<String> {
        let result = try run("/bin/sh", ["-c", "zcat -f '\(file)' | ldns-read-zone -c /dev/stdin"])
        guard result.status == 0 else { throw TestFailure("ldns-read-zone \(file): \(result.stderr)") }
        return Set(result.output.split(separator: "\n").map(String.init).filter { !$0.hasPrefix(";") && !$0.contains("\tSOA\t") })
    }

    static func canonical(lines: [String], in dir: Scratch) throws -> Set<String> {
        try canonical(dir.write("lines-\(UUID().uuidString)", Array(lines.map { $0 + "\n" }.joined().utf8)))
    }

    /// kdig's answer records for `. IXFR=serial`, one a line.
    static func ixfr(_ server: Endpoint, from serial: UInt32, udp: Bool = false) throws -> [String] {
        let result = try run("/usr/bin/kdig", ["@\(server.host)", "-p", "\(server.port)", udp ? "+notcp" : "+tcp", ".", "IXFR=\(serial)",
                                               "+nocomments", "+noquestion", "+nostats", "+time=10", "+retry=0"])
        return result.output.split(separator: "\n").map(String.init).filter { !$0.hasPrefix(";") && !$0.isEmpty }
    }

    static func serial(ofSOA line: String) -> UInt32? {
        let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard fields.count >= 7, fields[3] == "SOA" else { return nil }
        return UInt32(fields[6])
    }

    /// The records deleted and added, read from an IXFR reply of one difference.
    static func oneDifference(_ lines: [String]) throws -> (from: UInt32?, deleted: [String], added: [String]) {
        let soas = lines.indices.filter { serial(ofSOA: lines[$0]) != nil }
        guard soas.count == 4, soas.first == 0, soas.last == lines.count - 1 else {
            throw TestFailure("not one difference: \(lines.prefix(12))")
        }
        return (serial(ofSOA: lines[1]), Array(lines[2..<soas[2]]), Array(lines[(soas[2] + 1)..<soas[3]]))
    }

    @Test func differencesOneSOAOrTheWholeZone() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let data = dir.file("data.cdb")
        for zone in [Self.previous, Self.current] {
            let compiled = try run(Paths.binary, ["compile", zone, "-o", data, "--keep-dnssec"])
            try #require(compiled.status == 0, "\(compiled.stderr)")
        }
        let server = try RootmirrorServer(data: data, directory: dir, extra: ["--allow-transfer", "127.0.0.0/8"])
        defer { server.stop() }

        let (old, new) = (try Self.canonical(Self.previous), try Self.canonical(Self.current))
        let reply = try Self.ixfr(server.endpoint, from: 2026082200)
        let difference = try Self.oneDifference(reply)
        #expect(difference.from == 2026082200)
        #expect(try Self.canonical(lines: difference.deleted, in: dir) == old.subtracting(new))
        #expect(try Self.canonical(lines: difference.added, in: dir) == new.subtracting(old))
        // The shared files differ in the SOA, ZONEMD and the SOA's RRSIG.
        #expect(difference.deleted.count == 2 && difference.added.count == 2)

        let upToDate = try Self.ixfr(server.endpoint, from: 2026082201)
        #expect(upToDate.count == 1 && Self.serial(ofSOA: upToDate[0]) == 2026082201, "\(upToDate)")
        let ahead = try Self.ixfr(server.endpoint, from: 2026082300)
        #expect(ahead.count == 1, "a client ahead of the primary is told the primary's serial")
        let unknown = try Self.ixfr(server.endpoint, from: 2026082100)
        #expect(unknown.count == new.count + 2, "the whole zone in AXFR form: \(unknown.count) records")
        let overUDP = try Self.ixfr(server.endpoint, from: 2026082200, udp: true)
        #expect(overUDP.count == 1 && Self.serial(ofSOA: overUDP[0]) == 2026082201, "\(overUDP)")

        // A client outside --allow-transfer gets nothing, over either transport.
        let outsider = try RootmirrorServer(data: data, directory: dir, extra: ["--allow-transfer", "10.0.0.0/8"])
        defer { outsider.stop() }
        for udp in [false, true] {
            let refused = try run("/usr/bin/kdig", ["@\(outsider.endpoint.host)", "-p", "\(outsider.endpoint.port)", udp ? "+notcp" : "+tcp",
                                                    ".", "IXFR=2026082200", "+time=5", "+retry=0"])
            #expect((refused.output + refused.stderr).contains("REFUSED"), "\(refused.output)\(refused.stderr)")
        }
    }

    @Test func aCopyInstalledByAnotherToolStillGivesIXFRAndTheJournalSurvives() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let data = dir.file("data.cdb")
        let compiled = try run(Paths.binary, ["compile", Self.previous, "-o", data, "--keep-dnssec"])
        try #require(compiled.status == 0, "\(compiled.stderr)")
        // Compiled elsewhere and renamed in, as tinydns-data's output or a copy would be: no journal comes with it.
        let elsewhere = try dir.subdirectory("elsewhere")
        try #require(try run(Paths.binary, ["compile", Self.current, "-o", elsewhere.file("data.cdb"), "--keep-dnssec"]).status == 0)

        var server = try RootmirrorServer(data: data, directory: dir, extra: ["--allow-transfer", "127.0.0.0/8"])
        defer { server.stop() }
        try ReloadTests.install(elsewhere.file("data.cdb"), at: data)
        #expect(server.daemon.wait(until: { server.daemon.log.contains("recorded the difference from serial 2026082200 to 2026082201") }),
                "\(server.daemon.log)")
        #expect(server.daemon.wait(until: { (try? digShort(server.endpoint, ".", "SOA"))?.contains("2026082201") == true }))
        #expect(try Self.oneDifference(Self.ixfr(server.endpoint, from: 2026082200)).from == 2026082200)

        server.stop()
        server = try RootmirrorServer(data: data, directory: dir, extra: ["--allow-transfer", "127.0.0.0/8"])
        #expect(try Self.oneDifference(Self.ixfr(server.endpoint, from: 2026082200)).from == 2026082200, "after a restart")

        // Damaged: one line, the whole zone instead, queries answered as ever.
        server.stop()
        var journal = try [UInt8](Data(contentsOf: URL(fileURLWithPath: data + ".journal")))
        journal[journal.count / 2] ^= 1
        _ = dir.write("data.cdb.journal", journal)
        server = try RootmirrorServer(data: data, directory: dir, extra: ["--allow-transfer", "127.0.0.0/8"])
        #expect(server.daemon.log.contains("journal ignored") && server.daemon.log.contains("checksum mismatch"), "\(server.daemon.log)")
        #expect(try Self.ixfr(server.endpoint, from: 2026082200).count > 20000)
        #expect(try digShort(server.endpoint, ".", "SOA").contains("2026082201"))
    }
}
