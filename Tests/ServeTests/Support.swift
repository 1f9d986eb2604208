import DNSWire
import Foundation
import Testing
import TestSupport

/// Paths the integration tests need: the built binary, the shared zones.
enum Paths {
    static let packageRoot = TestSupport.packageRoot

    static let binary = rootmirrorBinary
    static let zones = sharedZones

    static let signedRootZone = zones + "/root-2023051100.zone.gz"
    static let newerRootZone = zones + "/root-2026082200-nosig.zone.gz"
    static let makeQueries = URL(fileURLWithPath: zones).deletingLastPathComponent().appendingPathComponent("bench/make-queries.py").path
}

/// data.cdb files compiled once per test run, shared read-only by the
/// tests. They live under .build (no test-run teardown exists to remove a
/// temporary directory), rewritten by each run.
enum CompiledData {
    static let directory: String = {
        let path = Paths.packageRoot + "/.build/serve-test-data"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()

    /// The 2023051100 root zone, DNSSEC stripped, as `rootmirror compile` writes it.
    static let root2023: String = compile(Paths.signedRootZone, "root-2023.cdb")
    /// The same zone compiled with --keep-dnssec: every record, signed answers.
    static let signedRoot2023: String = compile(Paths.signedRootZone, "root-2023-signed.cdb", ["--keep-dnssec"])
    /// A later root zone (2026082200), for reloads.
    static let root2026: String = compile(Paths.newerRootZone, "root-2026.cdb")

    private static func compile(_ zone: String, _ name: String, _ options: [String] = []) -> String {
        let output = directory + "/" + name
        let result = try! run(Paths.binary, ["compile", zone, "-o", output] + options)
        precondition(result.status == 0, "compile \(zone) failed: \(result.output)")
        return output
    }
}

// MARK: - DNS clients on plain sockets

/// A connected UDP socket to a server, with a receive timeout so that a
/// lost reply is reported as nil rather than hanging the test.
final class UDPClient: @unchecked Sendable {
    let fd: Int32

    init(_ endpoint: Endpoint, timeoutMilliseconds: Int = 2000) throws {
        fd = try connectedSocket(SOCK_DGRAM, to: endpoint, timeoutMilliseconds: timeoutMilliseconds)
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
    }

    func receive() -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return n < 0 ? nil : Array(buffer[0..<n])
    }

    /// Sends a query and returns the reply with the same ID (stale replies skipped).
    func exchange(_ query: [UInt8]) -> [UInt8]? {
        send(query)
        while let reply = receive() {
            if reply.count >= 2 && reply[0] == query[0] && reply[1] == query[1] { return reply }
        }
        return nil
    }
}

/// A TCP connection speaking RFC 7766 framing.
final class TCPClient: @unchecked Sendable {
    let fd: Int32

    /// `configure` sets further socket options before the connect.
    init(_ endpoint: Endpoint, timeoutMilliseconds: Int = 5000, configure: (Int32) -> Void = { _ in }) throws {
        fd = try connectedSocket(SOCK_STREAM, to: endpoint, timeoutMilliseconds: timeoutMilliseconds) { fd in
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            configure(fd)
        }
    }

    deinit { close(fd) }

    func write(_ bytes: [UInt8]) {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { return }
            sent += n
        }
    }

    static func framed(_ message: [UInt8]) -> [UInt8] {
        [UInt8(message.count >> 8), UInt8(message.count & 0xFF)] + message
    }

    /// Exactly `count` bytes, or nil on close or timeout.
    func read(_ count: Int) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let n = out.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + got, count - got, 0) }
            guard n > 0 else { return nil }
            got += n
        }
        return out
    }

    func readFrame() -> [UInt8]? {
        guard let length = read(2) else { return nil }
        return read(Int(length[0]) << 8 | Int(length[1]))
    }

    /// True when the server closed the connection (read returns 0).
    func isClosedByPeer() -> Bool {
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, 0) == 0
    }
}

/// An IPv4 socket of `type` connected to `endpoint`, whose reads time out;
/// `configure` sets further options before the connect. Closed if it fails.
func connectedSocket(_ type: __socket_type, to endpoint: Endpoint, timeoutMilliseconds: Int,
                     configure: (Int32) -> Void = { _ in }) throws -> Int32 {
    let fd = socket(AF_INET, Int32(type.rawValue), 0)
    var tv = timeval(tv_sec: timeoutMilliseconds / 1000, tv_usec: (timeoutMilliseconds % 1000) * 1000)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    configure(fd)
    guard withLoopback(endpoint, { connect(fd, $0, $1) }) == 0 else {
        let why = String(cString: strerror(errno))
        close(fd)
        throw TestFailure("\(type == SOCK_STREAM ? "tcp" : "udp") connect to \(endpoint): \(why)")
    }
    return fd
}

/// Calls `body` with `endpoint` (an IPv4 loopback address) as a sockaddr.
func withLoopback<R>(_ endpoint: Endpoint, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = endpoint.port.bigEndian
    inet_pton(AF_INET, endpoint.host, &address.sin_addr)
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
}

// MARK: - Queries and replies

/// Builds a query the way a resolver does, via DNSWire's encoder.
func makeQuery(_ name: String, _ type: RRType, id: UInt16 = UInt16.random(in: 1...0xFFFF), rclass: RRClass = .in,
               edns: EDNS? = nil) -> [UInt8] {
    Message.query(id: id, question: Question(name: try! DNSName(text: name), type: type, rclass: rclass), edns: edns).encoded()
}

/// Types the query generator names that DNSWire has no mnemonic for.
func queryType(_ text: String) -> RRType? {
    if text == "HTTPS" { return RRType(65) }
    return RRType(mnemonic: text)
}

extension Message {
    var serialInAnswer: UInt32? {
        answers.first(where: { $0.type == .soa }).flatMap { SOAFields(rdata: $0.rdata)?.serial }
    }
}
