import NIOCore

/// An address prefix as operators write it (`10.0.0.0/8`, `2001:db8::/32`,
/// or a bare address for that host alone): who `serve --allow-transfer`
/// lets copy the zone. The address is read by `IPEndpoint`, one parser for
/// every address the command line takes.
public struct IPPrefix: Hashable, Sendable, CustomStringConvertible {
    /// 4 bytes for IPv4, 16 for IPv6, network order, the host bits cleared.
    public let network: [UInt8]
    public let length: Int

    public init(parsing text: String) throws(IPEndpointError) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        // The port is irrelevant; 53 only satisfies the endpoint parser, and
        // brackets keep an IPv6 address from being read as address:port.
        let address = parts[0].contains(":") ? "[\(parts[0])]" : String(parts[0])
        let endpoint: IPEndpoint
        do {
            endpoint = try IPEndpoint(parsing: address, defaultPort: 53)
        } catch {
            throw IPEndpointError(text, "not an IPv4 or IPv6 prefix (10.0.0.0/8, 2001:db8::/32)")
        }
        let bits = endpoint.address.count * 8
        var length = bits
        if parts.count == 2 {
            guard let n = Int(parts[1]), (0...bits).contains(n) else {
                throw IPEndpointError(text, "prefix length must be 0 to \(bits)")
            }
            length = n
        }
        self.length = length
        network = Self.masked(endpoint.address, length)
    }

    /// Whether `address` (4 or 16 bytes) lies inside the prefix; an address
    /// of the other family never does.
    public func contains(_ address: [UInt8]) -> Bool {
        address.count == network.count && Self.masked(address, length) == network
    }

    /// Whether a connection's peer lies inside the prefix.
    public func contains(_ peer: SocketAddress?) -> Bool {
        IPEndpoint(peer).map { contains($0.address) } ?? false
    }

    private static func masked(_ address: [UInt8], _ length: Int) -> [UInt8] {
        address.enumerated().map { i, byte in
            let kept = min(8, max(0, length - i * 8))
            return kept == 8 ? byte : byte & ~(0xFF >> kept)
        }
    }

    public var description: String {
        "\(IPEndpoint(address: network, port: 53).host)/\(length)"
    }
}
