import CDBStore
import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// `serve --refresh`: a server that keeps its own data fresh, following a
/// fake live root (rootmirror serving a test-signed root by AXFR, its SOA
/// timers in seconds) from serial to serial, with no cron and no restart.
@Suite(.serialized) struct ServeRefreshTests {
    let zone: SignedZone
    let files: Scratch
    let target: Target
    /// What the fake root serves; replaced by rename to publish a new serial.
    var primaryData: String { files.file("primary.cdb") }

    init() throws {
        zone = try SignedZone(SignedZone.root(tlds: 8, refresh: 1, retry: 1), algorithm: "ECDSAP256SHA256")
        files = try Scratch()
        target = try Target()
    }

    /// Installs `signed` as the fake root's data, as a refresh would: by rename.
    func publish(_ signed: String) throws {
        let staged = files.file("primary.next.cdb")
        let compiled = try run(rootmirrorBinary, ["compile", signed, "-o", staged, "--keep-dnssec"])
        try #require(compiled.status == 0, "\(compiled.stderr)")
        try #require(rename(staged, primaryData) == 0)
    }

    func signed(serial: UInt32) throws -> String {
        try zone.sign(SignedZone.root(serial: serial, tlds: 8, refresh: 1, retry: 1), name: "zone-\(serial)")
    }

    /// `serve --refresh` on the target's data, refreshing from `source` and
    /// comparing serials with `upstream`.
    func mirror(source: String, upstream: Endpoint, http: Endpoint, extra: [String] = []) throws -> RootmirrorServer {
        try RootmirrorServer(data: target.data, directory: files, extra: [
            "--refresh", "--url", source, "--upstream", upstream.description, "--http", http.description,
            "--trust-anchor", zone.anchor, "--min-tlds", "1", "--timeout", "3", "--keep-dnssec",
        ] + extra)
    }

    /// The target's data installed from `primary`, its refresh and its
    /// file dated an hour ago: older than the zone's SOA refresh.
    func installRefreshedAnHourAgo(from primary: RootmirrorServer) throws {
        let first = try target.refresh(["--url", "axfr://\(primary.endpoint)", "--trust-anchor", zone.anchor, "--min-tlds", "1"])
        try #require(first.status == 0, "\(first.stderr)")
        var state = try RefreshState.read(forData: target.data)
        let hourAgo = Int64(Date().timeIntervalSince1970) - 3600
        state.lastSuccess = hourAgo
        state.confirmed = hourAgo
        try state.write(forData: target.data)
        var times = [timeval(tv_sec: Int(hourAgo), tv_usec: 0), timeval(tv_sec: Int(hourAgo), tv_usec: 0)]
        try #require(utimes(target.data, &times) == 0)
    }

    /// Polls (bounded) until `server` answers with `serial`.
    func waitForSerial(_ serial: UInt32, from server: RootmirrorServer) throws -> Bool {
        server.daemon.wait(until: { (try? servedSerial(server.endpoint)) == "\(serial)" }, attempts: 1200)
    }

    func health(_ http: Endpoint) throws -> [String: Any] {
        let r = try run("/usr/bin/curl", ["-s", "--max-time", "5", "http://\(http)/health"])
        return try #require(try JSONSerialization.jsonObject(with: Data(r.output.utf8)) as? [String: Any], "\(r.output)")
    }

    @Test func followsTheLiveRootFromSerialToSerialAndSurvivesABadOne() throws {
        try publish(zone.signed)
        let primary = try RootmirrorServer(data: primaryData, directory: files, extra: ["--allow-transfer", "127.0.0.0/8"])
        defer { primary.stop() }
        let http = Endpoint.random()

        // No data.cdb: the first refresh comes before the first load.
        let server = try mirror(source: "axfr://\(primary.endpoint)", upstream: primary.endpoint, http: http)
        defer { server.stop() }
        #expect(try servedSerial(server.endpoint) == "2026112700", "\(server.daemon.log)")
        #expect(server.daemon.log.contains("reason=no data") && server.daemon.log.contains("serial 2026112700 installed"),
                "\(server.daemon.log)")

        // Two new serials upstream: each is seen by the SOA check, fetched
        // by the refresh child and picked up by the rename-reload.
        for serial: UInt32 in [2026112701, 2026112702] {
            try publish(try signed(serial: serial))
            #expect(try waitForSerial(serial, from: server), "\(server.daemon.log)")
            #expect(server.daemon.log.contains("reason=upstream serial \(serial) newer than \(serial - 1)"), "\(server.daemon.log)")
        }
        #expect(try RefreshState.read(forData: target.data).serial == 2026112702)
        let lastAttempt = try #require(try health(http)["last_refresh_attempt"] as? [String: Any])
        #expect(lastAttempt["result"] as? String == "ok" && lastAttempt["exit_status"] as? Int == 0, "\(lastAttempt)")

        // A newer serial with a glue address changed after signing: the
        // refresh refuses it (ZONEMD), serving goes on with what it had,
        // one log line per attempt, and /health and /metrics say so.
        let forged = try zone.sign(SignedZone.root(serial: 2026112703, tlds: 8, refresh: 1, retry: 1), name: "forged")
        let text = try String(contentsOfFile: forged, encoding: .utf8)
        let changed = text.replacingOccurrences(of: "192.0.2.3", with: "203.0.113.3")
        try #require(changed != text)
        try publish(files.write("forged.zone", Array(changed.utf8)))
        #expect(server.daemon.wait(until: { server.daemon.log.contains("refresh failed") }, attempts: 1200), "\(server.daemon.log)")
        let failures = server.daemon.log.split(separator: "\n").filter { $0.contains("refresh failed") }
        #expect(failures.allSatisfy { $0.contains("still serving serial 2026112702") && $0.contains("exit=4") && $0.contains("ZONEMD") },
                "\(failures)")
        // The child's own output goes into those lines, never on serve's stderr as is.
        #expect(!server.daemon.log.split(separator: "\n").contains { $0.hasPrefix("rootmirror: ") }, "\(server.daemon.log)")
        #expect(try servedSerial(server.endpoint) == "2026112702")
        #expect(server.daemon.isRunning)
        let failed = try #require(try health(http)["last_refresh_attempt"] as? [String: Any])
        #expect(failed["result"] as? String == "failed" && failed["exit_status"] as? Int == 4
                && (failed["message"] as? String ?? "").contains("ZONEMD"), "\(failed)")
        let metrics = try run("/usr/bin/curl", ["-s", "--max-time", "5", "http://\(http)/metrics"]).output
        #expect(metrics.contains("rootmirror_refreshes_total{result=\"failed\"}") && metrics.contains("rootmirror_refreshes_total{result=\"ok\"}"),
                "\(metrics)")
        #expect(target.onlyFinalFiles, "\(target.scratch.files)")
    }

    /// Data refreshed an hour ago, older than the zone's SOA refresh: a
    /// refresh at start, though no upstream answers the SOA check.
    @Test func oldDataIsRefreshedAtStart() throws {
        try publish(zone.signed)
        let primary = try RootmirrorServer(data: primaryData, directory: files, extra: ["--allow-transfer", "127.0.0.0/8"])
        defer { primary.stop() }
        try installRefreshedAnHourAgo(from: primary)
        try publish(try signed(serial: 2026112701))
        try #require(try waitForSerial(2026112701, from: primary), "\(primary.daemon.log)")

        let server = try mirror(source: "axfr://\(primary.endpoint)", upstream: Endpoint.random(), http: Endpoint.random())
        defer { server.stop() }
        #expect(try waitForSerial(2026112701, from: server), "\(server.daemon.log)")
        #expect(server.daemon.log.contains("reason=data 1h old at start"), "\(server.daemon.log)")
    }

    /// A mirror of a mirror never adds to the data's life: the primary's
    /// data is 6 days old, so the secondary that transferred it a moment
    /// ago tells its own secondaries one day is left (RFC 7314's EXPIRE),
    /// and its /health counts the age from the primary's confirmation.
    @Test func aSecondaryTakesItsAgeFromThePrimary() throws {
        try publish(zone.signed)
        let sixDaysAgo = Date(timeIntervalSinceNow: -6 * 86400)
        try FileManager.default.setAttributes([.modificationDate: sixDaysAgo], ofItemAtPath: primaryData)
        let primary = try RootmirrorServer(data: primaryData, directory: files, extra: ["--allow-transfer", "127.0.0.0/8"])
        defer { primary.stop() }
        let http = Endpoint.random()
        let server = try mirror(source: "axfr://\(primary.endpoint)", upstream: primary.endpoint, http: http,
                                extra: ["--allow-transfer", "127.0.0.0/8"])
        defer { server.stop() }
        #expect(try servedSerial(server.endpoint) == "2026112700", "\(server.daemon.log)")
        let dig = try run("/usr/bin/dig", ["@\(server.endpoint.host)", "-p", "\(server.endpoint.port)", "+tcp", "+expire", ".", "SOA"])
        let line = try #require(dig.output.split(separator: "\n").first { $0.hasPrefix("; EXPIRE: ") }, "\(dig.output)")
        let left = try #require(Int(line.dropFirst("; EXPIRE: ".count).prefix { $0.isNumber }))
        #expect(left <= 86400 && left > 86400 - 600, "\(line)")
        let age = try #require(try health(http)["data_age_seconds"] as? Int)
        #expect(age >= 6 * 86400 && age < 6 * 86400 + 600, "\(age)")
    }

    /// `kill -9` of serve while its refresh child waits on a source that
    /// never answers (five minutes, by `--timeout`): the child goes with its
    /// server and holds none of its ports, so the server restarted at once
    /// on the same addresses binds them.
    @Test func aRefreshChildDiesWithItsServerAndHoldsNoPort() throws {
        try publish(zone.signed)
        let primary = try RootmirrorServer(data: primaryData, directory: files, extra: ["--allow-transfer", "127.0.0.0/8"])
        defer { primary.stop() }
        // An hour old: refreshed at start, from the silent source.
        try installRefreshedAnHourAgo(from: primary)
        let silent = try SilentListener()
        defer { silent.stop() }
        let http = Endpoint.random()
        let options = ["--http", http.description, "--upstream", Endpoint.random().description]
        let server = try RootmirrorServer(data: target.data, directory: files, extra: options + [
            "--refresh", "--url", "axfr://\(silent.endpoint)", "--trust-anchor", zone.anchor, "--min-tlds", "1", "--timeout", "300",
        ])
        var child: pid_t?
        _ = server.daemon.wait(until: {
            child = childProcesses(of: server.daemon.pid).first
            return child != nil
        })
        let refresh = try #require(child, "no refresh child: \(server.daemon.log)")
        // Whatever happens below, nothing this test started outlives it.
        defer { kill(refresh, SIGKILL) }
        server.daemon.signal(SIGKILL)
        server.daemon.process.waitUntilExit()

        // Polled by hand: the daemon's own wait stops at once, its process being gone.
        var gone = !isAlive(refresh)
        for _ in 0..<400 where !gone {
            usleep(25_000)
            gone = !isAlive(refresh)
        }
        #expect(gone, "the refresh child outlived its server")
        let again = try RootmirrorServer(data: target.data, directory: files, extra: options, endpoint: server.endpoint)
        again.stop()
    }

    /// With nothing to serve and a refresh that fails, serve does not start:
    /// the refresh's reason is the last line, and the exit status is not 0.
    @Test func noDataAndAFailedRefreshIsAnError() throws {
        let closed = Endpoint.random()
        let result = try run(rootmirrorBinary, [
            "serve", "-d", target.data, "--listen", Endpoint.random().description, "--http", "off", "--check-interval", "off",
            "--refresh", "--url", "axfr://\(closed)", "--timeout", "2",
        ])
        let last = result.stderr.split(separator: "\n").last.map(String.init) ?? ""
        #expect(result.status == 1 && last.hasPrefix("rootmirror: \(target.data) is missing and the refresh failed: axfr://\(closed)"),
                "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: target.data))
    }

    @Test(arguments: [
        (["--refresh", "--chroot", "/tmp"], "--refresh does not work with --chroot"),
        (["--url", "axfr://127.0.0.1"], "need --refresh"),
        (["--refresh", "--url", "axfr://root.example"], "axfr:// takes an address"),
    ])
    func refusedCombinations(_ arguments: [String], _ message: String) throws {
        let result = try run(rootmirrorBinary, ["serve", "-d", target.data, "--listen", Endpoint.random().description, "--http", "off"] + arguments)
        #expect(result.status == 64 && result.stderr.split(separator: "\n").count == 1 && result.stderr.contains(message), "\(result.stderr)")
    }
}

/// The children of `pid`, from each of its threads' list in /proc.
func childProcesses(of pid: pid_t) -> [pid_t] {
    let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
    return tasks.flatMap { task in
        ((try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/children", encoding: .utf8)) ?? "")
            .split(separator: " ").compactMap { pid_t($0) }
    }
}

/// Whether `pid` is a process still running: gone, or a zombie waiting for
/// its new parent to reap it, is not.
func isAlive(_ pid: pid_t) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return false }
    return stat[stat.index(close, offsetBy: 2)] != "Z"
}
