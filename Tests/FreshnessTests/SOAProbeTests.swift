import Addressing
import DNSWire
import Foundation
import Testing
import TestSupport
@testable import Freshness

@Suite struct SOAProbeTests {
    func zone(serial: UInt32) -> String {
        ". 86400 IN SOA a.root-servers.net. nstld.verisign-grs.com. \(serial) 1800 900 604800 86400\n. 518400 IN NS a.root-servers.net.\na.root-servers.net. 518400 IN A 198.41.0.4\n"
    }

    @Test func asksSeveralRealServersInParallel() throws {
        let older = try KnotServer(zone: zone(serial: 2_026_082_200))
        let newer = try KnotServer(zone: zone(serial: 2_026_082_201))
        let upstreams = [older, newer].map { upstream("\($0.address):\($0.port)") }
        let results = SOAProbe.serials(from: upstreams, timeoutMilliseconds: 2000)
        #expect(results.map(\.serial) == [2_026_082_200, 2_026_082_201])
        #expect(UpstreamView.from(serials: results.compactMap(\.serial)) == .majority(serial: 2_026_082_201, answered: 2))
    }

    @Test func silentAndClosedUpstreamsAreReportedNotFatal() throws {
        // A UDP socket that never answers, and a port where nothing listens.
        let endpoint = Endpoint.random()
        let (address, port) = (endpoint.host, endpoint.port)
        let silent = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(silent) }
        var sa = sockaddr_in()
        sa.sin_family = sa_family_t(AF_INET)
        sa.sin_port = port.bigEndian
        inet_pton(AF_INET, address, &sa.sin_addr)
        let bound = withUnsafePointer(to: &sa) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(silent, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        try #require(bound == 0)
        let closed = Endpoint.random()
        let live = try KnotServer(zone: zone(serial: 7))
        let results = SOAProbe.serials(from: [upstream("\(address):\(port)"), upstream("\(closed.host):\(closed.port)"),
                                              upstream("\(live.address):\(live.port)")], timeoutMilliseconds: 300)
        #expect(results[0].serial == nil && results[0].error?.contains("no answer within 300 ms") == true)
        #expect(results[1].serial == nil && results[1].error != nil)
        #expect(results[2].serial == 7)
    }

    @Test func truncatedReplyIsRetriedOverTCP() throws {
        // A minimal server: UDP replies with TC and no records; TCP gives the SOA.
        let endpoint = Endpoint.random()
        let (address, port) = (endpoint.host, endpoint.port)
        let script = """
            import socket, struct, threading
            addr = ("\(address)", \(port))
            # owner: pointer to the question; SOA a. b. 42 1800 900 604800 86400
            soa = bytes.fromhex("c00c" "0006" "0001" "00015180" "001a" "016100" "016200"
                                "0000002a" "00000708" "00000384" "00093a80" "00015180")
            def answer(q, tc):
                flags = 0x8000 | (0x0200 if tc else 0)
                if tc: return q[:2] + struct.pack(">HHHHH", flags, 1, 0, 0, 0) + q[12:]
                return q[:2] + struct.pack(">HHHHH", flags, 1, 1, 0, 0) + q[12:] + soa
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(addr)
            t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); t.bind(addr); t.listen()
            print("ready", flush=True)
            def tcp():
                c, _ = t.accept(); n = struct.unpack(">H", c.recv(2))[0]; q = c.recv(n)
                a = answer(q, False); c.sendall(struct.pack(">H", len(a)) + a); c.close()
            th = threading.Thread(target=tcp, daemon=True); th.start()
            q, peer = u.recvfrom(512); u.sendto(answer(q, True), peer)
            th.join(5)
            """
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        python.arguments = ["-c", script]
        let out = Pipe()
        python.standardOutput = out
        try python.run()
        defer { python.terminate(); python.waitUntilExit() }
        _ = out.fileHandleForReading.availableData // "ready"
        let results = SOAProbe.serials(from: [upstream("\(address):\(port)")], timeoutMilliseconds: 2000)
        #expect(results.first?.serial == 42, "\(results)")
    }
}

/// An upstream as `--upstream` reads it.
func upstream(_ text: String) -> IPEndpoint {
    try! IPEndpoint(parsing: text, defaultPort: 53)
}
