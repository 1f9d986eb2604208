import DNSWire
import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Response rate limiting: a flood of queries from one source gets some
/// answers, then TC-only slips and silence, counted in /metrics; TCP,
/// which a forged source cannot use, is answered as ever.
@Suite("serve: response rate limiting")
struct RateLimitTests {
    @Test func aFloodFromOnePrefixIsAnsweredAtTheRateThenSlippedOrDropped() throws {
        let dir = try Scratch()
        let http = Endpoint.random()
        let server = try RootmirrorServer(data: CompiledData.root2023, directory: dir,
                                          extra: ["--rate-limit", "10", "--http", http.description])
        defer { server.stop() }
        #expect(server.daemon.log.contains("rate-limit=10/s per prefix"), "\(server.daemon.log)")

        let client = try UDPClient(server.endpoint, timeoutMilliseconds: 1000)
        var buffer: Int32 = 4 << 20
        setsockopt(client.fd, SOL_SOCKET, SO_RCVBUF, &buffer, socklen_t(MemoryLayout<Int32>.size))
        // Sent at once, read afterwards: far more than ten in any second.
        let count = 1000
        for id in 1...count { client.send(makeQuery(".", .soa, id: UInt16(id))) }
        var answered = 0, slipped = 0
        while let bytes = client.receive() {
            let reply = try Message(parsing: bytes)
            if reply.header.isTruncated && reply.answers.isEmpty { slipped += 1 } else if reply.answers.count == 1 { answered += 1 }
        }
        #expect(answered >= 10 && answered < count / 2, "answered \(answered)")
        #expect(slipped > 0 && answered + slipped < count, "answered \(answered), slipped \(slipped)")

        let metrics = try run("/usr/bin/curl", ["-s", "--max-time", "5", "http://\(http)/metrics"]).output
        func sample(_ prefix: String) -> Double? {
            metrics.split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap { Double($0.split(separator: " ").last!) }
        }
        #expect(sample("rootmirror_rate_limited_total{action=\"slipped\"}") == Double(slipped), "\(metrics)")
        #expect((sample("rootmirror_rate_limited_total{action=\"dropped\"}") ?? 0) >= Double(count - answered - slipped), "\(metrics)")
        // TCP proves the source address: never limited.
        let tcp = try run("/usr/bin/dig", ["+tcp", "+short", "@\(server.endpoint.host)", "-p", "\(server.endpoint.port)", ".", "SOA"])
        #expect(tcp.output.contains("a.root-servers.net."), "\(tcp.output)")
    }

    /// Loopback listeners answer this host only: no limit unless asked for.
    @Test func offByDefaultOnLoopback() throws {
        let dir = try Scratch()
        let server = try RootmirrorServer(data: CompiledData.root2023, directory: dir)
        defer { server.stop() }
        #expect(server.daemon.log.contains("rate-limit=off"), "\(server.daemon.log)")
    }
}
