import Foundation
#if canImport(Glibc)
import Glibc
#endif

// Plain sockets to a test server on a loopback endpoint: the DNS and
// HTTP servers' tests drive them byte by byte.

/// A TCP connection speaking RFC 7766 framing.
public final class TCPClient: @unchecked Sendable {
    public let fd: Int32

    /// `configure` sets further socket options before the connect.
    public init(_ endpoint: Endpoint, timeoutMilliseconds: Int = 5000, configure: (Int32) -> Void = { _ in }) throws {
        fd = try connectedSocket(SOCK_STREAM, to: endpoint, timeoutMilliseconds: timeoutMilliseconds) { fd in
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            configure(fd)
        }
    }

    deinit { close(fd) }

    public func write(_ bytes: [UInt8]) {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { return }
            sent += n
        }
    }

    public static func framed(_ message: [UInt8]) -> [UInt8] {
        [UInt8(message.count >> 8), UInt8(message.count & 0xFF)] + message
    }

    /// Exactly `count` bytes, or nil on close or timeout.
    public func read(_ count: Int) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let n = out.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + got, count - got, 0) }
            guard n > 0 else { return nil }
            got += n
        }
        return out
    }

    public func readFrame() -> [UInt8]? {
        guard let length = read(2) else { return nil }
        return read(Int(length[0]) << 8 | Int(length[1]))
    }

    /// True when the server closed the connection (read returns 0).
    public func isClosedByPeer() -> Bool {
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, 0) == 0
    }

    /// Sends `bytes` one at a time, each after a read timeout's wait for
    /// the server to close; true once it has (end of stream or reset),
    /// false if every byte went out with the connection still open.
    public func trickleUntilClosed(_ bytes: [UInt8]) -> Bool {
        for byte in bytes {
            guard Glibc.send(fd, [byte], 1, Int32(MSG_NOSIGNAL)) == 1 else { return true }
            var scratch = [UInt8](repeating: 0, count: 4096)
            let n = recv(fd, &scratch, scratch.count, 0)
            if n == 0 || (n < 0 && (errno == ECONNRESET || errno == EPIPE)) { return true }
        }
        return false
    }

    /// Waits up to `attempts` read timeouts for the server to close,
    /// discarding whatever it sends meanwhile.
    public func waitUntilClosed(attempts: Int) -> Bool {
        var scratch = [UInt8](repeating: 0, count: 4096)
        for _ in 0..<attempts {
            let n = recv(fd, &scratch, scratch.count, 0)
            if n == 0 || (n < 0 && errno == ECONNRESET) { return true }
        }
        return false
    }
}

/// An IPv4 socket of `type` connected to `endpoint`, whose reads time out;
/// `configure` sets further options before the connect. Closed if it fails.
public func connectedSocket(_ type: __socket_type, to endpoint: Endpoint, timeoutMilliseconds: Int,
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
public func withLoopback<R>(_ endpoint: Endpoint, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = endpoint.port.bigEndian
    inet_pton(AF_INET, endpoint.host, &address.sin_addr)
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
}
