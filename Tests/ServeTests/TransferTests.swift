import DNSWire
import Foundation
import Testing
import TestSupport

/// `serve --allow-transfer` and `--notify`: rootmirror as the primary of a
/// fleet of NSD, Knot and BIND secondaries.
@Suite("zone transfers out and NOTIFY", .serialized)
struct TransferTests {
    /// A secondary server started by a test, and where it answers.
    struct Secondary {
        var daemon: Daemon
        var endpoint: Endpoint
        var name: String { daemon.name }
    }

    /// Where the secondaries will answer, chosen before anything starts, so
    /// that the primary knows whom to notify and they know their primary.
    struct FleetAddresses {
        var nsd = Endpoint.random()
        var knot = Endpoint.random()
        // named listens only on addresses configured on an interface: 127.0.0.1.
        var named = Endpoint(host: "127.0.0.1", port: Endpoint.random().port)
        var all: [Endpoint] { [nsd, knot, named] }
    }

    /// NSD, Knot and BIND, each with no copy of the zone yet, pulling `.`
    /// from `primary` and taking its NOTIFY; each in its own directory under `dir`.
    static func startSecondaries(_ fleet: FleetAddresses, primary: Endpoint, dir: Scratch) throws -> [Secondary] {
        var started: [Secondary] = []
        do {
            let nsdDir = try dir.subdirectory("nsd")
            let nsd = fleet.nsd
            started.append(Secondary(daemon: try startNSD(
                zones: [(".", nsdDir.file("root.zone"))], listen: ["\(nsd.host)@\(nsd.port)"], in: nsdDir,
                zoneOptions: ["request-xfr: AXFR \(primary.host)@\(primary.port) NOKEY", "allow-notify: 127.0.0.0/8 NOKEY",
                              "provide-xfr: 127.0.0.0/8 NOKEY",
                              // From its own address, so that the primary's /health tells it apart.
                              "outgoing-interface: \(nsd.host)"]), endpoint: nsd))

            let knotDir = try dir.subdirectory("knot")
            let knot = fleet.knot
            started.append(Secondary(daemon: try DifferentialTests.startKnot(
                zone: knotDir.file("root.zone"), dir: knotDir, endpoint: knot, primary: primary), endpoint: knot))

            let namedDir = try dir.subdirectory("named")
            let named = fleet.named
            started.append(Secondary(daemon: try startNamed(
                in: namedDir.path, port: named.port,
                options: ["recursion no", "dnssec-validation no", "notify no", "allow-transfer { 127.0.0.0/8; }"], rest: """
                zone "." {
                    type secondary;
                    primaries port \(primary.port) { \(primary.host); };
                    file "root.zone";
                    allow-notify { 127.0.0.0/8; };
                    request-expire yes;
                };
                """), endpoint: named))
        } catch {
            for secondary in started { secondary.daemon.stop() }
            throw error
        }
        return started
    }

    /// The serial `endpoint` answers for `.` over UDP, if it answers.
    static func serial(at endpoint: Endpoint) -> UInt32? {
        guard let client = try? UDPClient(endpoint, timeoutMilliseconds: 300) else { return nil }
        return client.exchange(makeQuery(".", .soa)).flatMap { try? Message(parsing: $0) }?.serialInAnswer
    }

    /// Waits (bounded, generously: the machine is shared) until every
    /// secondary serves `serial`.
    static func waitForSerial(_ serial: UInt32, on secondaries: [Secondary]) throws {
        for secondary in secondaries {
            let arrived = secondary.daemon.wait(until: { Self.serial(at: secondary.endpoint) == serial }, attempts: 2400)
            guard arrived else {
                throw TestFailure("\(secondary.name) never served serial \(serial) (has \(Self.serial(at: secondary.endpoint).map(String.init) ?? "none")):\n\(secondary.daemon.log.suffix(2000))")
            }
        }
    }

    /// A full AXFR from `endpoint` as dig prints it, one record a line, sorted.
    /// With `key`, the transfer is signed with it, and its TSIG records left out.
    static func transferredRecords(from endpoint: Endpoint, source: String? = nil, key: FleetTSIGTests.Key? = nil) throws -> [String] {
        let result = try run("/usr/bin/dig", ["@\(endpoint.host)", "-p", "\(endpoint.port)", ".", "AXFR",
                                              "+nocmd", "+nostats", "+nocomments", "+time=10", "+tries=1"]
                                              + (source.map { ["-b", $0] } ?? []) + (key.map { ["-k", $0.file] } ?? []))
        return result.output.split(separator: "\n").filter { !$0.isEmpty && !$0.hasPrefix(";") && !$0.contains("\tTSIG\t") }
            .map(String.init).sorted()
    }

    /// The first difference between two sorted record lists, for a failure message.
    static func difference(_ a: [String], _ b: [String]) -> String {
        let extra = Set(a).subtracting(b).sorted().prefix(3)
        let missing = Set(b).subtracting(a).sorted().prefix(3)
        return "\(a.count) vs \(b.count) records; only in the first: \(Array(extra)); only in the second: \(Array(missing))"
    }

    enum Flavour: String, CaseIterable, CustomStringConvertible {
        case stripped, signed
        var description: String { rawValue }
        var data: String { self == .stripped ? CompiledData.root2023 : CompiledData.signedRoot2023 }
        /// The zone file holding what the data serves.
        func zoneFile(in dir: Scratch) throws -> String {
            if self == .stripped { return try DifferentialTests.strippedZone(in: dir) }
            let zone = dir.file("root.zone")
            let result = try run("/bin/sh", ["-c", "zcat '\(Paths.signedRootZone)' > '\(zone)'"])
            guard result.status == 0 else { throw TestFailure("zcat: \(result.output)") }
            return zone
        }
    }

    /// NSD, Knot and BIND transfer the zone from rootmirror (NSD by AXFR,
    /// Knot and BIND asking IXFR first); each then serves exactly the zone
    /// Knot serves from the zone file. A new data.cdb then reaches each of
    /// them through NOTIFY, long before their SOA refresh (30 minutes).
    @Test(arguments: Flavour.allCases)
    func secondariesFollowThePrimary(_ flavour: Flavour) throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let data = dir.file("data.cdb")
        try ReloadTests.install(flavour.data, at: data)

        let referenceDir = try dir.subdirectory("reference")
        let referenceEndpoint = Endpoint.random()
        let reference = try DifferentialTests.startKnot(zone: try flavour.zoneFile(in: referenceDir), dir: referenceDir,
                                                        endpoint: referenceEndpoint)
        defer { reference.stop() }
        try DifferentialTests.waitUntilAnswering(reference, referenceEndpoint)
        let expected = try Self.transferredRecords(from: referenceEndpoint)
        let zoneRecords = try Self.recordCount(flavour, in: dir)
        try #require(expected.count == zoneRecords + 1, "the reference transfer is the whole zone")

        let fleet = FleetAddresses()
        let http = Endpoint.random()
        let primary = try RootmirrorServer(data: data, directory: dir, extra: [
            "--allow-transfer", "127.0.0.0/8", "--http", http.description,
        ] + fleet.all.flatMap { ["--notify", $0.description] })
        defer { primary.stop() }
        let secondaries = try Self.startSecondaries(fleet, primary: primary.endpoint, dir: dir)
        defer { for secondary in secondaries { secondary.daemon.stop() } }

        // Compared as a Bool: a failure prints the difference, not 25,000 lines twice.
        let own = try Self.transferredRecords(from: primary.endpoint)
        let ownMatches = own == expected
        #expect(ownMatches, "rootmirror: \(Self.difference(own, expected))")
        try Self.waitForSerial(ReloadTests.old, on: secondaries)
        for secondary in secondaries {
            // Polled a few times: a secondary may answer the new SOA a moment
            // before all of it serves the transfer (NSD reloads by forking new
            // server processes). Wrong data stays wrong and still fails.
            var served = try Self.transferredRecords(from: secondary.endpoint)
            for _ in 0..<10 where served != expected {
                usleep(500_000)
                served = try Self.transferredRecords(from: secondary.endpoint)
            }
            let matches = served == expected
            #expect(matches, "\(secondary.name): \(Self.difference(served, expected))")
        }

        // The primary knows who holds what: NSD by its own address.
        #expect(try Self.heldSerial(of: fleet.nsd.host, health: http) == ReloadTests.old)

        try ReloadTests.install(CompiledData.root2026, at: data)
        try Self.waitForSerial(ReloadTests.new, on: secondaries)
        #expect(primary.daemon.wait(until: { (try? Self.heldSerial(of: fleet.nsd.host, health: http)) == ReloadTests.new }),
                "\((try? run("/usr/bin/curl", ["-s", "http://\(http)/health"]).output) ?? "")")
        // One acknowledgement of the new serial per secondary, logged once
        // all are in (the NOTIFY sent at start may be acknowledged too).
        #expect(primary.daemon.wait(until: {
            primary.daemon.log.split(separator: "\n").filter { $0.contains("notify acknowledged") && $0.contains("\(ReloadTests.new)") }.count
                == secondaries.count
        }), "\(primary.daemon.log)")
    }

    /// The serial the primary's /health says the secondary at `address` holds.
    static func heldSerial(of address: String, health http: Endpoint) throws -> UInt32? {
        let body = try run("/usr/bin/curl", ["-s", "--max-time", "5", "http://\(http)/health"]).output
        let json = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
        let secondaries = json?["secondaries"] as? [[String: Any]] ?? []
        return (secondaries.first { $0["address"] as? String == address }?["serial"] as? Int).map { UInt32($0) }
    }

    /// `--notify` also announces the zone once at start, after the first
    /// load: a secondary that missed a reload while the primary was down
    /// hears of the serial at once.
    @Test func notifiesOnceAtStart() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let secondary = Endpoint.random()
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        try #require(withLoopback(secondary) { bind(fd, $0, $1) } == 0)
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let server = try RootmirrorServer(data: CompiledData.root2023, directory: dir, extra: ["--notify", secondary.description])
        defer { server.stop() }

        var buffer = [UInt8](repeating: 0, count: 512)
        var sender = sockaddr_storage()
        var senderLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let n = withUnsafeMutablePointer(to: &sender) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, &buffer, buffer.count, 0, $0, &senderLength) }
        }
        try #require(n > 0, "no NOTIFY at start: \(server.daemon.log)")
        let notify = try Message(parsing: Array(buffer[0..<n]))
        #expect(notify.header.opcode == 4 && !notify.header.isResponse && notify.questions.first?.type == .soa)
        #expect(notify.serialInAnswer == ReloadTests.old)
        var ack = Array(buffer[0..<n])
        ack[2] |= 0x80
        _ = withUnsafePointer(to: &sender) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, ack, ack.count, 0, $0, senderLength) }
        }
        #expect(server.daemon.wait(until: { server.daemon.log.contains("notify acknowledged") }), "\(server.daemon.log)")
    }

    /// The records of a transfer read from `client` after sending `query`
    /// (and after `earlier`, read already), up to the closing SOA, how
    /// many messages and bytes carried them, and the OPT records they had.
    static func readTransfer(_ client: TCPClient, query: [UInt8], after earlier: [ResourceRecord] = [])
        throws -> (records: [ResourceRecord], messages: Int, bytes: Int, opts: [EDNS]) {
        var records = earlier
        var messages = 0
        var bytes = 0
        var opts: [EDNS] = []
        while records.count < 2 || records.last?.type != .soa {
            let frame = try #require(client.readFrame(), "the transfer ended after \(records.count) records")
            let message = try Message(parsing: frame)
            try #require(message.rcode == .noError && message.header.id == UInt16(query[0]) << 8 | UInt16(query[1]))
            records += message.answers
            messages += 1
            bytes += frame.count
            if let edns = message.edns { opts.append(edns) }
        }
        return (records, messages, bytes, opts)
    }

    /// Records of the 2023 zone file (one per line): what a transfer of its data must hold.
    static func recordCount(_ flavour: Flavour, in dir: Scratch) throws -> Int {
        let zone = try flavour.zoneFile(in: dir.subdirectory("count"))
        return try String(contentsOfFile: zone, encoding: .utf8).split(separator: "\n").count
    }

    /// AXFR and IXFR (answered in AXFR form) over TCP from an allowed
    /// client: SOA first and last, several messages, names compressed.
    /// Over UDP, or from outside the prefixes: REFUSED.
    @Test func whoGetsTheZoneAndHow() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let server = try RootmirrorServer(data: CompiledData.root2023, directory: dir,
                                          extra: ["--allow-transfer", "127.0.0.1/32", "--allow-transfer", "::1"])
        defer { server.stop() }
        let zoneRecords = try Self.recordCount(.stripped, in: dir)

        for (type, edns) in [(RRType.axfr, nil), (.ixfr, nil), (.axfr, EDNS(udpPayloadSize: 4096, dnssecOK: true))] {
            let client = try TCPClient(server.endpoint)
            let query = makeQuery(".", type, edns: edns)
            client.write(TCPClient.framed(query))
            let (records, messages, bytes, opts) = try Self.readTransfer(client, query: query)
            // OPT in every message when the query had EDNS (as Knot and NSD send), DO echoed; none otherwise.
            #expect(edns == nil ? opts.isEmpty : opts.count == messages && opts.allSatisfy { $0.dnssecOK && $0.udpPayloadSize == 1232 },
                    "\(type): \(opts)")
            #expect(records.count == zoneRecords + 1, "\(type): the zone, and its SOA again at the end")
            #expect(records.first?.type == .soa && records.filter { $0.type == .soa }.count == 2, "\(type)")
            #expect(records[1].type != .soa, "\(type): the whole zone, not an incremental one")
            #expect(messages > 1, "\(type): \(messages) message(s)")
            let uncompressed = records.reduce(0) { $0 + $1.owner.wire.count + 10 + $1.rdata.count }
            #expect(bytes < uncompressed, "\(type): names compressed (\(bytes) bytes for \(uncompressed) uncompressed)")
        }

        let udp = try UDPClient(server.endpoint)
        let overUDP = try Message(parsing: try #require(udp.exchange(makeQuery(".", .axfr))))
        #expect(overUDP.rcode == .refused && overUDP.answers.isEmpty)

        // From 127.9.9.9, outside 127.0.0.1/32.
        let outsider = try TCPClient(server.endpoint) { fd in
            _ = withLoopback(Endpoint(host: "127.9.9.9", port: 0)) { bind(fd, $0, $1) }
        }
        let query = makeQuery(".", .axfr)
        outsider.write(TCPClient.framed(query))
        let refused = try Message(parsing: try #require(outsider.readFrame()))
        #expect(refused.rcode == .refused && refused.answers.isEmpty)
        let fromDig = try run("/usr/bin/dig", ["-b", "127.9.9.9", "@\(server.endpoint.host)", "-p", "\(server.endpoint.port)", ".", "AXFR"])
        #expect(fromDig.output.contains("Transfer failed"), "\(fromDig.output)")
    }

    /// A transfer that began before a reload ends with the data it began
    /// with: the client reads slowly (a small receive buffer), and the new
    /// serial is served in between.
    @Test func aTransferOutlastsAReload() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let data = dir.file("data.cdb")
        try ReloadTests.install(CompiledData.signedRoot2023, at: data)
        let server = try RootmirrorServer(data: data, directory: dir,
                                          extra: ["--allow-transfer", "127.0.0.0/8", "--tcp-idle-timeout", "600"])
        defer { server.stop() }
        let zoneRecords = try Self.recordCount(.signed, in: dir)

        let client = try TCPClient(server.endpoint, timeoutMilliseconds: 30000) { fd in
            var size: Int32 = 4096
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        let query = makeQuery(".", .axfr)
        client.write(TCPClient.framed(query))
        let first = try Message(parsing: try #require(client.readFrame())).answers
        try ReloadTests.install(CompiledData.root2026, at: data)
        #expect(server.daemon.wait(until: { Self.serial(at: server.endpoint) == ReloadTests.new }, attempts: 2400))

        let records = try Self.readTransfer(client, query: query, after: first).records
        #expect(records.count == zoneRecords + 1)
        let serials = records.filter { $0.type == .soa }.compactMap { SOAFields(rdata: $0.rdata)?.serial }
        #expect(serials == [ReloadTests.old, ReloadTests.old])
    }

    /// A bad prefix or NOTIFY address is one line and exit 64, before anything is bound.
    @Test func badFleetOptionsAreRefused() throws {
        let badPrefix = try run(Paths.binary, ["serve", "-d", CompiledData.root2023, "--allow-transfer", "10.0.0.0/33"])
        #expect(badPrefix.status == 64 && badPrefix.stderr == "rootmirror: --allow-transfer: bad address '10.0.0.0/33': prefix length must be 0 to 32\n",
                "\(badPrefix.stderr)")
        let badNotify = try run(Paths.binary, ["serve", "-d", CompiledData.root2023, "--notify", "ns1.example"])
        #expect(badNotify.status == 64 && badNotify.stderr.hasPrefix("rootmirror: --notify: bad address 'ns1.example'"), "\(badNotify.stderr)")
    }

    /// Unbound's `auth-zone` for `.` pulls a signed root (the test's own
    /// keys, with ZONEMD) from rootmirror, checks its ZONEMD, and answers
    /// from it with AD, asking nothing of the root servers it names
    /// (outgoing queries may leave only from 127.0.0.1).
    @Test func unboundAuthZoneLoadsAndValidatesTheZone() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let zone = try SignedZone(SignedZone.root(tlds: 8), algorithm: "ECDSAP256SHA256")
        let data = dir.file("data.cdb")
        let compiled = try run(Paths.binary, ["compile", zone.signed, "-o", data, "--keep-dnssec"])
        try #require(compiled.status == 0, "\(compiled.stderr)")
        let primary = try RootmirrorServer(data: data, directory: dir, extra: ["--allow-transfer", "127.0.0.0/8"])
        defer { primary.stop() }

        let unboundDir = try dir.subdirectory("unbound")
        let endpoint = Endpoint.random()
        let unbound = try startUnbound(in: unboundDir.path, endpoint: endpoint, server: [
            "outgoing-interface: 127.0.0.1", "verbosity: 1", "trust-anchor-file: \"\(zone.anchor)\"",
        ], rest: """
            auth-zone:
                name: "."
                primary: \(primary.endpoint.host)@\(primary.endpoint.port)
                fallback-enabled: no
                for-downstream: no
                for-upstream: yes
                zonemd-check: yes
                zonemd-reject-absence: yes
                zonefile: "\(unboundDir.path)/root.zone"
            """)
        defer { unbound.stop() }

        // tld0's DS is the root's own data, signed: answered from the
        // transferred copy, validated from the test's trust anchor.
        let client = try UDPClient(endpoint, timeoutMilliseconds: 1000)
        func ask() -> Message? {
            let query = Message.query(id: UInt16.random(in: 1...0xFFFF), question: Question(name: try! DNSName(text: "tld0."), type: .ds),
                                      edns: EDNS(udpPayloadSize: 1232, dnssecOK: true), recursionDesired: true).encoded()
            return client.exchange(query).flatMap { try? Message(parsing: $0) }
        }
        let validated = unbound.wait(until: { ask().map { $0.rcode == .noError && $0.header.flags & MessageHeader.adBit != 0 } ?? false },
                                     attempts: 2400)
        #expect(validated, "\(ask().map { "\($0.rcode) flags \($0.header.flags)" } ?? "no answer")\n\(unbound.log.suffix(3000))")
        #expect(ask()?.answers.contains { $0.type == .ds } == true)
        #expect(!unbound.log.contains("ZONEMD verification failed"), "\(unbound.log.suffix(3000))")
    }
}
