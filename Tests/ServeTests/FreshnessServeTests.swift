import DNSWire
import Foundation
import Testing
import TestSupport

/// The freshness side of `serve` and `rootmirror check`, end to end: fake
/// live roots are other rootmirror instances on loopback addresses of the
/// tests' own, serving older and newer root zones; the endpoint is read
/// with curl, /metrics checked with promtool, queries sent with dig.
@Suite("freshness: SOA monitor, /health, /metrics, check, expiry")
struct FreshnessServeTests {
    static let hour: TimeInterval = 3600

    struct Health {
        let code: Int
        let json: [String: Any]
        var status: String? { json["status"] as? String }
        var upstream: [String: Any] { json["upstream"] as? [String: Any] ?? [:] }
    }

    func health(_ http: Endpoint) throws -> Health {
        let r = try run("/usr/bin/curl", ["-s", "--max-time", "5", "-w", "\n%{http_code}", "http://\(http)/health"])
        let lines = r.output.split(separator: "\n", omittingEmptySubsequences: false)
        let body = lines.dropLast().joined(separator: "\n")
        let json = (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any]
        guard let code = lines.last.flatMap({ Int($0) }), let json else { throw TestFailure("no health document from \(http): \(r.output)") }
        return Health(code: code, json: json)
    }

    func metrics(_ http: Endpoint) throws -> String {
        try run("/usr/bin/curl", ["-s", "--max-time", "5", "http://\(http)/metrics"]).output
    }

    /// The value of the first sample line starting with `prefix` (name and labels).
    func sample(_ text: String, _ prefix: String) -> Double? {
        text.split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap { Double($0.split(separator: " ").last!) }
    }

    func check(_ args: [String]) throws -> ProcessResult {
        try run(Paths.binary, ["check"] + args)
    }

    /// Polls (bounded) until the server's health document satisfies `condition`.
    func waitForHealth(_ http: Endpoint, _ condition: (Health) -> Bool) throws -> Health {
        var last = try health(http)
        for _ in 0..<200 where !condition(last) {
            usleep(50_000)
            last = try health(http)
        }
        return last
    }

    /// A fake live root: rootmirror serving a compiled zone, no monitor, no endpoint.
    func fakeRoot(_ data: String, _ dir: Scratch) throws -> RootmirrorServer {
        try RootmirrorServer(data: data, directory: dir)
    }

    func served(_ data: String, _ dir: Scratch, upstream: Endpoint, http: Endpoint, extra: [String] = []) throws -> RootmirrorServer {
        try RootmirrorServer(data: data, directory: dir,
                             extra: ["--http", http.description, "--upstream", upstream.description, "--check-interval", "1s",
                                     "--check-timeout", "1"] + extra)
    }

    struct StateCase: Sendable, CustomStringConvertible {
        var name: String
        var newerLocal: Bool
        var age: TimeInterval
        var extra: [String] = []
        var status: String
        var code: Int
        var checkExit: Int32
        var checkText: String
        var description: String { name }
    }

    static let states: [StateCase] = [
        StateCase(name: "current and fresh", newerLocal: true, age: 60, status: "ok", code: 200, checkExit: 0,
                  checkText: "ROOTMIRROR OK - serial 2026082200, published 2026-08-22, current, refreshed 1m ago | age="),
        StateCase(name: "behind the roots", newerLocal: false, age: 60, status: "warning", code: 200, checkExit: 1,
                  checkText: "ROOTMIRROR WARNING - serial 2023051100, published 2023-05-11, behind 2026082200"),
        StateCase(name: "refresh over 26h ago", newerLocal: true, age: 30 * hour, status: "warning", code: 200, checkExit: 1,
                  checkText: "last successful refresh 1d6h ago"),
        StateCase(name: "refresh over 72h ago", newerLocal: true, age: 80 * hour, status: "critical", code: 503, checkExit: 2,
                  checkText: "ROOTMIRROR CRITICAL - serial 2026082200, published 2026-08-22, current, refreshed 3d8h ago"),
        StateCase(name: "behind for longer than --critical-behind", newerLocal: false, age: 60, extra: ["--critical-behind", "2s"],
                  status: "critical", code: 503, checkExit: 2, checkText: "behind the live roots' 2026082200 for"),
        StateCase(name: "past the SOA expire", newerLocal: true, age: 8 * 24 * hour, status: "expired", code: 503, checkExit: 2,
                  checkText: "past the SOA expire of 7d), queries: forward"),
    ]

    @Test("every freshness state, in /health and in check", arguments: states)
    func everyState(_ c: StateCase) throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let root = try fakeRoot(CompiledData.root2026, dir)
        defer { root.stop() }
        let data = try agedCopy(of: c.newerLocal ? CompiledData.root2026 : CompiledData.root2023, in: dir, age: c.age)
        let http = Endpoint.random()
        let server = try served(data, dir, upstream: root.endpoint, http: http, extra: c.extra)
        defer { server.stop() }

        let report = try waitForHealth(http) { $0.json["last_check"] is String && $0.status == c.status }
        #expect(report.status == c.status, "\(report.json)")
        #expect(report.code == c.code)
        #expect(report.upstream["serial"] as? Int == 2_026_082_200 && report.upstream["answered"] as? Int == 1)
        #expect(report.json["local_serial"] as? Int == (c.newerLocal ? 2_026_082_200 : 2_023_051_100))
        #expect(report.json["last_refresh_source"] as? String == "data.cdb written")
        #expect(report.json["mode"] as? String == (c.status == "expired" ? "forward" : "serve"))
        let ageSeconds = try #require(report.json["data_age_seconds"] as? Int)
        #expect(abs(ageSeconds - Int(c.age)) < 60)
        if c.status != "ok" { #expect(!(report.json["reasons"] as? [String] ?? []).isEmpty) }

        let result = try check(["--url", "http://\(http)"])
        let lines = result.output.split(separator: "\n")
        #expect(result.status == c.checkExit, "\(result.output)")
        #expect(lines.count == 1 && lines[0].contains(c.checkText), "\(result.output)")
        #expect(lines.first?.contains("| age=") == true && lines.first?.contains(" behind=") == true)
    }

    @Test("no upstream answers: unknown upstream, the age checks still decide")
    func unknownUpstream() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let silent = Endpoint.random() // nothing listens there
        let http = Endpoint.random()
        let fresh = try agedCopy(of: CompiledData.root2026, in: dir, age: 60)
        let server = try served(fresh, dir, upstream: silent, http: http)
        defer { server.stop() }

        let report = try waitForHealth(http) { $0.json["last_check"] is String }
        #expect(report.status == "ok" && report.code == 200)
        #expect(report.upstream["answered"] as? Int == 0 && report.upstream["serial"] is NSNull)
        let servers = report.upstream["servers"] as? [[String: Any]] ?? []
        #expect(servers.count == 1 && servers.first?["error"] is String)
        let result = try check(["--url", "http://\(http)/health"])
        #expect(result.status == 0 && result.output.hasPrefix("ROOTMIRROR OK - serial 2026082200, published 2026-08-22, live roots unreachable"), "\(result.output)")
        // Reported once, not once per round.
        #expect(server.daemon.wait(until: { (sample((try? metrics(http)) ?? "", "rootmirror_soa_check_failures_total") ?? 0) >= 3 }))
        #expect(server.daemon.log.components(separatedBy: "no upstream answered the SOA check").count == 2, "\(server.daemon.log)")

        // The same with old data: the age alone makes it critical.
        let old = try agedCopy(of: CompiledData.root2026, in: dir, name: "old.cdb", age: 100 * Self.hour)
        let http2 = Endpoint.random()
        let stale = try served(old, dir, upstream: silent, http: http2)
        defer { stale.stop() }
        let staleReport = try waitForHealth(http2) { $0.json["last_check"] is String }
        #expect(staleReport.status == "critical" && staleReport.code == 503)
    }

    @Test("the refresh state file is the evidence of a refresh; a newer data.cdb counts too")
    func refreshStateFile() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let root = try fakeRoot(CompiledData.root2026, dir)
        defer { root.stop() }
        let data = try agedCopy(of: CompiledData.root2026, in: dir, age: 100 * Self.hour)
        let refreshed = Int(Date().timeIntervalSince1970) - 2 * 3600
        try "last_success=\(refreshed)\nresult=unchanged\nserial=2026082200\n".write(toFile: data + ".state", atomically: true, encoding: .utf8)
        let http = Endpoint.random()
        let server = try served(data, dir, upstream: root.endpoint, http: http)
        defer { server.stop() }
        let report = try waitForHealth(http) { $0.json["last_check"] is String }
        #expect(report.status == "ok", "\(report.json)")
        #expect(report.json["last_refresh_source"] as? String == "refresh")
        #expect(abs((report.json["data_age_seconds"] as? Int ?? 0) - 7200) < 60)
    }

    @Test("/metrics counts what was answered and passes promtool")
    func metricsEndpoint() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let root = try fakeRoot(CompiledData.root2026, dir)
        defer { root.stop() }
        let data = try agedCopy(of: CompiledData.root2023, in: dir, age: 60)
        let http = Endpoint.random()
        let server = try served(data, dir, upstream: root.endpoint, http: http)
        defer { server.stop() }
        _ = try waitForHealth(http) { $0.json["last_check"] is String }

        for name in ["com", "example.org", "a.gtld-servers.net"] { _ = try query(.dig, server.endpoint, [name, "A"]) }
        _ = try query(.dig, server.endpoint, ["nosuchtld", "A"])
        _ = try query(.dig, server.endpoint, [".", "NS"])
        _ = try query(.dig, server.endpoint, ["+tcp", "net", "NS"])
        _ = try query(.dig, server.endpoint, ["+noedns", "+ignore", "net", "NS"]) // TC at 512 bytes (RFC 9471)
        let client = try UDPClient(server.endpoint)
        var response = makeQuery("com", .ns)
        response[2] |= 0x80 // QR set: dropped
        client.send(response)
        #expect(client.exchange(Array(makeQuery("com", .ns)[0..<14])).map { $0[3] & 0x0F } == 1) // cut question: FORMERR
        try FileManager.default.copyItem(atPath: CompiledData.root2026, toPath: dir.file("next.cdb"))
        #expect(rename(dir.file("next.cdb"), data) == 0)
        #expect(server.daemon.wait(until: { server.daemon.log.contains("reloaded") }))

        let text = try metrics(http)
        let file = dir.file("metrics.txt")
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        let promtool = try run("/bin/sh", ["-c", "promtool check metrics < '\(file)'"])
        #expect(promtool.status == 0, "\(promtool.output) \(promtool.stderr)")

        let lines = text.split(separator: "\n").map(String.init)
        func value(_ name: String, _ labels: [String]) -> Double? {
            lines.first { line in line.hasPrefix(name) && labels.allSatisfy { line.contains($0) } }.flatMap { Double($0.split(separator: " ").last!) }
        }
        #expect(value("rootmirror_queries_total{", ["transport=\"udp\"", "kind=\"referral\"", "rcode=\"NOERROR\""]) == 4)
        #expect(value("rootmirror_queries_total{", ["transport=\"udp\"", "kind=\"nxdomain\"", "rcode=\"NXDOMAIN\""]) == 1)
        #expect(value("rootmirror_queries_total{", ["transport=\"udp\"", "kind=\"answer\"", "rcode=\"NOERROR\""]) == 1)
        #expect(value("rootmirror_queries_total{", ["transport=\"tcp\"", "kind=\"referral\"", "rcode=\"NOERROR\""]) == 1)
        #expect(value("rootmirror_truncated_replies_total{", ["transport=\"udp\""]) == 1)
        #expect(value("rootmirror_dropped_packets_total{", ["transport=\"udp\""]) == 1)
        #expect(value("rootmirror_malformed_queries_total", []) == 1)
        #expect(value("rootmirror_reloads_total{", ["result=\"ok\""]) == 1)
        #expect(value("rootmirror_zone_serial", []) == 2_026_082_200)
        #expect(value("rootmirror_upstream_serial", []) == 2_026_082_200)
        #expect((value("rootmirror_soa_checks_total", []) ?? 0) >= 1)
        #expect((value("rootmirror_data_age_seconds", []) ?? -1) >= 0)
    }

    @Test("check -d judges data.cdb on its own; failures to check are UNKNOWN")
    func standaloneAndUnknown() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let root = try fakeRoot(CompiledData.root2026, dir)
        defer { root.stop() }
        let upstream = ["--upstream", root.endpoint.description]

        let current = try check(["-d", try agedCopy(of: CompiledData.root2026, in: dir, name: "a.cdb", age: 3 * Self.hour)] + upstream)
        #expect(current.status == 0)
        #expect(current.output.hasPrefix("ROOTMIRROR OK - serial 2026082200, published 2026-08-22, current, refreshed 3h ago | age=108")
                && current.output.hasSuffix("s;93600;259200 behind=0s;;86400\n"), "\(current.output)")

        let behind = try check(["-d", try agedCopy(of: CompiledData.root2023, in: dir, name: "b.cdb", age: 60)] + upstream)
        #expect(behind.status == 1 && behind.output.hasPrefix("ROOTMIRROR WARNING - serial 2023051100, published 2023-05-11, behind 2026082200"), "\(behind.output)")

        let tight = try check(["-d", dir.file("a.cdb"), "--warning-age", "1h", "--critical-age", "2h"] + upstream)
        #expect(tight.status == 2 && tight.output.contains("age=1080") && tight.output.contains(";3600;7200 "), "\(tight.output)")

        let missing = try check(["-d", dir.file("none.cdb")] + upstream)
        #expect(missing.status == 2 && missing.output.hasPrefix("ROOTMIRROR CRITICAL - no data (cannot load"), "\(missing.output)")

        let unreachable = Endpoint.random()
        let down = try check(["--url", "http://\(unreachable)", "--timeout", "3"])
        #expect(down.status == 3 && down.output.hasPrefix("ROOTMIRROR UNKNOWN - http://\(unreachable)/health: "), "\(down.output)")

        // A server that answers, but not with a health document.
        let http = Endpoint.random()
        let server = try RootmirrorServer(data: CompiledData.root2026, directory: dir, extra: ["--http", http.description])
        defer { server.stop() }
        let wrong = try check(["--url", "http://\(http)/metrics"])
        #expect(wrong.status == 3 && wrong.output == "ROOTMIRROR UNKNOWN - http://\(http)/metrics/health: HTTP 404\n", "\(wrong.output)")

        let bad = try check(["-d", dir.file("a.cdb"), "--upstream", "not-an-address"])
        #expect(bad.status == 64 && bad.stderr.hasPrefix("rootmirror: --upstream: bad address 'not-an-address'") && bad.output.isEmpty)
    }

    /// The 2023 root compiled by hand today looks refreshed seconds ago;
    /// with no upstream to confirm it, a one-shot check will not call it
    /// OK, and names its publication date.
    @Test("check -d: old data compiled today, no upstream answering, is not OK")
    func oldDataCompiledTodayIsNotOK() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let data = try agedCopy(of: CompiledData.root2023, in: dir, age: 9)
        let result = try check(["-d", data, "--upstream", Endpoint.random().description, "--check-timeout", "0.5"])
        #expect(result.status == 1 && result.output.hasPrefix("ROOTMIRROR WARNING - serial 2023051100, published 2023-05-11, live roots unreachable")
                && result.output.contains("cannot confirm freshness: no upstream answered"), "\(result.output)")
    }

    @Test("DNSSEC data: signatures about to expire warn, expired ones are critical, in check, /health and /metrics")
    func signatureExpiry() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let root = """
            . 86400 IN SOA a.root-servers.net. nstld.example. 2026112700 1800 900 604800 86400
            . 518400 IN NS a.root-servers.net.
            root-servers.net. 172800 IN NS a.root-servers.net.
            a.root-servers.net. 172800 IN A 127.0.0.1
            example. 172800 IN NS ns.example.
            ns.example. 172800 IN A 127.0.0.2

            """
        let day: TimeInterval = 86400
        let cases: [(name: String, inception: TimeInterval, expiration: TimeInterval, exit: Int32, status: String, text: String)] = [
            ("valid", -day, 10 * day, 0, "ok", "ROOTMIRROR OK - serial 2026112700, published 2026-11-27, current"),
            ("expiring", -day, day, 1, "warning", "(DNSSEC signatures expire in "),
            // Served signatures past their time: the data has expired (and is forwarded).
            ("expired", -3 * day, -2 * Self.hour, 2, "expired", "(DNSSEC signatures expired 2h ago"),
        ]
        for c in cases {
            let signed = try DNSSECKeys(origin: ".", in: dir, name: c.name)
                .sign(root, in: dir, name: c.name, inception: Date(timeIntervalSinceNow: c.inception), expiration: Date(timeIntervalSinceNow: c.expiration))
            let data = dir.file("\(c.name).cdb")
            let compile = try run(Paths.binary, ["compile", signed, "-o", data, "--keep-dnssec"])
            try #require(compile.status == 0, "\(compile.stderr)")
            // The upstream serves the same serial: only the signatures decide.
            let upstream = try fakeRoot(data, dir)
            defer { upstream.stop() }
            let result = try check(["-d", data, "--upstream", upstream.endpoint.description])
            #expect(result.status == c.exit && result.output.contains(c.text), "\(c.name): \(result.output)")
            let left = Int(c.expiration)
            let perf = try #require(result.output.split(separator: " ").first { $0.hasPrefix("signatures=") }, "\(result.output)")
            let seconds = try #require(Int(perf.dropFirst("signatures=".count).prefix { $0 != "s" }))
            #expect(abs(seconds - left) < 120 && perf.hasSuffix("s;172800:;0:\n"), "\(perf)")

            let http = Endpoint.random()
            let server = try served(data, dir, upstream: upstream.endpoint, http: http)
            defer { server.stop() }
            let report = try waitForHealth(http) { $0.json["last_check"] is String }
            #expect(report.status == c.status && report.code == (c.exit == 2 ? 503 : 200), "\(c.name): \(report.json)")
            #expect(abs((report.json["signatures_expire_seconds"] as? Int ?? 0) - left) < 120, "\(report.json)")
            let gauge = try #require(sample(try metrics(http), "rootmirror_signatures_expire_seconds"))
            #expect(abs(Int(gauge) - left) < 120)
            let remote = try check(["--url", "http://\(http)"])
            #expect(remote.status == c.exit && remote.output.contains(c.text) && remote.output.contains(" signatures="), "\(remote.output)")
        }
        // Stripped data has no signatures to watch.
        let upstream = try fakeRoot(CompiledData.root2026, dir)
        defer { upstream.stop() }
        let http = Endpoint.random()
        let stripped = try served(try agedCopy(of: CompiledData.root2026, in: dir, age: 60), dir, upstream: upstream.endpoint, http: http)
        defer { stripped.stop() }
        let report = try waitForHealth(http) { $0.json["last_check"] is String }
        #expect(report.status == "ok" && report.json["signatures_expire_seconds"] is NSNull, "\(report.json)")
        #expect(sample(try metrics(http), "rootmirror_signatures_expire_seconds")?.isNaN == true)
    }

    /// The SOA serial a server gives for `. SOA`, over UDP or TCP.
    func rootSerial(_ server: Endpoint, tcp: Bool = false) throws -> String? {
        let r = try query(.dig, server, (tcp ? ["+tcp"] : []) + [".", "SOA", "+short"])
        return r.text.split(separator: " ").dropFirst(2).first.map(String.init)
    }

    @Test("expired data: queries are forwarded to the live roots until fresh data arrives")
    func expiryForwarding() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let root = try fakeRoot(CompiledData.root2026, dir)
        defer { root.stop() }
        let data = try agedCopy(of: CompiledData.root2023, in: dir, age: 8 * 24 * Self.hour)
        let http = Endpoint.random()
        let server = try served(data, dir, upstream: root.endpoint, http: http)
        defer { server.stop() }
        #expect(server.daemon.log.contains("data expired"))

        // The live root's data, with the client's ID (dig checks it) and case (0x20).
        #expect(try rootSerial(server.endpoint) == "2026082200")
        #expect(try rootSerial(server.endpoint, tcp: true) == "2026082200")
        let mixed = try query(.dig, server.endpoint, ["CoM.", "NS"])
        #expect(mixed.status == "noerror" && mixed.text.contains(";CoM.\t") && mixed.count("authority") == 13, "\(mixed.text)")
        // TCP client, truncated over UDP upstream (net without EDNS): relayed over TCP, whole.
        let net = try query(.dig, server.endpoint, ["+tcp", "+noedns", "net", "NS"])
        #expect(!net.flags.contains("tc") && net.count("additional") == 26, "\(net.text)")
        // What no live root can answer better stays local.
        let chaos = try query(.dig, server.endpoint, ["version.bind", "TXT", "CH"])
        #expect(chaos.text.contains("\"rootmirror\""))
        #expect((sample(try metrics(http), "rootmirror_forwarded_queries_total") ?? 0) >= 4)
        #expect(try health(http).json["mode"] as? String == "forward")

        // What does not end it: the same serial, a touch, a state written
        // for another serial, a file serve refuses. The data served is
        // still the old data, however new the file looks.
        try FileManager.default.copyItem(atPath: CompiledData.root2023, toPath: dir.file("same.cdb"))
        #expect(rename(dir.file("same.cdb"), data) == 0)
        try FileManager.default.setAttributes([.modificationDate: Date()], ofItemAtPath: data)
        try "last_success=\(Int(Date().timeIntervalSince1970))\nserial=2026082200\nresult=installed\n"
            .write(toFile: "\(data).state", atomically: true, encoding: .utf8)
        try FileManager.default.contents(atPath: CompiledData.root2023)!.prefix(4096).write(to: URL(fileURLWithPath: dir.file("truncated.cdb")))
        #expect(rename(dir.file("truncated.cdb"), data) == 0)
        #expect(server.daemon.wait(until: { server.daemon.log.contains("reload refused") }), "\(server.daemon.log)")
        sleep(2)
        let still = try health(http)
        #expect(still.status == "expired" && still.json["mode"] as? String == "forward", "\(still.json)")
        #expect(try rootSerial(server.endpoint) == "2026082200")

        // A good newer file ends it: answered locally again, at once.
        try FileManager.default.copyItem(atPath: CompiledData.root2026, toPath: dir.file("fresh.cdb"))
        #expect(rename(dir.file("fresh.cdb"), data) == 0)
        #expect(server.daemon.wait(until: { server.daemon.log.contains("no longer expired") }), "\(server.daemon.log)")
        #expect(try health(http).json["mode"] as? String == "serve")
        #expect(try health(http).json["local_serial"] as? Int == 2_026_082_200)
    }

    @Test("--on-expiry servfail and serve; no live root answering means SERVFAIL")
    func expiryActions() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let root = try fakeRoot(CompiledData.root2026, dir)
        defer { root.stop() }
        let data = try agedCopy(of: CompiledData.root2023, in: dir, age: 8 * 24 * Self.hour)

        let failing = try served(data, dir, upstream: root.endpoint, http: Endpoint.random(), extra: ["--on-expiry", "servfail"])
        defer { failing.stop() }
        #expect(try query(.dig, failing.endpoint, [".", "SOA"]).status == "servfail")
        #expect(try query(.kdig, failing.endpoint, ["+tcp", "com", "NS"]).status == "servfail")

        let stale = try served(data, dir, upstream: root.endpoint, http: Endpoint.random(), extra: ["--on-expiry", "serve"])
        defer { stale.stop() }
        #expect(try rootSerial(stale.endpoint) == "2023051100")

        let http = Endpoint.random()
        let stranded = try served(data, dir, upstream: Endpoint.random(), http: http)
        defer { stranded.stop() }
        #expect(try query(.dig, stranded.endpoint, [".", "SOA"]).status == "servfail")
        #expect((sample(try metrics(http), "rootmirror_forward_failures_total") ?? 0) >= 1)
    }

    @Test("a monitor whose upstream never answers leaves answering alone")
    func silentUpstreamDoesNotBlockAnswers() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        // A socket that takes datagrams and never replies: every check waits its full timeout.
        let hole = Endpoint.random()
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        try #require(withLoopback(hole, { bind(fd, $0, $1) }) == 0)
        let http = Endpoint.random()
        let data = try agedCopy(of: CompiledData.root2026, in: dir, age: 60)
        let server = try served(data, dir, upstream: hole, http: http, extra: ["--check-timeout", "5"])
        defer { server.stop() }

        let client = try UDPClient(server.endpoint)
        var answered = 0
        for i in 0..<3000 {
            let reply = client.exchange(makeQuery(i % 2 == 0 ? "com" : "nosuchtld\(i)", .a)).flatMap { try? Message(parsing: $0) }
            if reply != nil { answered += 1 }
        }
        #expect(answered == 3000)
        let report = try waitForHealth(http) { $0.json["last_check"] is String }
        #expect(report.upstream["answered"] as? Int == 0 && report.status == "ok")
    }
}
