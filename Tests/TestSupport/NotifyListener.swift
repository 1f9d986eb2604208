import Foundation

/// The receiving end of systemd's notification socket, as systemd holds it:
/// a datagram socket at a path in a scratch directory, or in the abstract
/// namespace (`@name`). Each datagram is one message.
public final class NotifyListener {
    /// What to put in `NOTIFY_SOCKET`.
    public let address: String
    private let fd: Int32

    public init(path: String) throws {
        address = path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var sun = sockaddr_un()
        sun.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }
        withUnsafeMutableBytes(of: &sun.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (bytes.first == 0 ? 0 : 1))
        let rc = withUnsafePointer(to: &sun) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard fd >= 0, rc == 0 else { throw TestFailure("bind \(path): \(String(cString: strerror(errno)))") }
        // Short receives, so that a caller waiting for a message can give up
        // on a process that died.
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    /// The next message, or nil when none arrived within 200 ms.
    public func receive() -> String? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = recv(fd, &buffer, buffer.count, 0)
        return n < 0 ? nil : String(decoding: buffer.prefix(n), as: UTF8.self)
    }

    /// Messages until one satisfies `condition` (returned last), for at most
    /// `seconds`: the generous bound only keeps a broken run from hanging.
    public func messages(until condition: (String) -> Bool, seconds: Int = 60) -> [String] {
        var seen: [String] = []
        for _ in 0..<(seconds * 5) {
            guard let message = receive() else { continue }
            seen.append(message)
            if condition(message) { break }
        }
        return seen
    }
}
