import DNSWire
import Foundation
import Testing
import TestSupport

/// A fleet with a TSIG key made by `tsig-keygen`: NSD, Knot and BIND
/// secondaries transfer the zone from `serve --transfer-key`, follow a new
/// serial by NOTIFY with IXFR (the primary's /health shows an IXFR of a
/// few hundred bytes to each), and end with the zone's content; the same
/// secondaries without the key, or with a wrong secret, get nothing.
@Suite("fleet with TSIG and IXFR", .serialized)
struct FleetTSIGTests {
    static let previous = Paths.zones + "/root-2026082200-nosig.zone.gz"
    static let current = Paths.zones + "/root-2026082201-nosig.zone.gz"

    struct Key {
        let file: String
        let name = "fleet-key"
        let secret: String

        /// A key from tsig-keygen, in a file only its owner reads.
        init(in dir: Scratch, secret replaced: String? = nil) throws {
            let made = try run("/usr/sbin/tsig-keygen", ["-a", "hmac-sha256", name])
            guard made.status == 0 else { throw TestFailure("tsig-keygen: \(made.stderr)") }
            let secret = try #require(made.output.split(separator: "\"").dropFirst(3).first.map(String.init))
            self.secret = replaced ?? secret
            file = dir.write("\(name)-\(UUID().uuidString).key", Array(made.output.replacingOccurrences(of: secret, with: self.secret).utf8))
            chmod(file, 0o600)
        }
    }

    /// NSD, Knot and BIND pulling `.` from `primary` with `key` (nil: none).
    static func startSecondaries(_ fleet: TransferTests.FleetAddresses, primary: Endpoint, key: Key?, dir: Scratch) throws
        -> [TransferTests.Secondary] {
        var started: [TransferTests.Secondary] = []
        do {
            let nsdDir = try dir.subdirectory("nsd")
            let keyName = key?.name ?? "NOKEY"
            started.append(TransferTests.Secondary(daemon: try startNSD(
                zones: [(".", nsdDir.file("root.zone"))], listen: ["\(fleet.nsd.host)@\(fleet.nsd.port)"], in: nsdDir,
                zoneOptions: ["request-xfr: \(primary.host)@\(primary.port) \(keyName)", "allow-notify: 127.0.0.0/8 \(keyName)",
                              "provide-xfr: 127.0.0.0/8 \(keyName)", "outgoing-interface: \(fleet.nsd.host)"],
                clauses: key.map { "key:\n    name: \"\($0.name)\"\n    algorithm: hmac-sha256\n    secret: \"\($0.secret)\"" } ?? ""),
                endpoint: fleet.nsd))

            let knotDir = try dir.subdirectory("knot")
            started.append(TransferTests.Secondary(daemon: try DifferentialTests.startKnot(
                zone: knotDir.file("root.zone"), dir: knotDir, endpoint: fleet.knot, primary: primary,
                key: key.map { ($0.name, "hmac-sha256", $0.secret) }), endpoint: fleet.knot))

            let namedDir = try dir.subdirectory("named")
            let keyClause = key.map { "key \"\($0.name)\" { algorithm hmac-sha256; secret \"\($0.secret)\"; };" } ?? ""
            started.append(TransferTests.Secondary(daemon: try startNamed(
                in: namedDir.path, port: fleet.named.port,
                options: ["recursion no", "dnssec-validation no", "notify no"], rest: """
                \(keyClause)
                zone "." {
                    type secondary;
                    primaries port \(primary.port) { \(primary.host)\(key.map { " key \"\($0.name)\"" } ?? ""); };
                    file "root.zone";
                    allow-notify { \(key.map { "key \"\($0.name)\"" } ?? "127.0.0.0/8"); };
                };
                """), endpoint: fleet.named))
        } catch {
            for secondary in started { secondary.daemon.stop() }
            throw error
        }
        return started
    }

    /// /health's word on the secondary at `address`: what it was last sent, and how many bytes.
    static func lastTransfer(of address: String, health http: Endpoint) throws -> (kind: String?, bytes: Int)? {
        let body = try run("/usr/bin/curl", ["-s", "--max-time", "5", "http://\(http)/health"]).output
        let json = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
        let secondaries = json?["secondaries"] as? [[String: Any]] ?? []
        return secondaries.first { $0["address"] as? String == address }.map { ($0["kind"] as? String, $0["bytes"] as? Int ?? 0) }
    }

    @Test(arguments: TransferTests.Flavour.allCases)
    func secondariesFollowByIXFRWithTheKey(_ flavour: TransferTests.Flavour) throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let data = dir.file("data.cdb")
        let keep = flavour == .signed ? ["--keep-dnssec"] : []
        try #require(try run(Paths.binary, ["compile", Self.previous, "-o", data] + keep).status == 0)
        let key = try Key(in: dir)

        let fleet = TransferTests.FleetAddresses()
        let http = Endpoint.random()
        let primary = try RootmirrorServer(data: data, directory: dir, extra: [
            "--tsig-key", key.file, "--transfer-key", key.name, "--http", http.description,
        ] + fleet.all.flatMap { ["--notify", $0.description] })
        defer { primary.stop() }
        let secondaries = try Self.startSecondaries(fleet, primary: primary.endpoint, key: key, dir: dir)
        defer { for secondary in secondaries { secondary.daemon.stop() } }
        try TransferTests.waitForSerial(2026082200, on: secondaries)

        // The next serial, installed by compile (which records the difference): NOTIFY, then IXFR.
        try #require(try run(Paths.binary, ["compile", Self.current, "-o", data] + keep).status == 0)
        try TransferTests.waitForSerial(2026082201, on: secondaries)
        // From an address of no secondary's: /health keeps one line per client.
        let expected = try TransferTests.transferredRecords(from: primary.endpoint, source: "127.0.0.2", key: key)
        #expect(expected.count > 19000)
        for secondary in secondaries {
            var served = try TransferTests.transferredRecords(from: secondary.endpoint, key: key)
            for _ in 0..<10 where served != expected {
                usleep(500_000)
                served = try TransferTests.transferredRecords(from: secondary.endpoint, key: key)
            }
            let matches = served == expected
            #expect(matches, "\(secondary.name): \(TransferTests.difference(served, expected))")
        }
        // Each secondary's last transfer was IXFR, of a few hundred bytes (the AXFR: 600 KB and more).
        for (name, address) in [("nsd", fleet.nsd.host), ("knot", fleet.knot.host), ("named", fleet.named.host)] {
            var last = try Self.lastTransfer(of: address, health: http)
            for _ in 0..<20 where last?.kind != "ixfr" {
                usleep(250_000)
                last = try Self.lastTransfer(of: address, health: http)
            }
            #expect(last?.kind == "ixfr" && (last?.bytes ?? .max) < 5000, "\(name): \(String(describing: last))")
        }
        #expect(primary.daemon.log.split(separator: "\n").filter { $0.contains("notify acknowledged") && $0.contains("2026082201") }.count
                == secondaries.count, "\(primary.daemon.log)")
    }

    @Test func secondariesWithoutTheKeyOrAWrongSecretGetNothing() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let data = dir.file("data.cdb")
        try #require(try run(Paths.binary, ["compile", Self.previous, "-o", data]).status == 0)
        let key = try Key(in: dir)
        let primary = try RootmirrorServer(data: data, directory: dir, extra: ["--tsig-key", key.file, "--transfer-key", key.name])
        defer { primary.stop() }

        // Same name, another secret: what a misconfigured secondary holds.
        let wrong = try Key(in: dir, secret: Data(repeating: 7, count: 32).base64EncodedString())
        for (label, secondaryKey) in [("no key", nil), ("wrong secret", wrong)] {
            let fleetDir = try dir.subdirectory(label.replacingOccurrences(of: " ", with: "-"))
            let fleet = TransferTests.FleetAddresses()
            let before = primary.daemon.log.split(separator: "\n").count
            let secondaries = try Self.startSecondaries(fleet, primary: primary.endpoint, key: secondaryKey, dir: fleetDir)
            defer { for secondary in secondaries { secondary.daemon.stop() } }
            // Each asked and was refused, one line naming the client; none serves anything.
            let reason = secondaryKey == nil ? "not signed by key \(key.name)" : "BADSIG"
            func refusedClients() -> Set<String> {
                Set(primary.daemon.log.split(separator: "\n").dropFirst(before).filter { $0.contains("refused") && $0.contains(reason) }
                    .compactMap { line in line.split(separator: " ").first { $0.hasPrefix("client=") }.map { String($0.dropFirst(7).split(separator: ":")[0]) } })
            }
            #expect(primary.daemon.wait(until: { refusedClients().isSuperset(of: fleet.all.map(\.host)) }, attempts: 1200),
                    "\(label): \(refusedClients()) \(primary.daemon.log)")
            for secondary in secondaries {
                #expect(TransferTests.serial(at: secondary.endpoint) == nil, "\(label): \(secondary.name) serves a zone")
            }
        }
    }
}
