import DNSWire
#if canImport(Glibc)
import Glibc
#endif

/// One DNS message sent to another server over TCP and its reply read
/// back (RFC 7766 framing), blocking up to a deadline. The SOA monitor uses
/// it when a UDP reply comes back truncated, and so does expiry forwarding
/// for a client that asked over TCP: both run on threads of their own, never
/// on a thread that answers queries.
public enum DNSExchange {
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    /// Sends `query` (without the length prefix) and returns the reply
    /// (without it), or why not, by `deadline` (`monotonicMilliseconds()`).
    public static func overTCP(_ query: [UInt8], to server: IPEndpoint, deadline: Int) -> Result<[UInt8], Failure> {
        var reply: [UInt8] = []
        return overTCP(query, to: server, deadline: deadline, maximumBytes: 65535) { message in
            reply = message
            return false
        }.map { reply }
    }

    /// Sends `query` and hands each reply message (without the length
    /// prefix) to `each` until it returns false: a zone transfer is many
    /// messages on one connection (RFC 5936). Fails past `deadline` or
    /// past `maximumBytes` received.
    public static func overTCP(_ query: [UInt8], to server: IPEndpoint, deadline: Int, maximumBytes: Int,
                               each: ([UInt8]) -> Bool) -> Result<Void, Failure> {
        let fd = socket(server.socketFamily, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { return .failure(Failure("socket: \(String(cString: strerror(errno)))")) }
        defer { close(fd) }
        func waitFor(_ events: Int32) -> Bool {
            var p = pollfd(fd: fd, events: Int16(events), revents: 0)
            let wait = deadline - monotonicMilliseconds()
            return wait > 0 && poll(&p, 1, Int32(wait)) == 1
        }
        let rc = server.withSockaddr { connect(fd, $0, $1) }
        guard rc == 0 || errno == EINPROGRESS, waitFor(POLLOUT) else { return .failure(Failure("TCP connect failed or timed out")) }
        let framed = [UInt8(query.count >> 8), UInt8(query.count & 0xFF)] + query
        var sent = 0
        while sent < framed.count {
            guard waitFor(POLLOUT) else { return .failure(Failure("TCP send timed out")) }
            let n = framed[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { return .failure(Failure("TCP send failed")) }
            sent += n
        }
        var received: [UInt8] = []
        var total = 0
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            while received.count >= 2, received.count >= 2 + Int(received.bigEndianUInt16(at: 0)) {
                let length = Int(received.bigEndianUInt16(at: 0))
                let message = Array(received[2..<(2 + length)])
                received.removeFirst(2 + length)
                if !each(message) { return .success(()) }
            }
            guard waitFor(POLLIN) else { return .failure(Failure("TCP reply timed out")) }
            let n = recv(fd, &chunk, chunk.count, 0)
            guard n > 0 else { return .failure(Failure("TCP connection closed")) }
            total += n
            guard total <= maximumBytes + 2 else { return .failure(Failure("reply over \(maximumBytes) bytes")) }
            received += chunk[0..<n]
        }
    }

    /// Milliseconds on a clock that never jumps, for deadlines.
    public static func monotonicMilliseconds() -> Int {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return ts.tv_sec * 1000 + ts.tv_nsec / 1_000_000
    }
}
