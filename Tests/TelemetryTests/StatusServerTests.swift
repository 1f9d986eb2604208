import Addressing
import Answering
import BuildInfo
import DNSWire
import Foundation
import Synchronization
import Freshness
import Testing
import TestSupport
@testable import Telemetry

@Suite struct StatusServerTests {
    func report(age: Int64, serial: UInt32? = 2_026_082_201) -> HealthReport {
        let now: Int64 = 1_800_000_000
        let observation = SOAMonitor.Observation(
            time: now - 60,
            results: [SOAProbe.Result(upstream: upstream("198.41.0.4"), serial: 2_026_082_201, error: nil),
                      SOAProbe.Result(upstream: upstream("2001:503:ba3e::2:30"), serial: nil, error: "no answer within 2000 ms")],
            view: .majority(serial: 2_026_082_201, answered: 1))
        let input = FreshnessInput(now: now, localSerial: serial, soaExpire: 604_800, lastRefresh: now - age,
                                   upstream: observation.view, behindSince: nil)
        return HealthReport(assessment: FreshnessPolicy.assess(input), input: input, thresholds: FreshnessThresholds(),
                            observation: observation, lastReload: now - 100, mode: "serve")
    }

    func curl(_ url: String) throws -> (code: Int, body: String) {
        let r = try run("/usr/bin/curl", ["-s", "-w", "\n%{http_code}", url])
        let lines = r.output.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last!)!, lines.dropLast().joined(separator: "\n"))
    }

    @Test func healthJSONAndStatusCodes() throws {
        let age = Mutex<Int64>(3 * 3600)
        let host = Endpoint.random().host
        let server = try StatusServer(host: host, port: 0, health: { report(age: age.withLock { $0 }) }, metrics: { "" })
        defer { server.stop() }
        let url = "http://\(host):\(server.localAddress!.port!)"

        let ok = try curl("\(url)/health")
        #expect(ok.code == 200)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(ok.body.utf8)) as? [String: Any])
        #expect(json["status"] as? String == "ok")
        #expect(json["version"] as? String == BuildInfo.description)
        #expect(json["local_serial"] as? Int == 2_026_082_201)
        #expect(json["data_age_seconds"] as? Int == 10800)
        #expect(json["last_refresh"] as? String == "2027-01-15T05:00:00Z")
        let upstream = try #require(json["upstream"] as? [String: Any])
        #expect(upstream["serial"] as? Int == 2_026_082_201 && upstream["answered"] as? Int == 1 && upstream["asked"] as? Int == 2)
        let servers = try #require(upstream["servers"] as? [[String: Any]])
        #expect(servers.last?["address"] as? String == "[2001:503:ba3e::2:30]:53")
        #expect(servers.last?["error"] as? String == "no answer within 2000 ms")

        age.withLock { $0 = 30 * 3600 }
        #expect(try curl("\(url)/health").code == 200) // warning still serves
        age.withLock { $0 = 80 * 3600 }
        let critical = try curl("\(url)/health")
        #expect(critical.code == 503 && critical.body.contains("\"status\": \"critical\""))
        age.withLock { $0 = 700_000 }
        #expect(try curl("\(url)/health").body.contains("\"status\": \"expired\""))

        #expect(try curl("\(url)/nothing").code == 404)
        let post = try run("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "\(url)/health"])
        #expect(post.output == "405")
    }

    @Test func noDataIs503() throws {
        let host = Endpoint.random().host
        let server = try StatusServer(host: host, port: 0, health: { report(age: 0, serial: nil) }, metrics: { "" })
        defer { server.stop() }
        let r = try curl("http://\(host):\(server.localAddress!.port!)/health")
        #expect(r.code == 503 && r.body.contains("\"status\": \"no data\""))
    }

    func start(_ limits: StatusServer.Limits) throws -> (StatusServer, Endpoint) {
        let host = Endpoint.random().host
        let server = try StatusServer(host: host, port: 0, limits: limits, health: { report(age: 0) }, metrics: { "" })
        return (server, Endpoint(host: host, port: UInt16(server.localAddress!.port!)))
    }

    /// Reads up to the end of one response with `Content-Length` (ours always have it).
    func readResponse(_ client: TCPClient) -> String? {
        var text = ""
        while true {
            guard let byte = client.read(1) else { return nil }
            text += String(decoding: byte, as: UTF8.self)
            if let end = text.range(of: "\r\n\r\n"),
               let length = text.split(separator: "\r\n").first(where: { $0.lowercased().hasPrefix("content-length:") })
                .flatMap({ Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) }) {
                return text + String(decoding: client.read(length - text[end.upperBound...].utf8.count) ?? [], as: UTF8.self)
            }
        }
    }

    /// A request whose header lines come a byte every 250 ms is cut off at
    /// the request timeout (1 s), although bytes never stop coming.
    @Test func halfSentRequestIsTimedOut() throws {
        let (server, endpoint) = try start(.init(idleTimeout: .seconds(1), requestTimeout: .seconds(1)))
        defer { server.stop() }
        let client = try TCPClient(endpoint, timeoutMilliseconds: 250)
        let slow = Array("GET /health HTTP/1.1\r\nHost: x\r\n".utf8) + Array(repeating: UInt8(ascii: "a"), count: 40)
        #expect(client.trickleUntilClosed(slow), "still open after 20 s of a request 1 s is allowed for")
    }

    /// A keep-alive connection is answered, then closed once idle (1 s);
    /// one that never sends a byte is closed as well.
    @Test func idleKeepAliveConnectionIsClosed() throws {
        let (server, endpoint) = try start(.init(idleTimeout: .seconds(1), requestTimeout: .seconds(1)))
        defer { server.stop() }
        let client = try TCPClient(endpoint, timeoutMilliseconds: 500)
        for _ in 0..<2 {
            client.write(Array("GET /health HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
            let response = try #require(readResponse(client))
            #expect(response.hasPrefix("HTTP/1.1 200"), "\(response)")
        }
        #expect(client.waitUntilClosed(attempts: 40), "keep-alive connection still open 20 s after its last response")
        let silent = try TCPClient(endpoint, timeoutMilliseconds: 500)
        #expect(silent.waitUntilClosed(attempts: 40), "silent connection still open after 20 s")
    }

    /// At the cap (3), a new connection closes the one open longest, and is served.
    @Test func connectionsAreCapped() throws {
        let (server, endpoint) = try start(.init(idleTimeout: .seconds(60), requestTimeout: .seconds(60), maximumConnections: 3))
        defer { server.stop() }
        var held: [TCPClient] = []
        for _ in 0..<3 {
            held.append(try TCPClient(endpoint, timeoutMilliseconds: 500))
            // Each is accepted before the next connects, so "oldest" is well defined.
            held.last!.write(Array("GET /health HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
            _ = try #require(readResponse(held.last!))
        }
        let newcomer = try TCPClient(endpoint, timeoutMilliseconds: 5000)
        newcomer.write(Array("GET /health HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        #expect(readResponse(newcomer)?.hasPrefix("HTTP/1.1 200") == true)
        #expect(held[0].waitUntilClosed(attempts: 20), "the oldest connection is still open")
        held[1].write(Array("GET /health HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        #expect(readResponse(held[1])?.hasPrefix("HTTP/1.1 200") == true, "a younger connection was closed")
    }

    @Test func metricsPassPromtool() throws {
        let metrics = ServerMetrics()
        metrics.record(Reply(length: 100, kind: .referral, rcode: .noError, truncated: false), transport: .udp)
        metrics.record(Reply(length: 100, kind: .referral, rcode: .noError, truncated: true), transport: .udp)
        metrics.record(Reply(length: 40, kind: .nxdomain, rcode: .nxDomain, truncated: false), transport: .tcp)
        metrics.record(Reply(length: 12, kind: .error, rcode: .formErr, truncated: false), transport: .udp)
        metrics.record(Reply(length: 0, kind: .error, rcode: .formErr, truncated: false), transport: .udp)
        metrics.zoneSerial.set(to: 2_026_082_201.0)
        let host = Endpoint.random().host
        let server = try StatusServer(host: host, port: 0, health: { report(age: 0) }, metrics: { metrics.exposition() })
        defer { server.stop() }
        let scraped = try curl("http://\(host):\(server.localAddress!.port!)/metrics")
        #expect(scraped.code == 200)
        let text = scraped.body + "\n"
        #expect(text.contains("rootmirror_queries_total{transport=\"udp\",kind=\"referral\",rcode=\"NOERROR\"} 2"))
        #expect(text.contains("rootmirror_queries_total{transport=\"tcp\",kind=\"nxdomain\",rcode=\"NXDOMAIN\"} 1"))
        #expect(text.contains("rootmirror_truncated_replies_total{transport=\"udp\"} 1"))
        #expect(text.contains("rootmirror_dropped_packets_total{transport=\"udp\"} 1"))
        #expect(text.contains("rootmirror_malformed_queries_total 1"))
        #expect(text.contains("rootmirror_zone_serial 2026082201"))
        let promtool = try run("/usr/bin/promtool", ["check", "metrics"], input: Array(text.utf8))
        #expect(promtool.status == 0, "promtool: \(promtool.output) \(promtool.stderr)")
    }
}

/// An upstream as `--upstream` reads it.
func upstream(_ text: String) -> IPEndpoint {
    try! IPEndpoint(parsing: text, defaultPort: 53)
}
