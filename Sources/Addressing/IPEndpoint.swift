import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// An IPv4 or IPv6 address and a port: where `serve` listens, and the live
/// root servers (or an ISP's masters) that the SOA monitor asks and that
/// expired data is forwarded to. One type for both, so that the text forms
/// operators type (`192.0.2.1`, `192.0.2.1:5353`, `2001:db8::1`,
/// `[2001:db8::1]:5353`) are read one way everywhere.
public struct IPEndpoint: Hashable, Sendable, CustomStringConvertible {
    public enum Family: Sendable { case v4, v6 }

    /// 4 bytes for IPv4, 16 for IPv6, network order.
    public let address: [UInt8]
    public let port: UInt16

    public init(address: [UInt8], port: UInt16) {
        precondition(address.count == 4 || address.count == 16, "an IP address is 4 or 16 bytes")
        self.address = address
        self.port = port
    }

    /// Reads `host`, `host:port`, `ipv6` or `[ipv6]:port`; a bare IPv6
    /// address takes `defaultPort`, as its colons cannot carry one.
    public init(parsing text: String, defaultPort: UInt16) throws(IPEndpointError) {
        var host = Substring(text)
        var port = defaultPort
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { throw IPEndpointError(text, "missing ']'") }
            let rest = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            if !rest.isEmpty {
                guard rest.hasPrefix(":"), let p = UInt16(rest.dropFirst()) else { throw IPEndpointError(text, "bad port") }
                port = p
            }
        } else if host.filter({ $0 == ":" }).count == 1, let colon = host.firstIndex(of: ":") {
            guard let p = UInt16(host[host.index(after: colon)...]) else { throw IPEndpointError(text, "bad port") }
            port = p
            host = host[..<colon]
        }
        guard port != 0 else { throw IPEndpointError(text, "port 0") }
        if let v4 = Self.pton(AF_INET, String(host), 4) {
            address = v4
        } else if let v6 = Self.pton(AF_INET6, String(host), 16) {
            address = v6
        } else {
            throw IPEndpointError(text, "not an IPv4 or IPv6 address (write IPv6 with a port as [2001:db8::1]:53)")
        }
        self.port = port
    }

    /// A connection's peer, as SwiftNIO reports it.
    public init?(_ peer: SocketAddress?) {
        guard let host = peer?.ipAddress,
              let endpoint = try? IPEndpoint(parsing: host.contains(":") ? "[\(host)]" : host, defaultPort: UInt16(clamping: peer?.port ?? 0))
        else { return nil }
        self = endpoint
    }

    /// The sender of a datagram, as `recvfrom` and `recvmmsg` report it.
    public init?(_ storage: UnsafePointer<sockaddr_storage>) {
        switch Int32(storage.pointee.ss_family) {
        case AF_INET:
            let sin = UnsafeRawPointer(storage).load(as: sockaddr_in.self)
            address = withUnsafeBytes(of: sin.sin_addr) { Array($0) }
            port = UInt16(bigEndian: sin.sin_port)
        case AF_INET6:
            let sin6 = UnsafeRawPointer(storage).load(as: sockaddr_in6.self)
            address = withUnsafeBytes(of: sin6.sin6_addr) { Array($0) }
            port = UInt16(bigEndian: sin6.sin6_port)
        default:
            return nil
        }
    }

    private static func pton(_ family: Int32, _ text: String, _ size: Int) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: size)
        let ok = out.withUnsafeMutableBytes { inet_pton(family, text, $0.baseAddress) }
        return ok == 1 ? out : nil
    }

    public var family: Family { address.count == 4 ? .v4 : .v6 }
    public var isIPv6: Bool { family == .v6 }
    public var isWildcard: Bool { address.allSatisfy { $0 == 0 } }
    /// 127.0.0.0/8 or ::1: reachable from this host only.
    public var isLoopback: Bool { address.count == 4 ? address[0] == 127 : address == [UInt8](repeating: 0, count: 15) + [1] }

    /// The address alone, as inet_ntop writes it (`2001:db8::1`, no brackets).
    public var host: String {
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        _ = address.withUnsafeBytes { inet_ntop(isIPv6 ? AF_INET6 : AF_INET, $0.baseAddress, &text, socklen_t(text.count)) }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public var description: String { isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// The socket family to open for this endpoint.
    public var socketFamily: Int32 { isIPv6 ? AF_INET6 : AF_INET }

    /// Calls `body` with this endpoint as a `sockaddr` of the right family.
    public func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        switch family {
        case .v4:
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = port.bigEndian
            withUnsafeMutableBytes(of: &sin.sin_addr) { $0.copyBytes(from: address) }
            return withUnsafePointer(to: &sin) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        case .v6:
            var sin6 = sockaddr_in6()
            sin6.sin6_family = sa_family_t(AF_INET6)
            sin6.sin6_port = port.bigEndian
            withUnsafeMutableBytes(of: &sin6.sin6_addr) { $0.copyBytes(from: address) }
            return withUnsafePointer(to: &sin6) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        }
    }
}

public struct IPEndpointError: Error, Sendable, CustomStringConvertible {
    public let text: String
    public let reason: String
    public init(_ text: String, _ reason: String) {
        self.text = text
        self.reason = reason
    }
    public var description: String { "bad address '\(text)': \(reason)" }
}
