import Foundation
import Testing
import TestSupport

/// The served data's age as a fleet sees it: RFC 7314's EXPIRE option in
/// answers to secondaries (SOA over UDP and TCP, AXFR), transfers refused
/// once the data has expired, and `/health`'s list of the secondaries with
/// `/metrics`' transfer counters. Queried with real dig.
@Suite("EDNS EXPIRE, expired transfers, the secondaries served")
struct ExpireTests {
    static let day: TimeInterval = 86400

    /// dig's `; EXPIRE: N (...)` line, as seconds.
    func expire(_ output: String) -> Int? {
        output.split(separator: "\n").first { $0.hasPrefix("; EXPIRE: ") }
            .flatMap { Int($0.dropFirst("; EXPIRE: ".count).prefix { $0.isNumber }) }
    }

    func dig(_ server: Endpoint, _ arguments: [String], source: String = "127.0.0.1") throws -> ProcessResult {
        try run("/usr/bin/dig", ["@\(server.host)", "-p", "\(server.port)", "-b", source, "+time=5", "+tries=1"] + arguments)
    }

    func primary(age: TimeInterval, dir: Scratch, http: Endpoint) throws -> RootmirrorServer {
        let data = try agedCopy(of: CompiledData.root2026, in: dir, age: age)
        // Transfer rights for 127.0.0.1 only: dig from 127.0.0.2 has none.
        // Expired data is answered SERVFAIL, never forwarded off this host.
        return try RootmirrorServer(data: data, directory: dir, extra: [
            "--allow-transfer", "127.0.0.1/32", "--http", http.description,
            "--on-expiry", "servfail", "--upstream", Endpoint.random().description,
        ])
    }

    @Test func secondariesAreToldTheTimeLeftOfDataSixDaysOld() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let http = Endpoint.random()
        let server = try primary(age: 6 * Self.day, dir: dir, http: http)
        defer { server.stop() }
        let oneDay = 86400

        let tcp = try dig(server.endpoint, ["+tcp", "+expire", ".", "SOA"])
        let left = try #require(expire(tcp.output), "\(tcp.output)")
        #expect(left <= oneDay && left > oneDay - 300, "\(tcp.output)")
        let udp = try dig(server.endpoint, ["+expire", ".", "SOA"])
        #expect(expire(udp.output).map { $0 <= oneDay && $0 > oneDay - 300 } == true, "\(udp.output)")
        let axfr = try dig(server.endpoint, ["+expire", "+comments", ".", "AXFR"])
        #expect(expire(axfr.output).map { $0 <= oneDay && $0 > oneDay - 300 } == true, "\(axfr.output.prefix(600))")
        #expect(axfr.output.contains("2026082200 1800 900 604800 86400"))

        // No rights, no clock, no zone.
        let stranger = try dig(server.endpoint, ["+tcp", "+expire", ".", "SOA"], source: "127.0.0.2")
        #expect(stranger.output.contains("status: NOERROR") && expire(stranger.output) == nil, "\(stranger.output)")
        let refused = try dig(server.endpoint, [".", "AXFR"], source: "127.0.0.2")
        #expect(refused.output.contains("Transfer failed"), "\(refused.output)")

        // Who holds what: the secondary that transferred, with its serial.
        let health = try run("/usr/bin/curl", ["-s", "--max-time", "5", "http://\(http)/health"]).output
        let json = try #require(try JSONSerialization.jsonObject(with: Data(health.utf8)) as? [String: Any])
        let secondaries = try #require(json["secondaries"] as? [[String: Any]], "\(health)")
        #expect(secondaries.count == 1, "\(secondaries)")
        let secondary = try #require(secondaries.first)
        #expect(secondary["address"] as? String == "127.0.0.1" && secondary["serial"] as? Int == 2_026_082_200
                && secondary["kind"] as? String == "axfr" && secondary["behind"] as? Bool == false
                && (secondary["bytes"] as? Int ?? 0) > 500_000 && secondary["failures"] as? Int == 0, "\(secondary)")
        let metrics = try run("/usr/bin/curl", ["-s", "--max-time", "5", "http://\(http)/metrics"]).output
        #expect(metrics.contains("rootmirror_transfers_total{kind=\"axfr\",result=\"ok\"} 1"), "\(metrics)")
        #expect(metrics.contains("rootmirror_transfers_total{kind=\"axfr\",result=\"refused\"} 1"), "\(metrics)")
        #expect(metrics.contains("rootmirror_secondaries_behind 0"), "\(metrics)")
    }

    @Test func expiredDataIsNotTransferred() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let http = Endpoint.random()
        let server = try primary(age: 8 * Self.day, dir: dir, http: http)
        defer { server.stop() }
        let axfr = try dig(server.endpoint, [".", "AXFR"])
        #expect(axfr.output.contains("Transfer failed") && !axfr.output.contains("IN\tNS\t"), "\(axfr.output.prefix(600))")
        let soa = try dig(server.endpoint, ["+tcp", "+expire", ".", "SOA"])
        #expect(soa.output.contains("status: SERVFAIL") && expire(soa.output) == nil, "\(soa.output)")
        let metrics = try run("/usr/bin/curl", ["-s", "--max-time", "5", "http://\(http)/metrics"]).output
        #expect(metrics.contains("rootmirror_transfers_total{kind=\"axfr\",result=\"refused\"} 1"), "\(metrics)")
        let health = try run("/usr/bin/curl", ["-s", "--max-time", "5", "http://\(http)/health"]).output
        #expect(health.contains("\"failures\": 1") && health.contains("\"status\": \"expired\""), "\(health)")
    }
}
