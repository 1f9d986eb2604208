#if canImport(Glibc)
import Glibc
#endif

/// One address to serve on, UDP and TCP: `127.53.53.53`, `127.53.53.53:5353`,
/// `::1`, `[::1]:53`. A wildcard address is refused: replies must leave from
/// the address the query was sent to, and a socket bound to 0.0.0.0 on a
/// host with several addresses would answer from whichever the kernel picks
/// (a resolver drops such replies), so every address is named explicitly, as
/// with tinydns's IP.
public struct ListenAddress: Hashable, Sendable, CustomStringConvertible {
    public enum Family: Sendable { case v4, v6 }

    public let host: String
    public let port: UInt16
    public let family: Family
    /// The address bytes in network order: 4 for IPv4, 16 for IPv6.
    let bytes: [UInt8]

    public static let defaultPort: UInt16 = 53

    public init(parsing text: String, defaultPort: UInt16 = ListenAddress.defaultPort) throws(ListenAddressError) {
        var host = Substring(text)
        var port = defaultPort
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { throw ListenAddressError(text, "missing ']'") }
            let rest = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            if !rest.isEmpty {
                guard rest.hasPrefix(":"), let p = UInt16(rest.dropFirst()) else { throw ListenAddressError(text, "bad port") }
                port = p
            }
        } else if host.filter({ $0 == ":" }).count == 1, let colon = host.firstIndex(of: ":") {
            guard let p = UInt16(host[host.index(after: colon)...]) else { throw ListenAddressError(text, "bad port") }
            port = p
            host = host[..<colon]
        }
        guard port != 0 else { throw ListenAddressError(text, "port 0") }
        let h = String(host)
        if let v4 = Self.pton(AF_INET, h, 4) {
            guard v4 != [0, 0, 0, 0] else { throw ListenAddressError(text, "a wildcard address cannot guarantee the reply's source address; name one") }
            (self.family, self.bytes) = (.v4, v4)
        } else if let v6 = Self.pton(AF_INET6, h, 16) {
            guard v6 != [UInt8](repeating: 0, count: 16) else { throw ListenAddressError(text, "a wildcard address cannot guarantee the reply's source address; name one") }
            (self.family, self.bytes) = (.v6, v6)
        } else {
            throw ListenAddressError(text, "not an IPv4 or IPv6 address (use [::1]:53 for IPv6 with a port)")
        }
        self.host = h
        self.port = port
    }

    private static func pton(_ family: Int32, _ text: String, _ size: Int) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: size)
        let ok = out.withUnsafeMutableBytes { inet_pton(family, text, $0.baseAddress) }
        return ok == 1 ? out : nil
    }

    public var description: String { family == .v6 ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Calls `body` with this address as a `sockaddr` of the right family.
    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        switch family {
        case .v4:
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = port.bigEndian
            withUnsafeMutableBytes(of: &sin.sin_addr) { $0.copyBytes(from: bytes) }
            return withUnsafePointer(to: &sin) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        case .v6:
            var sin6 = sockaddr_in6()
            sin6.sin6_family = sa_family_t(AF_INET6)
            sin6.sin6_port = port.bigEndian
            withUnsafeMutableBytes(of: &sin6.sin6_addr) { $0.copyBytes(from: bytes) }
            return withUnsafePointer(to: &sin6) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        }
    }
}

public struct ListenAddressError: Error, Sendable, CustomStringConvertible {
    public let text: String
    public let reason: String
    init(_ text: Substring, _ reason: String) { self.text = String(text); self.reason = reason }
    init(_ text: String, _ reason: String) { self.text = text; self.reason = reason }
    public var description: String { "bad listen address '\(text)': \(reason)" }
}
